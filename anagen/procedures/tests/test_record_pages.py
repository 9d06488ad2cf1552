"""The session record in every state a clinic meets: a preparation with each kind of kernel
warning opens (never a 500), the amendment trail reads in words, every time is clinic time, and
the database itself refuses values no form should let through."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from anagen.procedures import selectors, services
from anagen.procedures.models import (
    AdverseEvent,
    Amendment,
    DeliveryZone,
    Lot,
    LotUse,
    MesotherapyDelivery,
    Preparation,
    SessionStatus,
    TopicalApplication,
    TreatmentSession,
)
from anagen.procedures.tests.helpers import complete_prp, full_prep, make_lot, ready_patient, start

pytestmark = pytest.mark.django_db


def _url(name, session, *extra):
    return reverse(name, args=[session.patient_id, session.pk, *extra])


@pytest.fixture
def session(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    return start(clinic_a, patient_a)


WARNING_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    # kind: (preparation overrides, the flag code on the page, words of the message)
    "efficiency_over_100": (
        {"prp_platelets_per_ul": 1_800_000, "prp_volume_ml": Decimal("5")},
        "efficiency_over_100",
        "above 100 %",
    ),
    "bovine_thrombin": ({"activation_agent": "bovine_thrombin"}, "bovine_thrombin", "immunogenic"),
    "min_fold": ({"prp_platelets_per_ul": 300_000}, "min_fold", "barely concentrated"),
    "edta": ({"anticoagulant_agent": "edta"}, "edta_anticoagulant", "EDTA is for baseline"),
}


@pytest.mark.parametrize("kind", sorted(WARNING_CASES))
def test_preparation_with_a_kernel_warning_opens_saves_and_signs(clinic_a, session, kind):
    overrides, code, words = WARNING_CASES[kind]
    nurse = clinic_a.actor(clinic_a.nurse)
    complete_prp(clinic_a, session)
    data = full_prep(**overrides)
    services.preparation_record(actor=nurse, session=session, data=data)
    prep = Preparation.objects.get(session=session)
    assert code in {w["code"] for w in prep.computed["warnings"]}
    client = clinic_a.client(clinic_a.physician)
    response = client.get(_url("procedures-session-detail", session))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-flag="{code}"' in html and words in html
    assert "clinical-facts" not in html and ".md" not in html
    # Each flag has one shape (API and page alike).
    for flag in selectors.preparation_flags(session, prep):
        assert set(flag) == {"code", "rule", "level", "message", "source"}
    # Signed from the page: the record stays readable throughout.
    assert (
        client.post(_url("procedures-session-sign", session), {"confirm": "yes"}).status_code == 302
    )
    session.refresh_from_db()
    assert session.is_signed
    assert client.get(_url("procedures-session-detail", session)).status_code == 200


def test_stored_warning_of_an_older_shape_still_opens(clinic_a, session):
    services.preparation_record(
        actor=clinic_a.actor(clinic_a.nurse), session=session, data=full_prep()
    )
    prep = Preparation.objects.get(session=session)
    prep.computed = {
        **prep.computed,
        "warnings": [{"message": "Old warning without a code"}, {"rule": "x", "message": "y"}],
    }
    prep.save()
    response = clinic_a.client(clinic_a.nurse).get(_url("procedures-session-detail", session))
    assert response.status_code == 200
    assert "Old warning without a code" in response.content.decode()


def test_amendment_trail_reads_field_before_after(clinic_a, session):
    complete_prp(clinic_a, session)
    physician = clinic_a.actor(clinic_a.physician)
    services.session_sign(actor=physician, session=session)
    session.refresh_from_db()
    services.preparation_record(
        actor=physician,
        session=session,
        data=full_prep(
            activation_agent="none",
            activation_volume_ml=None,
            injected_volume_ml=Decimal("1.4"),
        ),
        reason="Activator was not used after all",
    )
    services.session_details_update(
        actor=physician,
        session=session,
        data={"rotor_radius_cm": Decimal("12.5"), "baseline_photos_taken": False},
        reason="Photos were lost",
    )
    html = clinic_a.client(clinic_a.physician).get(_url("procedures-session-detail", session))
    trail = html.content.decode().split('id="amendments"')[1]
    assert "Activation agent: Calcium gluconate" in trail and "→ None" in trail
    assert "Activator volume: 0.14 mL → —" in trail
    assert "Centrifuge rotor radius: — → 12.5 cm" in trail
    assert "Baseline photos taken: Yes → No" in trail
    assert "Activator was not used after all" in trail
    for code in ("calcium_gluconate", "activation_agent", "{'", "True", "T0", "+00:00"):
        assert code not in trail, code


def test_times_on_the_record_are_clinic_time(clinic_a, session):
    """A 10:00 BST check-in reads 10:00 (not 09:00 UTC) everywhere on the record."""
    clinic_a.clinic.timezone = "Europe/London"
    clinic_a.clinic.save()
    at = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)  # 10:00 in London (BST)
    TreatmentSession.objects.filter(pk=session.pk).update(
        started_at=at, checked_in_at=at, draw_at=at + dt.timedelta(minutes=5)
    )
    complete_prp(clinic_a, session)
    # Pin every stamp the record shows, so the suite's own clock (09:00 some mornings)
    # cannot appear on the page.
    LotUse.objects.filter(session=session).update(used_at=at + dt.timedelta(minutes=30))
    lot = Lot.objects.get()
    AdverseEvent.objects.create(
        session=session,
        patient=session.patient,
        term="bruising",
        ctcae_grade=1,
        onset_at=at + dt.timedelta(minutes=40),
        relatedness="probable",
        action="none",
        outcome="recovering",
        zone="vertex",
        recorded_by=clinic_a.nurse,
    )
    html = clinic_a.client(clinic_a.nurse).get(_url("procedures-session-detail", session))
    text = html.content.decode()
    assert "10:00" in text and "10:05" in text and "10:40" in text
    assert "09:00" not in text
    assert 'value="2026-06-10T10:00"' in text  # datetime-local prefilled in clinic time
    assert "Vertex / crown" in text  # zone label, not the code
    assert lot.expires_on.strftime("%Y-%m-%d") not in text.split('id="lots"')[1].split("<form")[0]
    today = timezone.localdate().isoformat()
    assert f'value="{today}"' in text  # follow-up date: the clinic's today, ISO for the input


def test_recall_csv_reads_in_words(clinic_a, session):
    lot = make_lot(clinic_a)
    services.lot_use_record(actor=clinic_a.actor(clinic_a.nurse), session=session, lot=lot)
    csv = clinic_a.client(clinic_a.physician).get(
        reverse("procedures-lot-recall", args=[lot.pk]) + "?format=csv"
    )
    text = csv.content.decode()
    assert text.startswith("Record number,Patient,")
    assert "PRP injection, scalp" in text and "prp_scalp" not in text


# --- the database refuses bad rows ------------------------------------------------------------


def _refused(make) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_db_refuses_bad_values(clinic_a, session):
    nurse = clinic_a.actor(clinic_a.nurse)
    services.preparation_record(actor=nurse, session=session, data=full_prep())
    lot = make_lot(clinic_a)
    use = services.lot_use_record(actor=nurse, session=session, lot=lot)
    prep = Preparation.objects.get(session=session)

    def upd(model, pk, **values):
        return lambda: model.objects.filter(pk=pk).update(**values)

    for field in (
        "blood_volume_ml",
        "prp_volume_ml",
        "injected_volume_ml",
        "anticoagulant_volume_ml",
        "activation_volume_ml",
    ):
        _refused(upd(Preparation, prep.pk, **{field: Decimal("-1")}))
    _refused(upd(Preparation, prep.pk, prp_neutrophils_pct=Decimal("101")))
    _refused(upd(Preparation, prep.pk, tubes=0))
    for bad in ({"g": 0, "minutes": 10}, {"g": 100, "minutes": -1}, {"rpm": -5, "minutes": 3}):
        _refused(upd(Preparation, prep.pk, spins=[bad]))
    _refused(upd(Preparation, prep.pk, spins=[{"g": 100, "minutes": 5}, {"g": -1, "minutes": 5}]))
    _refused(upd(Lot, lot.pk, quantity=-1))
    _refused(upd(LotUse, use.pk, quantity=-1))
    _refused(
        lambda: DeliveryZone.objects.create(
            session=session, zone="vertex", volume_ml=Decimal("-0.1"), technique="nappage"
        )
    )
    _refused(
        lambda: TopicalApplication.objects.create(
            session=session, device="Pen", needle_depth_mm=1, passes=0, volume_ml=1
        )
    )
    for grade in (0, 6):
        _refused(
            lambda grade=grade: AdverseEvent.objects.create(
                session=session,
                patient=session.patient,
                term="pain",
                ctcae_grade=grade,
                onset_at=timezone.now(),
                relatedness="possible",
                action="none",
                outcome="resolved",
                recorded_by=clinic_a.nurse,
            )
        )
    # Signed iff signed by someone at a time.
    _refused(upd(TreatmentSession, session.pk, status=SessionStatus.SIGNED))
    _refused(upd(TreatmentSession, session.pk, signed_at=timezone.now()))
    _refused(upd(TreatmentSession, session.pk, signed_by=clinic_a.physician))
    _refused(
        lambda: Amendment.objects.create(
            session=session, section="details", reason="", by=clinic_a.physician
        )
    )
    # The good values still pass.
    Preparation.objects.filter(pk=prep.pk).update(
        spins=[{"rpm": 3000, "radius_cm": 10, "minutes": 5}]
    )
    assert MesotherapyDelivery.objects.count() == 0


def test_signed_record_passes_the_constraint(clinic_a, session):
    complete_prp(clinic_a, session)
    services.session_sign(actor=clinic_a.actor(clinic_a.physician), session=session)
    session.refresh_from_db()
    assert session.signed_at and session.signed_by_id and session.is_signed
