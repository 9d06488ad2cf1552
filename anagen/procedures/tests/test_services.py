"""The session record's services: gate, kernel labels, delivery totals, lots, AEs, sign, amend."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from anagen.accounts.clinic_time import human_date
from anagen.audit.models import AuditEvent
from anagen.care.tests.helpers import assess, record_intake
from anagen.procedures import selectors, services
from anagen.procedures.models import Amendment, SessionStatus
from anagen.procedures.tests.helpers import complete_prp, full_prep, make_lot, ready_patient, start

pytestmark = pytest.mark.django_db


def test_start_refused_without_consent_with_the_gates_reason(clinic_a, patient_a):
    record_intake(clinic_a, patient_a)
    assess(clinic_a, patient_a)
    with pytest.raises(services.GateRefused) as exc:
        start(clinic_a, patient_a)
    assert "No valid consent for PRP, scalp: none signed." in exc.value.messages


def test_start_keeps_gate_snapshot_and_audits(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    assert session.status == SessionStatus.IN_PROGRESS
    assert session.screening is not None and session.screening.trigger == "pre_session"
    assert session.consent is not None and session.consent.kind == "prp_scalp"
    assert session.checked_in_at is not None
    assert AuditEvent.objects.filter(action="procedures.session.start", patient=patient_a).exists()


def test_front_desk_and_admin_cannot_start(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    for user in (clinic_a.front_desk, clinic_a.admin):
        with pytest.raises(PermissionDenied):
            start(clinic_a, patient_a, user=user)


def test_other_clinics_patient_is_404(clinic_a, clinic_b, patient_b):
    with pytest.raises(Http404):
        start(clinic_a, patient_b)


def test_preparation_labels_come_from_the_kernel(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    prep = services.preparation_record(
        actor=clinic_a.actor(clinic_a.nurse), session=session, data=full_prep()
    )
    c = prep.computed
    assert c["fold"] == 6.4
    assert c["dose_billion"] == 1.79
    assert c["efficiency_pct"] == 89.6
    assert c["purity_pct"] == 97.4
    assert c["paw"]["code"] == "P4-x-B-β"
    assert c["mishra"]["code"] == "4A"
    assert c["dohan_ehrenfest"] == "P-PRP"
    assert c["depa"] == {
        "dose": "C",
        "efficiency": "B",
        "purity": "A",
        "activation": "calcium_gluconate",
    }
    assert c["spins"][1]["rcf_g"] == 1600
    assert prep.kernel_version.startswith("prp_classifications@")


def test_rpm_takes_the_centrifuge_radius_and_is_converted_to_g(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    with pytest.raises(ValidationError) as exc:
        services.preparation_record(
            actor=nurse,
            session=session,
            data={"blood_volume_ml": Decimal("10"), "spins": [{"rpm": 3000, "minutes": 15}]},
        )
    assert "rpm alone cannot be converted to g" in exc.value.message_dict["spins"][0]
    services.session_details_update(
        actor=nurse, session=session, data={"rotor_radius_cm": Decimal("10")}
    )
    prep = services.preparation_record(
        actor=nurse,
        session=session,
        data={"blood_volume_ml": Decimal("10"), "spins": [{"rpm": 3000, "minutes": 15}]},
    )
    # No counts yet: the spins are converted (1006 g, clinical-facts.md 2.4) and labels wait.
    assert prep.computed["spins"][0]["rcf_g"] == 1006
    assert "baseline platelets" in prep.computed["missing"]
    assert not prep.labels_ready


def test_kernel_errors_land_on_fields(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    with pytest.raises(ValidationError) as exc:
        services.preparation_record(
            actor=clinic_a.actor(clinic_a.nurse),
            session=session,
            data=full_prep(injected_volume_ml=Decimal("5")),
        )
    assert "injected_volume_ml" in exc.value.message_dict


def test_flags_bovine_thrombin_and_low_fold(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    prep = services.preparation_record(
        actor=clinic_a.actor(clinic_a.nurse),
        session=session,
        data=full_prep(activation_agent="bovine_thrombin", prp_platelets_per_ul=300000),
    )
    codes = {f.get("code") or f.get("rule") for f in selectors.preparation_flags(session, prep)}
    assert {"bovine_thrombin", "min_fold", "fold"} <= codes


def test_delivery_totals_must_agree(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    services.preparation_record(actor=nurse, session=session, data=full_prep())
    services.delivery_record(
        actor=nurse,
        session=session,
        zones=[{"zone": "frontal", "volume_ml": Decimal("1.0"), "technique": "nappage"}],
    )
    totals = selectors.delivery_totals(session)
    assert not totals.ok
    assert "do not match the 1.54 mL" in totals.message
    services.delivery_record(
        actor=nurse,
        session=session,
        zones=[
            {"zone": "frontal", "volume_ml": Decimal("1.0"), "technique": "nappage"},
            {"zone": "vertex", "volume_ml": Decimal("0.5"), "technique": "nappage"},
        ],
    )
    assert selectors.delivery_totals(session).ok  # 1.50 vs 1.54: within 0.1 mL
    with pytest.raises(ValidationError):
        services.delivery_record(
            actor=nurse,
            session=session,
            zones=[{"zone": "cheek_left", "volume_ml": 1, "technique": "nappage"}],
        )


def test_expired_lot_refused_with_clear_message(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    lot = make_lot(clinic_a, number="OLD-1", expires_in_days=-3)
    with pytest.raises(ValidationError) as exc:
        services.lot_use_record(actor=clinic_a.actor(clinic_a.nurse), session=session, lot=lot)
    expired = human_date(timezone.localdate() - dt.timedelta(days=3))
    assert exc.value.message_dict["lot"] == [
        f"Lot OLD-1 of RegenKit A expired on {expired}; choose another lot."
    ]


def test_other_clinics_lot_is_404_and_stock_is_limited(clinic_a, clinic_b, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    with pytest.raises(Http404):
        services.lot_use_record(actor=nurse, session=session, lot=make_lot(clinic_b))
    lot = make_lot(clinic_a, quantity=2)
    services.lot_use_record(actor=nurse, session=session, lot=lot, quantity=2)
    with pytest.raises(ValidationError) as exc:
        services.lot_use_record(actor=nurse, session=session, lot=lot, quantity=1)
    assert "Only 0 left" in exc.value.message_dict["quantity"][0]


def test_receiving_an_expired_lot_is_refused(clinic_a):
    with pytest.raises(ValidationError) as exc:
        make_lot(clinic_a, expires_in_days=0, number="X")  # fine: expires today
        services.lot_receive(
            actor=clinic_a.actor(clinic_a.nurse),
            product=selectors.products_for(clinic_a.actor(clinic_a.nurse)).get(),
            data={
                "lot_number": "Y",
                "expires_on": timezone.localdate() - dt.timedelta(days=1),
                "quantity": 1,
            },
        )
    assert "expired" in exc.value.message_dict["expires_on"][0]


def test_checklist_gates_close_and_sign(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    with pytest.raises(ValidationError) as exc:
        services.session_close(actor=clinic_a.actor(clinic_a.nurse), session=session)
    assert "PRP kit or tube lot recorded (none yet)" in exc.value.messages
    complete_prp(clinic_a, session)
    assert all(i.ok for i in selectors.session_checklist(session))
    services.session_close(actor=clinic_a.actor(clinic_a.nurse), session=session)
    with pytest.raises(PermissionDenied):
        services.session_sign(actor=clinic_a.actor(clinic_a.nurse), session=session)
    session = services.session_sign(actor=clinic_a.actor(clinic_a.physician), session=session)
    assert session.status == SessionStatus.SIGNED and session.signed_by == clinic_a.physician


def test_signed_session_is_locked_and_amended_with_reason(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = complete_prp(clinic_a, start(clinic_a, patient_a))
    services.session_sign(actor=clinic_a.actor(clinic_a.physician), session=session)
    session.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.session_details_update(
            actor=clinic_a.actor(clinic_a.physician), session=session, data={"notes": "x"}
        )
    assert exc.value.message_dict["reason"] == [services.LOCKED]
    with pytest.raises(PermissionDenied):
        services.session_details_update(
            actor=clinic_a.actor(clinic_a.nurse),
            session=session,
            data={"notes": "x"},
            reason="typo fix",
        )
    services.preparation_record(
        actor=clinic_a.actor(clinic_a.physician),
        session=session,
        data=full_prep(prp_platelets_per_ul=1100000),
        reason="Analyser reprint had the right count",
    )
    amendment = Amendment.objects.get(session=session)
    assert amendment.section == "preparation"
    assert amendment.before["prp_platelets_per_ul"] == 1280000
    assert amendment.after["prp_platelets_per_ul"] == 1100000
    assert session.preparation.history.count() == 2
    assert AuditEvent.objects.filter(action="procedures.preparation.amend").exists()


def test_adverse_event_with_follow_up_until_resolved(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    lot = make_lot(clinic_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    services.lot_use_record(actor=nurse, session=session, lot=lot)
    event = services.adverse_event_record(
        actor=nurse,
        session=session,
        data={
            "term": "haematoma",
            "ctcae_grade": 1,
            "onset_at": timezone.now(),
            "relatedness": "definite",
            "action": "local_treatment",
            "outcome": "recovering",
            "zone": "vertex",
            "lot": lot,
        },
    )
    assert event.is_open and not event.serious
    services.adverse_event_follow_up(
        actor=nurse, event=event, data={"outcome": "resolved", "note": "gone"}
    )
    event.refresh_from_db()
    assert not event.is_open and event.resolved_on == timezone.localdate()
    with pytest.raises(ValidationError):
        services.adverse_event_follow_up(actor=nurse, event=event, data={"outcome": "resolved"})


def test_adverse_event_bad_input(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    base = {
        "term": "other",
        "ctcae_grade": 3,
        "onset_at": timezone.now(),
        "relatedness": "possible",
        "action": "none",
        "outcome": "recovering",
    }
    with pytest.raises(ValidationError) as exc:
        services.adverse_event_record(actor=nurse, session=session, data=base)
    assert "term_other" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.adverse_event_record(
            actor=nurse, session=session, data={**base, "term": "pain", "ctcae_grade": 6}
        )
    assert "ctcae_grade" in exc.value.message_dict
    event = services.adverse_event_record(
        actor=nurse, session=session, data={**base, "term": "infection"}
    )
    # ICH E2A: severity is not seriousness. Grade 3 alone is not serious (issue 10, point 8)…
    assert not event.serious and event.seriousness_criteria == []
    # …a grade-2 event with hospitalisation as the action is.
    event = services.adverse_event_record(
        actor=nurse,
        session=session,
        data={**base, "term": "infection", "ctcae_grade": 2, "action": "hospitalisation"},
    )
    assert event.serious and event.seriousness_criteria == ["hospitalisation"]


def test_signing_completes_the_checked_in_appointment_is_optional(clinic_a, patient_a):
    # Without an appointment, signing simply signs.
    ready_patient(clinic_a, patient_a)
    session = complete_prp(clinic_a, start(clinic_a, patient_a))
    services.session_sign(actor=clinic_a.actor(clinic_a.physician), session=session)
    assert AuditEvent.objects.filter(action="procedures.session.sign").count() == 1
