"""Shared fixtures: a small organisation with two clinics and one user per role in each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, Membership, Organisation, Role, User
from anagen.accounts.testing import sign_in
from anagen.patients.models import Patient
from anagen.patients.services import patient_create

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings, request):
    # Argon2 is deliberately slow; tests that are about hashing opt out with the marker.
    if "real_hashers" not in request.keywords:
        settings.PASSWORD_HASHERS = FAST_HASHERS


@dataclass
class ClinicStaff:
    clinic: Clinic
    physician: User
    nurse: User
    front_desk: User
    admin: User

    def actor(self, user: User) -> Actor:
        return Actor(user=user, membership=Membership.objects.get(user=user, clinic=self.clinic))

    def client(self, user: User) -> Client:
        """Signed in and past two-factor sign-in (see anagen.accounts.testing.sign_in)."""
        return sign_in(Client(), user)


def _staff(clinic: Clinic, prefix: str) -> ClinicStaff:
    users = {}
    for role in Role:
        user = User.objects.create_user(
            username=f"{prefix}.{role.value}",
            password="correct-horse-battery",
            first_name=prefix,
            last_name=role.label,
        )
        Membership.objects.create(user=user, clinic=clinic, role=role)
        users[role.value] = user
    return ClinicStaff(
        clinic=clinic,
        physician=users["physician"],
        nurse=users["nurse"],
        front_desk=users["front_desk"],
        admin=users["clinic_admin"],
    )


@pytest.fixture
def org(db) -> Organisation:
    return Organisation.objects.create(name="Test Group", slug="test-group")


@pytest.fixture
def clinic_a(org) -> ClinicStaff:
    clinic = Clinic.objects.create(organisation=org, name="Clinic A", slug="a", record_prefix="A")
    return _staff(clinic, "a")


@pytest.fixture
def clinic_b(org) -> ClinicStaff:
    clinic = Clinic.objects.create(organisation=org, name="Clinic B", slug="b", record_prefix="B")
    return _staff(clinic, "b")


def make_patient(staff: ClinicStaff, **overrides) -> Patient:
    data = {
        "given_name": "José",
        "family_name": "Álvarez",
        "birth_date": dt.date(1984, 5, 2),
        "sex": "male",
        "phone": "07700 900123",
        "email": "jose@example.com",
        "sms_reminders": True,
    }
    data.update(overrides)
    return patient_create(actor=staff.actor(staff.front_desk), data=data, confirm_duplicate=True)


@pytest.fixture
def patient_a(clinic_a) -> Patient:
    return make_patient(clinic_a)


@pytest.fixture
def patient_b(clinic_b) -> Patient:
    return make_patient(clinic_b, given_name="Beatriz", family_name="Nunes", sex="female")
