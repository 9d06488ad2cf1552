"""The one door to patient data.

Every page and API handler reaches a patient through `patient_for` / `patients_for`, which scope
by the caller's active clinic membership and role. A patient of another clinic is a 404, never a
403, so an outsider cannot learn that it exists.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from anagen.accounts.clinic_time import zone_of
from anagen.accounts.models import Clinic, Membership, User
from anagen.accounts.permissions import ROLE_PERMS, Perm, PermSet
from anagen.audit.reads import note_read

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from anagen.patients.models import Patient


MAX_DB_ID = 2**63 - 1


Via = Literal["web", "api", "task", "cli"]


@dataclass(frozen=True)
class Actor:
    """The one request context every service and selector receives.

    Who acts (user), in which clinic and role (membership), how the call came (`via`: web,
    api, task, cli), what the role may do (`perms`, from the one permission table) and the
    clinic's time zone (`tz`). Build it once per request, task or command.
    """

    user: User
    membership: Membership
    via: Via = "web"
    perm_set: frozenset[Perm] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        granted = ROLE_PERMS.get(self.membership.role, frozenset())
        # A deactivated membership may do nothing at all.
        object.__setattr__(self, "perm_set", granted if self.membership.is_active else frozenset())

    @property
    def clinic(self) -> Clinic:
        return self.membership.clinic

    @property
    def role(self) -> str:
        """For display only: decisions go through `can`/`require`."""
        return self.membership.role

    @cached_property
    def perms(self) -> PermSet:
        return PermSet(self.perm_set)

    @cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zone_of(self.clinic)

    def can(self, perm: Perm) -> bool:
        return perm in self.perm_set

    def require(self, perm: Perm) -> None:
        if perm not in self.perm_set:
            raise PermissionDenied(f"Your role cannot {perm.label}.")

    def acting_via(self, via: Via) -> Actor:
        return replace(self, via=via)

    def now(self) -> dt.datetime:
        """This instant in the clinic's zone."""
        from django.utils import timezone

        return timezone.now().astimezone(self.tz)

    def today(self) -> dt.date:
        """Today's date where the clinic is (not in UTC)."""
        return self.now().date()


def patients_for(actor: Actor) -> QuerySet[Patient]:
    from anagen.patients.models import Patient

    actor.require(Perm.PATIENT_VIEW)
    # A record under an erasure request is restricted (anagen/imports/erasure.py).
    return Patient.objects.filter(
        clinic=actor.clinic, deleted_at__isnull=True, erasure__isnull=True
    )


def record_id(value: object, missing: str = "Not found.") -> int:
    """An id from a URL or query as an int, or a 404: what is not a positive 64-bit integer
    names no row (larger ids would also overflow SQLite's integer)."""
    try:
        pk = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise Http404(missing) from None
    if not 0 < pk <= MAX_DB_ID:
        raise Http404(missing)
    return pk


def patient_for(actor: Actor, patient_id: int | str) -> Patient:
    pk = record_id(patient_id, "No such patient.")
    patient = patients_for(actor).filter(pk=pk).first()
    if patient is None:
        from anagen.imports.erasure import restriction_notice

        restriction_notice(actor, pk)  # a restricted record says so (403), by whom and until when
        raise Http404("No such patient.")
    note_read(actor, patient=patient)  # the request's audit row (anagen/audit/reads.py)
    return patient


class ClinicRequest(HttpRequest):
    """A request that passed `clinic_view`: it carries the acting membership."""

    actor: Actor
