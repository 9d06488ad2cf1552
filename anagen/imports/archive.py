"""Data back in: re-import a per-patient archive (anagen/imports/export.py) and compare records.

An archive holds the FHIR Bundle (`record.json`, what other systems read), the record data
(`record-data.json`, every row the patient owns with archive-local keys, anagen/imports/record.py),
the photo and report files, the access log and a README. `archive_import` checks the Bundle
(valid FHIR R4, one patient, the same record number as the record data), then writes the record
data back into a clinic with `record.record_restore`, in one transaction: all or nothing.

Importing the same archive (or another archive of the same patient from the same clinic) into a
clinic that already holds it is REFUSED, naming the patient it became: a second copy of a
patient is never made silently, and the refusal changes nothing.

`record_compare` compares two patients' record data (ids are archive-local keys there, so a
patient and their re-imported copy compare equal) and `archive_compare` two archives (the FHIR
Bundles with ids and export times normalised, the record data, the files); both name every
difference.

What an archive does not carry back is listed in `NOT_CARRIED`, each with its reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, User
from anagen.accounts.permissions import Perm
from anagen.audit.models import AuditAction, AuditEvent
from anagen.audit.services import audit_record
from anagen.imports import record
from anagen.patients.models import Patient

MAX_ARCHIVE_BYTES = 200 * 1024 * 1024
FILE_DIRS = ("photos/", "reports/")

# Patient-owned data an archive does not bring back, and why. Reported, never silent.
NOT_CARRIED: dict[str, str] = {
    "audit.AuditEvent": (
        "the access log records reads and changes made in the system the archive came from; it "
        "stays readable in the archive (access-log.csv) and the import starts this clinic's own "
        "log with the import itself"
    ),
    "history of each record (earlier states)": (
        "the change history kept by the old system is not exported; every record comes back as "
        "it stood at export"
    ),
    "billing.* (invoices, payments, refunds, quotes, packages)": (
        "neither the FHIR Bundle nor the record data hold billing: invoices are legal documents "
        "numbered by the clinic that issued them, and re-creating them elsewhere would show "
        "invoices that clinic never issued"
    ),
    "outcomes.RatingPair / Rating": (
        "blinded photo ratings belong to a clinic's rating panel and its raters, not to the "
        "patient's record"
    ),
    "outcomes.ImportBatch": (
        "the spreadsheet a measurement visit was uploaded from; the measurements themselves "
        "come back"
    ),
    "scheduling.ReminderSent": (
        "reminder messages were sent by the old clinic's reminder rules; the appointments come "
        "back without them"
    ),
    "imports.PatientExport / imports.ErasureRequest / imports.ImportedRecord": (
        "requests about the old system's copy of the record (its exports, an erasure request, "
        "the CSV row it came from)"
    ),
    "links to sign-in accounts": (
        "staff named in the record are matched by user name; a person not found is created "
        "without a way to sign in, and a practitioner created for the record is not linked to "
        "a staff account"
    ),
}

# The same, in words for the import page.
NOT_CARRIED_WORDS = (
    "the log of who opened or changed the record in the other system (it stays in the archive)",
    "earlier states of each record (every part comes back as it stood when it was exported)",
    "invoices, payments and packages (they stay with the clinic that issued them)",
    "blinded photo ratings of the other clinic's rating panels",
    "reminder messages the other clinic sent",
    "sign-in accounts: staff the record names who do not work here are added without a way to "
    "sign in",
)


# --- reading the archive ----------------------------------------------------------------------


@dataclass
class Archive:
    bundle: dict[str, Any]
    data: dict[str, Any]
    files: dict[str, bytes]  # sha256 → content
    names: dict[str, bytes]  # archive path → content (photos/, reports/)

    @property
    def source(self) -> str:
        """Who the patient is where the archive was made: site, clinic, patient id, and when
        the patient was registered there (two installations may share the rest)."""
        export = self.data.get("export", {})
        rows = self.data.get("parts", {}).get("patients.Patient") or [{}]
        return "|".join(
            str(v)
            for v in (
                export.get("site", ""),
                export.get("clinic", ""),
                export.get("patient", ""),
                rows[0].get("created_at", ""),
            )
        )


def archive_read(data: bytes) -> Archive:
    """The archive's parts, checked; ValidationError (one sentence) when it cannot be used."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ValidationError("The archive is larger than 200 MB.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bundle = json.loads(archive.read("record.json"))
            names = {
                n: archive.read(n)
                for n in archive.namelist()
                if n.startswith(FILE_DIRS) and not n.endswith("/")
            }
            try:
                record_data = json.loads(archive.read(record.FILE_NAME))
            except KeyError:
                raise ValidationError(
                    "This archive was made by an earlier version of Anagen and holds only part "
                    "of the record; export the record again."
                ) from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ValidationError("This is not a record archive made by Anagen.") from None
    if not isinstance(bundle, dict) or not isinstance(record_data, dict):
        raise ValidationError("This is not a record archive made by Anagen.")
    from anagen.fhir import build

    try:
        build.validated_model(bundle)
    except Exception:
        raise ValidationError("The record in this archive is not a valid FHIR Bundle.") from None
    patients = [
        e["resource"]
        for e in bundle.get("entry", [])
        if e.get("resource", {}).get("resourceType") == "Patient"
    ]
    if len(patients) != 1:
        raise ValidationError("The archive must hold exactly one patient.")
    rows = record_data.get("parts", {}).get("patients.Patient", [])
    number = next((i.get("value", "") for i in patients[0].get("identifier", [])), "")
    if len(rows) != 1 or rows[0].get("record_number") != number:
        raise ValidationError("The archive's record data does not match its FHIR record.")
    files = {hashlib.sha256(c).hexdigest(): c for c in names.values()}
    return Archive(bundle=bundle, data=record_data, files=files, names=names)


# --- importing ------------------------------------------------------------------------------


def _already_here(clinic: Clinic, source: str) -> Patient | None:
    events = AuditEvent.objects.filter(
        clinic=clinic,
        action=AuditAction.PATIENT_ARCHIVE_IMPORT,
        change_values__changes__source=source,
    ).exclude(patient=None)
    for patient_id in events.order_by("-pk").values_list("patient_id", flat=True):
        found = Patient.all_objects.filter(pk=patient_id).first()
        if found is not None:
            return found
    return None


def archive_import(
    *, clinic: Clinic, data: bytes, actor: Actor | None = None, via: str = "cli"
) -> record.Restored:
    """Write the archive's patient into `clinic` (all or nothing; refused when already here).

    `actor` is the member importing (the page); the command line imports without one and the
    audit says so (via "cli").
    """
    archive = archive_read(data)
    with transaction.atomic():
        Clinic.objects.select_for_update().filter(pk=clinic.pk).first()  # one import at a time
        clinic.refresh_from_db()
        existing = _already_here(clinic, archive.source)
        if existing is not None:
            raise ValidationError(
                f"This archive's patient is already here: {existing.full_name} "
                f"({existing.record_number}). Nothing was imported."
            )
        try:
            with transaction.atomic():
                restored = record.record_restore(
                    clinic=clinic, data=archive.data, files=archive.files
                )
        except IntegrityError as exc:
            raise ValidationError(
                "The archive's record clashes with this clinic's records (an appointment that "
                "overlaps a booking here, or a duplicate); nothing was imported."
            ) from exc
        user: User | None = actor.user if actor is not None else None
        audit_record(
            action=AuditAction.PATIENT_ARCHIVE_IMPORT,
            actor=actor,
            clinic=clinic,
            user=user,
            username="" if actor is not None else "command line",
            via=via if actor is None else None,
            patient=restored.patient,
            changes={
                "source": archive.source,
                "resources": len(archive.bundle.get("entry", [])),
                "files": len(archive.names),
                "rows": {k: v for k, v in restored.counts.items() if v},
                "created": restored.created,
            },
        )
    return restored


def patient_archive_import(*, actor: Actor, data: bytes) -> Patient:
    """The page's import: the actor's clinic, their right to import."""
    actor.require(Perm.PATIENT_IMPORT)
    return archive_import(clinic=actor.clinic, data=data, actor=actor).patient


# --- comparing ------------------------------------------------------------------------------


def _differences(left: Any, right: Any, path: str, out: list[str]) -> None:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in left:
                out.append(f"{where}: only in the copy")
            elif key not in right:
                out.append(f"{where}: only in the original")
            else:
                _differences(left[key], right[key], where, out)
    elif isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            out.append(f"{path}: {len(left)} in the original, {len(right)} in the copy")
        for n, (a, b) in enumerate(zip(left, right, strict=False)):
            key = a.get("key") if isinstance(a, dict) and "key" in a else n
            _differences(a, b, f"{path}[{key}]", out)
    elif left != right:
        out.append(f"{path}: {left!r} ≠ {right!r}")


@dataclass
class Comparison:
    differences: list[str]
    not_compared: dict[str, str]

    def __bool__(self) -> bool:  # true when the records match over what is compared
        return not self.differences


def record_compare(original: Patient, copy: Patient) -> Comparison:
    """Every carried row and field of two patients' records; every difference is named."""
    out: list[str] = []
    _differences(record.record_dump(original), record.record_dump(copy), "", out)
    return Comparison(differences=out, not_compared=dict(NOT_CARRIED))


REF = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]+)$")
NUMBERS = re.compile(r"\d+")


def bundle_normalised(bundle: dict[str, Any]) -> dict[str, Any]:
    """The Bundle with export times removed and database ids replaced by their order of
    appearance per resource type (`Procedure/#2`), so two exports of one record compare equal."""
    order: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        rtype, rid = resource.get("resourceType", ""), str(resource.get("id", ""))
        counts[rtype] = counts.get(rtype, 0) + 1
        prefix = rid.rsplit("-", 1)[0] + "-" if "-" in rid else ""
        order[(rtype, rid)] = f"{prefix}#{counts[rtype]}"

    def walk(value: Any, key: str = "", rtype: str = "") -> Any:
        if isinstance(value, dict):
            inner = value.get("resourceType", rtype)
            return {k: walk(v, k, inner) for k, v in value.items() if k != "fullUrl"}
        if isinstance(value, list):
            return [walk(v, key, rtype) for v in value]
        if isinstance(value, str):
            if key == "id" and (rtype, value) in order:
                return order[(rtype, value)]
            match = REF.match(value)
            if key == "reference" and match:
                return f"{match['type']}/{order.get((match['type'], match['id']), match['id'])}"
            if key == "url" and value.startswith(("http://", "https://")) and "/fhir/" not in value:
                return NUMBERS.sub("#", value)  # links to this site's pages carry ids
        return value

    out = walk({k: v for k, v in bundle.items() if k != "timestamp"})
    return out  # type: ignore[no-any-return]


def archive_compare(original: bytes, copy: bytes) -> list[str]:
    """Two archives of one record: Bundles (normalised), record data, files. [] when equal.

    Not compared: the export's own details (when, where from), the README (it names the
    export's date) and the access log (see `NOT_CARRIED`)."""
    a, b = archive_read(original), archive_read(copy)
    out: list[str] = []
    _differences(bundle_normalised(a.bundle), bundle_normalised(b.bundle), "record.json", out)
    data_a = {k: v for k, v in a.data.items() if k != "export"}
    data_b = {k: v for k, v in b.data.items() if k != "export"}
    _differences(data_a, data_b, record.FILE_NAME, out)
    hashes_a = sorted(a.files)
    hashes_b = sorted(b.files)
    if hashes_a != hashes_b:
        out.append(f"files: {len(hashes_a)} in the original, {len(hashes_b)} in the copy differ")
    return out


def export_facts(data: bytes) -> dict[str, int]:
    """How much an archive holds (for reports): resources, rows, files."""
    archive = archive_read(data)
    rows = sum(len(v) for v in archive.data.get("parts", {}).values())
    return {
        "resources": len(archive.bundle.get("entry", [])),
        "rows": rows,
        "files": len(archive.names),
    }
