"""A recalled lot: the service (audited, reason required, once), its refusal in the room, the
inventory and recall pages, the database check and the demo's recalled lot."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from anagen.accounts.clinic_time import human_date
from anagen.audit.models import AuditEvent
from anagen.procedures import selectors, services
from anagen.procedures.models import Lot, LotUse
from anagen.procedures.tests.helpers import make_lot, ready_patient, start

pytestmark = pytest.mark.django_db

REASON = "Supplier notice 2026-17: sterility not assured."


@pytest.fixture
def session(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    return start(clinic_a, patient_a)


def _recall(staff, lot, user=None, reason=REASON):
    return services.lot_recall(actor=staff.actor(user or staff.nurse), lot=lot, reason=reason)


# --- service -----------------------------------------------------------------------------------


def test_recall_keeps_who_when_why_and_is_audited(clinic_a):
    lot = make_lot(clinic_a)
    recalled = _recall(clinic_a, lot, reason=f"  {REASON}  ")
    lot.refresh_from_db()
    assert lot.is_recalled and recalled.pk == lot.pk
    assert lot.recalled_by == clinic_a.nurse
    assert lot.recall_reason == REASON
    event = AuditEvent.objects.get(action="procedures.lot.recall")
    assert event.changes["reason"] == REASON
    assert event.changes["lot_number"] == lot.lot_number
    assert event.clinic_id == clinic_a.clinic.pk and event.actor_id == clinic_a.nurse.pk


@pytest.mark.parametrize("reason", ["", "   ", "bad"])
def test_recall_without_a_reason_is_refused(clinic_a, reason):
    lot = make_lot(clinic_a)
    with pytest.raises(ValidationError) as exc:
        _recall(clinic_a, lot, reason=reason)
    assert "Say why this lot is recalled" in str(exc.value.message_dict["reason"])
    lot.refresh_from_db()
    assert not lot.is_recalled
    assert not AuditEvent.objects.filter(action="procedures.lot.recall").exists()


def test_a_lot_is_recalled_once(clinic_a):
    lot = make_lot(clinic_a)
    _recall(clinic_a, lot)
    with pytest.raises(ValidationError) as exc:
        _recall(clinic_a, lot, user=clinic_a.physician, reason="Another reason given")
    assert "already recalled on" in str(exc.value.message_dict["reason"])
    lot.refresh_from_db()
    assert lot.recalled_by == clinic_a.nurse and lot.recall_reason == REASON
    assert AuditEvent.objects.filter(action="procedures.lot.recall").count() == 1


def test_roles_without_inventory_cannot_recall(clinic_a, clinic_b):
    lot = make_lot(clinic_a)
    with pytest.raises(PermissionDenied):
        _recall(clinic_a, lot, user=clinic_a.front_desk)
    # The clinic admin manages inventory and may recall.
    _recall(clinic_a, lot, user=clinic_a.admin)
    # Another clinic's lot does not exist.
    other = make_lot(clinic_b, number="B-9")
    from django.http import Http404

    with pytest.raises(Http404):
        _recall(clinic_a, other)


# --- use in a session --------------------------------------------------------------------------


def test_a_recalled_lot_is_refused_in_a_session(clinic_a, session):
    lot = make_lot(clinic_a)
    services.lot_use_record(actor=clinic_a.actor(clinic_a.nurse), session=session, lot=lot)
    _recall(clinic_a, lot)
    lot.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.lot_use_record(actor=clinic_a.actor(clinic_a.nurse), session=session, lot=lot)
    day = human_date(lot.recalled_at, clinic_a.actor(clinic_a.nurse).tz)
    assert exc.value.message_dict["lot"] == [
        f"Lot {lot.lot_number} of {lot.product.name} was recalled on {day}: choose another lot."
    ]
    assert LotUse.objects.filter(lot=lot).count() == 1
    # Not offered to choose from; one sent anyway (a stale page) is refused in words.
    actor = clinic_a.actor(clinic_a.nurse)
    assert lot not in selectors.lot_choices(actor, actor.today())
    page = clinic_a.client(clinic_a.nurse).get(
        reverse("procedures-session-detail", args=[session.patient_id, session.pk])
    )
    html = page.content.decode()
    assert f"— lot {lot.lot_number} (expires" not in html  # not an option of the lot select
    assert "Recalled" in html  # the lot already used is marked
    r = clinic_a.client(clinic_a.nurse).post(
        reverse("procedures-session-lot", args=[session.patient_id, session.pk]),
        {"lot": lot.pk, "quantity": 1},
    )
    assert r.status_code == 400
    assert "was recalled on" in r.content.decode()
    assert LotUse.objects.filter(lot=lot).count() == 1


# --- pages -------------------------------------------------------------------------------------


def test_pages_show_a_recalled_lot_to_every_role_that_sees_them(clinic_a, session):
    lot = make_lot(clinic_a)
    services.lot_use_record(actor=clinic_a.actor(clinic_a.nurse), session=session, lot=lot)
    _recall(clinic_a, lot, user=clinic_a.physician)
    lot.refresh_from_db()
    day = human_date(lot.recalled_at, clinic_a.actor(clinic_a.nurse).tz)
    recall_url = reverse("procedures-lot-recall", args=[lot.pk])
    for user in (clinic_a.physician, clinic_a.nurse, clinic_a.admin, clinic_a.front_desk):
        client = clinic_a.client(user)
        inv = client.get(reverse("procedures-inventory"))
        page = client.get(recall_url)
        assert inv.status_code in (200, 403) and page.status_code in (200, 403)
        if inv.status_code == 200:
            assert f"Recalled {day}" in inv.content.decode()
        if page.status_code == 200:
            html = page.content.decode()
            assert 'id="lot-recalled"' in html
            assert day in html and str(clinic_a.physician) in html and REASON in html
            assert "lot-recall-form" not in html  # already recalled: no form
            assert session.patient.full_name in html
    assert clinic_a.client(clinic_a.admin).get(reverse("procedures-inventory")).status_code == 200
    assert clinic_a.client(clinic_a.nurse).get(recall_url).status_code == 200


def test_recall_form_on_the_recall_page(clinic_a):
    lot = make_lot(clinic_a)
    url = reverse("procedures-lot-recall", args=[lot.pk])
    nurse = clinic_a.client(clinic_a.nurse)
    assert "lot-recall-form" in nurse.get(url).content.decode()
    # A reason and the confirmation are both required.
    r = nurse.post(url, {"reason": REASON})
    assert r.status_code == 400 and "Tick the box to confirm the recall." in r.content.decode()
    r = nurse.post(url, {"reason": "", "confirm": "on"})
    assert r.status_code == 400
    lot.refresh_from_db()
    assert not lot.is_recalled
    r = nurse.post(url, {"reason": REASON, "confirm": "on"})
    assert r.status_code == 302
    lot.refresh_from_db()
    assert lot.is_recalled and lot.recalled_by == clinic_a.nurse
    after = nurse.get(url).content.decode()
    assert "lot-recall-form" not in after and REASON in after
    # A second post is not a second recall.
    assert nurse.post(url, {"reason": "Another reason", "confirm": "on"}).status_code == 302
    assert AuditEvent.objects.filter(action="procedures.lot.recall").count() == 1


def test_recall_page_never_500(clinic_a, clinic_b):
    fresh = make_lot(clinic_a, number="F-1")
    recalled = make_lot(clinic_a, number="R-1")
    expired = make_lot(clinic_a, number="E-1", expires_in_days=-3)
    _recall(clinic_a, recalled)
    for lot in (fresh, recalled, expired):
        for user in (clinic_a.physician, clinic_a.nurse, clinic_a.admin, clinic_a.front_desk):
            client = clinic_a.client(user)
            for url in (
                reverse("procedures-lot-recall", args=[lot.pk]),
                reverse("procedures-lot-recall", args=[lot.pk]) + "?format=csv",
                reverse("procedures-inventory"),
            ):
                assert client.get(url).status_code in (200, 403), (url, user)
        assert (
            clinic_b.client(clinic_b.nurse)
            .get(reverse("procedures-lot-recall", args=[lot.pk]))
            .status_code
            == 404
        )


# --- database ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"recall_reason": "a reason"},  # a reason without a date
        {"recalled_at": "now"},  # a date without a reason or a person
        {"recalled_at": "now", "recall_reason": "a reason"},  # nobody recalled it
        {"recalled_at": "now", "recalled_by": "nurse"},  # no reason
    ],
)
def test_the_database_refuses_a_partial_recall(clinic_a, fields):
    lot = make_lot(clinic_a)
    values = {
        k: (timezone.now() if v == "now" else clinic_a.nurse if v == "nurse" else v)
        for k, v in fields.items()
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Lot.objects.filter(pk=lot.pk).update(**values)


def test_the_database_accepts_a_complete_recall(clinic_a):
    lot = make_lot(clinic_a)
    Lot.objects.filter(pk=lot.pk).update(
        recalled_at=timezone.now(), recalled_by=clinic_a.nurse, recall_reason="a reason"
    )
    lot.refresh_from_db()
    assert lot.is_recalled


# --- demo --------------------------------------------------------------------------------------


def test_demo_has_one_recalled_lot_per_clinic_that_was_used():
    from anagen.demo import seed_demo
    from anagen.procedures.demo import CLINIC_SLUGS, seed_procedures_demo

    today = timezone.localdate()
    seed_demo(today)
    try:
        from anagen.scheduling.demo import seed_scheduling_demo

        seed_scheduling_demo(today)
    except ImportError:  # pragma: no cover
        pass
    seed_procedures_demo(today)
    recalled = Lot.objects.filter(
        recalled_at__isnull=False, product__clinic__slug__in=CLINIC_SLUGS
    ).select_related("product__clinic")
    assert sorted(lot.product.clinic.slug for lot in recalled) == sorted(CLINIC_SLUGS)
    for lot in recalled:
        assert lot.uses.exists() and lot.recall_reason and lot.recalled_by_id
    # Idempotent, and added to an existing demo database that has none yet.
    Lot.objects.filter(pk=recalled[0].pk).update(
        recalled_at=None, recalled_by=None, recall_reason=""
    )
    seed_procedures_demo(today)
    seed_procedures_demo(today)
    assert Lot.objects.filter(
        recalled_at__isnull=False, product__clinic__slug__in=CLINIC_SLUGS
    ).count() == len(CLINIC_SLUGS)
