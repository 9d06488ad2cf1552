"""Across the apps: a checked-in appointment becomes a session record; signing completes it."""

import datetime as dt

from django.utils import timezone

from anagen.procedures import services as procedure_services
from anagen.procedures.models import TreatmentSession
from anagen.procedures.tests.helpers import complete_prp, ready_patient
from anagen.scheduling.models import Appointment
from anagen.scheduling.services import appointment_check_in
from anagen.scheduling.tests.conftest import make_kit


def test_checked_in_appointment_to_signed_session(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    kit = make_kit(clinic_a, hours=False)
    now = timezone.now()
    appt = Appointment.objects.create(
        clinic=clinic_a.clinic,
        patient=patient_a,
        kind="induction",
        procedure="prp_scalp",
        starts_at=now,
        ends_at=now + dt.timedelta(minutes=75),
        practitioner=kit.physician,
        room=kit.room1,
        centrifuge=kit.centrifuge,
    )
    appointment_check_in(actor=clinic_a.actor(clinic_a.front_desk), appointment=appt)
    appt.refresh_from_db()
    assert appt.status == "checked_in"

    response = clinic_a.client(clinic_a.nurse).post(f"/appointments/{appt.pk}/session/")
    session = TreatmentSession.objects.get(appointment=appt)
    assert response.status_code == 302 and str(session.pk) in response["Location"]
    # Posting again opens the same session instead of starting a second one.
    clinic_a.client(clinic_a.nurse).post(f"/appointments/{appt.pk}/session/")
    assert TreatmentSession.objects.filter(appointment=appt).count() == 1

    session = complete_prp(clinic_a, session)
    procedure_services.session_sign(actor=clinic_a.actor(clinic_a.physician), session=session)
    appt.refresh_from_db()
    assert appt.status == "completed"


def test_appointment_page_offers_the_session_record_once_checked_in(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    kit = make_kit(clinic_a, hours=False)
    now = timezone.now()
    appt = Appointment.objects.create(
        clinic=clinic_a.clinic,
        patient=patient_a,
        kind="induction",
        procedure="prp_scalp",
        starts_at=now,
        ends_at=now + dt.timedelta(minutes=75),
        practitioner=kit.physician,
        room=kit.room1,
        centrifuge=kit.centrifuge,
        status="checked_in",
    )
    html = clinic_a.client(clinic_a.nurse).get(f"/appointments/{appt.pk}/").content.decode()
    assert "Start session record" in html
