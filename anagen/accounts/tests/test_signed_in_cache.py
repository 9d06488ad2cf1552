"""The signed-in context is remembered per process (issue 15) and forgotten on every change that
matters: at once in this process, and in other workers through the stamp file."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from anagen.accounts import signed_in
from anagen.accounts.models import Membership, Role
from anagen.accounts.services import membership_change_role, password_set


def _progress(client: Client, patient) -> int:
    return client.get(f"/patients/{patient.pk}/outcomes/progress/").status_code


@pytest.fixture(autouse=True)
def _own_stamp(settings, tmp_path):
    """A stamp file of this test's own: other test runs on the machine touch theirs."""
    settings.VAR_DIR = tmp_path
    signed_in.check_stamp()
    signed_in.forget_all()


def test_a_bare_request_reads_nothing_and_the_first_reads_everything(clinic_a):
    client = clinic_a.client(clinic_a.physician)
    with CaptureQueriesContext(connection) as first:
        client.get("/session/ping")
    with CaptureQueriesContext(connection) as second:
        assert client.get("/session/ping")["X-Signed-In"] == "1"
    first_sql = " ".join(q["sql"].lower() for q in first.captured_queries)
    assert "accounts_membership" in first_sql and "otp_totp_totpdevice" in first_sql
    assert len(second) == 0


def test_a_member_without_two_factor_costs_no_query_either(clinic_a):
    client = Client()
    client.force_login(clinic_a.nurse)  # no authenticator app, and a nurse need not have one
    client.get("/session/ping")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/session/ping")["X-Signed-In"] == "1"
    assert len(ctx) == 0


def test_signing_out_ends_the_session_for_every_worker(clinic_a):
    client = clinic_a.client(clinic_a.nurse)
    assert client.get("/session/ping")["X-Signed-In"] == "1"
    key = client.cookies["sessionid"].value
    client.post("/logout/")
    other = Client()  # another worker, with the same cookie
    other.cookies["sessionid"] = key
    assert other.get("/session/ping")["X-Signed-In"] == "0"


def test_a_role_change_takes_effect_on_the_next_request(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.front_desk)
    assert _progress(client, patient_a) == 403
    membership = Membership.objects.get(user=clinic_a.front_desk, clinic=clinic_a.clinic)
    admin = clinic_a.actor(clinic_a.admin)
    membership_change_role(actor=admin, membership=membership, role=Role.NURSE)
    assert _progress(client, patient_a) == 200
    membership_change_role(actor=admin, membership=membership, role=Role.FRONT_DESK)
    assert _progress(client, patient_a) == 403


def test_a_password_change_ends_the_other_sessions_at_once(clinic_a):
    elsewhere = clinic_a.client(clinic_a.nurse)
    assert elsewhere.get("/session/ping")["X-Signed-In"] == "1"
    password_set(user=clinic_a.nurse, password="another-horse-battery-staple")
    assert elsewhere.get("/session/ping")["X-Signed-In"] == "0"
    assert elsewhere.get("/patients/").status_code == 302


def test_another_worker_forgets_through_the_stamp(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.nurse)
    assert _progress(client, patient_a) == 200
    # A change this process is not told about (another worker's, or a bulk update): the
    # remembered membership stands until the other worker touches the stamp after its commit.
    Membership.objects.filter(user=clinic_a.nurse).update(role=Role.FRONT_DESK)
    assert _progress(client, patient_a) == 200
    signed_in._touch_stamp()
    assert _progress(client, patient_a) == 403


def test_nothing_is_remembered_longer_than_the_time_limit(clinic_a, patient_a, settings):
    settings.SIGNED_IN_CACHE_SECONDS = 0
    client = clinic_a.client(clinic_a.nurse)
    assert _progress(client, patient_a) == 200
    Membership.objects.filter(user=clinic_a.nurse).update(role=Role.FRONT_DESK)
    assert _progress(client, patient_a) == 403


def test_each_request_gets_its_own_copy_of_the_person(clinic_a):
    client = clinic_a.client(clinic_a.nurse)
    first = client.get("/session/ping").wsgi_request.user
    first.first_name = "Changed by a view"
    second = client.get("/session/ping").wsgi_request.user
    assert second.pk == first.pk and second.first_name == clinic_a.nurse.first_name
