"""The session record page reads each part of the record once (scale, issue 15): the version its
forms carry is still exactly the record's version in the database, in every state of a record,
and the page opens in every state (never a 500)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.procedures import selectors, services
from anagen.procedures.models import TreatmentSession
from anagen.procedures.tests.helpers import (
    complete_prp,
    consent,
    dca_formulation,
    full_prep,
    make_lot,
    ready_patient,
    start,
)
from anagen.web.versions import page_version

pytestmark = pytest.mark.django_db


def _db_version(session: TreatmentSession) -> str:
    fresh = TreatmentSession.objects.get(pk=session.pk)
    return page_version(*selectors.session_record_parts(fresh), fresh.lot_uses.all())


def _page(staff, session: TreatmentSession, user=None) -> str:
    """The page with one section open (a signed record shows its forms on "Amend")."""
    url = reverse("procedures-session-detail", args=[session.patient_id, session.pk])
    url += "?amend=details"
    response = staff.client(user or staff.physician).get(url)
    assert response.status_code == 200
    return response.content.decode()


def _versions_on(html: str) -> set[str]:
    return set(re.findall(r'name="record_version" value="([0-9a-f]+)"', html))


def _ae(staff, session: TreatmentSession) -> None:
    services.adverse_event_record(
        actor=staff.actor(staff.nurse),
        session=session,
        data={
            "term": "bruising",
            "ctcae_grade": 1,
            "onset_at": timezone.now(),
            "relatedness": "probable",
            "action": "none",
            "outcome": "recovering",
            "zone": "vertex",
        },
    )


def _meso_session(staff, patient) -> TreatmentSession:
    consent(staff, patient, "mesotherapy_body")
    fm = dca_formulation(staff, "DCA", vial="multi")
    s = start(staff, patient, "mesotherapy_body")
    services.meso_delivery_add(
        actor=staff.actor(staff.nurse),
        session=s,
        formulation=fm,
        data={
            "zone": "submental",
            "technique": "point_by_point",
            "device": "needle",
            "injection_points": 10,
            "volume_per_point_ml": Decimal("0.2"),
            "area_cm2": Decimal("30"),
        },
    )
    return s


STATES = (
    "draft",
    "prepared",
    "closed",
    "signed",
    "amended",
    "adverse_event",
    "topical",
    "mesotherapy",
    "no_lots",
)


def _session_in(state: str, staff, patient) -> TreatmentSession:
    ready_patient(staff, patient)
    if state == "mesotherapy":
        return _meso_session(staff, patient)
    s = start(staff, patient)
    nurse, physician = staff.actor(staff.nurse), staff.actor(staff.physician)
    if state == "draft":
        return s
    if state in ("prepared", "no_lots"):
        services.preparation_record(actor=nurse, session=s, data=full_prep())
        return s
    if state == "topical":
        services.preparation_record(actor=nurse, session=s, data=full_prep())
        services.topical_record(
            actor=nurse,
            session=s,
            data={
                "device": "Dermapen",
                "needle_depth_mm": Decimal("1.5"),
                "passes": 3,
                "volume_ml": Decimal("1.54"),
            },
        )
        return s
    complete_prp(staff, s)
    if state == "adverse_event":
        _ae(staff, s)
        return s
    services.session_close(actor=nurse, session=s)
    s.refresh_from_db()
    if state == "closed":
        return s
    services.session_sign(actor=physician, session=s)
    s.refresh_from_db()
    if state == "amended":
        services.session_details_update(
            actor=physician,
            session=s,
            data={"rotor_radius_cm": Decimal("12.5")},
            reason="Rotor measured",
        )
        s.refresh_from_db()
    return s


@pytest.mark.parametrize("state", STATES)
def test_page_version_is_the_records_version_in_every_state(clinic_a, patient_a, state):
    session = _session_in(state, clinic_a, patient_a)
    html = _page(clinic_a, session)
    assert _versions_on(html) == {_db_version(session)}
    # The nurse's view of the same record carries the same version.
    assert _versions_on(_page(clinic_a, session, clinic_a.nurse)) == {_db_version(session)}


def test_a_change_gives_the_page_a_new_version(clinic_a, patient_a):
    """Without reading the rows afresh, an old version would be shown after a save."""
    session = _session_in("prepared", clinic_a, patient_a)
    before = _versions_on(_page(clinic_a, session))
    services.delivery_record(
        actor=clinic_a.actor(clinic_a.nurse),
        session=session,
        zones=[{"zone": "frontal", "volume_ml": Decimal("1.54"), "technique": "nappage"}],
    )
    after = _versions_on(_page(clinic_a, session))
    assert before != after and after == {_db_version(session)}
    services.lot_use_record(
        actor=clinic_a.actor(clinic_a.nurse), session=session, lot=make_lot(clinic_a), quantity=1
    )
    assert _versions_on(_page(clinic_a, session)) == {_db_version(session)} != after


def _count(staff, session: TreatmentSession) -> int:
    url = reverse("procedures-session-detail", args=[session.patient_id, session.pk])
    client = staff.client(staff.physician)
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_query_count_does_not_grow_with_the_record(clinic_a, patient_a):
    """More zones, lots and adverse events on the record: the same number of queries."""
    session = _session_in("prepared", clinic_a, patient_a)
    services.delivery_record(
        actor=clinic_a.actor(clinic_a.nurse),
        session=session,
        zones=[{"zone": "frontal", "volume_ml": Decimal("1.54"), "technique": "nappage"}],
    )
    services.lot_use_record(
        actor=clinic_a.actor(clinic_a.nurse), session=session, lot=make_lot(clinic_a), quantity=1
    )
    _ae(clinic_a, session)
    small = _count(clinic_a, session)
    services.delivery_record(
        actor=clinic_a.actor(clinic_a.nurse),
        session=session,
        zones=[
            {"zone": "frontal", "volume_ml": Decimal("0.5"), "technique": "nappage"},
            {"zone": "vertex", "volume_ml": Decimal("0.5"), "technique": "nappage"},
            {"zone": "mid_scalp", "volume_ml": Decimal("0.54"), "technique": "nappage"},
        ],
    )
    services.lot_use_record(
        actor=clinic_a.actor(clinic_a.nurse),
        session=session,
        lot=make_lot(clinic_a, name="Tube B", category="tube", number="T-1"),
        quantity=2,
    )
    _ae(clinic_a, session)
    assert _count(clinic_a, session) == small
