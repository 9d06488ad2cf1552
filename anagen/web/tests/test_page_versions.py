"""No lost updates on every page that edits (anagen.web.versions): a form loaded before someone
else saved is refused, says who changed the record and when, and keeps what was typed; a form
loaded from the record as it is now saves; signing, closing, issuing and removing are refused
when the record changed since the page was loaded."""

from __future__ import annotations

import html as htmllib
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from anagen.audit.models import AuditEvent
from anagen.billing import services as billing
from anagen.billing.models import Invoice
from anagen.billing.tests.helpers import prices
from anagen.care import services as care
from anagen.care.models import Assessment, Consent
from anagen.care.tests.helpers import assess, consent
from anagen.procedures import services as procedures
from anagen.procedures.models import SessionStatus
from anagen.procedures.tests.helpers import complete_prp, full_prep, ready_patient, start
from anagen.scheduling import services as scheduling
from anagen.scheduling.models import TreatmentPlan
from anagen.scheduling.tests.conftest import make_kit, next_monday

pytestmark = pytest.mark.django_db

WHEN = r"on \w{3} \d{1,2} \w{3} \d{4}, \d{2}:\d{2}"  # "on Mon 30 Nov 2026, 14:05"


def _version(page: str, after: str = "") -> str:
    """The `record_version` of the first form after the text `after`."""
    start = page.index(after) if after else 0
    found = re.search(r'name="record_version" value="([^"]*)"', page[start:])
    assert found, "the form carries the version it was loaded with"
    return found.group(1)


def _text(response) -> str:
    return htmllib.unescape(response.content.decode())


# --- assessment ------------------------------------------------------------------------------


def _assessment_post(**overrides):
    return {
        "visit_on": "2026-11-02",
        "diagnosis_code": "androgenetic_alopecia",
        "scale": "norwood_hamilton|IV",
        "follicles_present": "yes",
        "pull_test": "not_done",
        "notes": "Temples receding.",
        **overrides,
    }


def test_assessment_edit_stale_is_refused_with_who_and_typing_kept(clinic_a, patient_a):
    assess(clinic_a, patient_a, sign=False)
    url = reverse("care-assessment-edit", args=[patient_a.pk, 1])
    physician = clinic_a.client(clinic_a.physician)
    loaded = _version(physician.get(url).content.decode())

    nurse = clinic_a.client(clinic_a.nurse)
    fresh = _version(nurse.get(url).content.decode())
    assert fresh == loaded
    r = nurse.post(url, _assessment_post(notes="Nurse: crown thinning.", record_version=fresh))
    assert r.status_code == 302

    typed = "Physician: frontal recession, typed while the nurse saved."
    refused = physician.post(url, _assessment_post(notes=typed, record_version=loaded))
    page = _text(refused)
    assert refused.status_code == 409
    assert 'id="stale-edit"' in page
    assert re.search(rf"a Nurse changed this draft assessment {WHEN}", page)
    assert "Nothing was saved" in page
    assert typed in page  # kept in the form
    assert Assessment.objects.get(patient=patient_a).notes == "Nurse: crown thinning."

    # Saving again, with the version the refusal carries, goes through.
    again = physician.post(url, _assessment_post(notes=typed, record_version=_version(page)))
    assert again.status_code == 302
    assert Assessment.objects.get(patient=patient_a).notes == typed


def test_assessment_sign_is_refused_when_it_changed_since_the_page_was_loaded(clinic_a, patient_a):
    assessment = assess(clinic_a, patient_a, sign=False)
    detail = reverse("care-assessment-detail", args=[patient_a.pk, 1])
    sign = reverse("care-assessment-sign", args=[patient_a.pk, 1])
    physician = clinic_a.client(clinic_a.physician)
    loaded = _version(physician.get(detail).content.decode())
    care.assessment_update(
        actor=clinic_a.actor(clinic_a.nurse),
        assessment=assessment,
        data=care.AssessmentData(
            visit_on=assessment.visit_on,
            diagnosis_code="androgenetic_alopecia",
            scale_id="norwood_hamilton",
            scale_value="V",
            follicles_present=True,
        ),
    )
    r = physician.post(sign, {"record_version": loaded, "confirm": "yes"}, follow=True)
    page = _text(r)
    assert re.search(rf"a Nurse changed this assessment {WHEN} after you opened it", page)
    assessment.refresh_from_db()
    assert assessment.signed_at is None

    fresh = _version(physician.get(detail).content.decode())
    assert physician.post(sign, {"record_version": fresh, "confirm": "yes"}).status_code == 302
    assessment.refresh_from_db()
    assert assessment.signed_at is not None


# --- consent -----------------------------------------------------------------------------------


def test_consent_withdraw_stale_is_refused_with_who_and_fresh_one_saves(clinic_a, patient_a):
    c = consent(clinic_a, patient_a)
    detail = reverse("care-consent-detail", args=[patient_a.pk, c.pk])
    withdraw = reverse("care-consent-withdraw", args=[patient_a.pk, c.pk])
    nurse = clinic_a.client(clinic_a.nurse)
    loaded = _version(nurse.get(detail).content.decode())
    care.consent_withdraw(actor=clinic_a.actor(clinic_a.physician), consent=c, reason="Asked to")

    refused = nurse.post(
        withdraw, {"reason": "Typed: patient phoned", "record_version": loaded, "confirm": "yes"}
    )
    page = _text(refused)
    assert refused.status_code == 409
    assert re.search(rf"a Physician changed this consent {WHEN}", page)
    c.refresh_from_db()
    assert c.withdrawn_reason == "Asked to"

    other = consent(clinic_a, patient_a)
    detail = reverse("care-consent-detail", args=[patient_a.pk, other.pk])
    fresh = _version(nurse.get(detail).content.decode())
    r = nurse.post(
        reverse("care-consent-withdraw", args=[patient_a.pk, other.pk]),
        {"reason": "Patient phoned", "record_version": fresh, "confirm": "yes"},
    )
    assert r.status_code == 302
    other.refresh_from_db()
    assert other.is_withdrawn


def test_consent_recorded_meanwhile_is_said_not_doubled_and_typing_kept(clinic_a, patient_a):
    url = reverse("care-consent-sign", args=[patient_a.pk, "prp_scalp"])
    physician = clinic_a.client(clinic_a.physician)
    page = physician.get(url).content.decode()
    loaded = _version(page)
    template_version = re.search(r'name="template_version" value="(\d+)"', page)
    assert template_version
    consent(clinic_a, patient_a)  # the nurse records it meanwhile, from her own screen

    form = {
        "signed_name": patient_a.full_name,
        "agreed": "on",
        "template_version": template_version.group(1),
    }
    refused = physician.post(url, {**form, "record_version": loaded})
    text = _text(refused)
    assert refused.status_code == 409
    assert re.search(rf"a Nurse changed this patient's consent \(.+\) {WHEN}", text)
    assert f'value="{patient_a.full_name}"' in text  # typed, kept
    assert Consent.objects.filter(patient=patient_a).count() == 1

    saved = physician.post(url, {**form, "record_version": _version(text)})
    assert saved.status_code == 302
    assert Consent.objects.filter(patient=patient_a).count() == 2


# --- treatment plan ------------------------------------------------------------------------------


def test_plan_cancel_stale_is_refused_with_who_and_reason_kept(clinic_a, patient_a):
    make_kit(clinic_a)
    plan = scheduling.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id="prp-aga-monthly-3",
        start_on=next_monday(),
    )
    url = reverse("plan-detail", args=[plan.pk])
    desk = clinic_a.client(clinic_a.front_desk)
    loaded = _version(desk.get(url).content.decode())
    scheduling.plan_cancel(
        actor=clinic_a.actor(clinic_a.physician), plan=plan, reason="Patient moved away"
    )

    refused = desk.post(
        url, {"reason": "Typed: cannot afford", "record_version": loaded, "confirm": "yes"}
    )
    page = _text(refused)
    assert refused.status_code == 409
    assert re.search(rf"a Physician changed this plan {WHEN}", page)
    assert AuditEvent.objects.filter(action="plan.cancel").count() == 1  # the physician's only


def test_plan_cancel_with_the_current_version_saves(clinic_a, patient_a):
    make_kit(clinic_a)
    plan = scheduling.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id="prp-aga-monthly-3",
        start_on=next_monday(),
    )
    url = reverse("plan-detail", args=[plan.pk])
    desk = clinic_a.client(clinic_a.front_desk)
    fresh = _version(desk.get(url).content.decode())
    r = desk.post(url, {"reason": "Cannot afford", "record_version": fresh, "confirm": "yes"})
    assert r.status_code == 302
    assert TreatmentPlan.objects.get(pk=plan.pk).status == "cancelled"


# --- invoice -----------------------------------------------------------------------------------


@pytest.fixture
def draft(clinic_a, patient_a) -> Invoice:
    prices(clinic_a)
    desk = clinic_a.actor(clinic_a.front_desk)
    invoice = billing.invoice_create(actor=desk, patient=patient_a)
    billing.invoice_add_line(actor=desk, invoice=invoice, code="consultation")
    return invoice


def test_invoice_add_line_stale_is_refused_with_who_and_line_kept(clinic_a, draft):
    url = reverse("billing-invoice", args=[draft.pk])
    desk = clinic_a.client(clinic_a.front_desk)
    loaded = _version(desk.get(url).content.decode())
    billing.invoice_add_line(actor=clinic_a.actor(clinic_a.admin), invoice=draft, code="minoxidil")

    refused = desk.post(
        reverse("billing-invoice-line-add", args=[draft.pk]),
        {"code": "minoxidil", "quantity": "7", "record_version": loaded},
    )
    page = _text(refused)
    assert refused.status_code == 409
    assert re.search(rf"a Clinic admin changed this invoice {WHEN}", page)
    assert 'value="7"' in page  # the quantity typed is kept
    assert draft.lines.count() == 2

    again = desk.post(
        reverse("billing-invoice-line-add", args=[draft.pk]),
        {"code": "minoxidil", "quantity": "7", "record_version": _version(page)},
    )
    assert again.status_code == 302
    assert draft.lines.count() == 3


def test_invoice_remove_line_asks_first_and_is_refused_when_stale(clinic_a, draft):
    url = reverse("billing-invoice", args=[draft.pk])
    desk = clinic_a.client(clinic_a.front_desk)
    page = desk.get(url).content.decode()
    assert 'data-confirm="Remove Consultation from this draft invoice?"' in page
    line = draft.lines.get()
    remove = reverse("billing-invoice-line-remove", args=[draft.pk, line.pk])
    loaded = _version(page)

    # Without JavaScript: a confirmation step, nothing removed yet.
    asked = desk.post(remove, {"record_version": loaded})
    assert asked.status_code == 200
    assert "Yes, remove the line" in asked.content.decode()
    assert draft.lines.count() == 1

    billing.invoice_add_line(actor=clinic_a.actor(clinic_a.admin), invoice=draft, code="minoxidil")
    refused = desk.post(remove, {"record_version": loaded, "confirm": "yes"})
    assert refused.status_code == 409
    assert re.search(rf"a Clinic admin changed this invoice {WHEN}", _text(refused))
    assert draft.lines.count() == 2

    fresh = _version(desk.get(url).content.decode())
    assert desk.post(remove, {"record_version": fresh, "confirm": "yes"}).status_code == 302
    assert list(draft.lines.values_list("description", flat=True)) == ["Minoxidil 5 % foam"]


def test_invoice_issue_is_refused_when_it_changed_since_the_page_was_loaded(clinic_a, draft):
    url = reverse("billing-invoice", args=[draft.pk])
    issue = reverse("billing-invoice-issue", args=[draft.pk])
    desk = clinic_a.client(clinic_a.front_desk)
    loaded = _version(desk.get(url).content.decode())
    billing.invoice_add_line(actor=clinic_a.actor(clinic_a.admin), invoice=draft, code="minoxidil")

    refused = desk.post(issue, {"record_version": loaded})
    assert refused.status_code == 409
    assert "after you opened it. Nothing was done" in _text(refused)
    draft.refresh_from_db()
    assert not draft.is_issued

    fresh = _version(desk.get(url).content.decode())
    assert desk.post(issue, {"record_version": fresh}).status_code == 302
    draft.refresh_from_db()
    assert draft.is_issued


# --- session record ------------------------------------------------------------------------------


@pytest.fixture
def session(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    return start(clinic_a, patient_a)


def _session_url(session, name="procedures-session-detail"):
    return reverse(name, args=[session.patient_id, session.pk])


def _details(**overrides):
    return {
        "section": "details",
        "delivery_mode": "injection",
        "rotor_radius_cm": "10",
        "notes": "",
        **overrides,
    }


def _saved_by_physician(clinic_a, session) -> None:
    procedures.preparation_record(
        actor=clinic_a.actor(clinic_a.physician), session=session, data=full_prep()
    )


def test_session_section_stale_is_refused_in_the_section_and_typing_kept(clinic_a, session):
    url = _session_url(session)
    nurse = clinic_a.client(clinic_a.nurse)
    loaded = _version(nurse.get(url).content.decode(), after='id="details"')
    _saved_by_physician(clinic_a, session)

    typed = "Typed by the nurse: scalp cleansed twice."
    refused = nurse.post(url, _details(notes=typed, record_version=loaded))
    page = _text(refused)
    assert refused.status_code == 409
    section = page[page.index('id="details"') : page.index('id="delivery"')]
    assert re.search(rf"a Physician changed this session record {WHEN}", section)
    assert "Nothing was saved" in section
    assert typed in section
    session.refresh_from_db()
    assert session.notes == ""

    again = nurse.post(url, _details(notes=typed, record_version=_version(page, 'id="details"')))
    assert again.status_code == 302
    session.refresh_from_db()
    assert session.notes == typed


def test_session_section_in_place_save_refused_inside_the_section(clinic_a, session):
    url = _session_url(session)
    nurse = clinic_a.client(clinic_a.nurse)
    loaded = _version(nurse.get(url).content.decode(), after='id="details"')
    _saved_by_physician(clinic_a, session)

    refused = nurse.post(
        url, _details(notes="Typed in place", record_version=loaded), HTTP_HX_REQUEST="true"
    )
    page = _text(refused)
    assert refused.status_code == 200  # htmx swaps the section with the message in it
    assert "X-Record-Version" not in refused.headers
    section = page[page.index('id="details"') : page.index('id="delivery"')]
    assert "a Physician changed this session record" in section
    assert "Typed in place" in section

    # A fresh in-place save answers with the new version for the page's other forms.
    fresh = _version(page, 'id="details"')
    saved = nurse.post(
        url, _details(notes="Typed in place", record_version=fresh), HTTP_HX_REQUEST="true"
    )
    assert saved.status_code == 200
    new = saved.headers["X-Record-Version"]
    assert new != fresh and _version(_text(saved), 'id="checklist"') == new


def test_own_in_place_saves_do_not_refuse_each_other(clinic_a, session):
    """The same person saving two sections from one page load is not a conflict."""
    url = _session_url(session)
    nurse = clinic_a.client(clinic_a.nurse)
    loaded = _version(nurse.get(url).content.decode(), after='id="details"')
    first = nurse.post(url, _details(notes="one", record_version=loaded), HTTP_HX_REQUEST="true")
    assert "X-Record-Version" in first.headers
    second = nurse.post(url, _details(notes="two", record_version=loaded))
    assert second.status_code == 302
    session.refresh_from_db()
    assert session.notes == "two"


def test_close_asks_first_and_is_refused_when_stale(clinic_a, session):
    url = _session_url(session)
    close = _session_url(session, "procedures-session-close")
    nurse = clinic_a.client(clinic_a.nurse)
    page = nurse.get(url).content.decode()
    assert 'data-confirm="Close this session?' in htmllib.unescape(page)
    loaded = _version(page, 'id="checklist"')

    asked = nurse.post(close, {"record_version": loaded})
    assert asked.status_code == 200
    assert "Yes, close the session" in asked.content.decode()
    session.refresh_from_db()
    assert session.status == SessionStatus.IN_PROGRESS

    _saved_by_physician(clinic_a, session)
    refused = nurse.post(close, {"record_version": loaded, "confirm": "yes"})
    assert refused.status_code == 409
    checklist = _text(refused)[_text(refused).index('id="checklist"') :]
    assert re.search(
        rf"a Physician changed this session record {WHEN} after you opened it", checklist
    )
    session.refresh_from_db()
    assert session.status == SessionStatus.IN_PROGRESS


def test_sign_is_refused_when_the_record_changed_since_the_page_was_loaded(clinic_a, session):
    complete_prp(clinic_a, session)
    url = _session_url(session)
    physician = clinic_a.client(clinic_a.physician)
    loaded = _version(physician.get(url).content.decode(), after='id="checklist"')
    procedures.session_details_update(
        actor=clinic_a.actor(clinic_a.nurse),
        session=session,
        data={"notes": "Added by the nurse after the physician opened the record."},
        reason="",
    )
    sign = _session_url(session, "procedures-session-sign")
    refused = physician.post(sign, {"record_version": loaded, "confirm": "yes"})
    assert refused.status_code == 409
    assert "a Nurse changed this session record" in _text(refused)
    session.refresh_from_db()
    assert not session.is_signed


def test_zone_amounts_typed_are_kept_when_refused(clinic_a, session):
    """The injection map (a table of inputs): every typed volume comes back."""
    url = _session_url(session)
    nurse = clinic_a.client(clinic_a.nurse)
    page = nurse.get(url).content.decode()
    loaded = _version(page, 'value="zones"')
    names = re.findall(r'name="(\w+_volume)"', page)
    assert len(names) >= 2
    _saved_by_physician(clinic_a, session)
    data = {"section": "zones", "record_version": loaded}
    for n, name in enumerate(names[:2]):
        data[name] = str(Decimal("0.3") + n)
    refused = nurse.post(url, data)
    assert refused.status_code == 409
    text = _text(refused)
    for name in names[:2]:
        assert f'name="{name}"' in text
        assert f'value="{data[name]}"' in text
