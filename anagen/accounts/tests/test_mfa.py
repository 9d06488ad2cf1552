"""Two-factor sign-in: enrolment (QR + secret, confirmed by a first code), recovery codes, the
code step after the password, replay refused, required for physicians and clinic admins (and for
everyone where the clinic says so), API tokens unaffected but minted only by verified sessions."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from anagen.accounts import mfa
from anagen.accounts.models import ApiToken, Membership
from anagen.accounts.permissions import MFA_REQUIRED_ROLES, role_requires_mfa
from anagen.accounts.selectors import mfa_required_for
from anagen.accounts.services import api_token_create
from anagen.accounts.testing import enrolled_device, fresh_code, sign_in
from anagen.audit.models import AuditEvent

PASSWORD = "correct-horse-battery"


def _password_login(username: str) -> Client:
    client = Client()
    r = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.content[:300]
    return client


def _actions(user) -> list[str]:
    return list(
        AuditEvent.objects.filter(actor=user).order_by("pk").values_list("action", flat=True)
    )


def _enrol(client: Client) -> list[str]:
    """Drive the enrolment page: read the secret it shows, answer with the app's code."""
    page = client.get(reverse("mfa-setup"))
    assert page.status_code == 200
    body = page.content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', body).group(1)  # type: ignore[union-attr]
    key_hex = _hex_of(secret)
    r = client.post(reverse("mfa-setup"), {"code": mfa.totp_code(key_hex)})
    assert r.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", r.content.decode())
    assert len(codes) == mfa.RECOVERY_CODE_COUNT
    return codes


def _hex_of(secret_text: str) -> str:
    from base64 import b32decode

    b32 = secret_text.replace(" ", "")
    return b32decode(b32 + "=" * (-len(b32) % 8)).hex()


def test_the_rule_lives_in_the_role_table():
    assert role_requires_mfa("physician") and role_requires_mfa("clinic_admin")
    assert not role_requires_mfa("nurse") and not role_requires_mfa("front_desk")
    assert {"physician", "clinic_admin"} == MFA_REQUIRED_ROLES


def test_physician_is_sent_to_enrolment_and_reaches_nothing_else(clinic_a, patient_a):
    client = _password_login("a.physician")
    for url in ("/patients/", f"/patients/{patient_a.pk}/", reverse("api-tokens"), "/staff/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith(reverse("mfa-setup")), url
    # Session-authenticated API calls are refused too (no clinic context until enrolled).
    assert client.get("/api/v1/patients").status_code == 401
    page = client.get(reverse("mfa-setup") + "?next=/patients/")
    body = page.content.decode()
    assert "<svg" in body and "needs two-factor sign-in" in body
    assert "<script" not in body.split("<main", 1)[1] and "style=" not in body
    assert re.search(r'id="totp-secret">[A-Z2-7]{4}( [A-Z2-7]{1,4})+<', body)
    assert not TOTPDevice.objects.filter(user=clinic_a.physician).exists()  # nothing stored yet


def test_enrolment_confirms_with_a_code_then_sign_in_asks_for_one(clinic_a):
    client = _password_login("a.physician")
    wrong = client.post(reverse("mfa-setup"), {"code": "000000"})
    assert wrong.status_code == 400 and "does not match" in wrong.content.decode()
    codes = _enrol(client)
    assert client.get("/patients/").status_code == 200  # verified by the enrolment itself
    device = TOTPDevice.objects.get(user=clinic_a.physician)
    assert device.confirmed and device.last_t > 0
    assert StaticToken.objects.filter(device__user=clinic_a.physician).count() == 10
    assert "mfa.enrol" in _actions(clinic_a.physician)

    # Next sign-in: password, then the code step before anything else.
    client = _password_login("a.physician")
    r = client.get("/patients/")
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa-verify"))
    assert client.get(reverse("mfa-setup")).status_code == 302  # cannot swap the app unverified
    r = client.post(reverse("mfa-verify"), {"code": fresh_code(device), "next": "/patients/"})
    assert r.status_code == 302 and r["Location"] == "/patients/"
    assert client.get("/patients/").status_code == 200
    assert codes  # shown once, at enrolment


def test_replayed_code_is_refused(clinic_a):
    device = enrolled_device(clinic_a.physician)
    code = fresh_code(device)
    first = _password_login("a.physician")
    assert first.post(reverse("mfa-verify"), {"code": code}).status_code == 302
    second = _password_login("a.physician")
    r = second.post(reverse("mfa-verify"), {"code": code})
    assert r.status_code == 400 and "already used" in r.content.decode()
    assert second.get("/patients/").status_code == 302
    assert "mfa.failure" in _actions(clinic_a.physician)


def test_a_recovery_code_works_once(clinic_a):
    client = _password_login("a.physician")
    codes = _enrol(client)
    client = _password_login("a.physician")
    r = client.post(reverse("mfa-verify"), {"code": codes[0].upper()[:4] + "-" + codes[0][4:]})
    assert r.status_code == 302
    assert client.get("/patients/").status_code == 200
    assert "mfa.recovery_code_use" in _actions(clinic_a.physician)
    again = _password_login("a.physician")
    refused = again.post(reverse("mfa-verify"), {"code": codes[0]})
    assert refused.status_code == 400
    assert StaticToken.objects.filter(device__user=clinic_a.physician).count() == 9


def test_wrong_codes_are_throttled(clinic_a):
    device = enrolled_device(clinic_a.physician)
    client = _password_login("a.physician")
    assert client.post(reverse("mfa-verify"), {"code": "123456"}).status_code == 400
    # Straight after a failure even the right code waits (1, 2, 4 … seconds per device).
    r = client.post(reverse("mfa-verify"), {"code": fresh_code(device)})
    assert r.status_code == 400 and "wait" in r.content.decode()


def test_recovery_codes_can_be_regenerated_and_old_ones_stop(clinic_a):
    client = _password_login("a.physician")
    old = _enrol(client)
    page = client.get(reverse("mfa-recovery-codes"))
    assert "10 unused recovery codes" in page.content.decode()
    r = client.post(reverse("mfa-recovery-codes"))
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", r.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert "mfa.recovery_codes_regenerate" in _actions(clinic_a.physician)
    again = _password_login("a.physician")
    assert again.post(reverse("mfa-verify"), {"code": old[1]}).status_code == 400


def test_nurse_is_not_asked_unless_the_clinic_requires_it(clinic_a):
    assert not mfa_required_for(user=clinic_a.nurse)
    assert _password_login("a.nurse").get("/patients/").status_code == 200
    admin = sign_in(Client(), clinic_a.admin)
    r = admin.post(reverse("staff-mfa-policy"), {"mfa_required_for_all": "1"})
    assert r.status_code == 302
    assert mfa_required_for(user=clinic_a.nurse)
    r = _password_login("a.nurse").get("/patients/")
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa-setup"))


def test_admin_resets_a_lost_phone(clinic_a):
    enrolled_device(clinic_a.physician)
    physician = sign_in(Client(), clinic_a.physician)
    admin = sign_in(Client(), clinic_a.admin)
    membership = Membership.objects.get(user=clinic_a.physician, clinic=clinic_a.clinic)
    assert admin.post(reverse("staff-mfa-reset", args=[membership.pk])).status_code == 302
    assert not TOTPDevice.objects.filter(user=clinic_a.physician).exists()
    assert physician.get("/patients/").status_code == 302  # the old session ended
    r = _password_login("a.physician").get("/patients/")
    assert r["Location"].startswith(reverse("mfa-setup"))
    # Not a staff manager: refused.
    nurse = sign_in(Client(), clinic_a.nurse)
    assert nurse.post(reverse("staff-mfa-reset", args=[membership.pk])).status_code == 403


def test_tokens_unaffected_but_minted_only_by_a_verified_session(clinic_a, patient_a):
    membership = Membership.objects.get(user=clinic_a.physician, clinic=clinic_a.clinic)
    _, raw = api_token_create(membership=membership, name="site")
    # A physician with no second factor yet: the bearer token is its own credential.
    r = Client().get("/api/v1/patients", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 200
    # A nurse (no two-factor needed to sign in) cannot mint a token without it …
    nurse = _password_login("a.nurse")
    r = nurse.post(reverse("api-tokens"), {"name": "x", "days": "7"})
    assert r.status_code == 400 and "two-factor" in r.content.decode()
    assert not ApiToken.objects.filter(membership__user=clinic_a.nurse).exists()
    # … a verified session can.
    r = sign_in(Client(), clinic_a.nurse).post(reverse("api-tokens"), {"name": "x", "days": "7"})
    assert r.status_code == 200 and 'id="new-token"' in r.content.decode()


def test_token_last_use_is_written_at_most_once_a_minute(clinic_a, patient_a):
    import datetime as dt

    membership = Membership.objects.get(user=clinic_a.nurse, clinic=clinic_a.clinic)
    token, raw = api_token_create(membership=membership, name="site")
    headers = {"Authorization": f"Bearer {raw}"}
    assert Client().get("/api/v1/patients", headers=headers).status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    Client().get("/api/v1/patients", headers=headers)
    token.refresh_from_db()
    assert token.last_used_at == first  # within the minute: no write
    # Two minutes later (the worker remembers the token, not when it last wrote its use).
    later = first + dt.timedelta(minutes=2)
    with mock.patch("django.utils.timezone.now", return_value=later):
        Client().get("/api/v1/patients", headers=headers)
    token.refresh_from_db()
    assert token.last_used_at == later
    page = sign_in(Client(), clinic_a.nurse).get(reverse("api-tokens")).content.decode()
    assert "Last used" in page and "Expires" in page and "Never" not in page


def test_pending_session_may_sign_out_and_reset_a_password(clinic_a):
    client = _password_login("a.physician")
    assert client.get(reverse("password-reset")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get("/patients/").status_code == 302


def test_account_page_shows_the_state(clinic_a):
    client = sign_in(Client(), clinic_a.nurse)
    body = client.get(reverse("account-security")).content.decode()
    assert "On:" in body and "Change your password" in body
    TOTPDevice.objects.filter(user=clinic_a.nurse).delete()
    body = _password_login("a.nurse").get(reverse("account-security")).content.decode()
    assert "Set up two-factor sign-in" in body


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "x" * 500])
def test_odd_codes_are_a_plain_refusal(clinic_a, bad):
    enrolled_device(clinic_a.physician)
    r = _password_login("a.physician").post(reverse("mfa-verify"), {"code": bad})
    assert r.status_code == 400


def test_operator_resets_from_the_command_line(clinic_a):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    enrolled_device(clinic_a.admin)
    call_command("mfa_reset", "a.clinic_admin")
    assert not TOTPDevice.objects.filter(user=clinic_a.admin).exists()
    assert AuditEvent.objects.filter(action="mfa.reset", via="cli").exists()
    with pytest.raises(CommandError) as exc:
        call_command("mfa_reset", "nobody")
    assert exc.value.returncode == 2
