"""Reads of patient imports (the acting clinic's only)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from anagen.accounts.access import Actor, record_id
from anagen.accounts.permissions import Perm
from anagen.audit.reads import note_list, note_read
from anagen.imports.models import PatientExport, PatientImport
from anagen.patients.models import Patient


def patient_imports(*, actor: Actor) -> QuerySet[PatientImport]:
    actor.require(Perm.PATIENT_IMPORT)
    note_list(actor, what="Patient imports")  # audited (anagen/audit/reads.py)
    return (
        PatientImport.objects.filter(clinic=actor.clinic)
        .select_related("created_by")
        .defer("content")
    )


def patient_import_get(*, actor: Actor, import_id: object) -> PatientImport:
    actor.require(Perm.PATIENT_IMPORT)
    job = (
        PatientImport.objects.filter(clinic=actor.clinic, pk=record_id(import_id))
        .select_related("created_by", "clinic")
        .first()
    )
    if job is None:
        raise Http404("No such import.")
    note_read(actor, obj=job)  # audited (anagen/audit/reads.py)
    return job


def patient_exports(*, actor: Actor, patient: Patient) -> QuerySet[PatientExport]:
    actor.require(Perm.PATIENT_EXPORT)
    return PatientExport.objects.filter(clinic=actor.clinic, patient=patient).select_related(
        "requested_by"
    )


def patient_export_get(*, actor: Actor, export_id: object) -> PatientExport:
    actor.require(Perm.PATIENT_EXPORT)
    job = (
        PatientExport.objects.filter(
            clinic=actor.clinic, pk=record_id(export_id), patient__deleted_at__isnull=True
        )
        .select_related("patient", "clinic")
        .first()
    )
    if job is None:
        raise Http404("No such archive.")
    return job
