"""The session page's and the API session list's reads are compiled once and run afresh
(issue 15): what is kept is SQL, never a row, so every change to the record (an adverse event,
its follow-up, a recalled lot, an amendment, a signature) shows on the very next view; and the
API list's one-query page is exactly `page_of`'s page."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.accounts.access import patient_for
from anagen.interop.paging import page_of
from anagen.procedures import api as procedures_api
from anagen.procedures import compiled, selectors, services
from anagen.procedures.models import AdverseEvent, TreatmentSession
from anagen.procedures.tests.helpers import complete_prp, make_lot, ready_patient, start
from anagen.procedures.tests.test_record_page_reads import _ae

pytestmark = pytest.mark.django_db


def _view(staff, session: TreatmentSession, user=None) -> str:
    url = reverse("procedures-session-detail", args=[session.patient_id, session.pk])
    response = staff.client(user or staff.physician).get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_every_change_shows_on_the_next_view(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    lot = make_lot(clinic_a, number="K-FRESH")
    session = complete_prp(clinic_a, start(clinic_a, patient_a), lot=lot)
    nurse, physician = clinic_a.actor(clinic_a.nurse), clinic_a.actor(clinic_a.physician)
    first = _view(clinic_a, session)
    assert "K-FRESH" in first and 'class="card" id="ae-' not in first and "Recalled" not in first

    _ae(clinic_a, session)
    page = _view(clinic_a, session)
    event = AdverseEvent.objects.get(session=session)
    assert f'id="ae-{event.pk}"' in page and "Follow-up " not in page

    services.adverse_event_follow_up(
        actor=nurse, event=event, data={"on": timezone.localdate(), "outcome": "resolved"}
    )
    assert "Follow-up " in _view(clinic_a, session)

    services.lot_recall(actor=physician, lot=lot, reason="Sterility breach at the maker")
    assert "Recalled" in _view(clinic_a, session)

    services.session_close(actor=nurse, session=session)
    services.session_sign(actor=physician, session=TreatmentSession.objects.get(pk=session.pk))
    signed = _view(clinic_a, session)
    assert "— locked; changes need a reason" in signed

    services.session_details_update(
        actor=physician,
        session=TreatmentSession.objects.get(pk=session.pk),
        data={"notes": "Amended note"},
        reason="Note corrected after review",
    )
    amended = _view(clinic_a, session)
    assert 'id="amendments"' in amended and "Amended note" in amended


def test_another_patients_or_clinics_session_is_still_a_404(
    clinic_a, clinic_b, patient_a, patient_b
):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    _view(clinic_a, session)  # the shapes are compiled
    client = clinic_b.client(clinic_b.physician)
    assert client.get(f"/patients/{patient_b.pk}/sessions/{session.pk}/").status_code == 404
    assert client.get(f"/patients/{patient_a.pk}/sessions/{session.pk}/").status_code == 404


def test_a_shape_runs_the_same_sql_with_each_records_ids(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    one, two = start(clinic_a, patient_a), start(clinic_a, patient_a)
    compiled.reset()
    actor = clinic_a.actor(clinic_a.physician)
    assert selectors.session_record(actor, patient_a.pk, one.pk).pk == one.pk
    assert selectors.session_record(actor, patient_a.pk, two.pk).pk == two.pk
    with CaptureQueriesContext(connection) as ctx:
        selectors.session_record(actor, patient_a.pk, one.pk)
        selectors.session_record(actor, patient_a.pk, two.pk)
    sessions = [q["sql"] for q in ctx.captured_queries if "procedures_treatmentsession" in q["sql"]]
    assert len(sessions) == 2 and str(one.pk) in sessions[0] and str(two.pk) in sessions[1]


def _old_page(actor, patient, page: int, size: int) -> str:
    result = page_of(selectors.session_list(actor=actor, patient=patient), page, size)
    result["results"] = [procedures_api._session_row(o) for o in result["results"]]
    return json.dumps(result, default=str)


def _new_page(actor, patient, page: int, size: int) -> str:
    result = selectors.session_list_page(actor=actor, patient=patient, page=page, page_size=size)
    result["results"] = [procedures_api._session_row(o) for o in result["results"]]
    return json.dumps(result, default=str)


def test_the_api_list_page_is_page_ofs_page(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    actor = clinic_a.actor(clinic_a.physician)
    patient = patient_for(actor, patient_a.pk)
    pages = ((1, 25), (2, 25), (1, 2), (2, 2), (3, 2), (9, 2), (1, 1))
    for page, size in pages:  # no session yet
        assert _new_page(actor, patient, page, size) == _old_page(actor, patient, page, size)
    signed = complete_prp(clinic_a, start(clinic_a, patient_a))
    services.session_close(actor=clinic_a.actor(clinic_a.nurse), session=signed)
    services.session_sign(actor=actor, session=TreatmentSession.objects.get(pk=signed.pk))
    for _ in range(3):
        start(clinic_a, patient_a)
    for page, size in pages:
        assert _new_page(actor, patient, page, size) == _old_page(actor, patient, page, size)
    # A new session shows at once (rows are never kept).
    start(clinic_a, patient_a)
    assert json.loads(_new_page(actor, patient, 1, 25))["count"] == 5
