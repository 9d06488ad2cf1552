"""Data out (GDPR articles 15 and 20): one patient's record as one ZIP archive.

The archive holds `record.json` (a FHIR R4 Bundle of every resource about the patient, each
validated with fhir.resources), `record-data.json` (the same record field by field, which
anagen/imports/archive.py imports back; anagen/imports/record.py), the photos and outcome-report
PDFs as files, `access-log.csv`
(the audit trail of who opened or changed the record, and when) and a short README. The task
worker makes it; downloading it is audited.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import zipfile
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_datetime
from anagen.accounts.permissions import Perm
from anagen.audit.models import AuditAction, AuditEvent
from anagen.audit.services import audit_record
from anagen.imports import record
from anagen.imports.models import ExportStatus, PatientExport
from anagen.patients.models import Patient

logger = logging.getLogger(__name__)

README = """\
The record of {name} ({number}) at {clinic}, as it stood on {when}.

record.json       Every part of the record as a FHIR R4 Bundle (an international standard
                  other clinical systems can read): details, intake, assessments, consents,
                  plans, appointments, sessions and their PRP preparations, measurements,
                  adverse events.
record-data.json  The same record as plain data, field by field, so that Anagen can bring it
                  back exactly into another clinic or installation: every row the patient owns
                  (all intakes, screening results and overrides, consent snapshots, sessions
                  with their preparations, zones, lots and amendments, photo sets, reports…),
                  rows pointing to each other by keys such as "procedures.TreatmentSession#2"
                  (the second session recorded), and under "references" the staff, rooms,
                  products, lots, formulations and consent texts the record names. Billing is
                  not part of it.
photos/           The clinical photos, as taken.
reports/          The outcome reports, as given.
access-log.csv    Who opened or changed the record, and when.
"""


def patient_export_start(*, actor: Actor, patient: Patient) -> PatientExport:
    """Ask the task worker for a patient's archive."""
    actor.require(Perm.PATIENT_EXPORT)
    job = PatientExport.objects.create(
        clinic=actor.clinic, patient=patient, requested_by=actor.user
    )
    audit_record(action="patient_export.start", actor=actor, patient=patient, obj=job)
    job_id = job.pk
    transaction.on_commit(lambda: _enqueue(job_id))
    return job


def _enqueue(job_id: int) -> None:
    from anagen.imports.tasks import run_patient_export

    run_patient_export.enqueue(job_id)


def _bundle(actor: Actor, patient: Patient) -> tuple[dict[str, Any], int]:
    from anagen.fhir import build
    from anagen.fhir import selectors as fhir

    site = getattr(settings, "SITE_URL", "https://anagen.invalid").rstrip("/")
    ctx = build.Ctx(base=f"{site}/fhir/R4", site=site, photo_consent={patient.pk})
    entries = []
    for sources in fhir.RESOURCES.values():
        for source in sources:
            # Ordered: PostgreSQL returns an updated row from its new place in the heap, so
            # without it two exports of one record list resources in different orders.
            rows = source.rows(actor).filter(**{source.patient_lookup: patient.pk}).order_by("pk")
            for row in rows.iterator(chunk_size=200):
                resource = build.validated_model(source.build(row, ctx)).model_dump(
                    mode="json", exclude_none=True
                )
                entries.append(
                    {"fullUrl": f"{ctx.base}/{resource['resourceType']}/{resource['id']}",
                     "resource": resource}
                )  # fmt: skip
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": entries,
    }
    build.validated_model(bundle)
    return bundle, len(entries)


def _access_log(patient: Patient) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["When", "Who", "What", "How"])
    events = AuditEvent.objects.filter(patient=patient).select_related("actor").order_by("at")
    for event in events.iterator(chunk_size=500):
        who = event.actor.get_full_name() if event.actor else ""
        writer.writerow(
            [human_datetime(event.at), who or event.username, AuditAction.label_of(event.action),
             event.via]
        )  # fmt: skip
    return out.getvalue()


def _files(actor: Actor, patient: Patient) -> list[tuple[str, Any]]:
    from anagen.outcomes.selectors.photos import photos_for
    from anagen.outcomes.selectors.reports import report_files_for

    found: list[tuple[str, Any]] = []
    for n, photo in enumerate(photos_for(actor).filter(photo_set__patient=patient), start=1):
        found.append(
            (f"photos/photo-{n:04d}{PurePosixPath(photo.file.name or '').suffix}", photo.file)
        )
    for n, report in enumerate(report_files_for(actor).filter(patient=patient), start=1):
        found.append((f"reports/report-{n:04d}.pdf", report.file))
    return found


def patient_archive_bytes(actor: Actor, patient: Patient) -> tuple[bytes, int]:
    """The archive itself (and how many FHIR resources it holds)."""
    bundle, count = _bundle(actor, patient)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt",
            README.format(
                name=patient.full_name,
                number=patient.record_number,
                clinic=patient.clinic.name,
                when=human_datetime(timezone.now()),
            ),
        )
        archive.writestr("record.json", json.dumps(bundle, indent=1, ensure_ascii=False))
        archive.writestr(record.FILE_NAME, json.dumps(record.record_export_data(patient)))
        for name, stored in _files(actor, patient):
            with stored.open("rb") as fh:
                archive.writestr(name, fh.read())
        archive.writestr("access-log.csv", _access_log(patient))
    return buffer.getvalue(), count


def patient_export_run(*, actor: Actor, job: PatientExport) -> PatientExport:
    """Make the archive (the task worker runs this)."""
    actor.require(Perm.PATIENT_EXPORT)
    started = PatientExport.objects.filter(pk=job.pk, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING
    )
    if not started:
        return PatientExport.objects.get(pk=job.pk)
    patient = job.patient
    try:
        data, count = patient_archive_bytes(actor, patient)
        job.file.save(f"patient-{patient.pk}-{job.pk}.zip", ContentFile(data), save=False)
        PatientExport.objects.filter(pk=job.pk).update(
            status=ExportStatus.DONE,
            file=job.file.name,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            resources=count,
            finished_at=timezone.now(),
        )
        audit_record(
            action="patient_export.create",
            actor=actor,
            patient=patient,
            obj=job,
            changes={"resources": count, "bytes": len(data)},
        )
    except Exception:
        logger.exception("patient export %s failed", job.pk)
        PatientExport.objects.filter(pk=job.pk).update(
            status=ExportStatus.FAILED,
            failure="The archive could not be made. Try again; if it fails again, tell your "
            "administrator.",
            finished_at=timezone.now(),
        )
        raise
    return PatientExport.objects.get(pk=job.pk)


def patient_export_download(*, actor: Actor, job: PatientExport) -> bytes:
    """The archive's bytes; the download is audited (it is a read of the whole record)."""
    actor.require(Perm.PATIENT_EXPORT)
    with job.file.open("rb") as fh:
        data = fh.read()
    audit_record(action="patient_export.download", actor=actor, patient=job.patient, obj=job)
    return bytes(data)
