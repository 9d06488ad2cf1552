"""Issue 14, item 4: the session record keeps your place, asks before signing, and a signed record
reads as a document (no form fields in its sections)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from anagen.procedures import services
from anagen.procedures.models import SessionStatus
from anagen.procedures.tests.helpers import complete_prp, ready_patient, start

pytestmark = pytest.mark.django_db

RECORD_SECTIONS = ("phases", "preparation", "details", "delivery", "lots", "checklist")
FIELD = re.compile(r"<(input|select|textarea)\b", re.I)


def _url(name, session, *extra):
    return reverse(name, args=[session.patient_id, session.pk, *extra])


def _section(html: str, section_id: str) -> str:
    start_at = html.index(f'<section class="card" id="{section_id}"')
    return html[start_at : html.index("</section>", start_at)]


@pytest.fixture
def session(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    return start(clinic_a, patient_a)


def test_sign_without_confirmation_signs_nothing_and_asks(clinic_a, session):
    complete_prp(clinic_a, session)
    physician = clinic_a.client(clinic_a.physician)
    asked = physician.post(_url("procedures-session-sign", session))
    assert asked.status_code == 200
    html = asked.content.decode()
    assert "Sign and lock the PRP injection, scalp record" in html
    assert 'name="confirm" value="yes"' in html and "Yes, sign and lock" in html
    session.refresh_from_db()
    assert session.status != SessionStatus.SIGNED
    # The page's own button asks first (no inline script: a data attribute read by confirm.js).
    page = physician.get(_url("procedures-session-detail", session)).content.decode()
    assert 'data-confirm="Sign and lock this session record?' in page
    assert (
        physician.post(_url("procedures-session-sign", session), {"confirm": "yes"}).status_code
        == 302
    )
    session.refresh_from_db()
    assert session.status == SessionStatus.SIGNED


def test_assessment_sign_and_staff_deactivation_need_confirmation(clinic_a, patient_a):
    from anagen.accounts.models import Membership
    from anagen.care.tests.helpers import assess

    draft = assess(clinic_a, patient_a, sign=False)
    physician = clinic_a.client(clinic_a.physician)
    url = reverse("care-assessment-sign", args=[patient_a.pk, draft.version])
    asked = physician.post(url)
    assert asked.status_code == 200 and "Yes, sign the assessment" in asked.content.decode()
    draft.refresh_from_db()
    assert not draft.is_signed
    assert physician.post(url, {"confirm": "yes"}).status_code == 302
    draft.refresh_from_db()
    assert draft.is_signed
    # The signed assessment reads as a document: facts, no form fields.
    html = physician.get(reverse("care-assessment-detail", args=[patient_a.pk, draft.version]))
    facts = html.content.decode().split('id="assessment-facts"')[1].split("</section>")[0]
    assert "<dt>" in facts and not FIELD.search(facts)

    admin = clinic_a.client(clinic_a.admin)
    nurse = Membership.objects.get(user=clinic_a.nurse, clinic=clinic_a.clinic)
    asked = admin.post(reverse("staff-active", args=[nurse.pk]), {"active": "0"})
    assert asked.status_code == 200 and "Yes, deactivate" in asked.content.decode()
    nurse.refresh_from_db()
    assert nurse.is_active


def test_signed_record_reads_as_a_document(clinic_a, session):
    complete_prp(clinic_a, session)
    services.session_sign(actor=clinic_a.actor(clinic_a.physician), session=session)
    physician = clinic_a.client(clinic_a.physician)
    html = physician.get(_url("procedures-session-detail", session)).content.decode()
    for section_id in RECORD_SECTIONS:
        part = _section(html, section_id)
        assert not FIELD.search(part), (section_id, FIELD.search(part))
    details = _section(html, "details")
    assert "<dl" in details and "Aftercare instructions given" in details and "Yes" in details
    assert "Amend the session details" in details
    # Amending one section opens its form (with the reason), the others stay a document.
    amend = physician.get(_url("procedures-session-detail", session) + "?amend=details")
    html = amend.content.decode()
    assert 'name="reason"' in _section(html, "details")
    assert not FIELD.search(_section(html, "preparation"))


def test_a_refused_section_renders_at_the_page_address_with_the_error_beside_its_field(
    clinic_a, session
):
    nurse = clinic_a.client(clinic_a.nurse)
    page = _url("procedures-session-detail", session)
    html = nurse.get(page).content.decode()
    assert f'action="{page}#details"' in html and 'hx-target="#details"' in html
    data = {"section": "details", "delivery_mode": "injection", "rotor_radius_cm": "99"}
    response = nurse.post(page, data)
    assert response.status_code == 400
    html = response.content.decode()
    part = _section(html, "details")
    field = re.search(r'<div class="field has-error">(.*?)</div>', part, re.S)
    assert field is not None, part
    assert 'name="rotor_radius_cm"' in field.group(1) and "autofocus" in field.group(1)
    assert 'class="error"' in field.group(1)
    # Saved: back to the page's own address at the section.
    data["rotor_radius_cm"] = "10"
    done = nurse.post(page, data)
    assert done.status_code == 302 and done["Location"] == f"{page}#details"
    # Through htmx the section comes back (200) with its note, for an in-place swap.
    swapped = nurse.post(page, data, headers={"HX-Request": "true"})
    assert swapped.status_code == 200
    assert 'class="saved"' in _section(swapped.content.decode(), "details")
    data["rotor_radius_cm"] = "99"
    refused = nurse.post(page, data, headers={"HX-Request": "true"})
    assert refused.status_code == 200 and "has-error" in _section(
        refused.content.decode(), "details"
    )
