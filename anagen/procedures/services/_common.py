"""What every write of the treatment-room record shares: permission and clinic guards, the
signed-record lock (amendments with a reason) and the audited change record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404

from anagen.accounts.access import Actor
from anagen.accounts.models import User
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record, diff_fields
from anagen.clinical.datafiles import load as kernel_data
from anagen.procedures.models import Amendment, TreatmentSession

KERNEL_VERSION = f"prp_classifications@{kernel_data('prp_classifications')['version']}"
LOCKED = "This session is signed and locked; give a reason to amend it."
MIN_REASON = 5


class GateRefused(ValidationError):
    """The session cannot start: care's gate said no (reasons are in ``messages``)."""


def _require_clinical(actor: Actor) -> None:
    """Recording in the treatment room (start, phases, preparation, delivery, lots, AEs)."""
    actor.require(Perm.SESSION_PERFORM)


def _check_session(
    actor: Actor, session: TreatmentSession, perm: Perm = Perm.SESSION_PERFORM
) -> None:
    actor.require(perm)
    if session.clinic_id != actor.clinic.pk:
        raise Http404("No such session.")


def _amending(actor: Actor, session: TreatmentSession, reason: str) -> bool:
    """Is this write an amendment of a signed session? Refuses one without a reason."""
    _check_session(actor, session)
    if not session.is_signed:
        return False
    actor.require(Perm.AMEND)
    if len((reason or "").strip()) < MIN_REASON:
        raise ValidationError({"reason": LOCKED})
    return True


def _record_change(
    *,
    actor: Actor,
    session: TreatmentSession,
    section: str,
    amending: bool,
    reason: str,
    before: dict[str, Any],
    after: dict[str, Any],
    obj: Any,
) -> None:
    changes = diff_fields(before, after)
    if amending:
        Amendment.objects.create(
            session=session,
            section=section,
            reason=reason.strip(),
            by=actor.user,
            before=_plain(before),
            after=_plain(after),
        )
    audit_record(
        action=f"procedures.{section}.{'amend' if amending else 'record'}",
        actor=actor,
        patient=session.patient,
        obj=obj,
        changes={**changes, **({"reason": reason.strip()} if amending else {})},
    )


def _plain(value: Any) -> Any:
    """JSON-safe copy for amendment snapshots: Decimals as strings, dates and instants ISO
    (read back and shown in clinic time by ``anagen.procedures.labels``), users by name."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, User):
        return value.get_full_name() or value.get_username()
    return value


def _today(actor: Actor) -> dt.date:
    """The clinic-local date (not UTC's date near midnight)."""
    return actor.today()
