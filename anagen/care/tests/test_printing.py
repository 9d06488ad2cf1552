"""Printing: consent (with its drawn signature and fingerprint), session record, intake summary,
quote, aftercare sheet and what-to-expect page, as pages and as audited PDFs."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from pypdf import PdfReader

from anagen.audit.models import AuditEvent
from anagen.care import services
from anagen.care.tests.helpers import consent, record_intake
from anagen.clinical import patient_texts

pytestmark = pytest.mark.django_db

# A 1 × 1 white PNG: what a canvas gives, in miniature.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="
)
SIGNATURE = "data:image/png;base64," + base64.b64encode(PNG).decode()


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(response.content)).pages
    assert all((p.extract_text() or "").strip() for p in pages)  # no empty page
    return " ".join(" ".join((p.extract_text() or "").split()) for p in pages)


def test_drawn_signature_is_in_the_snapshot_and_its_hash(clinic_a, patient_a):
    signed = services.consent_sign(
        actor=clinic_a.actor(clinic_a.nurse),
        patient=patient_a,
        kind="prp_scalp",
        signed_name=patient_a.full_name,
        agreed=True,
        signature=SIGNATURE,
    )
    assert SIGNATURE in signed.snapshot_html
    assert services.sha256_of(signed.snapshot_html) == signed.sha256
    event = AuditEvent.objects.filter(action="consent.sign").get()
    assert event.changes["drawn_signature"] is True


@pytest.mark.parametrize(
    "bad",
    [
        "data:image/svg+xml;base64,PHN2Zz4=",
        "data:image/png;base64,not base64!",
        "data:image/png;base64," + base64.b64encode(b"GIF89a....").decode(),
        'data:image/png;base64,"><script>',
    ],
)
def test_a_bad_drawing_is_refused_with_a_clear_error(clinic_a, patient_a, bad):
    with pytest.raises(ValidationError) as exc:
        services.consent_sign(
            actor=clinic_a.actor(clinic_a.nurse),
            patient=patient_a,
            kind="prp_scalp",
            signed_name=patient_a.full_name,
            agreed=True,
            signature=bad,
        )
    assert "signature" in exc.value.message_dict


def test_signing_page_offers_the_pad_only_where_the_clinic_wants_it(clinic_a, patient_a):
    c = clinic_a.client(clinic_a.nurse)
    url = f"/patients/{patient_a.pk}/consents/prp_scalp/sign/"
    page = c.get(url).content.decode()
    assert "signature-pad" not in page
    clinic_a.clinic.consent_drawn_signature = True
    clinic_a.clinic.save()
    page = c.get(url).content.decode()
    assert 'id="signature-pad"' in page and "care/signature.js" in page
    assert "<script>" not in page  # no inline script (CSP)
    # the typed name alone still signs (no JavaScript, nothing drawn)
    r = c.post(url, {"template_version": 1, "signed_name": patient_a.full_name, "agreed": "on"})
    assert r.status_code == 302
    r = c.post(
        url,
        {
            "template_version": 1,
            "signed_name": patient_a.full_name,
            "agreed": "on",
            "signature": SIGNATURE,
        },
    )
    assert r.status_code == 302
    detail = c.get(r["Location"]).content.decode()
    assert "Signature drawn by" in detail and "consent-pdf" in detail


def test_consent_pdf_has_the_signed_text_the_drawing_and_the_fingerprint(
    clinic_a, clinic_b, patient_a
):
    signed = services.consent_sign(
        actor=clinic_a.actor(clinic_a.nurse),
        patient=patient_a,
        kind="prp_scalp",
        signed_name=patient_a.full_name,
        agreed=True,
        signature=SIGNATURE,
    )
    url = f"/patients/{patient_a.pk}/consents/{signed.pk}/pdf/"
    text = _text(clinic_a.client(clinic_a.physician).get(url))
    assert "Signed consent" in text and patient_a.full_name in text
    assert signed.sha256 in text.replace(" ", "")
    assert "Signature (drawn by the patient)" in text
    assert "matches this fingerprint" in text
    assert clinic_a.clinic.name in text
    event = AuditEvent.objects.filter(action="consent.pdf").get()
    assert event.patient_id == patient_a.pk and event.object_id == str(signed.pk)
    assert clinic_b.client(clinic_b.physician).get(url).status_code == 404


def test_aftercare_sheet_page_and_pdf_in_plain_words(clinic_a):
    c = clinic_a.client(clinic_a.nurse)
    page = c.get("/care/aftercare/prp_scalp/").content.decode()
    assert "After your scalp PRP treatment" in page and "/care/aftercare/prp_scalp/pdf/" in page
    text = _text(c.get("/care/aftercare/prp_scalp/pdf/"))
    assert "What is normal" in text and "Call us if you have" in text
    assert "Alcohol for 24 hours" in text and "version 1.0.0" in text
    assert AuditEvent.objects.filter(action="aftercare.pdf").count() == 1
    assert c.get("/care/aftercare/no_such_thing/").status_code == 404
    assert c.get("/care/aftercare/no_such_thing/pdf/").status_code == 404


def test_every_procedure_has_an_aftercare_sheet_and_a_what_to_expect_page():
    from anagen.clinical.vocabularies import PROCEDURES

    for code in PROCEDURES:
        after = patient_texts.aftercare(code)
        expect = patient_texts.what_to_expect(code)
        assert after is not None and expect is not None, code
        assert after.version and after.source and expect.version and expect.source
        for key in ("normal", "do", "avoid", "call_us"):
            assert after.sections[key], (code, key)
        assert expect.sections["references"], code


def test_what_to_expect_states_a_modest_average_not_a_promise(clinic_a, patient_a):
    c = clinic_a.client(clinic_a.front_desk)
    page = c.get("/care/what-to-expect/prp_scalp/").content.decode()
    assert "What to expect from PRP for hair loss" in page
    text = _text(c.get("/care/what-to-expect/prp_scalp/pdf/"))
    assert "14 to 28 more hairs" in text and "modest gain" in text
    assert "not a promise" in text and "found no benefit" in text
    assert "Giordano S et al. 2018" in text
    assert AuditEvent.objects.filter(action="what_to_expect.pdf").count() == 1
    assert "care/what-to-expect/prp_scalp/" in c.get("/care/sheets/").content.decode()


def test_intake_summary_pdf(clinic_a, clinic_b, patient_a):
    intake = record_intake(clinic_a, patient_a)
    url = f"/patients/{patient_a.pk}/intake/{intake.version}/pdf/"
    text = _text(clinic_a.client(clinic_a.nurse).get(url))
    assert "Intake summary" in text and patient_a.record_number in text and "Medications" in text
    assert AuditEvent.objects.filter(action="intake.pdf", patient=patient_a).count() == 1
    page = clinic_a.client(clinic_a.nurse).get(f"/patients/{patient_a.pk}/intake/1/")
    assert url in page.content.decode()
    assert clinic_b.client(clinic_b.nurse).get(url).status_code == 404


def test_session_record_pdf_and_its_aftercare_link(clinic_a, patient_a):
    from anagen.procedures.tests.helpers import complete_prp, ready_patient, start

    ready_patient(clinic_a, patient_a)
    session = complete_prp(clinic_a, start(clinic_a, patient_a))
    c = clinic_a.client(clinic_a.physician)
    base = f"/patients/{patient_a.pk}/sessions/{session.pk}/"
    page = c.get(base).content.decode()
    assert f"{base}pdf/" in page and "/care/aftercare/prp_scalp/" in page
    text = _text(c.get(f"{base}pdf/"))
    assert "Session record" in text and "Where it was given" in text and "K-1001" in text
    assert AuditEvent.objects.filter(action="procedures.session.pdf").count() == 1


def test_quote_pdf(clinic_a, patient_a):
    from anagen.billing import services as billing
    from anagen.billing.tests.helpers import prices
    from anagen.scheduling.models import TreatmentPlan

    prices(clinic_a)
    plan = TreatmentPlan.objects.create(
        clinic=clinic_a.clinic, patient=patient_a, protocol_id="prp-aga-monthly-3",
        protocol_name="PRP AGA", procedure="prp_scalp", start_on=dt.date(2026, 1, 5),
        created_by=clinic_a.physician,
    )  # fmt: skip
    quote = billing.quote_from_plan(actor=clinic_a.actor(clinic_a.front_desk), plan=plan)
    c = clinic_a.client(clinic_a.front_desk)
    assert (
        f"/billing/quotes/{quote.pk}/pdf/" in c.get(f"/billing/quotes/{quote.pk}/").content.decode()
    )
    text = _text(c.get(f"/billing/quotes/{quote.pk}/pdf/"))
    assert f"Quote {quote.display_number}" in text and "Deposit on acceptance" in text
    assert AuditEvent.objects.filter(action="billing.quote.pdf").count() == 1
    # what to expect is linked from the plan
    page = clinic_a.client(clinic_a.physician).get(f"/plans/{plan.pk}/").content.decode()
    assert "/care/what-to-expect/prp_scalp/" in page


def test_old_consents_print_too(clinic_a, patient_a):
    signed = consent(clinic_a, patient_a)
    url = f"/patients/{patient_a.pk}/consents/{signed.pk}/pdf/"
    text = _text(clinic_a.client(clinic_a.nurse).get(url))
    assert "Signature (drawn" not in text and patient_a.full_name in text
