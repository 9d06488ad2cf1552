"""Recording measurements: units at the edge, count vs density, validation, access."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from anagen.audit.models import AuditEvent
from anagen.outcomes import services
from anagen.outcomes.models import Measurement, MeasurementSet
from anagen.outcomes.tests.helpers import record

pytestmark = pytest.mark.django_db
D = dt.date(2026, 1, 10)


def _site(**kw):
    return services.SiteValues(site_name="Vertex tattoo dot", **kw)


def _record(staff, patient, *sites, **visit):
    values = services.VisitValues(
        measured_on=visit.pop("on", D),
        visit_label=visit.pop("label", "baseline"),
        method=visit.pop("method", "phototrichogram"),
        sites=list(sites),
        **visit,
    )
    return services.measurement_set_record(
        actor=staff.actor(staff.nurse), patient=patient, values=values
    )


def test_density_per_inch2_is_converted_to_cm2(clinic_a, patient_a):
    # clinical-facts 10 T6 (Kumar 2018): 12.52 hairs per inch² = 1.94 per cm²
    mset = _record(clinic_a, patient_a, _site(density=12.52, density_unit="in2"))
    m = mset.measurements.get()
    assert m.density_per_cm2 == Decimal("1.94")
    assert m.density_unit_entered == "in2" and m.density_value_entered == Decimal("12.52")


def test_count_in_area_gives_density_and_area_in_inch2_is_stored_in_cm2(clinic_a, patient_a):
    mset = _record(clinic_a, patient_a, _site(hair_count=150, area=1, area_unit="in2"))
    m = mset.measurements.get()
    assert m.area_cm2 == Decimal("6.4516") and m.area_unit_entered == "in2"
    assert m.density_per_cm2 == Decimal("23.25")  # 150 / 6.4516
    assert m.hair_count == 150


def test_density_that_contradicts_count_is_refused(clinic_a, patient_a):
    with pytest.raises(ValidationError) as exc:
        _record(clinic_a, patient_a, _site(hair_count=150, area=1, density=120))
    assert "does not match" in str(exc.value)
    assert not MeasurementSet.objects.exists()


def test_count_without_area_is_refused(clinic_a, patient_a):
    with pytest.raises(ValidationError, match="target area"):
        _record(clinic_a, patient_a, _site(hair_count=150))


def test_terminal_vellus_and_anagen_telogen_split(clinic_a, patient_a):
    mset = _record(clinic_a, patient_a, _site(density=140, terminal_pct=82.5, anagen_pct=88))
    m = mset.measurements.get()
    assert (m.terminal_pct, m.vellus_pct) == (Decimal("82.5"), Decimal("17.5"))
    assert (m.anagen_pct, m.telogen_pct) == (Decimal("88.0"), Decimal("12.0"))
    with pytest.raises(ValidationError):
        _record(clinic_a, patient_a, _site(density=140, terminal_pct=120))


def test_visit_measures_are_validated(clinic_a, patient_a):
    mset = _record(
        clinic_a,
        patient_a,
        global_photo_rating=2,
        satisfaction=4,
        salt=47.6,
        pull_test_pulled=50,
        pull_test_shed=4,
        wash_test_count=52,
        stage_scale="norwood_hamilton",
        stage_value="iii-vertex",
    )
    assert mset.stage_value == "III vertex" and mset.salt == Decimal("47.6")
    for bad in (
        {"global_photo_rating": 4},
        {"satisfaction": 6},
        {"salt": 101},
        {"pull_test_pulled": 5, "pull_test_shed": 6},
        {"stage_scale": "ludwig", "stage_value": "IX"},
    ):
        with pytest.raises(ValidationError):
            _record(clinic_a, patient_a, **bad)


def test_recording_is_audited_and_front_desk_refused(clinic_a, patient_a):
    mset = _record(clinic_a, patient_a, _site(density=140))
    assert AuditEvent.objects.filter(
        action="measurement_set.create", object_id=str(mset.pk)
    ).exists()
    with pytest.raises(PermissionDenied):
        services.measurement_set_record(
            actor=clinic_a.actor(clinic_a.front_desk),
            patient=patient_a,
            values=services.VisitValues(
                measured_on=D,
                visit_label="baseline",
                method="manual_count",
                sites=[_site(density=1)],
            ),
        )


def test_other_clinic_patient_refused_by_service(clinic_a, clinic_b, patient_b):
    with pytest.raises(PermissionDenied):
        _record(clinic_a, patient_b, _site(density=140))


def test_measurement_pages(clinic_a, clinic_b, patient_a, patient_b):
    c = clinic_a.client(clinic_a.nurse)
    url = f"/patients/{patient_a.pk}/outcomes/new/"
    assert c.get(url).status_code == 200
    bad = c.post(
        url,
        {
            "measured_on": "2026-01-10",
            "visit_label": "baseline",
            "method": "manual_count",
            "site_name": "Vertex",
            "location": "vertex",
            "hair_count": "150",
            "area_unit": "cm2",
            "density_unit": "cm2",
        },
    )
    assert bad.status_code == 400
    assert "needs the target area" in bad.content.decode()
    ok = c.post(
        url,
        {
            "measured_on": "2026-01-10",
            "visit_label": "baseline",
            "method": "manual_count",
            "site_name": "Vertex",
            "location": "vertex",
            "hair_count": "150",
            "area": "1",
            "area_unit": "cm2",
            "density_unit": "cm2",
        },
    )
    assert ok.status_code == 302
    assert Measurement.objects.get().density_per_cm2 == Decimal("150.00")
    listing = c.get(f"/patients/{patient_a.pk}/outcomes/")
    assert "150 in 1 cm²" in listing.content.decode()
    # Another clinic's patient is a 404 on every page; front desk cannot read outcomes.
    for path in (
        "outcomes/",
        "outcomes/new/",
        "outcomes/progress/",
        "outcomes/import/",
        "photos/",
        "photos/compare/",
        "outcomes/report.pdf",
    ):
        assert c.get(f"/patients/{patient_b.pk}/{path}").status_code == 404, path
        assert (
            clinic_a.client(clinic_a.front_desk).get(f"/patients/{patient_a.pk}/{path}").status_code
            == 403
        ), path


def test_chart_panel_shows_outcomes_card(clinic_a, patient_a):
    record_set = _record(clinic_a, patient_a, _site(density=140))
    page = clinic_a.client(clinic_a.physician).get(f"/patients/{patient_a.pk}/")
    body = page.content.decode()
    assert 'id="outcomes-panel"' in body and "1 measurement visit" in body
    assert f"/patients/{patient_a.pk}/outcomes/new/" in body
    assert record_set.measured_on.strftime("%-d %b %Y") in body


def test_helper_record(clinic_a, patient_a):
    s = record(clinic_a, patient_a, D, "baseline", 141.9)
    assert s.measurements.get().density_per_cm2 == Decimal("141.90")
