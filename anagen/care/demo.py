"""Demo consultations: assessments, screenings and consents for the demo clinics' patients.

Deterministic (seeded) and idempotent: a clinic that already has assessments is left alone. Goes
through the services, so the demo has the same audit trail and row history as real use.

Each consultation is recorded on the patient's first contact day (the day they registered,
``anagen.demo`` moves it before their first booked visit), with the clock set to that day: the
assessment, its signature, the screening (for the first booked visit) and the consents are all
stamped before any session they cover, and their audit events say so too. Every patient with a
booked visit is assessed, screened and consented (no one is treated without); others by share.
No one is treated without clearance: a booked patient's "review" result is overridden by the
physician at the consultation (``services.screening_override``: signed, with a reason), and a
booked patient the screening blocks (contraindicated, defer: never overridable) has their
series cancelled that day, so they stay in the demo as blocked patients with no session.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import zone_of
from anagen.accounts.models import Clinic, Membership
from anagen.care import services
from anagen.care.models import Assessment, ScreeningRecord, ScreeningTrigger
from anagen.demo import demo_clock, first_visits
from anagen.patients.models import Intake, Patient

DEMO_CLINICS = ("north", "river")
ASSESSED_SHARE = 0.7
CONSENTED_SHARE = 0.85
NORWOOD = ["II", "IIa", "III", "IIIa", "III vertex", "IV", "IVa", "V", "Va", "VI"]


def _actor(clinic: Clinic, key: str) -> Actor | None:
    membership = (
        Membership.objects.select_related("user", "clinic")
        .filter(clinic=clinic, user__username=f"{clinic.slug}.{key}", is_active=True)
        .first()
    )
    return Actor(user=membership.user, membership=membership, via="cli") if membership else None


def _assessment_data(
    rng: random.Random, pattern: str, visit_on: dt.date
) -> services.AssessmentData:
    """A diagnosis consistent with the intake's hair-loss pattern, with a fitting scale."""
    data = services.AssessmentData(visit_on=visit_on, diagnosis_code="other")
    if pattern == "female_pattern":
        data.diagnosis_code = "female_pattern_hair_loss"
        if rng.random() < 0.5:
            data.scale_id, data.scale_value = "ludwig", rng.choice(["I", "I", "II", "III"])
        else:
            data.scale_id, data.scale_value = "sinclair", rng.choice(["2", "2", "3", "3", "4"])
        data.notes = "Widened central part; frontal hairline preserved."
    elif pattern == "patchy":
        data.diagnosis_code = "alopecia_areata"
        data.scale_id = "salt"
        data.salt_vertex = Decimal(rng.choice([0, 5, 10, 20, 30]))
        data.salt_posterior = Decimal(rng.choice([0, 10, 15, 25, 40]))
        data.salt_right = Decimal(rng.choice([0, 0, 5, 10]))
        data.salt_left = Decimal(rng.choice([0, 5, 10, 15]))
        data.pull_test_pulled = 50
        data.pull_test_shed = rng.choice([7, 9, 12])
        data.notes = "Well-demarcated patches; exclamation-mark hairs at the margin."
    elif pattern == "diffuse":
        data.diagnosis_code = "telogen_effluvium"
        data.pull_test_pulled = 60
        data.pull_test_shed = rng.choice([8, 10, 14])
        data.notes = "Diffuse shedding after a febrile illness; no miniaturisation."
    elif pattern == "hairline_traction":
        data.diagnosis_code = "traction_alopecia"
        data.notes = "Thinning along the frontal and temporal hairline; tight braids."
    else:  # male pattern (and "other" sex with a male pattern)
        data.diagnosis_code = "androgenetic_alopecia"
        data.scale_id, data.scale_value = "norwood_hamilton", rng.choice(NORWOOD)
        data.notes = "Bitemporal recession and vertex thinning; miniaturised hairs."
    if data.pull_test_pulled is None:
        data.pull_test_pulled = 50
        data.pull_test_shed = rng.choice([1, 2, 3, 4])
    data.follicles_present = True
    return data


@transaction.atomic
def seed_care_demo(today: dt.date | None = None) -> None:
    today = min(today or timezone.localdate(), timezone.localdate())
    for index, slug in enumerate(DEMO_CLINICS):
        clinic = Clinic.objects.filter(slug=slug).first()
        if clinic is None or Assessment.objects.filter(patient__clinic=clinic).exists():
            continue
        physician = _actor(clinic, "physician")
        nurse = _actor(clinic, "nurse") or physician
        if physician is None or nurse is None:
            continue
        rng = random.Random(2000 + index)
        tz = zone_of(clinic)
        latest_pattern = {
            i.patient_id: i.hair_loss_pattern
            for i in Intake.objects.filter(patient__clinic=clinic).order_by("patient_id", "version")
        }
        first_visit = first_visits(clinic)
        _publish_consent_texts_before(clinic)
        blocked: dict[int, dt.datetime] = {}
        for patient in Patient.objects.filter(clinic=clinic).order_by("record_number"):
            booked = patient.pk in first_visit
            assessed = rng.random() < ASSESSED_SHARE or booked
            if not assessed or patient.pk not in latest_pattern:
                continue
            # The consultation: the morning of first contact, after registration and intake.
            registered = timezone.localtime(patient.created_at, tz)
            visit_on = min(registered.date(), today)
            planned_on = max(first_visit.get(patient.pk, visit_on), visit_on)
            at = max(
                registered + dt.timedelta(minutes=20),
                dt.datetime.combine(visit_on, dt.time(10, 0), tzinfo=tz),
            )
            at = min(at, timezone.now() - dt.timedelta(hours=1))  # a patient registered just now
            data = _assessment_data(rng, latest_pattern[patient.pk] or "other", visit_on)
            with demo_clock(at):
                assessment = services.assessment_create(actor=nurse, patient=patient, data=data)
            with demo_clock(at + dt.timedelta(minutes=25)):
                services.assessment_sign(actor=physician, assessment=assessment)
            with demo_clock(at + dt.timedelta(minutes=30)):
                record = services._screening_run(
                    actor=physician,
                    patient=patient,
                    procedure="prp_scalp",
                    planned_on=planned_on,
                    trigger=ScreeningTrigger.MANUAL,
                )
            if record.decision == "review" and booked:
                # The physician weighs the relative contraindications at the consultation and
                # clears a booked patient, signed with a reason (only a review can be
                # overridden); an unbooked patient's review stays open, awaiting a physician.
                with demo_clock(at + dt.timedelta(minutes=33)):
                    services.screening_override(
                        actor=physician, screening=record, reason=_override_reason(record)
                    )
            elif record.decision != "eligible" and booked:
                blocked[patient.pk] = at + dt.timedelta(minutes=35)
            if rng.random() < CONSENTED_SHARE or booked:
                for minutes, kind in ((40, "prp_scalp"), (42, "photo_clinical")):
                    with demo_clock(at + dt.timedelta(minutes=minutes)):
                        services.consent_sign(
                            actor=nurse,
                            patient=patient,
                            kind=kind,
                            signed_name=patient.full_name,
                            agreed=True,
                        )
        _cancel_blocked_visits(clinic, blocked)


def _override_reason(record: ScreeningRecord) -> str:
    """The physician's reason for accepting a review result, naming what was weighed."""
    labels = ", ".join(rule.replace("_", " ") for rule in record.finding_rules) or "findings"
    return (
        f"Reviewed at consultation ({labels}): relative only; benefit outweighs the risk. "
        "Proceed with standard precautions and re-check at each visit."
    )


def _cancel_blocked_visits(clinic: Clinic, patient_ids: dict[int, dt.datetime]) -> None:
    """A patient the screening blocks (contraindicated, defer: never overridable) is not
    treated: the consultation cancels their booked series, so the demo keeps them as blocked
    patients with no session. Done directly, like the scheduling demo's past statuses."""
    from anagen.scheduling import calendar_version
    from anagen.scheduling.models import (
        Appointment,
        AppointmentStatus,
        PlanStatus,
        Recall,
        ResourceBooking,
        TreatmentPlan,
    )

    if not patient_ids:
        return
    reason = "Screening did not clear the patient for treatment"
    appts = list(Appointment.objects.filter(clinic=clinic, patient_id__in=patient_ids))
    for a in appts:
        a.status = AppointmentStatus.CANCELLED
        at = patient_ids[a.patient_id].astimezone(dt.UTC).isoformat(timespec="seconds")
        event = {"at": at, "by": "demo", "event": AppointmentStatus.CANCELLED, "reason": reason}
        a.history = [*a.history, event]
    Appointment.objects.bulk_update(appts, ["status", "history"])
    ResourceBooking.objects.filter(appointment__in=appts).update(active=False)
    TreatmentPlan.objects.filter(clinic=clinic, patient_id__in=patient_ids).update(
        status=PlanStatus.CANCELLED
    )
    Recall.objects.filter(clinic=clinic, patient_id__in=patient_ids).delete()
    calendar_version.bump(clinic.pk)


def _publish_consent_texts_before(clinic: Clinic) -> None:
    """The consent texts the demo signs were published before its first patient came: the
    defaults are seeded by a migration (stamped the day the database was made), and a consent
    whose snapshot says "published" after its signature reads as signed on a text not yet out.
    Moves only texts published later than a month before the clinic's first registration."""
    from anagen.care.models import ConsentTemplate
    from anagen.care.selectors import consent_template_current

    first = Patient.all_objects.filter(clinic=clinic).order_by("created_at").first()
    if first is None:
        return
    day = timezone.localtime(first.created_at, zone_of(clinic)).date() - dt.timedelta(days=30)
    at = dt.datetime.combine(day, dt.time(9, 0), tzinfo=zone_of(clinic))
    for kind in ("prp_scalp", "photo_clinical"):
        template = consent_template_current(clinic, kind)
        if template is not None and template.published_at > at:
            ConsentTemplate.objects.filter(pk=template.pk).update(published_at=at)
