"""Pages: plan preview/booking, calendar, appointment actions, move warnings, resources, feeds."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from anagen.scheduling import services
from anagen.scheduling.models import Appointment, CalendarFeedToken, Resource, TreatmentPlan
from anagen.scheduling.tests.conftest import at, make_kit, next_monday
from conftest import make_patient

pytestmark = pytest.mark.django_db

PROTOCOL = "prp-aga-monthly-3"


def _book(clinic, patient, start=None):
    return services.plan_book_series(
        actor=clinic.actor(clinic.physician),
        patient=patient,
        protocol_id=PROTOCOL,
        start_on=start or next_monday(),
    )


def test_physician_previews_and_books_the_series(clinic_a, kit_a, patient_a):
    c = clinic_a.client(clinic_a.physician)
    url = reverse("plan-new", args=[patient_a.pk])
    start = next_monday()
    r = c.get(url, {"protocol_id": PROTOCOL, "start_on": start.isoformat()})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="preview"' in html and 'name="slot_3"' in html
    slot1 = r.context["chosen"][1]
    data = {
        "protocol_id": PROTOCOL,
        "start_on": start.isoformat(),
        **{f"slot_{n}": key for n, key in r.context["chosen"].items()},
    }
    r = c.post(url, data)
    assert r.status_code == 302
    plan = TreatmentPlan.objects.get(patient=patient_a)
    assert plan.appointments.count() == 3
    assert plan.appointments.get(sequence=1).starts_at.isoformat() == slot1.split("|")[0]
    chart = c.get(reverse("patient-detail", args=[patient_a.pk])).content.decode()
    assert "0 of 3 sessions done" in chart and 'id="upcoming"' in chart


def test_plan_page_bad_input_is_400(clinic_a, kit_a, patient_a):
    c = clinic_a.client(clinic_a.physician)
    url = reverse("plan-new", args=[patient_a.pk])
    r = c.get(url, {"protocol_id": PROTOCOL, "start_on": "not a date"})
    assert r.status_code == 400
    r = c.post(url, {"protocol_id": PROTOCOL, "start_on": next_monday().isoformat(), "slot_1": "x"})
    assert r.status_code == 400
    assert "not a valid slot" in r.content.decode()
    assert not TreatmentPlan.objects.exists()


def test_plan_page_roles_and_other_clinic(clinic_a, clinic_b, kit_a, patient_a, patient_b):
    url = reverse("plan-new", args=[patient_a.pk])
    assert clinic_a.client(clinic_a.nurse).get(url).status_code == 403
    assert clinic_a.client(clinic_a.front_desk).get(url).status_code == 403
    assert (
        clinic_a.client(clinic_a.physician)
        .get(reverse("plan-new", args=[patient_b.pk]))
        .status_code
        == 404
    )


def test_every_page_is_404_for_another_clinics_objects(clinic_a, clinic_b, kit_a, patient_a):
    plan = _book(clinic_a, patient_a)
    appt = plan.appointments.first()
    c = clinic_b.client(clinic_b.physician)
    admin_b = clinic_b.client(clinic_b.admin)
    for name, args in [
        ("plan-detail", [plan.pk]),
        ("appointment-detail", [appt.pk]),
        ("appointment-move", [appt.pk]),
        ("appointment-new", [patient_a.pk]),
    ]:
        assert c.get(reverse(name, args=args)).status_code == 404, name
    assert (
        c.post(reverse("appointment-status", args=[appt.pk]), {"action": "no_show"}).status_code
        == 404
    )
    assert admin_b.get(reverse("resource-detail", args=[kit_a.room1.pk])).status_code == 404
    assert c.post(reverse("calendar-feeds"), {"resource": kit_a.physician.pk}).status_code == 404
    # and B's calendar never lists A's appointments
    r = c.get(reverse("calendar"), {"view": "week", "date": appt.local_date.isoformat()})
    assert patient_a.family_name not in r.content.decode()


def test_calendar_day_week_filters_and_bounded_queries(clinic_a, kit_a, patient_a):
    plan = _book(clinic_a, patient_a)
    a1 = plan.appointments.get(sequence=1)
    c = clinic_a.client(clinic_a.front_desk)
    day = a1.local_date.isoformat()
    r = c.get(reverse("calendar"), {"view": "day", "date": day})
    assert r.status_code == 200 and "Álvarez, José" in r.content.decode()
    r = c.get(reverse("calendar"), {"view": "week", "date": day, "room": a1.room_id})
    assert "Álvarez" in r.content.decode()
    other_room = kit_a.room2 if a1.room_id == kit_a.room1.pk else kit_a.room1
    r = c.get(reverse("calendar"), {"view": "week", "date": day, "room": other_room.pk})
    assert "Álvarez" not in r.content.decode()
    r = c.get(reverse("calendar"), {"date": "garbage", "practitioner": "x"})
    assert r.status_code == 200  # bad filters fall back to this week, all practitioners

    def count() -> int:
        with CaptureQueriesContext(connection) as q:
            c.get(reverse("calendar"), {"view": "week", "date": day})
        return len(q)

    before = count()
    for i in range(6):
        p = make_patient(clinic_a, given_name=f"N{i}", family_name="More")
        services.appointment_book(
            actor=clinic_a.actor(clinic_a.front_desk),
            patient=p,
            kind="consultation",
            procedure="",
            starts_at=at(a1.local_date, 13 + i // 2, 30 * (i % 2)),
            practitioner_id=kit_a.nurse.pk,
            room_id=kit_a.room2.pk if i % 2 else kit_a.room1.pk,
        )
    assert count() == before


def test_move_page_shows_the_window_warning_then_confirms(clinic_a, kit_a, patient_a):
    plan = _book(clinic_a, patient_a)
    a2 = plan.appointments.get(sequence=2)
    c = clinic_a.client(clinic_a.front_desk)
    url = reverse("appointment-move", args=[a2.pk])
    assert c.get(url).status_code == 200
    new_day = a2.local_date + dt.timedelta(days=14)
    form = {"date": new_day.isoformat(), "time": "10:00", "scope": "this"}
    r = c.post(url, form)
    assert r.status_code == 400
    html = r.content.decode()
    assert 'id="window-warning"' in html and "outside its protocol window" in html
    assert "confirm_outside_window" in html
    r = c.post(url, {**form, "confirm_outside_window": "on"})
    assert r.status_code == 302
    a2.refresh_from_db()
    assert a2.local_date == new_day
    r = c.post(url, {"date": "", "time": "25:00", "scope": "this"})
    assert r.status_code == 400


def test_status_actions_from_the_page(clinic_a, kit_a, patient_a):
    plan = _book(clinic_a, patient_a)
    a1 = plan.appointments.get(sequence=1)
    c = clinic_a.client(clinic_a.front_desk)
    url = reverse("appointment-status", args=[a1.pk])
    r = c.post(url, {"action": "check_in"})
    assert r.status_code == 400 and "only possible on the day" in r.content.decode()
    r = c.post(url, {"action": "cancel", "reason": ""})
    assert r.status_code == 400
    r = c.post(url, {"action": "complete"})
    assert r.status_code == 403  # front desk cannot complete a session
    r = c.post(url, {"action": "cancel", "reason": "Travelling", "confirm": "yes"})
    assert r.status_code == 302
    a1.refresh_from_db()
    assert a1.status == "cancelled"
    r = c.get(reverse("appointment-detail", args=[a1.pk]))
    assert "Travelling" in r.content.decode()


def test_chart_panel_query_count_does_not_grow(clinic_a, kit_a, patient_a):
    c = clinic_a.client(clinic_a.physician)
    url = reverse("patient-detail", args=[patient_a.pk])
    _book(clinic_a, patient_a)

    def count() -> int:
        with CaptureQueriesContext(connection) as q:
            assert c.get(url).status_code == 200
        return len(q)

    count()  # the first request after sign-in also renews the session
    before = count()
    _book(clinic_a, patient_a, next_monday(weeks=14))
    assert count() == before


def test_resource_admin_pages(clinic_a):
    c = clinic_a.client(clinic_a.admin)
    url = reverse("resource-list")
    assert clinic_a.client(clinic_a.physician).get(url).status_code == 403
    from anagen.accounts.models import Membership

    m = Membership.objects.get(user=clinic_a.physician, clinic=clinic_a.clinic)
    r = c.post(
        url, {"kind": "practitioner", "membership": m.pk, "licensed_procedures": ["prp_scalp"]}
    )
    assert r.status_code == 302
    res = Resource.objects.get(membership=m)
    assert res.licensed_procedures == ["prp_scalp"]
    r = c.post(url, {"kind": "centrifuge", "name": "Spin"})
    assert r.status_code == 400 and "rotor radius" in r.content.decode()
    fd = Membership.objects.get(user=clinic_a.front_desk, clinic=clinic_a.clinic)
    r = c.post(url, {"kind": "practitioner", "membership": fd.pk})
    assert r.status_code == 400
    detail = reverse("resource-detail", args=[res.pk])
    r = c.post(detail, {"hours": "Mon 09:00-17:30\nTue 9:00-13:00"})
    assert r.status_code == 302
    assert res.working_hours.count() == 2
    r = c.post(detail, {"hours": "Funday 9-5"})
    assert r.status_code == 400 and "Mon 09:00-17:30" in r.content.decode()
    r = c.post(detail, {"hours": "Mon 17:00-09:00"})
    assert r.status_code == 400


def test_feed_rotation_and_ical(clinic_a, kit_a, patient_a):
    services.appointment_book(
        actor=clinic_a.actor(clinic_a.front_desk),
        patient=patient_a,
        kind="consultation",
        procedure="",
        starts_at=at(next_monday(), 10),
        practitioner_id=kit_a.physician.pk,
        room_id=kit_a.room1.pk,
    )
    c = clinic_a.client(clinic_a.physician)
    r = c.post(reverse("calendar-feeds"), {"resource": kit_a.physician.pk})
    assert r.status_code == 200
    url = r.context["new_url"]
    path = url.split("testserver", 1)[1]
    anon = type(c)()
    feed = anon.get(path)
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    body = feed.content.decode()
    assert "BEGIN:VCALENDAR" in body and body.count("BEGIN:VEVENT") >= 1
    assert "J.Á. A000001" in body and "Álvarez" not in body  # initials, never names
    # rotate: the old address stops working
    c.post(reverse("calendar-feeds"), {"resource": kit_a.physician.pk})
    assert anon.get(path).status_code == 404
    assert anon.get("/calendar/feed/nonsense.ics").status_code == 404
    # a nurse cannot rotate the physician's feed; only their own
    r = clinic_a.client(clinic_a.nurse).post(
        reverse("calendar-feeds"), {"resource": kit_a.physician.pk}
    )
    assert r.status_code == 403
    assert CalendarFeedToken.objects.count() == 1


def test_book_single_appointment_page(clinic_a, kit_a, patient_a):
    c = clinic_a.client(clinic_a.front_desk)
    url = reverse("appointment-new", args=[patient_a.pk])
    assert c.get(url).status_code == 200
    day = next_monday()
    r = c.post(
        url,
        {
            "kind": "consultation",
            "date": day.isoformat(),
            "time": "10:00",
            "practitioner": kit_a.physician.pk,
            "room": kit_a.room1.pk,
        },
    )
    assert r.status_code == 302
    r = c.post(
        url,
        {
            "kind": "consultation",
            "date": day.isoformat(),
            "time": "10:00",
            "practitioner": kit_a.physician.pk,
            "room": kit_a.room2.pk,
        },
    )
    assert r.status_code == 400 and "is already booked at" in r.content.decode()
    assert Appointment.objects.count() == 1
    assert clinic_a.client(clinic_a.admin).get(url).status_code == 403


def test_other_clinic_kit_is_not_offered(clinic_a, clinic_b, kit_a, patient_a):
    kit_b = make_kit(clinic_b)
    with pytest.raises(Exception, match="Choose an active"):
        services.appointment_book(
            actor=clinic_a.actor(clinic_a.front_desk),
            patient=patient_a,
            kind="consultation",
            procedure="",
            starts_at=at(next_monday(), 10),
            practitioner_id=kit_b.physician.pk,
            room_id=kit_a.room1.pk,
        )


def test_chart_timeline_shows_plan_and_appointments(clinic_a, kit_a, patient_a):
    _book(clinic_a, patient_a)
    html = (
        clinic_a.client(clinic_a.physician)
        .get(reverse("patient-detail", args=[patient_a.pk]))
        .content.decode()
    )
    assert "Plan: PRP for androgenetic alopecia" in html
    assert "Induction 3 — booked" in html
