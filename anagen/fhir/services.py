"""FHIR writes: the audit of reads and searches, and bulk exports (kick-off, run, cancel,
expiry)."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.models import AuditAction
from anagen.audit.services import audit_record
from anagen.fhir import build, selectors
from anagen.fhir.models import BulkExport, ExportLevel, ExportStatus

logger = logging.getLogger(__name__)


# --- audit ------------------------------------------------------------------------------------


def audit_read(*, actor: Actor, rtype: str, source: selectors.Source, row: Any) -> None:
    patient = source.patient_of(row)
    audit_record(
        action=AuditAction.FHIR_READ,
        actor=actor,
        patient=patient,
        obj=row,
        changes={"resource": f"{rtype}/{source.logical_id(row.pk)}"},
    )


def audit_search(
    *, actor: Actor, rtype: str, rows: list[tuple[selectors.Source, Any]], query: str
) -> None:
    """One audit row per patient whose records the page showed (none for an empty page)."""
    by_patient: dict[int, tuple[Any, list[str]]] = {}
    for source, row in rows:
        patient = source.patient_of(row)
        entry = by_patient.setdefault(patient.pk, (patient, []))
        entry[1].append(f"{rtype}/{source.logical_id(row.pk)}")
    for patient, ids in by_patient.values():
        audit_record(
            action=AuditAction.FHIR_SEARCH,
            actor=actor,
            patient=patient,
            changes={"search": f"{rtype}?{query}" if query else rtype, "resources": ids},
        )


# --- bulk export ------------------------------------------------------------------------------


def export_lifetime() -> dt.timedelta:
    """How long a finished export's files are kept: ANAGEN_FHIR_EXPORT_HOURS (default 24)."""
    return dt.timedelta(hours=float(getattr(settings, "ANAGEN_FHIR_EXPORT_HOURS", 24)))


def export_folder(job: BulkExport) -> Path:
    """Where a job's NDJSON files live: under MEDIA_ROOT/private, which no URL serves."""
    return Path(settings.MEDIA_ROOT) / "private" / "fhir-exports" / str(job.key)


def export_start(
    *,
    actor: Actor,
    level: str,
    types: list[str],
    since: dt.datetime | None,
    request_url: str,
    base_url: str,
    patient_ids: list[int] | None = None,
) -> BulkExport:
    actor.require(Perm.CLINICAL_VIEW)
    with transaction.atomic():
        job = BulkExport.objects.create(
            clinic=actor.clinic,
            requested_by=actor.user,
            level=ExportLevel(level),
            types=types,
            since=since,
            patient_ids=list(patient_ids or []),
            request_url=request_url,
            base_url=base_url,
        )
        changes: dict[str, Any] = {
            "level": level,
            "types": types,
            "since": since.isoformat() if since else "",
        }
        if patient_ids:
            changes["patients"] = list(patient_ids)
        audit_record(action=AuditAction.FHIR_EXPORT_START, actor=actor, obj=job, changes=changes)
        job_id = job.pk
        transaction.on_commit(lambda: _enqueue(job_id))
    return job


def _enqueue(job_id: int) -> None:
    from anagen.fhir.tasks import run_export

    run_export.enqueue(job_id)


def export_cancel(*, actor: Actor, job: BulkExport) -> None:
    """Stop (if running) and delete an export and its files (the Bulk Data DELETE)."""
    actor.require(Perm.CLINICAL_VIEW)
    with transaction.atomic():
        BulkExport.objects.filter(pk=job.pk).update(
            status=ExportStatus.CANCELLED, finished_at=timezone.now(), output=[]
        )
        audit_record(action=AuditAction.FHIR_EXPORT_CANCEL, actor=actor, obj=job)
    shutil.rmtree(export_folder(job), ignore_errors=True)


def export_expire(job: BulkExport) -> bool:
    """Delete a finished export's files once its time is up; the status then says it expired.
    True when this call expired it (False: not due, or already gone)."""
    now = timezone.now()
    expired = BulkExport.objects.filter(
        pk=job.pk, status=ExportStatus.DONE, expires_at__lte=now
    ).update(status=ExportStatus.EXPIRED, output=[], progress="")
    if expired:
        shutil.rmtree(export_folder(job), ignore_errors=True)
        logger.info("FHIR export %s expired: files deleted", job.pk)
    return bool(expired)


def exports_expire_due(now: dt.datetime | None = None) -> int:
    """Expire every finished export whose time is up (the task worker's sweep); how many."""
    count = 0
    for job in selectors.exports_expired(now or timezone.now()):
        count += export_expire(job)
    return count


def _schedule_expiry(job_id: int, at: dt.datetime) -> None:
    """Ask the task worker to delete the files when they expire (a backend that cannot defer a
    task leaves it to the sweep and to the check on every status and download request)."""
    from anagen.fhir.tasks import expire_export

    if expire_export.get_backend().supports_defer:
        expire_export.using(run_after=at).enqueue(job_id)


def export_file_served(*, actor: Actor, job: BulkExport, name: str) -> None:
    audit_record(
        action=AuditAction.FHIR_EXPORT_DOWNLOAD, actor=actor, obj=job, changes={"file": name}
    )


def export_fail(export_id: int, reason: str) -> None:
    BulkExport.objects.filter(
        pk=export_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(status=ExportStatus.FAILED, error=reason, finished_at=timezone.now())


def _site_of(base_url: str) -> str:
    return base_url.split("/fhir/", 1)[0]


def export_run(job: BulkExport, actor: Actor) -> None:
    """Write one NDJSON file per type (every line validated), then the manifest's output."""
    started = BulkExport.objects.filter(pk=job.pk, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, transaction_time=timezone.now(), progress="Starting"
    )
    if not started:
        return  # cancelled before it began (or already run)
    folder = export_folder(job)
    folder.mkdir(parents=True, exist_ok=True)
    ctx = build.Ctx(base=job.base_url, site=_site_of(job.base_url))
    output: list[dict[str, Any]] = []
    exported: dict[int, Any] = {}
    counts: dict[int, int] = defaultdict(int)
    try:
        for n, rtype in enumerate(job.types, start=1):
            if selectors.export_status(job.pk) == ExportStatus.CANCELLED:
                shutil.rmtree(folder, ignore_errors=True)
                return
            BulkExport.objects.filter(pk=job.pk).update(
                progress=f"{rtype} ({n} of {len(job.types)} types)"
            )
            name = f"{rtype}.ndjson"
            count = 0
            with (folder / name).open("w", encoding="utf-8") as fh:
                rows = selectors.rows_for_export(actor, rtype, job.since, job.patient_ids or None)
                for source, row in rows:
                    line = build.validated_model(source.build(row, ctx)).model_dump_json()
                    fh.write(line + "\n")
                    count += 1
                    patient = source.patient_of(row)
                    exported.setdefault(patient.pk, patient)
                    counts[patient.pk] += 1
            if count:
                size = (folder / name).stat().st_size
                output.append({"type": rtype, "name": name, "count": count, "bytes": size})
            else:
                (folder / name).unlink()
    except Exception:
        logger.exception("FHIR export %s failed", job.pk)
        BulkExport.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.FAILED,
            finished_at=timezone.now(),
            error="The export stopped on an unexpected error; the log has the details.",
        )
        shutil.rmtree(folder, ignore_errors=True)
        return
    finished = timezone.now()
    expires = finished + export_lifetime()
    with transaction.atomic():
        done = BulkExport.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.DONE,
            output=output,
            progress="",
            finished_at=finished,
            expires_at=expires,
        )
        if not done:
            shutil.rmtree(folder, ignore_errors=True)
            return
        job_id = job.pk
        transaction.on_commit(lambda: _schedule_expiry(job_id, expires))
        for pk, patient in exported.items():
            audit_record(
                action=AuditAction.FHIR_EXPORT_PATIENT,
                actor=actor,
                patient=patient,
                obj=job,
                changes={"resources": counts[pk]},
            )
