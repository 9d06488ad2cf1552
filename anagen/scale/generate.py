"""`anagen bench_data`: a busy clinic of N patients, one long history and one new patient."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

from django.db import connection, transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import zone_of
from anagen.accounts.models import Clinic, Membership, Role, User
from anagen.audit import chain
from anagen.audit.models import AuditAction, AuditEvent
from anagen.clinical import PROCEDURES
from anagen.demo import (
    CLINICS,
    FAMILY_NAMES,
    FEMALE_NAMES,
    MALE_NAMES,
    PATIENTS_PER_CLINIC,
    seed_demo,
)
from anagen.patients.models import Patient
from anagen.patients.normalise import digits_of, search_name_for
from anagen.scale.clone import Cloner, CloneSpec, Template, insert_rows
from anagen.scale.slots import SlotBook
from anagen.scheduling import calendar_version
from anagen.scheduling.models import (
    Appointment,
    Resource,
    ResourceBooking,
    ResourceKind,
    WorkingHours,
)

# The busy clinic: 20 practitioners, 40 rooms, 7 centrifuges, open 08:00-19:00.
POOL_SIZES = {ResourceKind.PRACTITIONER: 20, ResourceKind.ROOM: 40, ResourceKind.CENTRIFUGE: 7}
OPENS, CLOSES = dt.time(8, 0), dt.time(19, 0)
YEARS = 10
BATCH = 250
LONG_VISITS = 500
LONG_RECORD, NEW_RECORD = "LONG000001", "NEW0000001"
# Reads per patient in the audit trail (the clinic had ~50 per patient).
AUDIT_READS = (AuditAction.PATIENT_READ, AuditAction.PROCEDURES_SESSION_READ)


@dataclass
class BenchResult:
    clinic: Clinic
    patients: int
    appointments: int
    audit_events: int
    seconds: float
    long_patient: Patient
    new_patient: Patient


def _pools(clinic: Clinic) -> dict[str, list[int]]:
    for kind, size in POOL_SIZES.items():
        have = Resource.objects.filter(clinic=clinic, kind=kind, is_active=True).count()
        for n in range(have + 1, size + 1):
            membership = None
            if kind == ResourceKind.PRACTITIONER:
                user = User.objects.create_user(
                    username=f"{clinic.slug}.bench{n:02d}",
                    first_name="Bench",
                    last_name=f"Practitioner {n}",
                    password=None,
                )
                role = Role.PHYSICIAN if n % 2 else Role.NURSE
                membership = Membership.objects.create(user=user, clinic=clinic, role=role)
            resource = Resource.objects.create(
                clinic=clinic,
                kind=kind,
                name=f"{kind.label} {n}" if membership is None else f"Practitioner {n}",
                membership=membership,
                licensed_procedures=list(PROCEDURES) if membership else [],
                rotor_radius_cm=Decimal("10.0") if kind == ResourceKind.CENTRIFUGE else None,
            )
            if kind != ResourceKind.CENTRIFUGE:
                WorkingHours.objects.bulk_create(
                    WorkingHours(resource=resource, weekday=d, start=OPENS, end=CLOSES)
                    for d in range(5)
                )
    return {
        kind: list(
            Resource.objects.filter(clinic=clinic, kind=kind, is_active=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for kind in POOL_SIZES
    }


def _book_existing(book: SlotBook, clinic: Clinic) -> None:
    """The demo's own bookings occupy their slots before any copy is placed."""
    from anagen.scale.slots import _minute

    for resource_id, starts, ends in ResourceBooking.objects.filter(
        appointment__clinic=clinic, active=True
    ).values_list("resource_id", "starts_at", "ends_at"):
        book._take(resource_id, _minute(starts), _minute(ends))


def _person(rng: random.Random, clinic: Clinic, seq: int) -> dict[str, object]:
    female = rng.random() < 0.45
    given = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
    family = rng.choice(FAMILY_NAMES)
    phone = f"+4477{seq:08d}"
    return {
        "record_number": f"{clinic.record_prefix}{seq:06d}",
        "given_name": given,
        "family_name": family,
        "sex": "female" if female else "male",
        "search_name": search_name_for(given, family),
        "phone": phone,
        "phone_digits": digits_of(phone),
        "email": f"patient{seq}@example.com",
    }


def _audit_rows(
    cloner: Cloner,
    rng: random.Random,
    clinic: Clinic,
    actor_ids: list[int],
    patients: list[tuple[int, int]],
    per_patient: int,
    now: dt.datetime,
) -> int:
    """Reads of each patient's record, spread from their first visit to today, appended to the
    clinic's audit hash chain exactly as `audit.chain.append` does (numbered, linked, hashed)."""
    columns = [
        "id", "at", "actor_id", "username", "clinic_id", "action", "patient_id",
        "object_type", "object_id", "changes_digest", "chain_version", "ip_address", "via",
        "seq", "prev_hash", "hash",
    ]  # fmt: skip
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    # Names come from the model; values are always parameters.
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    head = chain._locked_head(clinic.pk)
    prev, seq = chain.link_for(head), head.length
    rows = []
    for patient_id, days in patients:
        start = now + dt.timedelta(days=days)
        span = max((now - start).total_seconds(), 3600)
        for _ in range(per_patient):
            seq += 1
            event = SimpleNamespace(
                id=cloner.ids.take(AuditEvent),
                at=start + dt.timedelta(seconds=rng.random() * span),
                actor_id=rng.choice(actor_ids),
                username="",
                clinic_id=clinic.pk,
                action=str(rng.choice(AUDIT_READS)),
                patient_id=patient_id,
                object_type="patients.patient",
                object_id=str(patient_id),
                changes_digest="",  # reads change nothing: no values row
                chain_version=chain.CHAIN_VERSION,
                ip_address=None,
                via="web",
                seq=seq,
            )
            digest = chain.event_hash(event, prev)
            rows.append(
                (
                    event.id,
                    connection.ops.adapt_datetimefield_value(event.at),
                    event.actor_id,
                    "",
                    clinic.pk,
                    event.action,
                    patient_id,
                    event.object_type,
                    event.object_id,
                    "",
                    chain.CHAIN_VERSION,
                    None,
                    "web",
                    seq,
                    prev,
                    digest,
                )
            )
            prev = digest
    insert_rows(AuditEvent._meta.db_table, columns, sql, rows)
    if rows:
        head.length, head.last_hash, head.last_event_id = seq, prev, rows[-1][0]
        head.save(update_fields=["length", "last_hash", "last_event_id"])
    return len(rows)


def generate(
    patients: int,
    *,
    seed: int = 15,
    audit_per_patient: int = 50,
    progress: Callable[[str], None] = lambda _: None,
) -> BenchResult:
    started = time.monotonic()
    if not Clinic.objects.filter(slug=CLINICS[0][0]).exists():
        progress("loading the demo clinics (the patients every copy starts from)")
        seed_demo()
    clinic = Clinic.objects.get(slug=CLINICS[0][0])
    rng = random.Random(seed)
    now = timezone.now()
    with transaction.atomic():
        pools = _pools(clinic)
    tz = zone_of(clinic)
    book = SlotBook(pools, tz, OPENS.hour * 60, CLOSES.hour * 60)
    _book_existing(book, clinic)
    fallback = {kind: ids[0] for kind, ids in pools.items()}
    cloner = Cloner(book, fallback)
    # The demo's own patients (written by the services), never earlier copies.
    demo_ids = list(
        Patient.all_objects.filter(
            clinic=clinic,
            record_number__gte=f"{clinic.record_prefix}000001",
            record_number__lte=f"{clinic.record_prefix}{PATIENTS_PER_CLINIC:06d}",
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    templates: list[Template] = [cloner.template(pk) for pk in demo_ids]
    actor_ids = list(Membership.objects.filter(clinic=clinic).values_list("user_id", flat=True))
    seq = Clinic.objects.get(pk=clinic.pk).record_seq
    made = audits = 0
    while made < patients:
        size = min(BATCH, patients - made)
        specs = []
        for _ in range(size):
            seq += 1
            specs.append(
                CloneSpec(
                    template=rng.choice(templates),
                    days=-rng.randint(0, 365 * (YEARS - 1)),
                    patient_fields=_person(rng, clinic, seq),
                )
            )
        with transaction.atomic():
            cloner.clone(specs)
            # Bulk copies send no signals: the calendar grid's cache key changes on commit.
            calendar_version.bump(clinic.pk)
            Clinic.objects.filter(pk=clinic.pk).update(record_seq=seq)
            created = list(
                Patient.all_objects.filter(
                    clinic=clinic,
                    record_number__in=[s.patient_fields["record_number"] for s in specs],
                ).values_list("pk", "record_number")
            )
            days = {s.patient_fields["record_number"]: s.days for s in specs}
            audits += _audit_rows(
                cloner,
                rng,
                clinic,
                actor_ids,
                [(pk, days[rn]) for pk, rn in created],
                audit_per_patient,
                now,
            )
        made += size
        progress(f"{made} of {patients} patients")
    long_patient = _plant_long(cloner, clinic, templates)
    cloner.reset_sequences()
    # Copied lot uses bypass the lot-use service: rebuild the kept stock levels once.
    from anagen.procedures.models import Lot
    from anagen.procedures.services import lots_recount

    lots_recount(Lot.objects.filter(product__clinic=clinic))
    # Copied measurements bypass the measurement service: rebuild the outcome summaries once.
    from anagen.outcomes.services import last_measurements_rebuild, outcome_summaries_rebuild

    outcome_summaries_rebuild(clinic=clinic)
    last_measurements_rebuild(clinic=clinic)
    new_patient = _plant_new(clinic)
    # Bulk copies leave the planner's statistics at the demo's size: refresh them (ANALYZE).
    from anagen.scale.stats import analyze

    progress(f"planner statistics refreshed (ANALYZE, {analyze():.1f} s)")
    return BenchResult(
        clinic=clinic,
        patients=made,
        appointments=Appointment.objects.filter(clinic=clinic).count(),
        audit_events=audits,
        seconds=time.monotonic() - started,
        long_patient=long_patient,
        new_patient=new_patient,
    )


def _plant_long(cloner: Cloner, clinic: Clinic, templates: list[Template]) -> Patient:
    """One patient with about 500 visits over ten years: copies merged into one record."""
    existing = Patient.all_objects.filter(clinic=clinic, record_number=LONG_RECORD).first()
    if existing is not None:
        return existing
    rich = sorted(templates, key=lambda t: -t.appointment_count)
    rich = [t for t in rich if t.appointment_count][:10] or templates[:1]
    fields = {
        "record_number": LONG_RECORD,
        "given_name": "Lorna",
        "family_name": "Longstaff",
        "search_name": search_name_for("Lorna", "Longstaff"),
        "phone": "+447700900500",
        "phone_digits": digits_of("+447700900500"),
        "email": "lorna.longstaff@example.com",
    }
    first = rich[0]
    with transaction.atomic():
        cloner.clone([CloneSpec(first, days=-365 * YEARS, patient_fields=fields)])
        calendar_version.bump(clinic.pk)
    patient = Patient.all_objects.get(clinic=clinic, record_number=LONG_RECORD)
    visits = first.appointment_count
    step = 0
    while visits < LONG_VISITS:
        template = rich[step % len(rich)]
        step += 1
        days = -365 * YEARS + step * 45
        with transaction.atomic():
            cloner.clone(
                [CloneSpec(template, days=days, patient_fields=fields, into_patient=patient.pk)]
            )
            calendar_version.bump(clinic.pk)
        visits += template.appointment_count
    return patient


def _plant_new(clinic: Clinic) -> Patient:
    from anagen.patients.services import patient_create

    existing = Patient.all_objects.filter(clinic=clinic, family_name="Newcombe").first()
    if existing is not None:
        return existing
    desk = Membership.objects.filter(clinic=clinic, role=Role.FRONT_DESK).first()
    assert desk is not None, "the demo clinic has a front desk"
    return patient_create(
        actor=Actor(user=desk.user, membership=desk, via="cli"),
        data={
            "given_name": "Nina",
            "family_name": "Newcombe",
            "birth_date": dt.date(1990, 5, 17),
            "sex": "female",
        },
        confirm_duplicate=True,
    )
