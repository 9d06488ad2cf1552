"""The demo seed gives the analytics page real cohorts, deterministically and once."""

import datetime as dt

import pytest

from anagen.outcomes import selectors
from anagen.outcomes.demo import seed_outcomes_demo
from anagen.outcomes.models import MeasurementSet
from conftest import make_patient

pytestmark = pytest.mark.django_db


def test_seed_gives_cohorts_and_is_idempotent(org, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from anagen.accounts.models import Clinic, Membership, Role, User
    from conftest import ClinicStaff

    clinic = Clinic.objects.create(organisation=org, name="North", slug="north", record_prefix="N")
    users = {}
    for key, role in (
        ("nurse", Role.NURSE),
        ("frontdesk", Role.FRONT_DESK),
        ("physician", Role.PHYSICIAN),
        ("admin", Role.CLINIC_ADMIN),
    ):
        users[key] = User.objects.create_user(username=f"north.{key}", password="x")
        Membership.objects.create(user=users[key], clinic=clinic, role=role)
    staff = ClinicStaff(
        clinic=clinic,
        physician=users["physician"],
        nurse=users["nurse"],
        front_desk=users["frontdesk"],
        admin=users["admin"],
    )
    for i in range(12):
        make_patient(staff, given_name=f"P{i}")
    today = dt.date(2026, 3, 1)
    seed_outcomes_demo(today)
    count = MeasurementSet.objects.count()
    assert count >= 12 * 3
    seed_outcomes_demo(today)
    assert MeasurementSet.objects.count() == count
    outcomes = selectors.patient_outcomes(clinic=clinic, rule="density_increase_15pct")
    [cohort] = selectors.cohorts(outcomes, None)
    assert cohort.n == 12 and 5 < cohort.percent.mean < 35
