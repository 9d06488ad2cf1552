"""The demo clinic: two clinics of one organisation, their staff, and synthetic patients.

Deterministic (seeded) and idempotent: running it again changes nothing and duplicates nothing.
All people are invented; phone numbers are in Ofcom's range reserved for drama (07700 900xxx).

The records follow one another as in a real clinic: each patient's first contact (registration
and intake) comes first, their consultation (assessment, screening, consents) the same day, and
their first treatment session at least two weeks later. Patients and bookings are made first;
then every patient's first contact is moved back before their first booked visit
(`_backdate_first_contact`), and the consultation is recorded through the services with the clock
set to that day (`demo_clock`), so signature times, snapshots and audit events agree.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from unittest import mock

from django.db import transaction
from django.utils import timezone

from anagen.accounts.clinic_time import zone_of
from anagen.accounts.models import Clinic, Membership, Organisation, Role, User
from anagen.patients import vocab
from anagen.patients.models import (
    Intake,
    IntakeAllergy,
    IntakeLab,
    IntakeMedication,
    IntakePriorTreatment,
    Patient,
)
from anagen.patients.normalise import digits_of, search_name_for
from anagen.patients.services import lab_to_canonical

DEMO_PASSWORD = "anagen-demo-2026"
PATIENTS_PER_CLINIC = 90
# Days from a booked patient's first contact (registration, intake, consultation) to their first
# booked visit; a patient without bookings first came 1 to UNBOOKED_CONTACT_DAYS days ago.
FIRST_CONTACT_LEAD = (14, 28)
UNBOOKED_CONTACT_DAYS = 330

CLINICS = [
    ("north", "Anagen Hair Clinic — Northside", "NS"),
    ("river", "Anagen Hair Clinic — Riverside", "RS"),
]
STAFF = [
    ("physician", Role.PHYSICIAN, ("Amara", "Okafor"), ("Daniel", "Fischer")),
    ("nurse", Role.NURSE, ("Siobhán", "Kelly"), ("Marco", "Rossi")),
    ("frontdesk", Role.FRONT_DESK, ("Priya", "Shah"), ("Tom", "Baker")),
    ("admin", Role.CLINIC_ADMIN, ("Helen", "Carter"), ("Yusuf", "Demir")),
]

MALE_NAMES = [
    "James",
    "Oliver",
    "José",
    "Mohammed",
    "Łukasz",
    "Kwame",
    "Liam",
    "Noah",
    "Arjun",
    "Mateo",
    "Ethan",
    "Hiroshi",
    "Andrés",
    "Ibrahim",
    "Connor",
    "Dmitri",
    "Chen",
    "Rhys",
    "Emre",
    "François",
    "Samuel",
    "Oskar",
    "Raúl",
    "Thabo",
    "Niall",
]
FEMALE_NAMES = [
    "Olivia",
    "Amelia",
    "Zoë",
    "Aoife",
    "Fatima",
    "Ayşe",
    "Chloé",
    "Mei",
    "Grace",
    "Lucía",
    "Ngozi",
    "Hannah",
    "Priyanka",
    "Ingrid",
    "Sofía",
    "Élodie",
    "Yasmin",
    "Keisha",
    "Maja",
    "Renée",
    "Niamh",
    "Aaliyah",
    "Leila",
    "Freya",
    "Inès",
]
FAMILY_NAMES = [
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Taylor",
    "Davies",
    "Evans",
    "Wilson",
    "Patel",
    "Khan",
    "Nowak",
    "García",
    "Müller",
    "O'Brien",
    "Ní Bhriain",
    "Okoro",
    "Mensah",
    "Silva",
    "Lefèvre",
    "Yılmaz",
    "Nakamura",
    "Wang",
    "Kowalski",
    "Murphy",
    "Hughes",
    "Andersen",
    "Rossi",
    "Dubois",
    "Costa",
    "Álvarez",
    "Fernández",
    "Byrne",
    "Ahmed",
    "Clarke",
    "Hassan",
    "Schmidt",
    "Novák",
    "Jensen",
    "Moreau",
    "Walker",
]
STREETS = [
    "High Street",
    "Station Road",
    "Church Lane",
    "Victoria Road",
    "Mill Lane",
    "Park Avenue",
    "Queen's Road",
    "Riverside Walk",
    "Elm Grove",
    "King Street",
]
TOWNS = ["Leeds", "York", "Harrogate", "Bradford", "Wakefield"]


@dataclass
class DemoResult:
    created_users: int
    created_patients: int
    logins: list[tuple[str, str, str]]


def _user(username: str, first: str, last: str) -> tuple[User, bool]:
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    user = User(
        username=username, first_name=first, last_name=last, email=f"{username}@demo.anagen.local"
    )
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user, True


@transaction.atomic
def seed_demo(today: dt.date | None = None) -> DemoResult:
    today = today or timezone.localdate()
    org, _ = Organisation.objects.get_or_create(
        slug="anagen-demo", defaults={"name": "Anagen Demo Group"}
    )
    created_users = 0
    created_patients = 0
    logins: list[tuple[str, str, str]] = []
    clinics = []
    for index, (slug, name, prefix) in enumerate(CLINICS):
        clinic, _ = Clinic.objects.get_or_create(
            slug=slug,
            defaults={
                "organisation": org,
                "name": name,
                "record_prefix": prefix,
                "holiday_country": "GB",
                "holiday_region": "ENG",
                "consent_drawn_signature": index == 0,
            },
        )
        if not clinic.logo:
            _give_logo(clinic, index)
        clinics.append(clinic)
        for key, role, *people in STAFF:
            first, last = people[index]
            username = f"{slug}.{key}"
            user, created = _user(username, first, last)
            created_users += created
            Membership.objects.get_or_create(user=user, clinic=clinic, defaults={"role": role})
            logins.append((username, Role(role).label, clinic.name))
    lead, created = _user("lead.physician", "Ana", "Moreira")
    created_users += created
    for clinic in clinics:
        Membership.objects.get_or_create(
            user=lead, clinic=clinic, defaults={"role": Role.PHYSICIAN}
        )
    logins.append(("lead.physician", "Physician", "both clinics"))

    recorder = {c.pk: User.objects.get(username=f"{c.slug}.nurse") for c in clinics}
    fresh: list[Clinic] = []
    for clinic_index, clinic in enumerate(clinics):
        if clinic.patients.exists():
            continue  # already seeded: running again must not duplicate
        fresh.append(clinic)
        rng = random.Random(1000 + clinic_index)
        for n in range(1, PATIENTS_PER_CLINIC + 1):
            patient = _make_patient(rng, clinic, n, today)
            _make_intake(rng, patient, recorder[clinic.pk], today)
            created_patients += 1
        Clinic.objects.filter(pk=clinic.pk).update(record_seq=PATIENTS_PER_CLINIC)
    _seed_apps(today, fresh)
    return DemoResult(created_users, created_patients, logins)


def _give_logo(clinic: Clinic, index: int) -> None:
    """A logo drawn for the demo (pages' header, printed documents); the file is named by its
    content, so loading the demo again reuses it."""
    from django.core.files.base import ContentFile

    from anagen.accounts.logo import demo_logo, logo_file_name

    png = demo_logo(index)
    name = logo_file_name(clinic.pk, png)
    storage = clinic.logo.storage
    path = f"clinic-logos/{name}"
    if storage.exists(path):
        clinic.logo.name = path
    else:
        clinic.logo.save(name, ContentFile(png), save=False)
    clinic.save(update_fields=["logo"])


def _seed_apps(today: dt.date, fresh: list[Clinic] | None = None) -> None:
    """Each app adds its own demo records (bookings, assessments, sessions, outcomes).

    Bookings come first: a clinic's new patients' first contact is then moved before their
    first booked visit, and the consultation (care) is recorded on that day."""
    from anagen.billing.demo import seed_billing_demo
    from anagen.care.demo import seed_care_demo
    from anagen.outcomes.demo import seed_outcomes_demo
    from anagen.procedures.demo import seed_procedures_demo
    from anagen.scheduling.demo import seed_scheduling_demo

    seed_scheduling_demo(today)
    for clinic in fresh or []:
        _backdate_first_contact(clinic, today)
    seed_care_demo(today)
    seed_procedures_demo(today)
    seed_outcomes_demo(today)
    seed_billing_demo(today)


@contextmanager
def demo_clock(at: dt.datetime) -> Iterator[None]:
    """Run the services as at ``at`` (an aware instant in the past): what they stamp (signature
    times, snapshots, audit events, auto_now_add columns) reads that instant. Demo only."""
    if at.tzinfo is None:
        raise ValueError("demo_clock needs an aware datetime")
    with mock.patch("django.utils.timezone.now", return_value=at.astimezone(dt.UTC)):
        yield


def first_visits(clinic: Clinic) -> dict[int, dt.date]:
    """Each booked patient's first visit day (any state), in the clinic's zone."""
    from anagen.scheduling.models import Appointment

    tz = zone_of(clinic)
    first: dict[int, dt.date] = {}
    for patient_id, starts_at in (
        Appointment.objects.filter(clinic=clinic)
        .order_by("starts_at")
        .values_list("patient_id", "starts_at")
    ):
        first.setdefault(patient_id, starts_at.astimezone(tz).date())
    return first


def first_contact_days(clinic: Clinic, today: dt.date) -> dict[int, dt.date]:
    """Each patient's first contact day: FIRST_CONTACT_LEAD days before their first booked visit
    (any state), else 1 to UNBOOKED_CONTACT_DAYS days ago; never today or later."""
    first_visit = first_visits(clinic)
    rng = random.Random(f"first-contact-{clinic.slug}")
    days: dict[int, dt.date] = {}
    for pk in Patient.all_objects.filter(clinic=clinic).order_by("pk").values_list("pk", flat=True):
        lead = rng.randint(*FIRST_CONTACT_LEAD)
        back = rng.randint(1, UNBOOKED_CONTACT_DAYS)
        first = first_visit.get(pk)
        day = first - dt.timedelta(days=lead) if first else today - dt.timedelta(days=back)
        days[pk] = min(day, today - dt.timedelta(days=1))
    return days


def registered_at(clinic: Clinic, day: dt.date, pk: int) -> dt.datetime:
    """When a demo patient registered on their first contact day (morning, by record)."""
    return dt.datetime.combine(day, dt.time(8, 30), tzinfo=zone_of(clinic)) + dt.timedelta(
        minutes=10 * (pk % 18)
    )


def _backdate_first_contact(clinic: Clinic, today: dt.date) -> None:
    """Move a freshly made clinic's registrations and intakes to each patient's first contact
    day: registration and intake that morning; the intake's own dates (labs, onset, last dose,
    prior procedures) move with it, so they stand to the intake as they did to today."""
    from anagen.patients.models import IntakePriorProcedure

    days = first_contact_days(clinic, today)
    patients = list(Patient.all_objects.filter(clinic=clinic, pk__in=days))
    for p in patients:
        p.created_at = registered_at(clinic, days[p.pk], p.pk)
    Patient.all_objects.bulk_update(patients, ["created_at"])
    registered = {p.pk: p.created_at for p in patients}
    # The patient's row history says they were created then too.
    historical = Patient.history.model  # type: ignore[attr-defined]
    created = list(historical.objects.filter(id__in=registered, history_type="+"))
    for h in created:
        h.history_date = registered[h.id]
    historical.objects.bulk_update(created, ["history_date"])
    intakes = list(Intake.objects.filter(patient__in=patients))
    shift: dict[int, dt.timedelta] = {}
    for i in intakes:
        shift[i.pk] = days[i.patient_id] - today
        i.recorded_at = registered[i.patient_id] + dt.timedelta(minutes=5 + i.version)
        if i.hair_loss_onset is not None:
            i.hair_loss_onset += shift[i.pk]
    Intake.objects.bulk_update(intakes, ["recorded_at", "hair_loss_onset"])
    labs = list(IntakeLab.objects.filter(intake__in=intakes))
    for lab in labs:
        lab.taken_on += shift[lab.intake_id]
    IntakeLab.objects.bulk_update(labs, ["taken_on"])
    meds = list(IntakeMedication.objects.filter(intake__in=intakes, last_dose_on__isnull=False))
    for med in meds:
        assert med.last_dose_on is not None
        med.last_dose_on += shift[med.intake_id]
    IntakeMedication.objects.bulk_update(meds, ["last_dose_on"])
    prior = list(IntakePriorProcedure.objects.filter(intake__in=intakes))
    for proc in prior:
        proc.on += shift[proc.intake_id]
    IntakePriorProcedure.objects.bulk_update(prior, ["on"])
    treated = list(
        IntakePriorTreatment.objects.filter(intake__in=intakes, started_on__isnull=False)
    )
    for t in treated:
        assert t.started_on is not None
        t.started_on += shift[t.intake_id]
    IntakePriorTreatment.objects.bulk_update(treated, ["started_on"])


def _make_patient(rng: random.Random, clinic: Clinic, n: int, today: dt.date) -> Patient:
    sex = rng.choices(["male", "female", "other"], weights=[55, 43, 2])[0]
    given = rng.choice(MALE_NAMES if sex == "male" else FEMALE_NAMES)
    family = rng.choice(FAMILY_NAMES)
    birth = today - dt.timedelta(days=rng.randint(19 * 365, 68 * 365))
    phone = f"+447700900{rng.randint(0, 999):03d}" if rng.random() < 0.9 else ""
    email = ""
    if rng.random() < 0.8:
        email = f"{search_name_for(given, family).replace(' ', '.')}{n}@example.com"
    patient = Patient(
        clinic=clinic,
        record_number=f"{clinic.record_prefix}{n:06d}",
        given_name=given,
        family_name=family,
        birth_date=birth,
        sex=sex,
        phone=phone,
        email=email,
        address=f"{rng.randint(1, 180)} {rng.choice(STREETS)}\n{rng.choice(TOWNS)}",
        sms_reminders=bool(phone) and rng.random() < 0.7,
        email_reminders=bool(email) and rng.random() < 0.6,
    )
    patient.search_name = search_name_for(given, family)
    patient.phone_digits = digits_of(phone)
    patient.save()
    return patient


def _make_intake(rng: random.Random, patient: Patient, recorder: User, today: dt.date) -> None:
    female = patient.sex == "female"
    pattern = rng.choices(
        ["female_pattern" if female else "male_pattern", "patchy", "diffuse", "hairline_traction"],
        weights=[70, 12, 12, 6],
    )[0]
    conditions = []
    for code, p in [
        ("thyroid_disease", 0.06),
        ("iron_deficiency", 0.08 if female else 0.02),
        ("severe_scalp_inflammation", 0.04),
        ("chronic_liver_disease", 0.01),
        ("bleeding_disorder", 0.01),
        ("polycystic_ovary_syndrome", 0.08 if female else 0),
    ]:
        if rng.random() < p:
            conditions.append(code)
    age = (today - patient.birth_date).days // 365
    intake = Intake.objects.create(
        patient=patient,
        version=1,
        recorded_by=recorder,
        conditions=sorted(conditions),
        smoking=rng.choices(["never", "former", "current"], weights=[65, 20, 15])[0],
        pregnant=female and age < 42 and rng.random() < 0.03,
        hair_loss_onset=today - dt.timedelta(days=rng.randint(120, 3650)),
        hair_loss_pattern=pattern,
        family_history=rng.random() < 0.6,
        tight_hairstyles=pattern == "hairline_traction",
        recent_triggers="Illness with fever three months before shedding"
        if pattern == "diffuse"
        else "",
    )
    meds = []
    if not female and rng.random() < 0.4:
        meds.append(("Finasteride 1 mg", "finasteride", True))
    if rng.random() < 0.45:
        meds.append(("Minoxidil 5% foam", "minoxidil", False))
    if rng.random() < 0.12:
        meds.append(("Ibuprofen 400 mg", "nsaid", False))
    if rng.random() < 0.04:
        meds.append(("Apixaban 5 mg", "anticoagulant", True))
    if rng.random() < 0.05:
        meds.append(("Aspirin 75 mg", "aspirin", True))
    if rng.random() < 0.15:
        meds.append(("Biotin 5000 µg", "supplement", False))
    IntakeMedication.objects.bulk_create(
        IntakeMedication(
            intake=intake,
            name=name,
            category=cat,
            prescribed=rx,
            last_dose_on=today - dt.timedelta(days=rng.randint(0, 6)) if cat == "nsaid" else None,
        )
        for name, cat, rx in meds
    )
    if rng.random() < 0.15:
        IntakeAllergy.objects.create(
            intake=intake,
            substance=rng.choice(["Penicillin", "Lidocaine", "Latex", "Nuts"]),
            reaction="Rash",
        )
    taken = today - dt.timedelta(days=rng.randint(5, 60))
    labs = [
        (
            "platelets",
            Decimal(rng.choice([rng.randint(160, 390)] * 19 + [rng.randint(85, 99)])),
            "10³/µL",
        ),
        (
            "hemoglobin",
            Decimal(str(round(rng.uniform(11.8 if female else 13.2, 15.8 if female else 17.2), 1))),
            "g/dL",
        ),
        ("ferritin", Decimal(rng.randint(12 if female else 30, 180)), "ng/mL"),
        ("tsh", Decimal(str(round(rng.uniform(0.6, 4.2), 2))), "mIU/L"),
    ]
    if rng.random() < 0.5:
        labs.append(("wbc", Decimal(str(round(rng.uniform(4.2, 10.5), 1))), "10³/µL"))
    rows = []
    for analyte, value, unit in labs:
        canonical, canonical_unit = lab_to_canonical(analyte, value, unit)
        rows.append(
            IntakeLab(
                intake=intake,
                analyte=analyte,
                value_entered=value,
                unit_entered=unit,
                value=canonical,
                unit=canonical_unit,
                taken_on=taken,
            )
        )
    IntakeLab.objects.bulk_create(rows)
    if rng.random() < 0.5:
        IntakePriorTreatment.objects.create(
            intake=intake,
            treatment=rng.choice(
                [
                    vocab.PriorTreatment.MINOXIDIL,
                    vocab.PriorTreatment.FINASTERIDE,
                    vocab.PriorTreatment.LOW_LEVEL_LASER,
                    vocab.PriorTreatment.PRP,
                ]
            ),
            response=rng.choice(["none", "partial", "good", "unknown"]),
        )
