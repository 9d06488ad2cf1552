"""The gate before a session: a fresh screening and a valid consent, on the clinic's date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.accounts.permissions import Perm
from anagen.care import selectors
from anagen.care.models import ConsentKind, ScreeningRecord, ScreeningTrigger
from anagen.care.services.common import (
    _require_patient_of_clinic,
    procedure_label,
    unknown_procedure_message,
)
from anagen.care.services.screening import _screening_run
from anagen.clinical import PROCEDURES
from anagen.patients.models import Patient

# What someone without clinical access is told: that the gate failed, never why.
NOT_CLEARED = "The clinical team must clear this patient before the session."


@dataclass(frozen=True)
class GateResult:
    ok: bool
    # Human-readable, one per obstacle. Clinical text: only an actor who may read clinical
    # records gets the real reasons; anyone else gets NOT_CLEARED.
    reasons: list[str]
    screening: ScreeningRecord | None


def _day(d: dt.date | None, actor: Actor) -> str:
    return human_date(d, actor.tz) if d else ""


def _screening_reason(record: ScreeningRecord, actor: Actor) -> str:
    label = procedure_label(record.procedure)
    if record.decision == "defer":
        when = (
            f"not before {_day(record.earliest_on, actor)}"
            if record.earliest_on
            else "no date yet (a deferral has no end date)"
        )
        return f"Screening for {label} says defer: {when}."
    if record.decision == "review" and record.override_void_reason:
        return (
            f"Screening for {label}: the override no longer applies: "
            f"{record.override_void_reason}. A physician must decide again."
        )
    if record.decision == "review":
        return f"Screening for {label} needs a physician's review (not overridden)."
    if record.decision == "not_indicated":
        return f"Screening for {label}: not indicated."
    return f"Screening for {label}: contraindicated."


def _consent_reason(actor: Actor, patient: Patient, procedure: str) -> str:
    label = ConsentKind(procedure).label
    latest = selectors.consent_latest(patient, procedure)
    if latest is None:
        return f"No valid consent for {label}: none signed."
    if latest.is_withdrawn:
        return f"No valid consent for {label}: withdrawn on {_day(latest.withdrawn_at, actor)}."
    current = selectors.consent_template_current(patient.clinic_id, procedure)
    version = current.version if current else "?"
    return (
        f"No valid consent for {label} (template v{version} needs re-consent; "
        f"signed v{latest.template.version})."
    )


def session_gate(
    *, actor: Actor, patient: Patient, procedure: str, on: dt.date | None = None
) -> GateResult:
    """May a session of ``procedure`` start for this patient on ``on`` (the clinic's date)?

    Re-screens (trigger "pre_session", so a changed intake is caught) and checks the consent.
    ok only when a valid consent exists and the effective decision is eligible; a physician's
    override of `review` carries over only while the findings are the same. ``on`` defaults to
    today in the clinic's zone (never UTC's date). The reasons name decisions and dates, never
    findings (those stay on the screening record), and only a clinical actor sees them.
    """
    actor.require(Perm.PATIENT_VIEW)
    _require_patient_of_clinic(actor, patient)
    if procedure not in PROCEDURES:
        raise ValidationError({"procedure": unknown_procedure_message()})
    on = on or actor.today()
    reasons: list[str] = []
    screening: ScreeningRecord | None = None
    try:
        with transaction.atomic():
            screening = _screening_run(
                actor=actor,
                patient=patient,
                procedure=procedure,
                planned_on=on,
                trigger=ScreeningTrigger.PRE_SESSION,
            )
    except ValidationError as exc:
        reasons.extend(f"Cannot screen: {m}" for m in exc.messages)
    else:
        if screening.effective_decision != "eligible":
            reasons.append(_screening_reason(screening, actor))
    if selectors.consent_valid_for(patient, procedure) is None:
        reasons.append(_consent_reason(actor, patient, procedure))
    if reasons and not actor.can(Perm.CLINICAL_VIEW):
        reasons = [NOT_CLEARED]
    return GateResult(ok=not reasons, reasons=reasons, screening=screening)
