"""Clinic closures and staff leave: whole clinic-local days nobody can be booked.

Managed by whoever manages resources (``RESOURCES_MANAGE``). Appointments already booked on a
new closure stay (the page lists them so the desk can move them); new bookings are refused.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import Http404

from anagen.accounts.access import Actor
from anagen.accounts.models import Membership
from anagen.accounts.permissions import Perm
from anagen.scheduling import calendar_version
from anagen.scheduling.models import ClinicClosure, StaffLeave

MAX_DAYS = 366


def _check_range(starts_on: dt.date, ends_on: dt.date, reason: str) -> str:
    errors: dict[str, str] = {}
    reason = (reason or "").strip()
    if ends_on < starts_on:
        errors["ends_on"] = "The last day cannot be before the first day."
    elif (ends_on - starts_on).days >= MAX_DAYS:
        errors["ends_on"] = "At most a year at a time."
    if not reason:
        errors["reason"] = "Say why (staff read it in the calendar)."
    if errors:
        raise ValidationError(errors)
    return reason[:200]


def closure_add(
    *, actor: Actor, starts_on: dt.date, ends_on: dt.date, reason: str
) -> ClinicClosure:
    actor.require(Perm.RESOURCES_MANAGE)
    reason = _check_range(starts_on, ends_on, reason)
    return ClinicClosure.objects.create(
        clinic=actor.clinic, starts_on=starts_on, ends_on=ends_on, reason=reason
    )


def closure_remove(*, actor: Actor, closure: ClinicClosure) -> None:
    actor.require(Perm.RESOURCES_MANAGE)
    if closure.clinic_id != actor.clinic.pk:
        raise Http404("No such closure.")
    closure.delete()


def leave_add(
    *, actor: Actor, membership_id: int, starts_on: dt.date, ends_on: dt.date, reason: str
) -> StaffLeave:
    actor.require(Perm.RESOURCES_MANAGE)
    member = Membership.objects.filter(pk=membership_id, clinic=actor.clinic).first()
    if member is None:
        raise ValidationError({"membership": "Choose a staff member of this clinic."})
    reason = _check_range(starts_on, ends_on, reason)
    return StaffLeave.objects.create(
        membership=member, starts_on=starts_on, ends_on=ends_on, reason=reason
    )


def leave_remove(*, actor: Actor, leave: StaffLeave) -> None:
    actor.require(Perm.RESOURCES_MANAGE)
    if leave.membership.clinic_id != actor.clinic.pk:
        raise Http404("No such leave.")
    leave.delete()


def clinic_holidays_set(*, actor: Actor, country: str, region: str = "") -> None:
    """Which public holidays close the clinic: an ISO 3166 country code and, optionally, the
    holidays library's region code (GB + ENG for England). A blank country turns them off."""
    from anagen.accounts.models import Clinic
    from anagen.scheduling.closures import valid_region

    actor.require(Perm.RESOURCES_MANAGE)
    country, region = (country or "").strip().upper(), (region or "").strip().upper()
    if not country and region:
        raise ValidationError({"country": "Give the country of this region."})
    if country and not valid_region(country, region):
        field = "region" if region and valid_region(country, "") else "country"
        raise ValidationError({field: "Not a country or region the holiday calendar knows."})
    Clinic.objects.filter(pk=actor.clinic.pk).update(holiday_country=country, holiday_region=region)
    calendar_version.bump(actor.clinic.pk)  # update() sends no signal
    actor.clinic.holiday_country, actor.clinic.holiday_region = country, region
