"""The scale generator writes rows the services would have written, on free resources."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models

from anagen.accounts.clinic_time import zone_of
from anagen.demo import seed_demo
from anagen.patients.models import Patient
from anagen.scale.clone import Cloner, CloneSpec, Table
from anagen.scale.generate import LONG_VISITS, generate
from anagen.scheduling.models import Appointment

TODAY = dt.date(2026, 11, 30)


def _overlaps(sql_where: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql_where)
        return cursor.fetchone()[0]


def test_generated_clinic_is_complete_and_keeps_the_booking_rules(db):
    seed_demo(TODAY)
    bench = generate(40, audit_per_patient=3)
    assert bench.patients == 40
    assert Patient.all_objects.filter(clinic=bench.clinic).count() == 90 + 40 + 2
    assert bench.long_patient.appointments.count() >= LONG_VISITS
    assert bench.new_patient.appointments.count() == 0
    assert bench.audit_events == 120
    # The generated reads sit in the clinic's audit hash chain, which still verifies.
    from anagen.audit.chain import verify_all

    assert [r.brk for r in verify_all() if r.brk is not None] == []
    # No resource or patient is booked twice at once.
    assert (
        _overlaps(
            "select count(*) from scheduling_resourcebooking a join scheduling_resourcebooking b"
            " on a.resource_id = b.resource_id and a.id < b.id and a.active and b.active"
            " and a.starts_at < b.ends_at and b.starts_at < a.ends_at"
        )
        == 0
    )
    assert (
        _overlaps(
            "select count(*) from scheduling_appointment a join scheduling_appointment b"
            " on a.patient_id = b.patient_id and a.id < b.id and a.status <> 'cancelled'"
            " and b.status <> 'cancelled' and a.starts_at < b.ends_at and b.starts_at < a.ends_at"
        )
        == 0
    )
    # Each patient's kept latest measurement date (home page follow-ups) equals its sets' latest,
    # the long (merged) patient's included.
    from django.db.models import Max

    from anagen.outcomes.models import LastMeasurement, MeasurementSet

    latest = dict(
        MeasurementSet.objects.filter(patient__clinic=bench.clinic)
        .values("patient_id")
        .annotate(last=Max("measured_on"))
        .values_list("patient_id", "last")
    )
    kept = dict(
        LastMeasurement.objects.filter(clinic=bench.clinic).values_list("patient_id", "measured_on")
    )
    assert kept == latest and bench.long_patient.pk in kept
    # Every copied visit falls on a weekday within opening hours.
    tz = zone_of(bench.clinic)
    for appointment in Appointment.objects.filter(patient=bench.long_patient):
        local = appointment.starts_at.astimezone(tz)
        assert local.weekday() < 5
        assert dt.time(8, 0) <= local.time() and appointment.ends_at.astimezone(
            tz
        ).time() <= dt.time(19, 0)


def _comparable(table: Table, instance: models.Model) -> dict[str, object]:
    skip = {table.pk} | {i for i, _ in table.fks} | set(table.stamps) | set(table.days)
    skip |= {
        table.pos[a]
        for a in ("practitioner_id", "room_id", "centrifuge_id", "resource_id")
        if a in table.pos
    }
    return {
        f.attname: getattr(instance, f.attname)
        for i, f in enumerate(table.fields)
        if i not in skip
        and f.attname
        not in {
            "record_number",
            "given_name",
            "family_name",
            "search_name",
            "phone",
            "phone_digits",
            "email",
            "sex",
        }
    }


def test_a_copy_matches_the_service_written_patient_it_was_made_from(db):
    from anagen.scale.generate import _pools
    from anagen.scale.slots import SlotBook

    seed_demo(TODAY)
    source = (
        Patient.all_objects.annotate(n=models.Count("appointments")).order_by("-n", "pk").first()
    )
    assert source is not None
    pools = _pools(source.clinic)
    cloner = Cloner(
        SlotBook(pools, zone_of(source.clinic), 8 * 60, 19 * 60),
        {k: v[0] for k, v in pools.items()},
    )
    template = cloner.template(source.pk)
    cloner.clone([CloneSpec(template, days=-400, patient_fields={"record_number": "COPY01"})])
    copy = Patient.all_objects.get(record_number="COPY01")
    copied = cloner.template(copy.pk)
    assert template.appointment_count > 1
    for model, rows in template.rows.items():
        table = cloner.tables[model]
        assert len(copied.rows[model]) == len(rows), model
        # Both lists come in the model's own order, and copies keep it.
        for before, after in zip(rows, copied.rows[model], strict=True):
            assert _comparable(table, after) == _comparable(table, before), model
    # Dates moved back by 400 days; the appointment by that and the slot it was placed in.
    intake_before = template.rows[next(m for m in template.rows if m.__name__ == "Intake")][0]
    intake_after = copied.rows[next(m for m in copied.rows if m.__name__ == "Intake")][0]
    assert getattr(intake_after, "hair_loss_onset") == getattr(  # noqa: B009
        intake_before, "hair_loss_onset"
    ) - dt.timedelta(days=400)
    assert copy.birth_date == source.birth_date


def test_bench_data_command_refuses_bad_input_with_exit_code_2(db):
    with pytest.raises(CommandError) as error:
        call_command("bench_data", "--patients", "0")
    assert error.value.returncode == 2
