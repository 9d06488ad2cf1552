"""Lists whose rows are read straight off the objects (anagen.interop.render.row_reader) write
the same bytes as ninja's validated path, on every plan, appointment and session of the demo."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from ninja import Schema

from anagen.demo import seed_demo
from anagen.interop.render import FastJSONEncoder, row_reader
from anagen.procedures import api as procedures_api
from anagen.procedures.models import TreatmentSession
from anagen.scheduling import api as scheduling_api
from anagen.scheduling.models import Appointment, TreatmentPlan

TODAY = dt.date(2026, 11, 30)


def _validated(schema: type[Schema], objs: list[Any]) -> str:
    """What ninja writes: each object validated through its schema, dumped, then encoded."""
    return json.dumps([schema.model_validate(o).model_dump() for o in objs], cls=FastJSONEncoder)


def _read(read: Any, objs: list[Any]) -> str:
    return json.dumps([read(o) for o in objs], cls=FastJSONEncoder)


@pytest.mark.django_db
def test_fast_rows_are_byte_for_byte_the_validated_ones():
    seed_demo(TODAY)
    plans = list(TreatmentPlan.objects.prefetch_related("appointments").order_by("pk"))
    appointments = list(Appointment.objects.order_by("pk"))
    sessions = list(TreatmentSession.objects.select_related("signed_by").order_by("pk"))
    assert plans and appointments and sessions
    assert any(s.signed_by_id for s in sessions) and any(a.centrifuge_id for a in appointments)
    cases = (
        (scheduling_api.PlanOut, scheduling_api._plan_row, plans),
        (scheduling_api.AppointmentOut, scheduling_api._appointment_row, appointments),
        (procedures_api.SessionOut, procedures_api._session_row, sessions),
    )
    for schema, read, objs in cases:
        assert _read(read, objs) == _validated(schema, objs), schema.__name__


def test_a_schema_that_is_not_plain_values_is_refused():
    with pytest.raises(TypeError, match="appointments"):
        row_reader(scheduling_api.PlanOut)  # a nested list: must be given
    with pytest.raises(TypeError, match="zones"):
        row_reader(procedures_api.SessionDetailOut)


def test_values_are_written_as_ninja_writes_them():
    class Row(Schema):
        at: dt.datetime | None
        on: dt.date
        n: int
        ok: bool
        amount: Decimal | None
        text: str

    class Obj:
        at: dt.datetime | None = dt.datetime(2026, 11, 30, 14, 5, 7, 123456, tzinfo=dt.UTC)
        on = dt.date(2026, 2, 28)
        n = 3
        ok = False
        amount: Decimal | None = Decimal("12.50")
        text = 'a "quoted" é'

    class Empty(Obj):
        at = None
        amount = None

    objs = [Obj(), Empty()]
    assert _read(row_reader(Row), objs) == _validated(Row, objs)
