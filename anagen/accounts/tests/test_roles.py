import pytest

from anagen.accounts.models import Membership
from anagen.audit.models import AuditEvent
from anagen.patients.services import IntakeData, intake_record


def test_front_desk_sees_demographics_but_no_clinical_detail(clinic_a, patient_a):
    intake_record(
        actor=clinic_a.actor(clinic_a.nurse),
        patient=patient_a,
        data=IntakeData(conditions=["thyroid_disease"], notes="Very private note"),
    )
    client = clinic_a.client(clinic_a.front_desk)
    chart = client.get(f"/patients/{patient_a.pk}/").content.decode()
    assert "+447700900123" in chart
    assert "Thyroid" not in chart and "Very private note" not in chart
    assert "visible to physicians and nurses only" in chart
    assert client.get(f"/patients/{patient_a.pk}/intake/1/").status_code == 403
    assert client.get(f"/patients/{patient_a.pk}/intake/new/").status_code == 403
    assert AuditEvent.objects.filter(action="patient.read", actor=clinic_a.front_desk).exists()


@pytest.mark.parametrize("role", ["physician", "nurse", "front_desk"])
def test_only_clinic_admins_manage_staff_and_read_audit(clinic_a, role):
    user = getattr(clinic_a, role)
    client = clinic_a.client(user)
    assert client.get("/staff/").status_code == 403
    assert client.get("/audit/").status_code == 403
    target = Membership.objects.get(user=clinic_a.nurse)
    assert client.post(f"/staff/{target.pk}/role/", {"role": "physician"}).status_code == 403
    target.refresh_from_db()
    assert target.role == "nurse"


def test_admin_creates_changes_role_and_deactivates_staff(clinic_a):
    client = clinic_a.client(clinic_a.admin)
    response = client.post(
        "/staff/",
        {
            "username": "new.nurse",
            "first_name": "Nia",
            "last_name": "Jones",
            "email": "nia@example.com",
            "role": "nurse",
            "password": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__username="new.nurse")
    client.post(f"/staff/{membership.pk}/role/", {"role": "physician"})
    membership.refresh_from_db()
    assert membership.role == "physician"
    event = AuditEvent.objects.get(action="staff.role_change")
    assert event.changes["role"] == ["nurse", "physician"] and event.actor == clinic_a.admin
    client.post(f"/staff/{membership.pk}/active/", {"active": "0", "confirm": "yes"})
    membership.refresh_from_db()
    assert not membership.is_active
    # A deactivated member has no clinic any more.
    assert clinic_a.client(membership.user).get("/patients/").status_code == 403


def test_staff_form_errors_are_clear(clinic_a):
    client = clinic_a.client(clinic_a.admin)
    response = client.post(
        "/staff/",
        {
            "username": "bad name!",
            "first_name": "",
            "email": "nope",
            "role": "king",
            "password": "short",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Use letters, digits" in html and "Enter a valid email address." in html
    assert "This password is too short" in html and "Select a valid choice" in html


def test_last_admin_cannot_be_demoted_or_deactivated(clinic_a):
    client = clinic_a.client(clinic_a.admin)
    me = Membership.objects.get(user=clinic_a.admin)
    response = client.post(f"/staff/{me.pk}/role/", {"role": "nurse"}, follow=True)
    assert b"at least one active clinic admin" in response.content
    me.refresh_from_db()
    assert me.role == "clinic_admin"


def test_admin_cannot_touch_another_clinics_staff(clinic_a, clinic_b):
    other = Membership.objects.get(user=clinic_b.nurse)
    client = clinic_a.client(clinic_a.admin)
    assert client.post(f"/staff/{other.pk}/role/", {"role": "physician"}).status_code == 404
    assert client.post(f"/staff/{other.pk}/active/", {"active": "0"}).status_code == 404
