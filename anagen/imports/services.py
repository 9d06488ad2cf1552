"""Patient import: upload, map the columns, check every row, then import all rows or none.

The run (`patient_import_run`) is the task worker's job: it checks every row again (the clinic's
patients may have changed since the preview), reporting progress as it goes, and then creates
the new patients, their intake basics and the links to the other system's ids in one
transaction, or nothing at all when any row has an error. Patients already here (same record id
of the other system, or same name and date of birth) are left as they are: a second run of the
same file creates nobody.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.imports import columns
from anagen.imports.models import ImportedRecord, ImportStatus, PatientImport
from anagen.patients.models import Intake, Patient
from anagen.patients.normalise import digits_of, search_name_for

logger = logging.getLogger(__name__)

MAX_SHOWN_ERRORS = 200
PROGRESS_EVERY = 250


def patient_import_upload(*, actor: Actor, raw: bytes) -> PatientImport:
    """Keep an uploaded file and guess which of its columns are which of our fields."""
    actor.require(Perm.PATIENT_IMPORT)
    try:
        text = columns.decode(raw)
        delimiter = columns.sniff_delimiter(text)
        headers, rows = columns.read_table(text, delimiter)
    except columns.FileError as exc:
        raise ValidationError({"file": str(exc)}) from None
    job = PatientImport.objects.create(
        clinic=actor.clinic,
        created_by=actor.user,
        content=text,
        delimiter=delimiter,
        headers=headers,
        mapping=columns.guess_mapping(headers),
        total_rows=len(rows),
    )
    audit_record(
        action="patient_import.upload",
        actor=actor,
        obj=job,
        changes={"rows": len(rows), "columns": len(headers)},
    )
    return job


def _check_mapping(job: PatientImport, mapping: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    used: dict[str, str] = {}
    for key, header in mapping.items():
        if key not in columns.BY_KEY:
            continue
        if header and header not in job.headers:
            errors[key] = "Choose one of the file's columns."
        elif header and header in used:
            errors[key] = f"“{header}” is already used for {columns.BY_KEY[used[header]].label}."
        elif header:
            clean[key] = header
            used[header] = key
    for column in columns.COLUMNS:
        if column.required and column.key not in clean and column.key not in errors:
            errors[column.key] = f"Choose the column that holds the {column.label.lower()}."
    if errors:
        raise ValidationError(errors)
    return clean


@dataclass
class Checked:
    """The outcome of checking every row of an import against the clinic's patients."""

    rows: list[tuple[int, columns.Row]]  # (row number in the file, the row read)
    errors: list[dict[str, Any]]
    error_count: int
    new: list[tuple[int, columns.Row]]
    already_here: int


def _existing(clinic: Clinic) -> tuple[set[str], set[tuple[str, Any]]]:
    ids = set(ImportedRecord.objects.filter(clinic=clinic).values_list("external_id", flat=True))
    people = set(Patient.all_objects.filter(clinic=clinic).values_list("search_name", "birth_date"))
    return ids, people


def check_rows(job: PatientImport, *, today: Any, progress: bool = False) -> Checked:
    """Read and check every row (row numbers as a spreadsheet shows them: the heading is 1)."""
    headers, data = columns.read_table(job.content, job.delimiter)
    index = {key: headers.index(header) for key, header in job.mapping.items()}
    ids, people = _existing(job.clinic)
    seen_ids: dict[str, int] = {}
    seen_people: dict[tuple[str, Any], int] = {}
    out = Checked(rows=[], errors=[], error_count=0, new=[], already_here=0)
    region = job.clinic.default_phone_region
    for n, cells in enumerate(data, start=2):
        values = {key: cells[i] if i < len(cells) else "" for key, i in index.items()}
        row = columns.read_row(values, region=region, today=today)
        person = (
            search_name_for(row.patient.get("given_name", ""), row.patient.get("family_name", "")),
            row.patient.get("birth_date"),
        )
        if row.external_id and row.external_id in seen_ids:
            row.problems.setdefault(
                "external_id", f"The same record id as row {seen_ids[row.external_id]}."
            )
        elif not row.external_id and not row.problems and person in seen_people:
            row.problems["given_name"] = (
                f"The same name and date of birth as row {seen_people[person]}."
            )
        if row.external_id:
            seen_ids.setdefault(row.external_id, n)
        elif not row.problems:
            seen_people.setdefault(person, n)
        for key, message in row.problems.items():
            out.error_count += 1
            if len(out.errors) < MAX_SHOWN_ERRORS:
                out.errors.append(
                    {"row": n, "column": job.mapping.get(key, ""), "field": key, "message": message}
                )
        out.rows.append((n, row))
        if not row.problems:
            here = row.external_id in ids if row.external_id else False
            here = here or person in people
            if here:
                out.already_here += 1
            else:
                out.new.append((n, row))
        if progress and n % PROGRESS_EVERY == 0:
            PatientImport.objects.filter(pk=job.pk).update(checked_rows=n - 1)
    return out


def patient_import_check(*, actor: Actor, job: PatientImport, mapping: dict[str, str]) -> Checked:
    """Save the column mapping and check every row (the preview)."""
    actor.require(Perm.PATIENT_IMPORT)
    if job.is_running or job.status == ImportStatus.DONE:
        raise ValidationError("This import has already run.", code="conflict")
    job.mapping = _check_mapping(job, mapping)
    checked = check_rows(job, today=actor.today())
    job.status = ImportStatus.CHECKED
    job.errors = checked.errors
    job.error_count = checked.error_count
    job.to_create = len(checked.new)
    job.already_here = checked.already_here
    job.save(
        update_fields=[
            "mapping", "status", "errors", "error_count", "to_create", "already_here"
        ]
    )  # fmt: skip
    return checked


def patient_import_start(*, actor: Actor, job: PatientImport) -> PatientImport:
    """Queue the import for the task worker (after a preview without errors)."""
    actor.require(Perm.PATIENT_IMPORT)
    with transaction.atomic():
        locked = PatientImport.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportStatus.CHECKED:
            raise ValidationError("Check the file (preview) before importing it.", code="conflict")
        if locked.error_count:
            raise ValidationError(
                "Correct the rows with errors in the file and upload it again.", code="conflict"
            )
        locked.status = ImportStatus.QUEUED
        locked.checked_rows = 0
        locked.save(update_fields=["status", "checked_rows"])
        audit_record(
            action="patient_import.start",
            actor=actor,
            obj=locked,
            changes={"rows": locked.total_rows, "mapping": locked.mapping},
        )
        job_id = locked.pk
        transaction.on_commit(lambda: _enqueue(job_id))
    return locked


def _enqueue(job_id: int) -> None:
    from anagen.imports.tasks import run_patient_import

    run_patient_import.enqueue(job_id)


def _fail(actor: Actor, job: PatientImport, checked: Checked | None, failure: str) -> None:
    PatientImport.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED,
        errors=checked.errors if checked else [],
        error_count=checked.error_count if checked else 0,
        failure=failure,
        finished_at=timezone.now(),
    )
    audit_record(
        action="patient_import.fail",
        actor=actor,
        obj=job,
        changes={"errors": checked.error_count if checked else 0, "reason": failure},
    )


def patient_import_run(*, actor: Actor, job: PatientImport) -> PatientImport:
    """Check every row, then import all of them or none (the task worker runs this)."""
    actor.require(Perm.PATIENT_IMPORT)
    updated = PatientImport.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, checked_rows=0
    )
    if not updated:
        return PatientImport.objects.get(pk=job.pk)  # already run (a task delivered twice)
    checked = check_rows(job, today=actor.today(), progress=True)
    PatientImport.objects.filter(pk=job.pk).update(checked_rows=job.total_rows)
    if checked.error_count:
        _fail(actor, job, checked, "Nothing was imported: some rows have errors.")
        return PatientImport.objects.get(pk=job.pk)
    try:
        with transaction.atomic():
            created = _create_all(actor, job, checked)
            PatientImport.objects.filter(pk=job.pk).update(
                status=ImportStatus.DONE,
                created_count=created,
                matched_count=checked.already_here,
                errors=[],
                error_count=0,
                finished_at=timezone.now(),
            )
            audit_record(
                action="patient_import.commit",
                actor=actor,
                obj=job,
                changes={"created": created, "already_here": checked.already_here},
            )
    except Exception:
        logger.exception("patient import %s failed", job.pk)
        _fail(
            actor,
            job,
            None,
            "Nothing was imported: the import stopped on an unexpected problem. "
            "Try again; if it stops again, tell your administrator.",
        )
        raise
    return PatientImport.objects.get(pk=job.pk)


def _create_all(actor: Actor, job: PatientImport, checked: Checked) -> int:
    clinic = job.clinic
    count = len(checked.new)
    if not count:
        return 0
    # Reserve the record numbers in one step (the clinic row is locked until commit).
    Clinic.objects.filter(pk=clinic.pk).update(record_seq=F("record_seq") + count)
    last = Clinic.objects.values_list("record_seq", flat=True).get(pk=clinic.pk)
    first = last - count + 1
    patients = []
    for offset, (_, row) in enumerate(checked.new):
        data = row.patient
        patients.append(
            Patient(
                clinic=clinic,
                record_number=f"{clinic.record_prefix}{first + offset:06d}",
                search_name=search_name_for(data["given_name"], data["family_name"]),
                phone_digits=digits_of(data["phone"]),
                **data,
            )
        )
    created = bulk_create_with_history(
        patients, Patient, batch_size=500, default_user=actor.user,
        default_change_reason="Imported from another system",
    )  # fmt: skip
    by_number = {p.record_number: p for p in created}
    if any(p.pk is None for p in created):  # a database that does not return new ids
        by_number = {
            p.record_number: p
            for p in Patient.all_objects.filter(clinic=clinic, record_number__in=list(by_number))
        }
    intakes = []
    links = []
    for offset, (n, row) in enumerate(checked.new):
        patient = by_number[f"{clinic.record_prefix}{first + offset:06d}"]
        if row.intake:
            intakes.append(Intake(patient=patient, version=1, recorded_by=actor.user, **row.intake))
        if row.external_id:
            links.append(
                ImportedRecord(
                    clinic=clinic, external_id=row.external_id, patient=patient, source=job
                )
            )
        audit_record(
            action="patient.create",
            actor=actor,
            patient=patient,
            obj=patient,
            changes={"import": job.pk, "row": n, **{k: [None, v] for k, v in row.patient.items()}},
        )
    Intake.objects.bulk_create(intakes, batch_size=500)
    ImportedRecord.objects.bulk_create(links, batch_size=500)
    return count
