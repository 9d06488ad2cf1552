"""Bulk Data $export (Bulk Data Access IG v2): kick-off, status, download, cancel, on the demo."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from anagen.audit.models import AuditAction, AuditEvent
from anagen.fhir import build, selectors
from anagen.fhir.models import BulkExport, ExportStatus
from anagen.fhir.tasks import run_export
from anagen.fhir.tests.conftest import Fhir, token_for

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
ASYNC = {"HTTP_PREFER": "respond-async", "HTTP_ACCEPT": "application/fhir+json"}


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _download(api: Fhir, url: str) -> list[str]:
    response = api.get(url)
    assert response.status_code == 200, url
    assert response["Content-Type"].startswith("application/fhir+ndjson")
    return b"".join(response.streaming_content).decode("utf-8").splitlines()


def test_export_of_the_demo_clinic_validates_every_line(
    api, demo, media, settings, django_capture_on_commit_callbacks, capsys
):
    north, river = demo
    settings.TASKS = IMMEDIATE
    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True):
        kick = api.get("/fhir/R4/$export", **ASYNC)
    assert kick.status_code == 202
    status_url = kick["Content-Location"]
    assert "/fhir/R4/$export-status/" in status_url
    status = api.get(status_url)
    elapsed = time.perf_counter() - started
    assert status.status_code == 200
    assert status["Content-Type"].startswith("application/json")
    manifest = status.json()
    assert set(manifest) == {"transactionTime", "request", "requiresAccessToken", "output", "error"}
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("/fhir/R4/$export")
    assert manifest["error"] == []
    assert {o["type"] for o in manifest["output"]} == set(selectors.RESOURCES)

    north_patients = set()
    total_lines = total_bytes = 0
    for out in manifest["output"]:
        lines = _download(api, out["url"])
        assert len(lines) == out["count"] > 0
        for line in lines:
            resource = json.loads(line)
            assert resource["resourceType"] == out["type"]
            build.validated_model(resource)  # every line validates with the R4B models
            if out["type"] == "Patient":
                north_patients.add(resource["id"])
        total_lines += len(lines)
        total_bytes += sum(len(line.encode()) + 1 for line in lines)
    from anagen.patients.models import Patient

    assert north_patients == {
        str(pk) for pk in Patient.objects.filter(clinic=north).values_list("pk", flat=True)
    }
    # Files live under MEDIA_ROOT/private, never under a served media path.
    job = BulkExport.objects.get()
    files = list((media / "private" / "fhir-exports" / str(job.key)).glob("*.ndjson"))
    assert len(files) == len(manifest["output"])
    # Each exported patient's record carries an audit row; the downloads are audited too.
    assert AuditEvent.objects.filter(action=AuditAction.FHIR_EXPORT_PATIENT).count() == len(
        north_patients
    )
    assert AuditEvent.objects.filter(action=AuditAction.FHIR_EXPORT_DOWNLOAD).count() == len(files)
    with capsys.disabled():
        print(
            f"\n$export of the demo clinic: {total_lines} resources in "
            f"{len(manifest['output'])} files, {total_bytes / 1024:.0f} KiB, {elapsed:.1f} s"
        )

    # The files need the token, and another clinic's token sees neither status nor files.
    anonymous = Fhir("")
    anonymous.auth = {}
    assert anonymous.get(manifest["output"][0]["url"]).status_code == 401
    river_api = Fhir(token_for("river.physician", river))
    assert river_api.get(status_url).status_code == 404
    assert river_api.get(manifest["output"][0]["url"]).status_code == 404

    # DELETE removes the export and its files; its status is then gone.
    assert api.client.delete(status_url, **api.auth).status_code == 202
    assert api.get(status_url).status_code == 404
    assert not (media / "private" / "fhir-exports" / str(job.key)).exists()
    assert api.get(manifest["output"][0]["url"]).status_code == 404


def test_status_shows_progress_until_the_worker_has_run(api, demo, media):
    kick = api.get("/fhir/R4/Patient/$export?_type=Patient,Consent", **ASYNC)
    assert kick.status_code == 202
    status_url = kick["Content-Location"]
    waiting = api.get(status_url)  # the database worker has not picked it up yet
    assert waiting.status_code == 202
    assert waiting["X-Progress"]
    assert "Retry-After" in waiting
    job = BulkExport.objects.get()
    assert job.level == "patient" and job.types == ["Patient", "Consent"]
    assert run_export.call(job.pk) == ExportStatus.DONE
    manifest = api.get(status_url).json()
    assert [o["type"] for o in manifest["output"]] == ["Patient", "Consent"]


def test_cancel_before_the_worker_runs(api, demo, media):
    kick = api.get("/fhir/R4/$export?_type=Patient", **ASYNC)
    status_url = kick["Content-Location"]
    assert api.client.delete(status_url, **api.auth).status_code == 202
    job = BulkExport.objects.get()
    assert run_export.call(job.pk) == ExportStatus.CANCELLED
    assert api.get(status_url).status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.FHIR_EXPORT_CANCEL).count() == 1


def test_group_export_and_since(api, demo, media, settings, django_capture_on_commit_callbacks):
    north, river = demo
    settings.TASKS = IMMEDIATE
    assert api.get(f"/fhir/R4/Group/clinic-{river.pk}/$export", **ASYNC).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        kick = api.get(
            f"/fhir/R4/Group/clinic-{north.pk}/$export?_type=Patient&_since=2000-01-01T00:00:00Z",
            **ASYNC,
        )
    assert kick.status_code == 202
    manifest = api.get(kick["Content-Location"]).json()
    assert [o["type"] for o in manifest["output"]] == ["Patient"]
    with django_capture_on_commit_callbacks(execute=True):
        later = api.get("/fhir/R4/$export?_type=Patient&_since=2999-01-01T00:00:00Z", **ASYNC)
    assert api.get(later["Content-Location"]).json()["output"] == []


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {}),  # no Prefer: respond-async
        ("?_type=Medication", ASYNC),
        ("?_typeFilter=Patient%3Factive%3Dtrue", ASYNC),
        ("?_since=yesterday", ASYNC),
        ("?_outputFormat=text/csv", ASYNC),
    ],
)
def test_bad_kick_offs_are_400(api, demo, media, query, headers):
    response = api.get(f"/fhir/R4/$export{query}", **headers)
    assert response.status_code == 400
    build.validated_model(response.json())
    assert not BulkExport.objects.exists()


# --- POST kick-off with a Parameters resource (Bulk Data Access IG v2) -------------------------


def _parameters(*parameters: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": list(parameters)}


def _patient(reference: str) -> dict:
    return {"name": "patient", "valueReference": {"reference": reference}}


def _post(api: Fhir, url: str, body: object, **extra):
    data = body if isinstance(body, str) else json.dumps(body)
    return api.client.post(
        url, data=data, content_type="application/fhir+json", **{**api.auth, **ASYNC, **extra}
    )


def test_post_kick_off_with_parameters_exports_the_named_patients(
    api, demo, media, settings, django_capture_on_commit_callbacks
):
    from anagen.patients.models import Patient

    north, _ = demo
    settings.TASKS = IMMEDIATE
    first, second = Patient.objects.filter(clinic=north).order_by("pk")[:2]
    body = _parameters(
        {"name": "_type", "valueString": "Patient,Consent"},
        {"name": "_outputFormat", "valueString": "application/fhir+ndjson"},
        {"name": "_since", "valueInstant": "2000-01-01T00:00:00Z"},
        {"name": "patient", "valueReference": {"reference": f"Patient/{first.pk}"}},
        {"name": "patient", "valueReference": {"reference": f"Patient/{second.pk}"}},
    )
    with django_capture_on_commit_callbacks(execute=True):
        kick = _post(api, "/fhir/R4/Patient/$export", body)
    assert kick.status_code == 202, kick.content
    job = BulkExport.objects.get()
    assert job.patient_ids == sorted([first.pk, second.pk])
    assert job.types == ["Patient", "Consent"]
    manifest = api.get(kick["Content-Location"]).json()
    patients = _download(api, manifest["output"][0]["url"])
    assert {json.loads(line)["id"] for line in patients} == {str(first.pk), str(second.pk)}
    for out in manifest["output"][1:]:
        for line in _download(api, out["url"]):
            reference = json.loads(line)["patient"]["reference"]
            assert reference.rsplit("/", 1)[-1] in {str(first.pk), str(second.pk)}

    # The Group level takes `patient` too; a POST without parameters exports everything.
    with django_capture_on_commit_callbacks(execute=True):
        group = _post(
            api,
            f"/fhir/R4/Group/clinic-{north.pk}/$export",
            _parameters(
                {"name": "_type", "valueString": "Patient"},
                {"name": "patient", "valueReference": {"reference": f"Patient/{first.pk}"}},
            ),
        )
        everything = _post(api, "/fhir/R4/$export", {"resourceType": "Parameters"})
    assert group.status_code == everything.status_code == 202
    assert api.get(group["Content-Location"]).json()["output"][0]["count"] == 1
    assert len(api.get(everything["Content-Location"]).json()["output"]) > 1


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/fhir/R4/$export", "not json"),
        ("/fhir/R4/$export", {"resourceType": "Patient"}),
        ("/fhir/R4/$export", _parameters({"name": "_typeFilter", "valueString": "Patient?x=1"})),
        ("/fhir/R4/$export", _parameters({"name": "_type", "valueString": "Medication"})),
        ("/fhir/R4/$export", _parameters({"name": "_since", "valueInstant": "2026-13-01"})),
        ("/fhir/R4/$export", _parameters({"name": "_outputFormat", "valueString": "text/csv"})),
        ("/fhir/R4/$export", _parameters({"name": "_type", "valueInteger": 3})),
        # `patient` is for the Patient and Group levels only
        ("/fhir/R4/$export", _parameters(_patient("Patient/1"))),
        ("/fhir/R4/Patient/$export", _parameters(_patient("Patient/999999999"))),
        ("/fhir/R4/Patient/$export", _parameters(_patient("Group/1"))),
        ("/fhir/R4/Patient/$export?_type=Patient", _parameters()),  # parameters in the URL too
    ],
)
def test_bad_post_kick_offs_are_400(api, demo, media, url, body):
    response = _post(api, url, body)
    assert response.status_code == 400, response.content
    build.validated_model(response.json())
    assert not BulkExport.objects.exists()


def test_a_patient_of_another_clinic_cannot_be_named(api, demo, media):
    from anagen.patients.models import Patient

    _, river = demo
    theirs = Patient.objects.filter(clinic=river).first()
    assert theirs is not None
    body = _parameters({"name": "patient", "valueReference": {"reference": f"Patient/{theirs.pk}"}})
    response = _post(api, "/fhir/R4/Patient/$export", body)
    assert response.status_code == 400
    assert "Not a patient of this clinic" in response.json()["issue"][0]["diagnostics"]
    assert _post(api, "/fhir/R4/Patient/$export", body, HTTP_PREFER="").status_code == 400


def test_get_kick_off_refuses_the_patient_parameter(api, demo, media):
    response = api.get("/fhir/R4/Patient/$export?patient=Patient/1", **ASYNC)
    assert response.status_code == 400
    assert "POST" in response.json()["issue"][0]["diagnostics"]


# --- only the person who started an export sees it ----------------------------------------------


def test_status_files_and_cancel_belong_to_who_started_the_export(
    api, demo, media, settings, django_capture_on_commit_callbacks
):
    north, _ = demo
    settings.TASKS = IMMEDIATE
    with django_capture_on_commit_callbacks(execute=True):
        kick = api.get("/fhir/R4/$export?_type=Patient", **ASYNC)
    status_url = kick["Content-Location"]
    file_url = api.get(status_url).json()["output"][0]["url"]
    colleague = Fhir(token_for("north.nurse", north))  # same clinic, may read clinical records
    assert colleague.get("/fhir/R4/Patient?_count=1").status_code == 200
    for response in (
        colleague.get(status_url),
        colleague.get(file_url),
        colleague.client.delete(
            status_url, HTTP_AUTHORIZATION=colleague.auth["HTTP_AUTHORIZATION"]
        ),
    ):
        assert response.status_code == 404
        build.validated_model(response.json())
    assert BulkExport.objects.get().status == ExportStatus.DONE  # the colleague changed nothing
    # The same person with another token of theirs still reaches it.
    again = Fhir(token_for("north.physician", north))
    assert again.get(status_url).status_code == 200
    assert _download(again, file_url)


# --- export files expire ----------------------------------------------------------------------


def _finished_export(api, settings, capture) -> tuple[str, str, BulkExport]:
    settings.TASKS = IMMEDIATE
    with capture(execute=True):
        kick = api.get("/fhir/R4/$export?_type=Patient", **ASYNC)
    status = api.get(kick["Content-Location"])
    return kick["Content-Location"], status.json()["output"][0]["url"], BulkExport.objects.get()


def test_files_expire_after_the_set_lifetime(
    api, demo, media, settings, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    settings.ANAGEN_FHIR_EXPORT_HOURS = 2
    status_url, file_url, job = _finished_export(api, settings, django_capture_on_commit_callbacks)
    assert job.expires_at and job.finished_at
    assert job.expires_at - job.finished_at == dt.timedelta(hours=2)
    status = api.get(status_url)
    assert status.status_code == 200 and status["Expires"]  # when the files go
    assert _download(api, file_url)
    folder = media / "private" / "fhir-exports" / str(job.key)
    assert folder.exists()

    # Its time is up: the download is a 404 OperationOutcome, the status says it expired.
    BulkExport.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    gone = api.get(file_url)
    assert gone.status_code == 404
    assert gone["Content-Type"].startswith("application/fhir+json")
    build.validated_model(gone.json())
    assert "expired" in gone.json()["issue"][0]["diagnostics"]
    assert not folder.exists()
    status = api.get(status_url)
    assert status.status_code == 404
    text = status.json()["issue"][0]["diagnostics"]
    assert "expired" in text and "2 hours" in text
    assert BulkExport.objects.get().status == ExportStatus.EXPIRED


def test_the_task_worker_deletes_expired_files(
    api, demo, media, settings, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from anagen.fhir.tasks import expire_export, expire_exports

    status_url, _, job = _finished_export(api, settings, django_capture_on_commit_callbacks)
    folder = media / "private" / "fhir-exports" / str(job.key)
    assert job.expires_at and job.finished_at
    assert job.expires_at - job.finished_at == dt.timedelta(hours=24)  # the default
    assert expire_exports.call() == 0 and expire_export.call(job.pk) is False  # not yet due
    assert folder.exists()
    BulkExport.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    assert expire_exports.call() == 1
    assert not folder.exists()
    assert BulkExport.objects.get().status == ExportStatus.EXPIRED
    assert "expired" in api.get(status_url).json()["issue"][0]["diagnostics"]


def test_a_finished_export_schedules_its_own_expiry(
    api, demo, media, settings, django_capture_on_commit_callbacks
):
    from django.tasks import task_backends
    from django.tasks.backends.dummy import DummyBackend

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    backend = task_backends["default"]
    assert isinstance(backend, DummyBackend)
    backend.clear()
    with django_capture_on_commit_callbacks(execute=True):
        kick = api.get("/fhir/R4/$export?_type=Patient", **ASYNC)
    job = BulkExport.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        run_export.call(job.pk)
    job.refresh_from_db()
    deferred = [r for r in backend.results if r.task.name == "expire_export"]
    assert len(deferred) == 1
    assert deferred[0].task.run_after == job.expires_at and deferred[0].args == [job.pk]
    assert api.get(kick["Content-Location"]).status_code == 200


def test_an_oversized_parameters_body_is_413(api, demo, media, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = _parameters({"name": "_type", "valueString": "Patient," * 200})
    response = _post(api, "/fhir/R4/Patient/$export", body)
    assert response.status_code == 413
    assert build.validated_model(response.json()).issue[0].code == "too-long"
    assert not BulkExport.objects.exists()
