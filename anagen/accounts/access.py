"""The one door to patient data.

Every page and API handler reaches a patient through `patient_for` / `patients_for`, which scope
by the caller's active clinic membership and role. A patient of another clinic is a 404, never a
403, so an outsider cannot learn that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from anagen.accounts.models import Clinic, Membership, User
from anagen.accounts.permissions import Perm, role_has

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from anagen.patients.models import Patient


MAX_DB_ID = 2**63 - 1


@dataclass(frozen=True)
class Actor:
    """Who is acting, for which clinic, in which role: what every service receives."""

    user: User
    membership: Membership

    @property
    def clinic(self) -> Clinic:
        return self.membership.clinic

    @property
    def role(self) -> str:
        return self.membership.role

    def can(self, perm: Perm) -> bool:
        return self.membership.is_active and role_has(self.role, perm)

    def require(self, perm: Perm) -> None:
        if not self.can(perm):
            raise PermissionDenied(f"Your role cannot do this ({perm.value}).")


def patients_for(actor: Actor) -> QuerySet[Patient]:
    from anagen.patients.models import Patient

    actor.require(Perm.PATIENT_VIEW)
    return Patient.objects.filter(clinic=actor.clinic, deleted_at__isnull=True)


def patient_for(actor: Actor, patient_id: int | str) -> Patient:
    try:
        pk = int(patient_id)
    except (TypeError, ValueError):
        raise Http404("No such patient.") from None
    if not 0 < pk <= MAX_DB_ID:  # larger ids cannot exist and overflow SQLite's integer
        raise Http404("No such patient.")
    patient = patients_for(actor).filter(pk=pk).first()
    if patient is None:
        raise Http404("No such patient.")
    return patient


class ClinicRequest(HttpRequest):
    """A request that passed `clinic_view`: it carries the acting membership."""

    actor: Actor
