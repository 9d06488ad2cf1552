"""Deactivating a membership revokes: reactivation revives neither an old session nor a token."""

from django.test import Client

from anagen.accounts.models import ApiToken, Membership, Role
from anagen.accounts.services import api_token_create, membership_set_active
from anagen.accounts.testing import enrolled_device, fresh_code
from anagen.audit.models import AuditEvent


def _api(raw):
    return Client().get("/api/v1/patients", headers={"Authorization": f"Bearer {raw}"})


def _cycle(clinic_a, membership):
    admin = clinic_a.actor(clinic_a.admin)
    membership_set_active(actor=admin, membership=membership, active=False)
    membership_set_active(actor=admin, membership=membership, active=True)


def test_old_session_and_token_refused_after_deactivate_and_reactivate(clinic_a, patient_a):
    membership = Membership.objects.get(user=clinic_a.nurse, clinic=clinic_a.clinic)
    _, raw = api_token_create(membership=membership, name="site")
    session = clinic_a.client(clinic_a.nurse)
    assert session.get("/patients/").status_code == 200 and _api(raw).status_code == 200
    admin_page = clinic_a.client(clinic_a.admin)
    admin_page.post(f"/staff/{membership.pk}/active/", {"active": "0", "confirm": "yes"})
    admin_page.post(f"/staff/{membership.pk}/active/", {"active": "1"})
    membership.refresh_from_db()
    assert membership.is_active
    refused = session.get("/patients/")
    assert refused.status_code == 302 and "/login/" in refused["Location"]
    assert _api(raw).status_code == 401
    assert ApiToken.objects.get().revoked_at is not None
    event = AuditEvent.objects.get(action="staff.deactivate")
    assert event.changes["tokens_revoked"] == 1 and event.changes["sessions_ended"] == 1
    # A fresh sign-in and a new token work again.
    fresh = Client()
    assert fresh.post("/login/", {"username": "a.nurse", "password": "correct-horse-battery"})[
        "Location"
    ]
    # The nurse set up two-factor sign-in (the test client did): the code step comes next.
    code = fresh_code(enrolled_device(clinic_a.nurse))
    assert fresh.post("/login/verify/", {"code": code}).status_code == 302
    assert fresh.get("/patients/").status_code == 200
    _, raw2 = api_token_create(membership=membership, name="site 2")
    assert _api(raw2).status_code == 200


def test_member_of_two_clinics_cannot_act_for_the_deactivated_one_with_an_old_session(
    clinic_a, clinic_b, patient_a
):
    user = clinic_a.nurse
    Membership.objects.create(user=user, clinic=clinic_b.clinic, role=Role.NURSE)
    membership = Membership.objects.get(user=user, clinic=clinic_a.clinic)
    other = Membership.objects.get(user=user, clinic=clinic_b.clinic)
    _, raw_a = api_token_create(membership=membership, name="a")
    _, raw_b = api_token_create(membership=other, name="b")
    session = clinic_a.client(user)
    session.get("/patients/")
    _cycle(clinic_a, membership)
    assert session.get("/patients/").status_code == 302
    assert _api(raw_a).status_code == 401
    # The other clinic's token is that clinic's business and keeps working.
    assert _api(raw_b).status_code == 200


def test_reactivation_is_audited_and_revokes_nothing_more(clinic_a):
    membership = Membership.objects.get(user=clinic_a.nurse, clinic=clinic_a.clinic)
    _cycle(clinic_a, membership)
    assert AuditEvent.objects.filter(action="staff.activate").count() == 1
    assert AuditEvent.objects.get(action="staff.deactivate").changes["tokens_revoked"] == 0
