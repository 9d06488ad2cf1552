import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import identify_hasher
from django.test import Client

from anagen.accounts.models import User
from anagen.audit.models import AuditEvent


@pytest.mark.real_hashers
def test_passwords_are_hashed_with_argon2(clinic_a):
    user = User.objects.create_user("argon", password="a-long-enough-passphrase")
    assert identify_hasher(user.password).algorithm == "argon2"


def _login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_login_success_and_failure_are_audited(clinic_a):
    client = Client()
    assert _login(client, "a.nurse", "wrong-password").status_code == 200
    assert _login(client, "a.nurse", "correct-horse-battery").status_code == 302
    assert AuditEvent.objects.filter(action="login.failure", username="a.nurse").count() == 1
    assert AuditEvent.objects.filter(action="login.success", actor=clinic_a.nurse).count() == 1


def test_repeated_failures_lock_the_account_from_that_address(clinic_a):
    client = Client()
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        _login(client, "a.nurse", "wrong-password")
    locked = _login(client, "a.nurse", "correct-horse-battery")
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content


def test_session_is_short_and_idle_based():
    assert django_settings.SESSION_COOKIE_AGE == 1800
    # Renewed by use at most once a minute (anagen/tests/test_session_floor.py), not every request.
    assert django_settings.SESSION_TOUCH_INTERVAL <= 60


def test_pages_send_a_strict_csp_with_nonces(clinic_a):
    response = clinic_a.client(clinic_a.nurse).get("/patients/")
    csp = response["Content-Security-Policy"]
    assert (
        "default-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    )
    assert "frame-ancestors 'none'" in csp
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.content.decode()


def test_forms_require_csrf(clinic_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinic_a.front_desk)
    response = client.post("/patients/new/", {"given_name": "A"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content


def test_anonymous_is_sent_to_login(db):
    response = Client().get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_audit_page_filters(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.admin)
    clinic_a.client(clinic_a.nurse).get(f"/patients/{patient_a.pk}/")
    html = client.get("/audit/", {"action": "chart", "user": clinic_a.nurse.pk}).content.decode()
    assert "<td>Chart opened</td>" in html and "<td>Patient created</td>" not in html
    html = client.get("/audit/", {"patient": patient_a.pk, "action": "patient"}).content.decode()
    assert "<td>Patient created</td>" in html and "<td>Chart opened</td>" not in html
    assert "chart.read" not in html.split("<table")[1]
    bad = client.get("/audit/", {"date_from": "not-a-date"})
    assert bad.status_code == 400 and b"Enter a valid date." in bad.content


def test_session_has_an_absolute_cap(clinic_a, settings):
    import time

    from anagen.accounts.session_cap import SESSION_KEY

    client = Client()
    assert _login(client, "a.nurse", "correct-horse-battery").status_code == 302
    assert client.get("/patients/").status_code == 200
    session = client.session
    session[SESSION_KEY] = int(time.time()) - settings.SESSION_ABSOLUTE_MAX_AGE - 1
    session.save()
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/patients/").status_code == 302  # signed out for good
