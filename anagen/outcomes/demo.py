"""Demo outcomes: baseline and follow-up measurements at a vertex site, global ratings and a few
placeholder photo pairs, so the progress and analytics pages show real cohorts.

Deterministic (seeded) and idempotent: a clinic that already has measurement sets is left alone.
Measurements are bulk-inserted for speed (the demo is synthetic; one audit event per clinic
records the seeding); photos go through the services so they are re-encoded and hashed.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import zone_of
from anagen.accounts.models import Clinic, Membership
from anagen.audit.services import audit_record
from anagen.demo import demo_clock
from anagen.outcomes import services
from anagen.outcomes.models import Measurement, MeasurementSet, MeasurementSite
from anagen.patients.models import Patient

DEMO_CLINICS = ("north", "river")
PATIENTS_PER_CLINIC = 60
PHOTO_PATIENTS = 6


def _actor(clinic: Clinic, key: str) -> Actor | None:
    membership = (
        Membership.objects.select_related("user", "clinic")
        .filter(clinic=clinic, user__username=f"{clinic.slug}.{key}", is_active=True)
        .first()
    )
    return Actor(user=membership.user, membership=membership, via="cli") if membership else None


def _placeholder(rng: random.Random, hairs: int) -> bytes:
    """A tiny drawn 'scalp' with dark strokes; more strokes for more hair."""
    img = Image.new("RGB", (160, 120), (224, 186, 160))
    draw = ImageDraw.Draw(img)
    for _ in range(hairs):
        x, y = rng.randint(0, 159), rng.randint(0, 119)
        draw.line((x, y, x + rng.randint(-6, 6), y + rng.randint(4, 12)), fill=(40, 28, 20))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _seed_clinic(clinic: Clinic, today: dt.date) -> None:
    nurse = _actor(clinic, "nurse")
    if nurse is None or MeasurementSet.objects.filter(patient__clinic=clinic).exists():
        return
    rng = random.Random(f"outcomes-{clinic.slug}")
    patients = list(Patient.objects.filter(clinic=clinic, deleted_at__isnull=True).order_by("pk"))
    # Patients with treatment sessions first, so their baseline comes just before the first one.
    from django.db.models import Min

    from anagen.procedures.models import TreatmentSession

    first_session = {
        row["patient_id"]: row["first"].date()
        for row in TreatmentSession.objects.filter(clinic=clinic)
        .values("patient_id")
        .annotate(first=Min("started_at"))
    }
    patients.sort(key=lambda p: (p.pk not in first_session, p.pk))
    chosen = patients[:PATIENTS_PER_CLINIC]
    sites: list[MeasurementSite] = []
    for p in chosen:
        sites.append(
            MeasurementSite(
                patient=p,
                name="Vertex tattoo dot",
                location="vertex",
                marked_on=today,  # set below to the baseline day
                created_by=nurse.user,
            )
        )
    tz = zone_of(clinic)
    with transaction.atomic():
        sets: list[MeasurementSet] = []
        plan: list[tuple[int, float]] = []  # (index in sites, density)
        for i, p in enumerate(chosen):
            start = today - dt.timedelta(days=rng.randint(200, 300))
            if p.pk in first_session:
                start = first_session[p.pk] - dt.timedelta(days=rng.randint(1, 14))
            # Never before the patient first came (registration, consultation, consents).
            registered = timezone.localtime(p.created_at, tz).date()
            if registered <= today:
                start = max(start, registered)
            sites[i].marked_on = start
            method = "phototrichogram" if rng.random() < 0.7 else "trichoscopy"
            baseline = rng.uniform(120, 160)
            responder = rng.random() > 0.15
            gain = rng.gauss(0.20, 0.06) if responder else rng.gauss(0.02, 0.03)
            follow_ups = rng.choice((2, 3))
            visits: list[tuple[dt.date, str, float, int | None]] = [
                (start, "baseline", baseline, None)
            ]
            for k in range(1, follow_ups + 1):
                frac = k / follow_ups
                noisy = baseline * (1 + gain * frac) + rng.gauss(0, 3)
                score = max(-3, min(3, round(gain * frac * 10 + rng.gauss(0, 0.6))))
                visits.append((start + dt.timedelta(days=60 * k + 30), "follow_up", noisy, score))
            for on, label, density, rating in visits:
                if on > today:
                    continue
                sets.append(
                    MeasurementSet(
                        patient=p,
                        measured_on=on,
                        visit_label=label,
                        method=method,
                        global_photo_rating=rating,
                        satisfaction=(None if rating is None else max(1, min(5, 3 + rating))),
                        recorded_by=nurse.user,
                    )
                )
                plan.append((i, density))
        MeasurementSite.objects.bulk_create(sites)
        MeasurementSet.objects.bulk_create(sets)
        rows = []
        for mset, (i, density) in zip(sets, plan, strict=True):
            diameter = rng.uniform(55, 75)
            terminal = rng.uniform(70, 88)
            rows.append(
                Measurement(
                    measurement_set=mset,
                    site=sites[i],
                    density_per_cm2=Decimal(f"{density:.2f}"),
                    density_unit_entered="cm2",
                    density_value_entered=Decimal(f"{density:.2f}"),
                    mean_diameter_um=Decimal(f"{diameter:.1f}"),
                    terminal_pct=Decimal(f"{terminal:.1f}"),
                    vellus_pct=Decimal("100") - Decimal(f"{terminal:.1f}"),
                )
            )
        Measurement.objects.bulk_create(rows)
        from anagen.outcomes.services.summaries import outcome_summaries_refresh

        outcome_summaries_refresh(clinic=clinic, patient_ids=[p.pk for p in chosen])
        from anagen.outcomes.services.last_measured import last_measurements_refresh

        last_measurements_refresh(patient_ids=[p.pk for p in chosen])
        audit_record(
            action="outcomes.demo_seed",
            actor=nurse,
            changes={"patients": len(chosen), "sets": len(sets)},
        )
    _seed_photos(clinic, nurse, chosen, rng)


def _seed_photos(clinic: Clinic, nurse: Actor, patients: list[Patient], rng: random.Random) -> None:
    from anagen.care.selectors import consent_valid_for

    done = 0
    for p in patients:
        if done >= PHOTO_PATIENTS:
            break
        if consent_valid_for(p, "photo_clinical") is None:
            continue
        sets = list(MeasurementSet.objects.filter(patient=p).order_by("measured_on"))
        if len(sets) < 2:
            continue
        hairs = 120
        for mset in (sets[0], sets[-1]):
            # Recorded on the day the photos were taken (after the photo consent of first contact).
            taken = dt.datetime.combine(mset.measured_on, dt.time(11, 30), tzinfo=zone_of(clinic))
            with demo_clock(min(taken, timezone.now())):
                photo_set = services.photo_set_create(
                    actor=nurse, patient=p, taken_on=mset.measured_on
                )
                services.photo_add(
                    actor=nurse,
                    photo_set=photo_set,
                    view="vertex",
                    content=_placeholder(rng, hairs),
                )
            hairs = int(hairs * 1.3)
        done += 1


def seed_outcomes_demo(today: dt.date) -> None:
    for clinic in Clinic.objects.filter(slug__in=DEMO_CLINICS).order_by("slug"):
        _seed_clinic(clinic, today)
