"""Soft delete and restore: one manager hides the record everywhere; nothing is erased."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from anagen.accounts.access import patient_for, patients_for
from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.audit.models import AuditAction, AuditEvent
from anagen.patients import selectors, services
from anagen.patients.models import Patient

pytestmark = pytest.mark.django_db


def delete(staff, patient, user=None, reason="Registered twice by mistake."):
    return services.patient_soft_delete(
        actor=staff.actor(user or staff.physician), patient=patient, reason=reason
    )


def test_delete_hides_the_patient_from_every_door_and_restore_brings_it_back(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.physician)
    deleted = delete(clinic_a, patient_a)
    assert deleted.is_deleted and deleted.deleted_by == clinic_a.physician
    assert deleted.deleted_reason == "Registered twice by mistake."
    # One manager: Patient.objects is live patients only; all_objects keeps everything.
    assert not Patient.objects.filter(pk=patient_a.pk).exists()
    assert Patient.all_objects.filter(pk=patient_a.pk).exists()
    assert not patients_for(actor).filter(pk=patient_a.pk).exists()
    assert list(selectors.patient_search(actor=actor, query="Álvarez")) == []
    with pytest.raises(Http404):
        patient_for(actor, patient_a.pk)
    assert list(selectors.patients_deleted(actor=actor)) == [deleted]

    restored = services.patient_restore(actor=actor, patient=deleted)
    assert not restored.is_deleted and restored.deleted_reason == ""
    assert patient_for(actor, patient_a.pk) == patient_a
    assert list(selectors.patient_search(actor=actor, query="Álvarez")) == [patient_a]

    events = AuditEvent.objects.filter(patient=patient_a).order_by("id")
    actions = [e.action for e in events]
    assert AuditAction.PATIENT_DELETE in actions and AuditAction.PATIENT_RESTORE in actions
    gone = events.get(action=AuditAction.PATIENT_DELETE)
    assert gone.changes == {"reason": "Registered twice by mistake."}
    assert gone.actor == clinic_a.physician


def test_related_rows_still_reach_a_deleted_patient(clinic_a, patient_a):
    delete(clinic_a, patient_a)
    event = AuditEvent.objects.filter(action=AuditAction.PATIENT_DELETE).get()
    # Related lookups use the plain base manager: history stays readable.
    assert AuditEvent.objects.select_related("patient").get(pk=event.pk).patient == patient_a
    fresh = AuditEvent.objects.get(pk=event.pk).patient
    assert fresh is not None and fresh.record_number == patient_a.record_number


def test_only_holders_of_the_permission_delete_or_restore(clinic_a, patient_a):
    for user in (clinic_a.front_desk, clinic_a.nurse):
        with pytest.raises(PermissionDenied):
            delete(clinic_a, patient_a, user=user)
    deleted = delete(clinic_a, patient_a, user=clinic_a.admin)
    with pytest.raises(PermissionDenied):
        services.patient_restore(actor=clinic_a.actor(clinic_a.front_desk), patient=deleted)
    with pytest.raises(PermissionDenied):
        selectors.patients_deleted(actor=clinic_a.actor(clinic_a.front_desk))


def test_a_reason_is_required_and_twice_is_refused(clinic_a, patient_a):
    with pytest.raises(ValidationError) as exc:
        delete(clinic_a, patient_a, reason="  ")
    assert "reason" in exc.value.message_dict
    deleted = delete(clinic_a, patient_a)
    with pytest.raises(ValidationError):
        delete(clinic_a, deleted)
    restored = services.patient_restore(actor=clinic_a.actor(clinic_a.admin), patient=deleted)
    with pytest.raises(ValidationError):
        services.patient_restore(actor=clinic_a.actor(clinic_a.admin), patient=restored)


def test_another_clinics_patient_is_404(clinic_a, clinic_b, patient_b):
    with pytest.raises(Http404):
        delete(clinic_a, patient_b)
    deleted = delete(clinic_b, patient_b)
    with pytest.raises(Http404):
        services.patient_restore(actor=clinic_a.actor(clinic_a.physician), patient=deleted)
    with pytest.raises(Http404):
        selectors.patient_deleted_get(actor=clinic_a.actor(clinic_a.admin), patient_id=deleted.pk)


def test_the_database_refuses_a_deletion_without_reason(clinic_a, patient_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=patient_a.pk).update(deleted_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=patient_a.pk).update(deleted_reason="live rows have none")


def test_pages_confirm_delete_list_and_restore(clinic_a, patient_a):
    c = clinic_a.client(clinic_a.physician)
    chart = c.get(reverse("patient-detail", args=[patient_a.pk])).content.decode()
    assert reverse("patient-delete", args=[patient_a.pk]) in chart
    page = c.get(reverse("patient-delete", args=[patient_a.pk])).content.decode()
    assert "Are you sure?" in page and "can be restored" in page
    bad = c.post(reverse("patient-delete", args=[patient_a.pk]), {"reason": ""})
    assert bad.status_code == 400 and not Patient.all_objects.get(pk=patient_a.pk).is_deleted
    r = c.post(reverse("patient-delete", args=[patient_a.pk]), {"reason": "A test record."})
    assert r.status_code == 302 and r["Location"] == reverse("patient-list")
    assert c.get(reverse("patient-detail", args=[patient_a.pk])).status_code == 404
    listing = c.get(reverse("patient-list")).content.decode()
    assert "Álvarez" not in listing and reverse("patients-deleted") in listing
    deleted_page = c.get(reverse("patients-deleted")).content.decode()
    assert "Álvarez" in deleted_page and "A test record." in deleted_page
    r = c.post(reverse("patient-restore", args=[patient_a.pk]))
    assert r.status_code == 302 and r["Location"] == reverse("patient-detail", args=[patient_a.pk])
    assert c.get(reverse("patient-detail", args=[patient_a.pk])).status_code == 200
    # A live patient is not on the deleted list, so "restoring" it is a 404.
    assert c.post(reverse("patient-restore", args=[patient_a.pk])).status_code == 404


def test_front_desk_sees_no_delete_action_and_is_refused(clinic_a, patient_a):
    c = clinic_a.client(clinic_a.front_desk)
    chart = c.get(reverse("patient-detail", args=[patient_a.pk])).content.decode()
    assert reverse("patient-delete", args=[patient_a.pk]) not in chart
    assert c.get(reverse("patient-delete", args=[patient_a.pk])).status_code == 403
    assert (
        c.post(reverse("patient-delete", args=[patient_a.pk]), {"reason": "xxxxxx"}).status_code
        == 403
    )
    assert c.get(reverse("patients-deleted")).status_code == 403
    assert not Patient.all_objects.get(pk=patient_a.pk).is_deleted


def test_a_deleted_patient_is_hidden_from_the_api(clinic_a, patient_a):
    _, raw = api_token_create(
        membership=Membership.objects.get(user=clinic_a.physician, clinic=clinic_a.clinic), name="t"
    )
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.get(f"/api/v1/patients/{patient_a.pk}").status_code == 200
    delete(clinic_a, patient_a)
    assert api.get(f"/api/v1/patients/{patient_a.pk}").status_code == 404
    listing = api.get("/api/v1/patients", {"q": "Álvarez"}).json()
    assert listing["count"] == 0 and listing["results"] == []
