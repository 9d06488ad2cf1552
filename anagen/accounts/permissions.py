"""What each role may do. One table, read by pages, API and services alike."""

from __future__ import annotations

from enum import StrEnum

from anagen.accounts.models import Role


class Perm(StrEnum):
    PATIENT_VIEW = "patient.view"  # demographics and contact details: everyone who books
    PATIENT_EDIT = "patient.edit"
    CLINICAL_VIEW = "clinical.view"  # intake, history, labs, notes
    INTAKE_RECORD = "intake.record"
    STAFF_MANAGE = "staff.manage"
    AUDIT_VIEW = "audit.view"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Perm.PATIENT_VIEW: "see patients",
    Perm.PATIENT_EDIT: "register or edit patients",
    Perm.CLINICAL_VIEW: "read clinical records",
    Perm.INTAKE_RECORD: "record intakes",
    Perm.STAFF_MANAGE: "manage staff",
    Perm.AUDIT_VIEW: "read the audit trail",
}


ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.PHYSICIAN: frozenset(
        {Perm.PATIENT_VIEW, Perm.PATIENT_EDIT, Perm.CLINICAL_VIEW, Perm.INTAKE_RECORD}
    ),
    Role.NURSE: frozenset(
        {Perm.PATIENT_VIEW, Perm.PATIENT_EDIT, Perm.CLINICAL_VIEW, Perm.INTAKE_RECORD}
    ),
    # Front desk books and registers: demographics only, never clinical detail.
    Role.FRONT_DESK: frozenset({Perm.PATIENT_VIEW, Perm.PATIENT_EDIT}),
    # A clinic admin runs the practice (staff, audit) and registers patients, but reading
    # clinical records is not part of that job.
    Role.CLINIC_ADMIN: frozenset(
        {Perm.PATIENT_VIEW, Perm.PATIENT_EDIT, Perm.STAFF_MANAGE, Perm.AUDIT_VIEW}
    ),
}


def role_has(role: str | None, perm: Perm) -> bool:
    return role is not None and perm in ROLE_PERMS.get(role, frozenset())
