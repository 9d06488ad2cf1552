"""Demo treatment-room data: products and lots (one expired), two formulations, and signed PRP
sessions with preparations, zones and lots for the demo's completed past appointments.

The demo holds a record in every state a page must show: a preparation whose kernel result
carries warnings (bovine thrombin, fold under 2x, EDTA), a signed record amended with a reason,
lots whose recall page lists the patients exposed, and one recalled lot per clinic that was
used in sessions (recalled through ``services.lot_recall``, so it is audited like a real one).

Deterministic (random.Random(seed)) and idempotent: catalogue rows are get-or-created, the
sessions are only added to a clinic that has none yet, and the warning preparation and the
amendment are only made where the clinic has none. Sessions are written in bulk (the demo
skips the gate: the scheduling demo likewise sets past statuses directly); labels still come
from the kernel through ``services.preparation_compute``.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, Membership
from anagen.accounts.permissions import PERMISSION_TABLE, Perm
from anagen.clinical import procedure_rules as rules
from anagen.patients.models import Patient
from anagen.procedures.models import (
    Amendment,
    DeliveryZone,
    FormulationIngredient,
    Lot,
    LotUse,
    MesotherapyFormulation,
    Preparation,
    Product,
    SessionStatus,
    TreatmentSession,
)
from anagen.procedures.services import (
    KERNEL_VERSION,
    PREP_FIELDS,
    lot_recall,
    lots_recount,
    preparation_compute,
)

CLINIC_SLUGS = ("north", "river")
PRODUCTS = [
    ("RegenKit PRP double-spin kit", "kit", "Regen Lab"),
    ("ACD-A 9 mL tube", "tube", "BD"),
    ("Calcium gluconate 10 %", "activator", "B. Braun"),
    ("Lidocaine/prilocaine cream 5 %", "anaesthetic_cream", "Aspen"),
    ("30G 4 mm needle", "needle", "TSK"),
    ("Dutasteride 0.01 % vial", "meso_ingredient", "Compounding pharmacy"),
]
FALLBACK_PATIENTS = 30


def _roles_with(perm: Perm) -> list[str]:
    """Who the demo records as signing physician and operating nurse: by permission."""
    return sorted(PERMISSION_TABLE[perm][1])


def _catalogue(clinic: Clinic, today: dt.date, rnd: random.Random) -> dict[str, list[Lot]]:
    lots: dict[str, list[Lot]] = {}
    for name, category, maker in PRODUCTS:
        product, _ = Product.objects.get_or_create(
            clinic=clinic, name=name, defaults={"category": category, "manufacturer": maker}
        )
        prefix = "".join(w[0] for w in name.split()[:2]).upper()
        specs = [
            (f"{prefix}-{clinic.slug[:1].upper()}2401", -300, -20),  # expired 20 days ago
            (f"{prefix}-{clinic.slug[:1].upper()}2507", -200, 250),
            (f"{prefix}-{clinic.slug[:1].upper()}2603", -40, 500),
        ]
        for number, received, expires in specs:
            lot, _ = Lot.objects.get_or_create(
                product=product,
                lot_number=number,
                defaults={
                    "received_on": today + dt.timedelta(days=received),
                    "expires_on": today + dt.timedelta(days=expires),
                    "quantity": 400,
                },
            )
            lots.setdefault(category, []).append(lot)
    return lots


def _formulations(clinic: Clinic) -> None:
    specs: list[tuple[str, str, list[str], list[tuple[str, str, str | None, str]]]] = [
        (
            "Hair cocktail (dutasteride 0.01 %)",
            "single",
            ["scalp"],
            [
                ("Dutasteride", "dutasteride", "0.01", "percent"),
                ("Biotin", "", "5", "mg_per_mL"),
            ],
        ),
        (
            "Skin booster HA + vitamins",
            "multi",
            ["face"],
            [
                ("Non-crosslinked hyaluronic acid", "", "20", "mg_per_mL"),
                ("Vitamin complex", "", None, ""),
            ],
        ),
    ]
    for name, vial, indications, ingredients in specs:
        f, created = MesotherapyFormulation.objects.get_or_create(
            clinic=clinic, name=name, defaults={"vial": vial, "indications": indications}
        )
        if created:
            FormulationIngredient.objects.bulk_create(
                FormulationIngredient(
                    formulation=f,
                    name=n,
                    code=c,
                    concentration=Decimal(v) if v else None,
                    unit=u,
                )
                for n, c, v, u in ingredients
            )


def _prep_data(rnd: random.Random) -> dict[str, object]:
    wb = rnd.randrange(160_000, 330_000, 1000)
    fold = rnd.uniform(3.5, 6.5)
    prp_volume = Decimal(rnd.choice(["4.0", "4.5", "5.0", "5.5", "6.0"]))
    injected = prp_volume + (prp_volume / 10).quantize(Decimal("0.01"))
    return {
        "blood_volume_ml": Decimal("54"),
        "tubes": 6,
        "anticoagulant_agent": "acd_a",
        "anticoagulant_volume_ml": Decimal("5.4"),
        "wb_platelets_per_ul": wb,
        "wb_wbc_per_ul": rnd.randrange(4500, 9000, 100),
        "wb_neutrophils_pct": Decimal(rnd.randrange(50, 70)),
        "wb_rbc_per_ul": rnd.randrange(4_200_000, 5_400_000, 10_000),
        "spins": [
            {"g": 100, "minutes": 15},
            {"rpm": 3783, "radius_cm": 10, "minutes": 20},
        ],
        "prp_volume_ml": prp_volume,
        "prp_platelets_per_ul": int(wb * fold) // 1000 * 1000,
        "prp_wbc_per_ul": rnd.randrange(1500, 6000, 100),
        "prp_neutrophils_pct": Decimal(rnd.randrange(10, 40)),
        "prp_rbc_per_ul": rnd.randrange(10_000, 60_000, 1000),
        "activation_agent": "calcium_gluconate",
        "activation_volume_ml": (prp_volume / 10).quantize(Decimal("0.01")),
        "injected_volume_ml": injected,
    }


def _split(total: Decimal, codes: list[str]) -> list[tuple[str, Decimal]]:
    share = (total / len(codes)).quantize(Decimal("0.01"))
    parts = [(c, share) for c in codes[:-1]]
    return [*parts, (codes[-1], total - share * (len(codes) - 1))]


WARNING_PREP = {
    # Bovine thrombin as activator, EDTA as anticoagulant and a product barely concentrated
    # (fold under 2x): three kernel warnings on one record, as a clinic might mistype it.
    "anticoagulant_agent": "edta",
    "activation_agent": "bovine_thrombin",
}
AMENDMENT_REASON = "Aftercare sheet was given at the desk; ticked after signing."


def _ensure_states(clinic: Clinic) -> None:
    """A preparation with kernel warnings and an amended signed record (once per clinic)."""
    signed = list(
        TreatmentSession.objects.filter(clinic=clinic, status=SessionStatus.SIGNED)
        .select_related("preparation", "signed_by")
        .order_by("started_at", "id")[:2]
    )
    has_warning = any(
        p.computed.get("warnings")
        for p in Preparation.objects.filter(session__clinic=clinic).only("computed")
    )
    if signed and not has_warning and hasattr(signed[0], "preparation"):
        prep = signed[0].preparation
        data = {f: getattr(prep, f) for f in PREP_FIELDS}
        data.update(WARNING_PREP)
        wb = data["wb_platelets_per_ul"]
        if isinstance(wb, int):
            data["prp_platelets_per_ul"] = int(wb * 1.8) // 1000 * 1000
        for f, v in data.items():
            setattr(prep, f, v)
        prep.computed = preparation_compute(data)
        prep.save()
    if len(signed) > 1 and not Amendment.objects.filter(session__clinic=clinic).exists():
        session = signed[1]
        Amendment.objects.create(
            session=session,
            section="details",
            reason=AMENDMENT_REASON,
            by=session.signed_by or session.started_by,
            before={"aftercare_given": False, "notes": ""},
            after={"aftercare_given": True, "notes": "Aftercare sheet handed over at the desk."},
        )
        session.aftercare_given = True
        session.notes = "Aftercare sheet handed over at the desk."
        session.save(update_fields=["aftercare_given", "notes", "updated_at"])


RECALL_REASON = (
    "Manufacturer's field safety notice: sterility of this batch cannot be assured. "
    "Quarantined; patients treated with it to be reviewed."
)


def _ensure_recalled_lot(clinic: Clinic) -> None:
    """One recalled lot that was used in sessions (once per clinic; also on an existing db)."""
    if Lot.objects.filter(product__clinic=clinic, recalled_at__isnull=False).exists():
        return
    manager = (
        Membership.objects.filter(
            clinic=clinic, role__in=_roles_with(Perm.INVENTORY_MANAGE), is_active=True
        )
        .select_related("user", "clinic")
        .order_by("id")
        .first()
    )
    used = (
        Lot.objects.filter(product__clinic=clinic, uses__isnull=False)
        .select_related("product")
        .distinct()
        .order_by("-expires_on", "product__name", "lot_number")
    )
    lot = used.filter(product__category="activator").first() or used.first()
    if manager is None or lot is None:
        return
    lot_recall(actor=Actor(manager.user, manager, via="cli"), lot=lot, reason=RECALL_REASON)


def _seed_clinic(clinic: Clinic, today: dt.date) -> None:
    rnd = random.Random(f"procedures-{clinic.slug}")
    lots = _catalogue(clinic, today, rnd)
    _formulations(clinic)
    if TreatmentSession.objects.filter(clinic=clinic).exists():
        _ensure_states(clinic)
        _ensure_recalled_lot(clinic)
        return
    physician = (
        Membership.objects.filter(
            clinic=clinic, role__in=_roles_with(Perm.SESSION_SIGN), is_active=True
        )
        .select_related("user")
        .order_by("id")
        .first()
    )
    nurse = (
        Membership.objects.filter(
            clinic=clinic, role__in=_roles_with(Perm.SESSION_PERFORM), is_active=True
        )
        .exclude(role__in=_roles_with(Perm.SESSION_SIGN))
        .select_related("user")
        .order_by("id")
        .first()
    )
    if physician is None:
        return
    operator = nurse.user if nurse else physician.user
    tz = ZoneInfo(clinic.timezone)
    visits: list[tuple[Patient, dt.datetime, object]] = []
    try:
        from anagen.scheduling.models import Appointment

        appts = Appointment.objects.filter(
            clinic=clinic, status="completed", procedure__startswith="prp_scalp"
        ).select_related("patient", "centrifuge")
        visits = [(a.patient, a.starts_at, a) for a in appts if a.starts_at.date() < today]
    except Exception:  # pragma: no cover - scheduling not installed
        visits = []
    if not visits:
        patients = list(Patient.objects.filter(clinic=clinic).order_by("id")[:FALLBACK_PATIENTS])
        for p in patients:
            day = today - dt.timedelta(days=rnd.randrange(7, 270))
            at = dt.datetime.combine(day, dt.time(rnd.randrange(9, 16), 0), tzinfo=tz)
            visits.append((p, at, None))
    # The gate each demo session went through: the patient's PRP-scalp consent and screening.
    from anagen.care.models import Consent, ScreeningRecord

    patient_ids = [p.pk for p, _, _ in visits]
    consent_of = dict(
        Consent.objects.filter(
            patient_id__in=patient_ids, kind="prp_scalp", withdrawn_at__isnull=True
        )
        .order_by("signed_at")
        .values_list("patient_id", "id")
    )
    screening_of = dict(
        ScreeningRecord.objects.filter(patient_id__in=patient_ids, procedure="prp_scalp")
        .order_by("run_at")
        .values_list("patient_id", "id")
    )
    zones = [z["code"] for z in rules.zones_for("scalp")]
    usable = {cat: [lot for lot in ls if lot.received_on <= today] for cat, ls in lots.items()}
    sessions, preps, zone_rows, uses = [], [], [], []
    for patient, at, appt in visits:
        s = TreatmentSession(
            clinic=clinic,
            patient=patient,
            appointment=appt,  # type: ignore[misc]
            procedure="prp_scalp",
            started_at=at,
            started_by=physician.user,
            status=SessionStatus.SIGNED,
            consent_id=consent_of.get(patient.pk),
            screening_id=screening_of.get(patient.pk),
            rotor_radius_cm=Decimal("10"),
            checked_in_at=at,
            cream_applied_at=at + dt.timedelta(minutes=5),
            draw_at=at + dt.timedelta(minutes=10),
            spin_started_at=at + dt.timedelta(minutes=15),
            activation_at=at + dt.timedelta(minutes=55),
            injection_started_at=at + dt.timedelta(minutes=60),
            completed_at=at + dt.timedelta(minutes=80),
            baseline_photos_taken=True,
            aftercare_given=True,
            signed_by=physician.user,
            signed_at=at + dt.timedelta(minutes=85),
        )
        sessions.append(s)
    with transaction.atomic():
        TreatmentSession.objects.bulk_create(sessions)
        for s in sessions:
            data = _prep_data(rnd)
            preps.append(
                Preparation(
                    session=s,
                    operator=operator,
                    recorded_by=operator,
                    computed=preparation_compute(data),
                    kernel_version=KERNEL_VERSION,
                    **data,  # type: ignore[arg-type]
                )
            )
            treated = sorted(rnd.sample(zones, rnd.randrange(2, 5)), key=zones.index)
            injected = data["injected_volume_ml"]
            assert isinstance(injected, Decimal)
            for code, volume in _split(injected, treated):
                zone_rows.append(
                    DeliveryZone(
                        session=s,
                        zone=code,
                        volume_ml=volume,
                        depth_mm=Decimal("3"),
                        technique=rnd.choice(["point_by_point", "nappage"]),
                        needle_gauge=30,
                    )
                )
            day = s.started_at.astimezone(tz).date()
            for cat in ("kit", "activator"):
                valid = [lot for lot in usable.get(cat, []) if lot.expires_on >= day]
                valid = [lot for lot in valid if lot.received_on <= day] or valid
                if valid:
                    uses.append(
                        LotUse(
                            session=s,
                            lot=valid[0],
                            quantity=1,
                            used_at=s.started_at + dt.timedelta(minutes=10),
                            used_by=operator,
                        )
                    )
        Preparation.objects.bulk_create(preps)
        DeliveryZone.objects.bulk_create(zone_rows)
        LotUse.objects.bulk_create(uses)
        lots_recount(Lot.objects.filter(product__clinic=clinic))  # bulk uses bypass the service
        _ensure_states(clinic)
        _ensure_recalled_lot(clinic)


def seed_procedures_demo(today: dt.date) -> None:
    for clinic in Clinic.objects.filter(slug__in=CLINIC_SLUGS).order_by("slug"):
        _seed_clinic(clinic, today)
