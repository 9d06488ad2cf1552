"""Adverse events: recorded against a session (also after signing) and followed up."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.audit.services import audit_record, diff_fields
from anagen.clinical import procedure_rules as rules
from anagen.procedures.models import AdverseEvent, AdverseEventFollowUp, LotUse, TreatmentSession
from anagen.procedures.services._common import _check_session, _today
from anagen.procedures.services.delivery import _zone_codes


def _ae_code(vocab_key: str, value: Any, field: str, what: str) -> str:
    vocab = rules.ae_vocab()[vocab_key]
    if value not in vocab:
        raise ValidationError({field: f"Choose {what} from the list."})
    return str(value)


@transaction.atomic
def adverse_event_record(
    *, actor: Actor, session: TreatmentSession, data: dict[str, Any]
) -> AdverseEvent:
    """An AE linked to the session (and optionally the zone and lot). Allowed after signing:
    events such as infection or shedding appear days or weeks later."""
    _check_session(actor, session)
    term = _ae_code("terms", data.get("term"), "term", "a term")
    term_other = (data.get("term_other") or "").strip()
    if term == "other" and not term_other:
        raise ValidationError({"term_other": "Describe the event when the term is Other."})
    grade: Any = data.get("ctcae_grade")
    if grade is None or str(grade) not in rules.ae_vocab()["ctcae_grades"]:
        raise ValidationError({"ctcae_grade": "CTCAE grade is 1 to 5."})
    relatedness = _ae_code("relatedness", data.get("relatedness"), "relatedness", "relatedness")
    action = _ae_code("actions", data.get("action"), "action", "the action taken")
    outcome = _ae_code("outcomes", data.get("outcome"), "outcome", "an outcome")
    onset = data.get("onset_at")
    if onset is None:
        raise ValidationError({"onset_at": "Give the onset."})
    if onset > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"onset_at": "The onset cannot be in the future."})
    if onset < session.started_at - dt.timedelta(hours=12):
        raise ValidationError({"onset_at": "The onset is before the session."})
    zone = data.get("zone") or ""
    if zone and zone not in _zone_codes(session):
        raise ValidationError({"zone": "Choose a zone of this site."})
    lot = data.get("lot")
    if lot is not None and not LotUse.objects.filter(session=session, lot=lot).exists():
        raise ValidationError({"lot": "Choose a lot used in this session."})
    raw_criteria = data.get("seriousness_criteria") or []
    try:
        criteria = rules.ae_seriousness(
            [str(c) for c in raw_criteria], grade=int(grade), action=action, outcome=outcome
        )
    except ValueError:
        raise ValidationError(
            {"seriousness_criteria": "Choose the seriousness criteria from the list."}
        ) from None
    if data.get("serious") and not criteria:
        raise ValidationError(
            {
                "seriousness_criteria": "A serious event names its criterion (death, "
                "life-threatening, hospitalisation, disability, congenital anomaly or other "
                "important medical event)."
            }
        )
    serious = bool(criteria)
    resolved_on = data.get("resolved_on")
    if outcome in rules.ae_open_outcomes():
        resolved_on = None
    elif resolved_on is None:
        resolved_on = _today(actor)
    event = AdverseEvent.objects.create(
        session=session,
        patient=session.patient,
        term=term,
        term_other=term_other,
        ctcae_grade=int(grade),
        onset_at=onset,
        seriousness_criteria=criteria,
        serious=serious,
        relatedness=relatedness,
        action=action,
        outcome=outcome,
        resolved_on=resolved_on,
        zone=zone,
        lot=lot,
        description=(data.get("description") or "").strip(),
        recorded_by=actor.user,
    )
    audit_record(
        action="procedures.adverse_event.record",
        actor=actor,
        patient=session.patient,
        obj=event,
        changes={
            "session": session.pk,
            "term": term,
            "grade": int(grade),
            "serious": serious,
            "seriousness_criteria": criteria,
            "relatedness": relatedness,
            "outcome": outcome,
            "lot": lot.pk if lot is not None else None,
        },
    )
    return event


@transaction.atomic
def adverse_event_follow_up(
    *, actor: Actor, event: AdverseEvent, data: dict[str, Any]
) -> AdverseEventFollowUp:
    """A follow-up note; the event's outcome follows the latest one until resolved."""
    _check_session(actor, event.session)
    outcome = _ae_code("outcomes", data.get("outcome"), "outcome", "an outcome")
    on = data.get("on") or _today(actor)
    if on > _today(actor):
        raise ValidationError({"on": "A follow-up cannot be dated in the future."})
    if on < timezone.localtime(event.onset_at, actor.tz).date():
        raise ValidationError({"on": "A follow-up cannot be before the onset."})
    if not event.is_open:
        raise ValidationError({"__all__": "This event is resolved; record a new event instead."})
    follow = AdverseEventFollowUp.objects.create(
        event=event,
        on=on,
        outcome=outcome,
        note=(data.get("note") or "").strip(),
        recorded_by=actor.user,
    )
    before = {
        "outcome": event.outcome,
        "resolved_on": event.resolved_on,
        "seriousness_criteria": list(event.seriousness_criteria or []),
    }
    event.outcome = outcome
    event.resolved_on = None if outcome in rules.ae_open_outcomes() else on
    # A fatal outcome makes the event serious (death), whatever was known at first.
    event.seriousness_criteria = rules.ae_seriousness(
        event.seriousness_criteria or [],
        grade=event.ctcae_grade,
        action=event.action,
        outcome=outcome,
    )
    event.serious = event.serious or bool(event.seriousness_criteria)
    event.save(update_fields=["outcome", "resolved_on", "seriousness_criteria", "serious"])
    audit_record(
        action="procedures.adverse_event.follow_up",
        actor=actor,
        patient=event.patient,
        obj=event,
        changes=diff_fields(
            before,
            {
                "outcome": outcome,
                "resolved_on": event.resolved_on,
                "seriousness_criteria": event.seriousness_criteria,
            },
        ),
    )
    return follow
