"""No lost updates on the pages: a form loaded before someone else saved is refused, says who
changed the record and when, and keeps everything the user typed."""

from __future__ import annotations

import re

from anagen.patients.models import Intake
from anagen.patients.services import IntakeData, intake_record


def _version(html: str) -> str:
    found = re.search(r'name="record_version" value="([^"]*)"', html)
    assert found, "the form carries the version it was loaded with"
    return found.group(1)


INTAKE = {
    "smoking": "former",
    "notes": "Typed by the physician: shedding since spring.",
    **{
        f"{name}-{key}": value
        for name in ("medications", "allergies", "labs", "prior_procedures", "prior_treatments")
        for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
    },
}


def test_a_stale_intake_form_is_refused_with_who_and_nothing_is_lost(clinic_a, patient_a):
    intake_record(actor=clinic_a.actor(clinic_a.nurse), patient=patient_a, data=IntakeData())
    url = f"/patients/{patient_a.pk}/intake/new/"
    physician = clinic_a.client(clinic_a.physician)
    loaded = _version(physician.get(url).content.decode())

    # Meanwhile the nurse records version 2 from her own screen.
    nurse = clinic_a.client(clinic_a.nurse)
    nurse_form = _version(nurse.get(url).content.decode())
    assert nurse_form == loaded
    saved = nurse.post(url, {**INTAKE, "notes": "Nurse's note", "record_version": nurse_form})
    assert saved.status_code == 302

    refused = physician.post(url, {**INTAKE, "record_version": loaded})
    html = refused.content.decode()
    assert refused.status_code == 409
    assert 'id="stale-edit"' in html
    assert "a Nurse recorded intake version 2" in html  # the nurse's full name
    assert re.search(r"on \w{3} \d{1,2} \w{3} \d{4}, \d{2}:\d{2}", html)  # when, in words
    assert "Typed by the physician: shedding since spring." in html  # the input is kept
    assert Intake.objects.filter(patient=patient_a).count() == 2

    # Saving again after looking is accepted, as the next version.
    again = physician.post(url, {**INTAKE, "record_version": _version(html)})
    assert again.status_code == 302
    latest = Intake.objects.filter(patient=patient_a).order_by("-version").first()
    assert latest is not None and latest.version == 3
    assert latest.notes == "Typed by the physician: shedding since spring."


def test_a_stale_patient_edit_is_refused_with_who_and_nothing_is_lost(clinic_a, patient_a):
    url = f"/patients/{patient_a.pk}/edit/"
    desk = clinic_a.client(clinic_a.front_desk)
    loaded = _version(desk.get(url).content.decode())
    form = {
        "given_name": "José",
        "family_name": "Álvarez",
        "birth_date": "1984-05-02",
        "sex": "male",
        "phone": "07700 900123",
        "email": "jose@example.com",
        "address": "",
        "preferred_language": "en",
        "sms_reminders": "on",
    }
    nurse = clinic_a.client(clinic_a.nurse)
    changed = nurse.post(
        url,
        {
            **form,
            "email": "new@example.com",
            "record_version": _version(nurse.get(url).content.decode()),
        },
    )
    assert changed.status_code == 302

    refused = desk.post(url, {**form, "address": "1 Typed Street", "record_version": loaded})
    html = refused.content.decode()
    assert refused.status_code == 409
    assert "a Nurse changed these details on" in html
    assert "1 Typed Street" in html
    patient_a.refresh_from_db()
    assert patient_a.email == "new@example.com" and patient_a.address == ""


def test_a_form_posted_without_a_version_is_still_saved(clinic_a, patient_a):
    # Older pages and scripts: nothing to compare, the save goes through as before.
    r = clinic_a.client(clinic_a.nurse).post(f"/patients/{patient_a.pk}/intake/new/", INTAKE)
    assert r.status_code == 302
