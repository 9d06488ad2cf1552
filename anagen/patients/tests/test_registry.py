import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from anagen.audit.models import AuditEvent
from anagen.patients.selectors import patient_search
from anagen.patients.services import DuplicatePatientError, patient_create, patient_update
from conftest import make_patient


def test_register_normalises_phone_and_issues_record_number(clinic_a):
    p = make_patient(clinic_a)
    assert p.phone == "+447700900123"
    assert p.record_number == "A000001"
    assert make_patient(clinic_a, given_name="Other").record_number == "A000002"
    event = AuditEvent.objects.get(action="patient.create", patient=p)
    assert event.actor == clinic_a.front_desk and event.clinic == clinic_a.clinic


def test_duplicate_name_and_birth_date_is_detected_ignoring_case_and_accents(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.nurse)
    data = {
        "given_name": "jose",
        "family_name": "ALVAREZ",
        "birth_date": dt.date(1984, 5, 2),
        "sex": "male",
    }
    with pytest.raises(DuplicatePatientError) as exc:
        patient_create(actor=actor, data=data)
    assert exc.value.duplicates == [patient_a]
    # Confirming that it is a different person registers them.
    assert patient_create(actor=actor, data=data, confirm_duplicate=True).pk != patient_a.pk


def test_duplicate_check_is_scoped_to_the_clinic(clinic_a, clinic_b, patient_a):
    make_patient(clinic_b)  # same person data in another clinic: not a duplicate there


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("birth_date", dt.date(2999, 1, 1), "future"),
        ("phone", "12", "phone"),
        ("given_name", "   ", "required"),
        ("sex", "x", "Choose"),
    ],
)
def test_bad_patient_data_names_the_field(clinic_a, field, value, message):
    data = {"given_name": "A", "family_name": "B", "birth_date": dt.date(1990, 1, 1), "sex": "male"}
    data[field] = value
    with pytest.raises(ValidationError) as exc:
        patient_create(actor=clinic_a.actor(clinic_a.nurse), data=data)
    assert message.lower() in " ".join(exc.value.message_dict[field]).lower()


def test_sms_consent_needs_a_phone(clinic_a):
    with pytest.raises(ValidationError) as exc:
        make_patient(clinic_a, phone="", sms_reminders=True)
    assert "sms_reminders" in exc.value.message_dict


def test_update_audits_old_and_new_values(clinic_a, patient_a):
    patient_update(
        actor=clinic_a.actor(clinic_a.front_desk),
        patient=patient_a,
        data={"email": "new@example.com", "email_reminders": True},
    )
    event = AuditEvent.objects.get(action="patient.update")
    assert event.changes["email"] == ["jose@example.com", "new@example.com"]
    assert patient_a.history.count() == 2  # row history kept by simple-history


@pytest.mark.parametrize(
    "query",
    [
        "jose",
        "JOSÉ",
        "alvarez jose",
        "Álv",
        "1984-05-02",
        "02/05/1984",
        "07700 900123",
        "+44 7700 900123",
        "a000001",
    ],
)
def test_search_by_name_birth_date_phone_or_record_number(clinic_a, patient_a, query):
    make_patient(
        clinic_a,
        given_name="Maria",
        family_name="Silva",
        birth_date=dt.date(1990, 1, 1),
        phone="07700 900999",
    )
    assert list(patient_search(actor=clinic_a.actor(clinic_a.front_desk), query=query)) == [
        patient_a
    ]


def test_search_never_returns_another_clinics_patient(clinic_a, patient_a, patient_b):
    assert list(patient_search(actor=clinic_a.actor(clinic_a.nurse), query="")) == [patient_a]
    assert list(patient_search(actor=clinic_a.actor(clinic_a.nurse), query="Beatriz")) == []


def test_patient_list_page_paginates_and_searches(clinic_a, settings):
    settings.PATIENT_PAGE_SIZE = 5
    for i in range(12):
        make_patient(clinic_a, given_name=f"Name{i:02d}", family_name="Test")
    client = clinic_a.client(clinic_a.front_desk)
    page3 = client.get("/patients/", {"page": 3})
    assert page3.status_code == 200
    assert b"Page 3 of 3" in page3.content and b"Name10" in page3.content
    assert b"Name00" not in page3.content
    found = client.get("/patients/", {"q": "name07"})
    assert b"Name07" in found.content and b"1 patient " in found.content
    empty = client.get("/patients/", {"q": "nobody-like-this"})
    assert b"No patient matches" in empty.content
    # htmx live search returns only the results fragment.
    partial = client.get("/patients/", {"q": "name07"}, headers={"HX-Request": "true"})
    assert b"<html" not in partial.content and b"Name07" in partial.content


def test_register_page_shows_errors_and_duplicate_warning(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.front_desk)
    bad = client.post(
        "/patients/new/",
        {"given_name": "", "family_name": "X", "birth_date": "2999-01-01", "sex": "male"},
    )
    assert bad.status_code == 400
    assert b"This field is required." in bad.content
    form = {
        "given_name": "José",
        "family_name": "Álvarez",
        "birth_date": "1984-05-02",
        "sex": "male",
    }
    dup = client.post("/patients/new/", form)
    assert dup.status_code == 400 and b"Possible duplicate" in dup.content
    ok = client.post("/patients/new/", {**form, "confirm_duplicate": "on"})
    assert ok.status_code == 302


def test_edit_page_saves_contact_preferences(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.front_desk)
    form = {
        "given_name": "José",
        "family_name": "Álvarez",
        "birth_date": "1984-05-02",
        "sex": "male",
        "phone": "",
        "email": "j@example.com",
        "email_reminders": "on",
    }
    assert client.post(f"/patients/{patient_a.pk}/edit/", form).status_code == 302
    patient_a.refresh_from_db()
    assert patient_a.email_reminders and not patient_a.sms_reminders and patient_a.phone == ""
    bad = client.post(f"/patients/{patient_a.pk}/edit/", {**form, "sms_reminders": "on"})
    assert bad.status_code == 400 and b"SMS reminders need a phone number." in bad.content


def test_a_search_that_fits_on_its_first_page_is_read_without_a_count(clinic_a, settings):
    """Issue 15: the first page is read before anything is counted; a full first page still
    says how many match, and later pages page as before."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.PATIENT_PAGE_SIZE = 5
    for i in range(7):
        make_patient(clinic_a, given_name=f"Name{i:02d}", family_name="Test")
    client = clinic_a.client(clinic_a.front_desk)
    client.get("/patients/", {"q": "name03"})
    with CaptureQueriesContext(connection) as few:
        found = client.get("/patients/", {"q": "name03"})
    assert b"Name03" in found.content and b"1 patient " in found.content
    # One read of patients: no count of its own (a name's count rides in the page's query).
    assert len([q for q in few.captured_queries if "patients_patient" in q["sql"]]) == 1
    full = client.get("/patients/", {"q": "test"})
    assert b"7 patients" in full.content and b"Page 1 of 2" in full.content
    second = client.get("/patients/", {"q": "test", "page": 2})
    assert b"7 patients" in second.content and b"Page 2 of 2" in second.content
    assert b"Name06" in second.content and b"Name00" not in second.content
