"""Pages: assessment, screening, consent, consent texts; roles, other clinics, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.audit.models import AuditEvent
from anagen.care import services
from anagen.care.models import Assessment, Consent, ConsentTemplate, ScreeningRecord
from anagen.care.selectors import consent_statuses, consent_template_current
from anagen.care.tests.helpers import assess, consent, ready_patient, record_intake

pytestmark = pytest.mark.django_db


def _assessment_post(**overrides):
    data = {
        "visit_on": timezone.localdate().isoformat(),
        "diagnosis_code": "androgenetic_alopecia",
        "scale": "norwood_hamilton|IV",
        "follicles_present": "yes",
        "pull_test": "not_done",
        "notes": "Temples receding.",
    }
    data.update(overrides)
    return data


def test_nurse_drafts_physician_signs_then_locked(clinic_a, patient_a):
    nurse = clinic_a.client(clinic_a.nurse)
    url = reverse("care-assessment-create", args=[patient_a.pk])
    assert nurse.get(url).status_code == 200
    r = nurse.post(url, _assessment_post())
    assert r.status_code == 302
    a = Assessment.objects.get(patient=patient_a)
    assert (a.version, a.scale_id, a.scale_value, a.signed_at) == (
        1,
        "norwood_hamilton",
        "IV",
        None,
    )

    detail = reverse("care-assessment-detail", args=[patient_a.pk, 1])
    page = nurse.get(detail).content.decode()
    assert "Only a physician can sign." in page and "ICD-10 L64.9" in page
    sign = reverse("care-assessment-sign", args=[patient_a.pk, 1])
    r = nurse.post(sign)
    assert r.status_code == 403
    assert "Your role cannot sign assessments." in r.content.decode()

    physician = clinic_a.client(clinic_a.physician)
    assert physician.post(sign, {"confirm": "yes"}).status_code == 302
    a.refresh_from_db()
    assert a.signed_by == clinic_a.physician
    edit = reverse("care-assessment-edit", args=[patient_a.pk, 1])
    r = physician.post(edit, _assessment_post(notes="changed"), follow=True)
    assert services.SIGNED_LOCKED in r.content.decode()
    a.refresh_from_db()
    assert a.notes == "Temples receding."
    assert AuditEvent.objects.filter(action="assessment.read", patient=patient_a).exists()


def test_draft_can_be_edited(clinic_a, patient_a):
    assess(clinic_a, patient_a, sign=False)
    c = clinic_a.client(clinic_a.nurse)
    r = c.post(
        reverse("care-assessment-edit", args=[patient_a.pk, 1]),
        _assessment_post(scale="norwood_hamilton|V"),
    )
    assert r.status_code == 302
    assert Assessment.objects.get(patient=patient_a).scale_value == "V"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"diagnosis_code": "female_pattern_hair_loss"},
            "Norwood-Hamilton is not a scale for Female pattern hair loss",
        ),
        ({"scale": "salt|", "diagnosis_code": "alopecia_areata"}, "needs the % hair loss"),
        ({"salt_vertex": "20"}, "all four SALT areas"),
        ({"salt_vertex": "120"}, "less than or equal to 100"),
        ({"visit_on": "2999-01-01"}, "cannot be in the future"),
        (
            {"pull_test": "negative", "pull_test_pulled": "50", "pull_test_shed": "12"},
            "reads as positive",
        ),
        ({"pull_test_pulled": "50"}, "Enter both"),
        ({"diagnosis_code": "baldness"}, "Select a valid choice"),
    ],
)
def test_bad_assessment_input_is_400_with_message(clinic_a, patient_a, overrides, message):
    r = clinic_a.client(clinic_a.physician).post(
        reverse("care-assessment-create", args=[patient_a.pk]), _assessment_post(**overrides)
    )
    assert r.status_code == 400
    assert message in r.content.decode()
    assert not Assessment.objects.exists()


def test_salt_assessment_and_pull_test_reading(clinic_a, patient_a):
    r = clinic_a.client(clinic_a.physician).post(
        reverse("care-assessment-create", args=[patient_a.pk]),
        _assessment_post(
            diagnosis_code="alopecia_areata",
            scale="salt|",
            salt_vertex="50",
            salt_posterior="100",
            salt_right="20",
            salt_left="0",
            pull_test_pulled="50",
            pull_test_shed="8",
        ),
    )
    assert r.status_code == 302
    a = Assessment.objects.get()
    assert (str(a.salt_score), a.salt_band, a.scale_value) == ("47.6", "S2", "47.6")
    assert a.pull_test == "positive"  # 8 of 50 = 16% > 10%


def test_salt_fragment(clinic_a):
    c = clinic_a.client(clinic_a.nurse)
    url = reverse("care-salt")
    r = c.post(
        url, {"salt_vertex": "50", "salt_posterior": "100", "salt_right": "20", "salt_left": "0"}
    )
    assert r.status_code == 200
    assert "SALT 47.6" in r.content.decode() and "S2" in r.content.decode()
    r = c.post(url, {"salt_vertex": "50"})
    assert "Enter the % hair loss of all four areas" in r.content.decode()
    r = c.post(
        url, {"salt_vertex": "500", "salt_posterior": "1", "salt_right": "1", "salt_left": "1"}
    )
    assert "between 0 and 100" in r.content.decode()
    assert clinic_a.client(clinic_a.front_desk).post(url, {}).status_code == 403
    assert c.get(url).status_code == 405


def test_screening_page_flow_and_override(clinic_a, patient_a):
    record_intake(clinic_a, patient_a, smoking="current")
    assess(clinic_a, patient_a)
    physician = clinic_a.client(clinic_a.physician)
    r = physician.post(
        reverse("care-screening-create", args=[patient_a.pk]),
        {"procedure": "prp_scalp", "planned_on": timezone.localdate().isoformat()},
    )
    assert r.status_code == 302
    s = ScreeningRecord.objects.get()
    assert s.decision == "review"
    assert s.inputs["patient"]["smoker"] is True
    page = physician.get(r["Location"]).content.decode()
    assert "Tobacco use: a relative contraindication" in page
    # The source reads as a reference (author, year, title), never a file name or a code.
    assert "Le QD (2018). What are contraindications for PRP knee injections? Medscape." in page
    assert "clinical-facts" not in page and ".md" not in page
    assert "Relative contraindication" in page and "Needs a physician&#x27;s review" in page
    assert "Override as eligible" in page

    url = reverse("care-screening-override", args=[patient_a.pk, s.pk])
    nurse = clinic_a.client(clinic_a.nurse)
    assert nurse.post(url, {"reason": "Counselled about smoking risk."}).status_code == 403
    r = physician.post(url, {"reason": "short"})
    assert r.status_code == 400 and "at least 10 characters" in r.content.decode()
    r = physician.post(url, {"reason": "Counselled about smoking risk."})
    assert r.status_code == 302
    s.refresh_from_db()
    assert s.effective_decision == "eligible" and s.override_by == clinic_a.physician
    event = AuditEvent.objects.get(action="screening.override")
    assert event.changes["ruleset"] == s.ruleset and event.changes["inputs"] == s.inputs


def test_contraindicated_cannot_be_overridden_on_the_page(clinic_a, patient_a):
    record_intake(clinic_a, patient_a, conditions=["bleeding_disorder"])
    assess(clinic_a, patient_a)
    s = services.screening_run(
        actor=clinic_a.actor(clinic_a.physician), patient=patient_a, procedure="prp_scalp"
    )
    assert s.decision == "contraindicated"
    c = clinic_a.client(clinic_a.physician)
    page = c.get(reverse("care-screening-detail", args=[patient_a.pk, s.pk])).content.decode()
    assert "A contraindicated result cannot be overridden." in page
    assert "Override as eligible" not in page
    r = c.post(
        reverse("care-screening-override", args=[patient_a.pk, s.pk]),
        {"reason": "I really want to do this."},
    )
    assert r.status_code == 400
    assert "A contraindicated result cannot be overridden." in r.content.decode()
    s.refresh_from_db()
    assert s.override_at is None


def test_screening_errors_are_400(clinic_a, patient_a):
    c = clinic_a.client(clinic_a.nurse)
    url = reverse("care-screening-create", args=[patient_a.pk])
    today = timezone.localdate().isoformat()
    r = c.post(url, {"procedure": "prp_scalp", "planned_on": today})
    assert r.status_code == 400 and "Record an intake before screening." in r.content.decode()
    record_intake(clinic_a, patient_a)
    r = c.post(url, {"procedure": "prp_scalp", "planned_on": today})
    assert r.status_code == 400 and "Record an assessment before screening." in r.content.decode()
    assess(clinic_a, patient_a)
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    r = c.post(url, {"procedure": "prp_scalp", "planned_on": yesterday})
    assert r.status_code == 400 and "cannot be in the past" in r.content.decode()
    r = c.post(url, {"procedure": "botox", "planned_on": today})
    assert r.status_code == 400


def test_consent_sign_view_withdraw(clinic_a, patient_a):
    nurse = clinic_a.client(clinic_a.nurse)
    url = reverse("care-consent-sign", args=[patient_a.pk, "prp_scalp"])
    page = nurse.get(url).content.decode()
    assert "Consent to platelet-rich plasma (PRP) treatment of the scalp" in page
    r = nurse.post(url, {"template_version": 1, "signed_name": "Someone Else", "agreed": "on"})
    assert r.status_code == 400 and "full name as registered (José Álvarez)" in r.content.decode()
    r = nurse.post(url, {"template_version": 1, "signed_name": "jose alvarez"})
    assert r.status_code == 400 and "read and agree" in r.content.decode()
    r = nurse.post(url, {"template_version": 1, "signed_name": "jose alvarez", "agreed": "on"})
    assert r.status_code == 302
    c = Consent.objects.get()
    assert c.witness == clinic_a.nurse and len(c.sha256) == 64
    assert "jose alvarez" in c.snapshot_html and "A000001" in c.snapshot_html
    assert services.sha256_of(c.snapshot_html) == c.sha256
    page = nurse.get(r["Location"]).content.decode()
    assert c.sha256 in page and "matches the stored snapshot" in page and "Valid" in page

    withdraw = reverse("care-consent-withdraw", args=[patient_a.pk, c.pk])
    # Asked first (nothing withdrawn), then a too-short reason is refused.
    assert nurse.post(withdraw, {"reason": "no"}).status_code == 200
    assert nurse.post(withdraw, {"reason": "no", "confirm": "yes"}).status_code == 400
    assert (
        nurse.post(
            withdraw, {"reason": "Patient phoned to withdraw.", "confirm": "yes"}
        ).status_code
        == 302
    )
    c.refresh_from_db()
    assert c.is_withdrawn and c.snapshot_html  # the snapshot stays as signed


def test_stale_template_version_is_refused(clinic_a, patient_a):
    url = reverse("care-consent-sign", args=[patient_a.pk, "prp_scalp"])
    services.consent_template_publish(
        actor=clinic_a.actor(clinic_a.physician),
        kind="prp_scalp",
        title="New PRP text",
        body="Updated text that the patient has not yet read.",
    )
    r = clinic_a.client(clinic_a.nurse).post(
        url, {"template_version": 1, "signed_name": "José Álvarez", "agreed": "on"}
    )
    assert r.status_code == 400 and "Version 2 of this consent was published" in r.content.decode()


def test_front_desk_sees_consent_status_but_cannot_sign_or_read_clinical(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    c = Consent.objects.get()
    fd = clinic_a.client(clinic_a.front_desk)
    page = fd.get(reverse("care-consent-list", args=[patient_a.pk])).content.decode()
    assert "Valid" in page and "Not signed" in page
    assert "Sign again" not in page and ">Sign<" not in page
    for url in [
        reverse("care-consent-sign", args=[patient_a.pk, "prp_scalp"]),
        reverse("care-consent-detail", args=[patient_a.pk, c.pk]),
        reverse("care-assessment-create", args=[patient_a.pk]),
        reverse("care-assessment-detail", args=[patient_a.pk, 1]),
        reverse("care-screening-create", args=[patient_a.pk]),
    ]:
        assert fd.get(url).status_code == 403, url
    assert (
        fd.post(
            reverse("care-consent-withdraw", args=[patient_a.pk, c.pk]), {"reason": "x" * 20}
        ).status_code
        == 403
    )
    # A clinic admin is not clinical either.
    admin = clinic_a.client(clinic_a.admin)
    assert admin.get(reverse("care-assessment-detail", args=[patient_a.pk, 1])).status_code == 403


def test_other_clinic_is_404_everywhere(clinic_a, clinic_b, patient_a, patient_b):
    ready_patient(clinic_b, patient_b)
    s = services.screening_run(
        actor=clinic_b.actor(clinic_b.physician), patient=patient_b, procedure="prp_scalp"
    )
    c = Consent.objects.get(patient=patient_b)
    pid = patient_b.pk
    client = clinic_a.client(clinic_a.physician)
    gets = [
        reverse("care-assessment-create", args=[pid]),
        reverse("care-assessment-detail", args=[pid, 1]),
        reverse("care-assessment-edit", args=[pid, 1]),
        reverse("care-screening-create", args=[pid]),
        reverse("care-screening-detail", args=[pid, s.pk]),
        reverse("care-consent-list", args=[pid]),
        reverse("care-consent-sign", args=[pid, "prp_scalp"]),
        reverse("care-consent-detail", args=[pid, c.pk]),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [
        reverse("care-assessment-sign", args=[pid, 1]),
        reverse("care-screening-override", args=[pid, s.pk]),
        reverse("care-consent-withdraw", args=[pid, c.pk]),
    ]
    for url in posts:
        assert client.post(url, {"reason": "A long enough reason."}).status_code == 404, url
    # Another clinic's screening id under our own patient is a 404 too.
    ready_patient(clinic_a, patient_a)
    assert (
        client.get(reverse("care-screening-detail", args=[patient_a.pk, s.pk])).status_code == 404
    )
    assert client.get(reverse("care-consent-detail", args=[patient_a.pk, c.pk])).status_code == 404
    c.refresh_from_db()
    assert not c.is_withdrawn


def test_consent_texts_admin(clinic_a, clinic_b, patient_a):
    ready_patient(clinic_a, patient_a)
    admin = clinic_a.client(clinic_a.admin)
    page = admin.get(reverse("care-consent-templates")).content.decode()
    assert "v1 (default)" in page
    url = reverse("care-consent-template-publish", args=["prp_scalp"])
    r = admin.post(url, {"kind": "prp_scalp", "title": "Short", "body": "too short"})
    assert r.status_code == 400 and "too short" in r.content.decode()
    current = ConsentTemplate.objects.get(clinic=None, kind="prp_scalp")
    r = admin.post(url, {"kind": "prp_scalp", "title": current.title, "body": current.body})
    assert r.status_code == 400 and "text of the current version" in r.content.decode()
    r = admin.post(
        url,
        {"kind": "prp_scalp", "title": "PRP scalp v2", "body": current.body + "\n\nNew paragraph."},
    )
    assert r.status_code == 302
    t = ConsentTemplate.objects.get(clinic=clinic_a.clinic, kind="prp_scalp")
    assert t.version == 2 and t.published_by == clinic_a.admin
    statuses = {
        s.kind: s.status
        for s in consent_statuses(actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a)
    }
    assert statuses["prp_scalp"] == "needs_reconsent"
    # Clinic B still uses the default text.
    default = consent_template_current(clinic_b.clinic, "prp_scalp")
    assert default is not None and default.version == 1
    for user in (clinic_a.nurse, clinic_a.front_desk):
        assert clinic_a.client(user).get(reverse("care-consent-templates")).status_code == 403
        assert (
            clinic_a.client(user)
            .post(url, {"kind": "prp_scalp", "title": "x", "body": "y" * 30})
            .status_code
            == 403
        )
    assert clinic_a.client(clinic_a.physician).get(url).status_code == 200
    assert admin.get(reverse("care-consent-template-publish", args=["nope"])).status_code == 404


def test_chart_panel_and_timeline_with_bounded_queries(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    services.screening_run(
        actor=clinic_a.actor(clinic_a.physician), patient=patient_a, procedure="prp_scalp"
    )
    c = clinic_a.client(clinic_a.physician)
    url = reverse("patient-detail", args=[patient_a.pk])
    page = c.get(url).content.decode()
    assert 'id="care-panel"' in page
    assert reverse("care-assessment-create", args=[patient_a.pk]) in page  # actions by permission
    assert "Androgenetic alopecia (male pattern), Norwood-Hamilton III vertex" in page
    assert "PRP injection, scalp: Eligible" in page
    assert "PRP, scalp: Valid" in page
    assert "Assessment v1" in page and "Screening PRP injection, scalp: Eligible" in page
    assert "Consent signed: PRP, scalp (v1)" in page
    with CaptureQueriesContext(connection) as few:
        c.get(url)
    for _ in range(5):
        assess(clinic_a, patient_a)
        consent(clinic_a, patient_a, kind="photo_clinical")
        services.screening_run(
            actor=clinic_a.actor(clinic_a.physician), patient=patient_a, procedure="prp_face"
        )
    with CaptureQueriesContext(connection) as many:
        c.get(url)
    assert len(many) == len(few)


def test_follicle_status_is_an_explicit_answer_with_no_default(clinic_a, patient_a):
    nurse = clinic_a.client(clinic_a.nurse)
    url = reverse("care-assessment-create", args=[patient_a.pk])
    form = nurse.get(url).content.decode()
    assert 'value="yes" selected' not in form  # nothing pre-chosen
    r = nurse.post(url, _assessment_post(follicles_present=""))
    assert r.status_code == 400 and "This field is required" in r.content.decode()
    assert not Assessment.objects.filter(patient=patient_a).exists()


def test_scarring_alopecia_with_follicles_not_assessed_asks_for_review(clinic_a, patient_a):
    from anagen.care import services

    record_intake(clinic_a, patient_a)
    nurse = clinic_a.client(clinic_a.nurse)
    url = reverse("care-assessment-create", args=[patient_a.pk])
    r = nurse.post(
        url,
        _assessment_post(
            diagnosis_code="cicatricial_alopecia", scale="", follicles_present="unknown"
        ),
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    assessment = Assessment.objects.get(patient=patient_a)
    assert assessment.follicles_present is None
    page = nurse.get(reverse("care-assessment-detail", args=[patient_a.pk, 1])).content.decode()
    assert "Not assessed" in page
    clinic_a.client(clinic_a.physician).post(
        reverse("care-assessment-sign", args=[patient_a.pk, 1]), {"confirm": "yes"}
    )
    record = services.screening_run(
        actor=clinic_a.actor(clinic_a.physician), patient=patient_a, procedure="prp_scalp"
    )
    assert "scarring_follicles_unknown" in {f["rule"] for f in record.findings}
    assert record.effective_decision != "eligible"
