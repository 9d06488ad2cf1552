"""The demo clinic: two clinics of one organisation, their staff, and synthetic patients.

Deterministic (seeded) and idempotent: running it again changes nothing and duplicates nothing.
All people are invented; phone numbers are in Ofcom's range reserved for drama (07700 900xxx).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

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
    for clinic_index, clinic in enumerate(clinics):
        if clinic.patients.exists():
            continue  # already seeded: running again must not duplicate
        rng = random.Random(1000 + clinic_index)
        for n in range(1, PATIENTS_PER_CLINIC + 1):
            patient = _make_patient(rng, clinic, n, today)
            _make_intake(rng, patient, recorder[clinic.pk], today)
            created_patients += 1
        Clinic.objects.filter(pk=clinic.pk).update(record_seq=PATIENTS_PER_CLINIC)
    _seed_apps(today)
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


def _seed_apps(today: dt.date) -> None:
    """Each app adds its own demo records (assessments, bookings, sessions, outcomes)."""
    from anagen.billing.demo import seed_billing_demo
    from anagen.care.demo import seed_care_demo
    from anagen.outcomes.demo import seed_outcomes_demo
    from anagen.procedures.demo import seed_procedures_demo
    from anagen.scheduling.demo import seed_scheduling_demo

    seed_care_demo(today)
    seed_scheduling_demo(today)
    seed_procedures_demo(today)
    seed_outcomes_demo(today)
    seed_billing_demo(today)


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
