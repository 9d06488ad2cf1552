"""API tokens expire: lifetime chosen at creation (default 90 days, at most 365), refused after."""

import datetime as dt
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from anagen.accounts.models import ApiToken, Membership, default_token_expiry
from anagen.accounts.services import api_token_create


def _get(raw):
    return Client().get("/api/v1/patients", headers={"Authorization": f"Bearer {raw}"})


def _lifetime(token):
    return token.expires_at - token.created_at


def test_command_default_is_90_days_and_days_can_be_chosen(clinic_a, capsys):
    call_command("api_token", "create", "--user", "a.nurse", "--clinic", "a", "--name", "one")
    out = capsys.readouterr().out
    assert "Valid until" in out and "T" not in out.split("Valid until")[1]
    call_command(
        "api_token", "create", "--user", "a.nurse", "--clinic", "a", "--name", "two", "--days", "7"
    )
    one, two = ApiToken.objects.order_by("pk")
    assert abs(_lifetime(one) - dt.timedelta(days=90)) < dt.timedelta(minutes=1)
    assert abs(_lifetime(two) - dt.timedelta(days=7)) < dt.timedelta(minutes=1)


@pytest.mark.parametrize("days", ["0", "366", "abc", "-5", "1.5"])
def test_command_bad_days_is_one_line_exit_2(clinic_a, days):
    argv = ["create", "--user", "a.nurse", "--clinic", "a", "--name", "x", "--days", days]
    with pytest.raises(CommandError) as exc:
        call_command("api_token", *argv)
    assert exc.value.returncode == 2 and "\n" not in str(exc.value)
    assert ApiToken.objects.count() == 0


def test_expired_token_is_refused_with_a_401_problem(clinic_a, patient_a):
    membership = Membership.objects.get(user=clinic_a.nurse, clinic=clinic_a.clinic)
    token, raw = api_token_create(membership=membership, name="site", days=1)
    assert _get(raw).status_code == 200
    # Time passes beyond the expiry (the worker remembers the token: it checks the expiry on
    # every call, interop/auth.py).
    later = token.expires_at + dt.timedelta(seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = _get(raw)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_max_is_365_days(clinic_a):
    membership = Membership.objects.get(user=clinic_a.nurse, clinic=clinic_a.clinic)
    token, _ = api_token_create(membership=membership, name="long", days=365)
    assert abs(_lifetime(token) - dt.timedelta(days=365)) < dt.timedelta(minutes=1)
    with pytest.raises(Exception, match="1 to 365 days"):
        api_token_create(membership=membership, name="too long", days=366)


def test_old_tokens_get_a_default_expiry():
    # The migration adds the column with this default, so tokens made before it get now + 90 days.
    gap = default_token_expiry() - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=89, hours=23) < gap <= dt.timedelta(days=90)


def test_page_chooses_days_and_shows_expiry_and_last_use_in_clinic_time(clinic_a):
    clinic_a.clinic.timezone = "America/New_York"
    clinic_a.clinic.save()
    client = clinic_a.client(clinic_a.nurse)
    bad = client.post("/account/tokens/", {"name": "site", "days": "400"})
    assert bad.status_code == 400 and "1 to 365 days" in bad.content.decode()
    assert ApiToken.objects.count() == 0
    assert client.post("/account/tokens/", {"name": "site", "days": "30"}).status_code == 200
    token = ApiToken.objects.get()
    assert abs(_lifetime(token) - dt.timedelta(days=30)) < dt.timedelta(minutes=1)
    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=dt.datetime(2026, 11, 30, 14, 5, tzinfo=dt.UTC),
        expires_at=dt.datetime(2027, 2, 28, 17, 30, tzinfo=dt.UTC),
    )
    page = client.get("/account/tokens/").content.decode()
    assert "Mon 30 Nov 2026, 09:05" in page  # last use, New York time
    assert "Sun 28 Feb 2027, 12:30" in page  # expiry, New York time
    assert "Expires" in page and "Active" in page
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    )
    page = client.get("/account/tokens/").content.decode()
    assert "Expired" in page and 'value="revoke"' not in page
