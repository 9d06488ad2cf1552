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
