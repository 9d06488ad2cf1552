from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from anagen.accounts.models import Clinic
from anagen.audit.models import AuditEvent


def audit_events_for(
    *,
    clinic: Clinic,
    user_id: int | None = None,
    patient_id: int | None = None,
    action: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    # Logins carry no clinic; show those of this clinic's staff.
    staff_ids = clinic.memberships.values("user_id")
    qs = AuditEvent.objects.filter(
        Q(clinic=clinic) | Q(clinic__isnull=True, actor_id__in=staff_ids)
    ).select_related("actor", "patient")
    if user_id:
        qs = qs.filter(actor_id=user_id)
    if patient_id:
        qs = qs.filter(patient_id=patient_id)
    if action:
        qs = qs.filter(action__startswith=action)
    if date_from:
        qs = qs.filter(at__date__gte=date_from)
    if date_to:
        qs = qs.filter(at__date__lte=date_to)
    return qs


def audit_actions_in(*, clinic: Clinic) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            Q(clinic=clinic)
            | Q(clinic__isnull=True, actor_id__in=clinic.memberships.values("user_id"))
        )
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )
