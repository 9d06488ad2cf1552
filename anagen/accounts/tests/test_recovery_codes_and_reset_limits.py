"""Issue 13 leftovers: recovery codes are stored hashed (existing plain ones hashed by a data
migration), and password-reset emails are rate-limited per address and per client address with
the same answer either way."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from anagen.accounts import mfa, services
from anagen.accounts.models import PasswordResetAttempt
from anagen.accounts.testing import enrolled_device

pytestmark = pytest.mark.django_db

MIGRATION = "anagen.accounts.migrations.0007_password_reset_attempts_and_hashed_recovery_codes"


def test_recovery_codes_are_stored_hashed_and_still_work(clinic_a):
    user = clinic_a.physician
    codes = services.recovery_codes_regenerate(user=user)
    assert len(codes) == mfa.RECOVERY_CODE_COUNT
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(stored) == len(codes)
    assert not stored & set(codes)  # no code is kept as typed
    assert stored == {mfa.recovery_code_digest(user.pk, c) for c in codes}
    assert all(len(t) == mfa.RECOVERY_DIGEST_LENGTH for t in stored)
    # The digest depends on the user: the same code of another person is stored differently.
    assert mfa.recovery_code_digest(user.pk, codes[0]) != mfa.recovery_code_digest(
        clinic_a.nurse.pk, codes[0]
    )

    enrolled_device(user)
    # What a person types (upper case, a dash) is hashed the same way and matches once.
    typed = codes[1].upper()[:4] + "-" + codes[1][4:]
    check = services.mfa_verify(user=user, code=typed)
    assert check.device is not None and check.recovery_code_used
    assert check.recovery_codes_left == len(codes) - 1
    assert services.mfa_verify(user=user, code=codes[1]).device is None  # used up
    # The stored digest itself is not a way in.
    digest = next(
        iter(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    )
    StaticDevice.objects.filter(user=user).update(throttling_failure_count=0)
    assert services.mfa_verify(user=user, code=digest).device is None


def test_the_data_migration_hashes_codes_stored_in_plain_text(clinic_a):
    user = clinic_a.physician
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    StaticToken.objects.create(device=device, token="abcd2345")  # as django-otp stored it
    already = mfa.recovery_code_digest(user.pk, "wxyz6789")
    StaticToken.objects.create(device=device, token=already)

    importlib.import_module(MIGRATION).hash_recovery_codes(apps, None)

    stored = set(StaticToken.objects.filter(device=device).values_list("token", flat=True))
    assert stored == {mfa.recovery_code_digest(user.pk, "abcd2345"), already}
    enrolled_device(user)
    assert services.mfa_verify(user=user, code="abcd2345").recovery_code_used
    assert services.mfa_verify(user=user, code="wxyz6789").recovery_code_used


# --- password-reset emails are rate-limited ------------------------------------------------------


def _ask(email: str, ip: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=ip).post(reverse("password-reset"), {"email": email})


@pytest.fixture
def limits(settings, clinic_a):
    settings.ANAGEN_PASSWORD_RESET_EMAIL_LIMIT = 2
    settings.ANAGEN_PASSWORD_RESET_IP_LIMIT = 4
    clinic_a.physician.email = "amara@example.com"
    clinic_a.physician.save()
    clinic_a.nurse.email = "ben@example.com"
    clinic_a.nurse.save()
    return clinic_a


def test_reset_emails_per_address_are_limited_with_the_same_answer(limits):
    answers = [_ask("amara@example.com", ip=f"203.0.113.{n}") for n in range(1, 5)]
    assert len(mail.outbox) == 2  # the address limit, whatever the client address
    assert {a.status_code for a in answers} == {302}
    assert {a["Location"] for a in answers} == {reverse("password-reset-sent")}
    assert answers[0].content == answers[-1].content  # nothing tells a refused request apart
    # Another address is not affected by this one's limit.
    _ask("ben@example.com", ip="198.51.100.1")
    assert len(mail.outbox) == 3 and mail.outbox[-1].to == ["ben@example.com"]


def test_reset_emails_per_client_address_are_limited(limits):
    for n in range(3):
        _ask(f"nobody{n}@example.com")  # unknown addresses count for the client address too
    assert _ask("amara@example.com").status_code == 302
    assert len(mail.outbox) == 1  # the fourth request from this address still went out
    refused = _ask("ben@example.com")
    assert refused.status_code == 302 and refused["Location"] == reverse("password-reset-sent")
    assert len(mail.outbox) == 1  # the fifth did not
    assert _ask("ben@example.com", ip="198.51.100.1").status_code == 302
    assert len(mail.outbox) == 2  # from another client address it does
    # The address is kept only as a digest.
    assert not PasswordResetAttempt.objects.filter(email_digest__contains="@").exists()
