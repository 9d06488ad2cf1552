"""Password change (signed in, old password, validators) and reset by email (same answer for
unknown and known addresses; the link works once); both audited."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client
from django.urls import reverse

from anagen.accounts.testing import sign_in
from anagen.audit.models import AuditEvent

OLD = "correct-horse-battery"
NEW = "a-much-better-passphrase-42"


def test_change_needs_the_old_password_and_a_strong_new_one(clinic_a):
    client = sign_in(Client(), clinic_a.physician)
    other = sign_in(Client(), clinic_a.physician)
    url = reverse("password-change")
    assert client.get(url).status_code == 200
    r = client.post(url, {"old_password": "wrong", "new_password1": NEW, "new_password2": NEW})
    assert r.status_code == 200 and "incorrect" in r.content.decode()
    r = client.post(url, {"old_password": OLD, "new_password1": "short", "new_password2": "short"})
    assert r.status_code == 200 and "too short" in r.content.decode()
    r = client.post(url, {"old_password": OLD, "new_password1": NEW, "new_password2": NEW})
    assert r.status_code == 302
    clinic_a.physician.refresh_from_db()
    assert clinic_a.physician.check_password(NEW)
    assert client.get("/patients/").status_code == 200  # this session stays, still verified
    assert other.get("/patients/").status_code == 302  # other sessions end
    assert AuditEvent.objects.filter(actor=clinic_a.physician, action="password.change").exists()


def test_change_needs_sign_in(db):
    r = Client().get(reverse("password-change"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))


def test_reset_by_email_same_answer_for_unknown_and_known(clinic_a):
    clinic_a.physician.email = "amara@example.com"
    clinic_a.physician.save()
    client = Client()
    unknown = client.post(reverse("password-reset"), {"email": "nobody@example.com"})
    known = client.post(reverse("password-reset"), {"email": "AMARA@example.com"})
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"] == reverse("password-reset-sent")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["amara@example.com"]
    body = str(mail.outbox[0].body)
    found = re.search(r"https?://[^/]+(/password-reset/[^\s]+/)", body)
    assert found is not None
    link = found.group(1)
    page = client.get(link, follow=True)
    assert "Choose a new password" in page.content.decode()
    form_url = page.redirect_chain[-1][0]
    r = client.post(form_url, {"new_password1": "password", "new_password2": "password"})
    assert r.status_code == 200 and "too common" in r.content.decode()
    r = client.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    assert r.status_code == 302 and r["Location"] == reverse("password-reset-complete")
    clinic_a.physician.refresh_from_db()
    assert clinic_a.physician.check_password(NEW)
    assert AuditEvent.objects.filter(actor=clinic_a.physician, action="password.reset").exists()
    # The link works once.
    again = client.get(link, follow=True)
    assert "This link does not work" in again.content.decode()
    # A reset does not skip two-factor sign-in for a role that needs it.
    client = Client()
    client.post(reverse("login"), {"username": "a.physician", "password": NEW})
    r = client.get("/patients/")
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa-setup"))


def test_login_page_links_to_the_reset(db):
    assert reverse("password-reset") in Client().get(reverse("login")).content.decode()
