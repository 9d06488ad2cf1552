"""Device CSV import: mapping, preview, row-level errors, all-or-nothing."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from anagen.outcomes import services
from anagen.outcomes.models import ImportBatch, MeasurementSet

pytestmark = pytest.mark.django_db

HEAD = (
    "Site;Date;Density [n/cm2];Mean diameter [um];Terminal [%];Vellus [%];Anagen [%];Telogen [%]\n"
)
GOOD = HEAD + (
    "Vertex dot;2025-01-10;141,9;62.1;80;20;85;15\nVertex dot;10.07.2025;177.5;64.0;82;18;88;12\n"
)


def _preview(staff, patient, content: str, **kw):
    return services.import_preview(
        actor=staff.actor(staff.nurse),
        patient=patient,
        filename="ts.csv",
        content=content.encode(),
        mapping=dict(services.IMPORT_FIELDS),
        **kw,
    )


def test_preview_then_commit(clinic_a, patient_a):
    batch = _preview(clinic_a, patient_a, GOOD)
    assert batch.errors == [] and len(batch.rows) == 2
    assert not MeasurementSet.objects.exists()  # preview writes nothing clinical
    sets = services.import_commit(actor=clinic_a.actor(clinic_a.nurse), batch=batch)
    assert [s.visit_label for s in sets] == ["baseline", "follow_up"]
    m = sets[1].measurements.get()
    assert m.density_per_cm2 == Decimal("177.50") and m.vellus_pct == Decimal("18.0")
    assert sets[0].method == "imported_device"
    with pytest.raises(ValidationError):
        services.import_commit(actor=clinic_a.actor(clinic_a.nurse), batch=batch)


def test_density_per_inch2_converted(clinic_a, patient_a):
    batch = _preview(clinic_a, patient_a, HEAD + "V;2025-01-10;12.52;;;;;\n", density_unit="in2")
    assert batch.rows[0]["density_per_cm2"] == 1.94


def test_row_errors_block_the_whole_import(clinic_a, patient_a):
    bad = (
        GOOD
        + "Vertex dot;2025-13-40;150;;;;;\nVertex dot;2025-08-01;abc;;;;;\n;2025-08-02;1;;;;;\nV;2025-08-03;150;;70;20;;\n"
    )
    batch = _preview(clinic_a, patient_a, bad)
    lines = {e["line"]: e["message"] for e in batch.errors}
    assert set(lines) == {4, 5, 6, 7}
    assert "date" in lines[4] and "not a number" in lines[5] and "site" in lines[6]
    assert "expected 100" in lines[7]
    with pytest.raises(ValidationError, match="row"):
        services.import_commit(actor=clinic_a.actor(clinic_a.nurse), batch=batch)
    assert not MeasurementSet.objects.exists()


def test_missing_columns_and_non_text(clinic_a, patient_a):
    with pytest.raises(ValidationError, match="Columns not found"):
        _preview(clinic_a, patient_a, "a,b\n1,2\n")
    with pytest.raises(ValidationError):
        services.import_parse(content=b"\xff\xfe\x00\x00", mapping=dict(services.IMPORT_FIELDS))


def test_failure_mid_commit_leaves_nothing(clinic_a, patient_a, monkeypatch):
    batch = _preview(clinic_a, patient_a, GOOD)
    real = services.measurement_set_record
    calls = []

    def flaky(**kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(**kw)

    # import_commit records each visit through the measurements module.
    monkeypatch.setattr(services.measurements, "measurement_set_record", flaky)
    with pytest.raises(RuntimeError):
        services.import_commit(actor=clinic_a.actor(clinic_a.nurse), batch=batch)
    assert not MeasurementSet.objects.exists()
    assert ImportBatch.objects.get().status == "preview"


def test_import_pages(clinic_a, clinic_b, patient_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = clinic_a.client(clinic_a.nurse)
    form: dict[str, object] = {f"col_{k}": v for k, v in services.IMPORT_FIELDS.items()}
    form.update(
        device="TrichoScan",
        density_unit="cm2",
        file=SimpleUploadedFile("ts.csv", GOOD.encode(), "text/csv"),
    )
    r = c.post(f"/patients/{patient_a.pk}/outcomes/import/", form)
    assert r.status_code == 302
    preview = c.get(r["Location"])
    assert "2 valid row(s)" in preview.content.decode()
    other = clinic_b.client(clinic_b.nurse)
    assert other.get(r["Location"]).status_code == 404
    done = c.post(r["Location"])
    assert done.status_code == 302 and MeasurementSet.objects.count() == 2
    form["file"] = SimpleUploadedFile("x.csv", b"a,b\n1,2\n", "text/csv")
    bad = c.post(f"/patients/{patient_a.pk}/outcomes/import/", form)
    assert bad.status_code == 400 and "Columns not found" in bad.content.decode()
