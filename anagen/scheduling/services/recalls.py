"""Recalls: when a plan's series completes, a maintenance session falls due in a window."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import build_plan
from anagen.scheduling.models import (
    OPEN_STATUSES,
    Appointment,
    PlanStatus,
    Recall,
    RecallStatus,
    TreatmentPlan,
)
from anagen.scheduling.services._common import _check_patient


def recall_window(plan: TreatmentPlan, last_done_on: dt.date) -> tuple[dt.date, dt.date] | None:
    """The kernel's maintenance window, shifted by how late (or early) the last session ran."""
    planned = build_plan(plan.protocol_id, plan.start_on).sessions
    maintenance = [s for s in planned if s.kind == "maintenance"]
    if not maintenance:
        return None
    last_target = [s for s in planned if s.kind != "maintenance"][-1].target_on
    shift = last_done_on - last_target if last_target else dt.timedelta(0)
    return maintenance[0].earliest_on + shift, maintenance[0].latest_on + shift


def _maybe_complete_plan(actor: Actor, appt: Appointment) -> None:
    assert appt.plan_id is not None
    plan = TreatmentPlan.objects.select_for_update().get(pk=appt.plan_id)
    if plan.status in (PlanStatus.COMPLETED, PlanStatus.CANCELLED):
        return
    if plan.appointments.filter(status__in=OPEN_STATUSES).exists():
        return
    plan.status = PlanStatus.COMPLETED
    plan.save(update_fields=["status"])
    audit_record(action="plan.complete", actor=actor, patient=plan.patient, obj=plan)
    # The clinic-local day the last session ran on.
    window = recall_window(plan, appt.local_date)
    if window and not Recall.objects.filter(plan=plan).exists():
        recall = Recall.objects.create(
            clinic=plan.clinic,
            patient=plan.patient,
            plan=plan,
            due_from=window[0],
            due_until=window[1],
        )
        audit_record(
            action="recall.create",
            actor=actor,
            patient=plan.patient,
            obj=recall,
            changes={"due_from": window[0], "due_until": window[1]},
        )


def recall_dismiss(*, actor: Actor, recall: Recall) -> Recall:
    actor.require(Perm.BOOK)
    _check_patient(actor, recall.patient)
    with transaction.atomic():
        recall.status = RecallStatus.DISMISSED
        recall.save(update_fields=["status"])
        audit_record(action="recall.dismiss", actor=actor, patient=recall.patient, obj=recall)
    return recall
