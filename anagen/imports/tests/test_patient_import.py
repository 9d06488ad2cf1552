"""Patient import from another system's CSV: mapping, preview, all or nothing, idempotent."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from anagen.audit.models import AuditEvent
from anagen.imports import columns, services
from anagen.imports.models import ImportedRecord, ImportStatus, PatientImport
from anagen.patients.models import Intake, Patient

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
HEADERS = ["Patient ID", "First Name", "Surname", "DOB", "Gender", "Mobile", "E-mail", "Smoker",
           "Hair loss pattern", "Notes"]  # fmt: skip


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    settings.TASKS = IMMEDIATE


def rows(n: int, *, ids: bool = True, start: int = 1) -> list[list[str]]:
    out = []
    for i in range(start, start + n):
        out.append(
            [
                f"EXT-{i:05d}" if ids else "",
                f"Given{i}",
                f"Family{i}",
                f"{1950 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "F" if i % 2 else "M",
                f"07700 9{i % 100000:05d}",
                f"p{i}@example.com",
                ("never", "former", "current")[i % 3],
                "diffuse" if i % 5 == 0 else "",
                "Moved from the old system" if i % 7 == 0 else "",
            ]
        )
    return out


def to_csv(data: list[list[str]], headers: list[str] = HEADERS, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(headers)
    writer.writerows(data)
    return out.getvalue().encode()


def run(staff, raw: bytes, django_capture_on_commit_callbacks) -> PatientImport:
    actor = staff.actor(staff.admin)
    job = services.patient_import_upload(actor=actor, raw=raw)
    services.patient_import_check(actor=actor, job=job, mapping=job.mapping)
    job.refresh_from_db()
    assert job.error_count == 0, job.errors
    with django_capture_on_commit_callbacks(execute=True):
        services.patient_import_start(actor=actor, job=job)
    job.refresh_from_db()
    return job


def test_the_mapping_is_guessed_from_the_headings():
    mapping = columns.guess_mapping(HEADERS)
    assert mapping == {
        "external_id": "Patient ID",
        "given_name": "First Name",
        "family_name": "Surname",
        "birth_date": "DOB",
        "sex": "Gender",
        "phone": "Mobile",
        "email": "E-mail",
        "smoking": "Smoker",
        "hair_loss_pattern": "Hair loss pattern",
        "intake_notes": "Notes",
    }


def test_three_thousand_rows_are_all_imported(clinic_a, django_capture_on_commit_callbacks):
    job = run(clinic_a, to_csv(rows(3000)), django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.DONE and job.created_count == 3000
    assert job.checked_rows == 3000 and job.percent == 100
    patients = Patient.objects.filter(clinic=clinic_a.clinic)
    assert patients.count() == 3000
    assert ImportedRecord.objects.filter(clinic=clinic_a.clinic).count() == 3000
    assert Intake.objects.filter(patient__clinic=clinic_a.clinic).count() == 3000
    one = ImportedRecord.objects.select_related("patient").get(external_id="EXT-00007").patient
    assert (one.given_name, one.phone, one.sex) == ("Given7", "+447700900007", "female")
    intake = one.intakes.get()
    assert intake.smoking == "former" and intake.notes == "Moved from the old system"
    assert one.history.count() == 1  # row history from the first version on
    # Record numbers follow on from the clinic's sequence, with no gaps or repeats.
    numbers = sorted(patients.values_list("record_number", flat=True))
    assert numbers[0] == "A000001" and numbers[-1] == "A003000"
    # Audited: each patient created, and the import itself.
    assert AuditEvent.objects.filter(action="patient.create", via="task").count() == 3000
    assert AuditEvent.objects.filter(action="patient_import.commit").count() == 1


def test_one_bad_row_imports_nothing_and_names_row_and_column(clinic_a):
    data = rows(40)
    data[24][3] = "31/02/1990"  # row 26 of the file (the heading is row 1)
    actor = clinic_a.actor(clinic_a.admin)
    job = services.patient_import_upload(actor=actor, raw=to_csv(data))
    checked = services.patient_import_check(actor=actor, job=job, mapping=job.mapping)
    assert checked.error_count == 1
    assert checked.errors[0]["row"] == 26 and checked.errors[0]["column"] == "DOB"
    assert "not a date" in checked.errors[0]["message"]
    with pytest.raises(Exception, match="Correct the rows"):
        services.patient_import_start(actor=actor, job=job)
    # The worker checks again before writing: a file that is wrong imports nothing.
    PatientImport.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
    job.refresh_from_db()
    done = services.patient_import_run(actor=actor, job=job)
    assert done.status == ImportStatus.FAILED
    assert done.errors[0]["row"] == 26 and done.errors[0]["column"] == "DOB"
    assert Patient.all_objects.filter(clinic=clinic_a.clinic).count() == 0
    assert AuditEvent.objects.filter(action="patient_import.fail").count() == 1


def test_a_failure_while_saving_rolls_everything_back(clinic_a, monkeypatch):
    actor = clinic_a.actor(clinic_a.admin)
    job = services.patient_import_upload(actor=actor, raw=to_csv(rows(30)))
    services.patient_import_check(actor=actor, job=job, mapping=job.mapping)
    PatientImport.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
    real = services.audit_record
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if kwargs["action"] == "patient.create" and calls["n"] > 20:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(services, "audit_record", flaky)
    with pytest.raises(RuntimeError):
        services.patient_import_run(actor=actor, job=job)
    assert Patient.all_objects.filter(clinic=clinic_a.clinic).count() == 0
    assert ImportedRecord.objects.count() == 0
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "Nothing was imported" in job.failure


@pytest.mark.parametrize("ids", [True, False], ids=["by their id", "by name and birth date"])
def test_a_second_run_creates_nobody(clinic_a, django_capture_on_commit_callbacks, ids):
    raw = to_csv(rows(60, ids=ids))
    first = run(clinic_a, raw, django_capture_on_commit_callbacks)
    assert first.created_count == 60
    second = run(clinic_a, raw, django_capture_on_commit_callbacks)
    assert second.status == ImportStatus.DONE
    assert (second.created_count, second.matched_count) == (0, 60)
    assert Patient.objects.filter(clinic=clinic_a.clinic).count() == 60
    # A later export with ten more patients adds just those ten.
    more = run(clinic_a, to_csv(rows(70, ids=ids)), django_capture_on_commit_callbacks)
    assert (more.created_count, more.matched_count) == (10, 60)


def test_row_errors_cover_names_phones_dates_and_repeats(clinic_a):
    data = rows(6)
    data[0][1] = ""  # row 2: no given name
    data[1][5] = "12"  # row 3: too few digits
    data[2][3] = "2999-01-01"  # row 4: born in the future
    data[3][4] = "unknown"  # row 5: sex not readable
    data[5][0] = data[4][0]  # row 7: the same id as row 6
    actor = clinic_a.actor(clinic_a.admin)
    job = services.patient_import_upload(actor=actor, raw=to_csv(data, delimiter=";"))
    assert job.delimiter == ";"
    checked = services.patient_import_check(actor=actor, job=job, mapping=job.mapping)
    found = {(e["row"], e["column"]) for e in checked.errors}
    assert found == {(2, "First Name"), (3, "Mobile"), (4, "DOB"), (5, "Gender"), (7, "Patient ID")}


def test_mapping_needs_the_required_fields_once(clinic_a):
    actor = clinic_a.actor(clinic_a.admin)
    job = services.patient_import_upload(actor=actor, raw=to_csv(rows(2)))
    with pytest.raises(Exception) as exc:
        services.patient_import_check(
            actor=actor, job=job, mapping={"given_name": "DOB", "family_name": "DOB"}
        )
    errors = exc.value.message_dict  # type: ignore[attr-defined]
    assert {"family_name", "birth_date", "sex"} <= set(errors)


def test_pages_upload_map_preview_and_run(clinic_a, django_capture_on_commit_callbacks):
    client = clinic_a.client(clinic_a.admin)
    assert client.get("/imports/patients/").status_code == 200
    upload = SimpleUploadedFile("export.csv", to_csv(rows(12)), content_type="text/csv")
    r = client.post("/imports/patients/", {"file": upload})
    assert r.status_code == 302
    url = r["Location"]
    page = client.get(url).content.decode()
    assert '<option value="DOB" selected>' in page  # the guessed mapping
    form = {c.key: PatientImport.objects.get().mapping.get(c.key, "") for c in columns.COLUMNS}
    preview = client.post(url, form)
    text = preview.content.decode()
    assert preview.status_code == 200 and "12 new patients to import" in text
    assert "Given3" in text and 'id="preview"' in text
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"{url}start/")
    assert started.status_code == 302
    status = client.get(f"{url}status/", headers={"HX-Request": "true"}).content.decode()
    assert "12 patients imported" in status and 'value="100"' in status
    assert Patient.objects.filter(clinic=clinic_a.clinic).count() == 12


def test_progress_partial_polls_while_running(clinic_a):
    actor = clinic_a.actor(clinic_a.admin)
    job = services.patient_import_upload(actor=actor, raw=to_csv(rows(10)))
    PatientImport.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, checked_rows=5)
    html = clinic_a.client(clinic_a.admin).get(f"/imports/patients/{job.pk}/status/").content
    text = html.decode()
    assert 'hx-trigger="every 2s"' in text and "checked 5 of 10 rows" in text
    assert 'value="45"' in text


def test_bad_files_are_refused_in_words(clinic_a):
    client = clinic_a.client(clinic_a.admin)
    for content, words in [
        (b"", "empty"),
        (b"First name,Last name\n", "no patients"),
        (b"a,a\n1,2\n", "heading"),
    ]:
        r = client.post("/imports/patients/", {"file": SimpleUploadedFile("x.csv", content)})
        assert r.status_code == 400 and words in r.content.decode()


def test_only_roles_with_the_import_permission(clinic_a, clinic_b):
    assert clinic_a.client(clinic_a.front_desk).get("/imports/patients/").status_code == 403
    assert clinic_a.client(clinic_a.nurse).get("/imports/patients/").status_code == 403
    job = services.patient_import_upload(actor=clinic_b.actor(clinic_b.admin), raw=to_csv(rows(2)))
    other = clinic_a.client(clinic_a.admin).get(f"/imports/patients/{job.pk}/")
    assert other.status_code == 404
