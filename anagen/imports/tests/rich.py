"""A rich demo patient for the archive tests: the demo's busiest patient, plus what the demo does
not record (a second intake with a prior procedure, a topical application, a mesotherapy
delivery, an adverse event with a follow-up, an amendment, a screening override, a withdrawn
consent, a recall and an outcome report), so every part an archive carries has rows."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db.models import Count, Q
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, Membership
from anagen.care.models import Consent, ScreeningRecord
from anagen.imports import record
from anagen.outcomes.models import ReportFile, ReportJob
from anagen.patients.models import (
    Intake,
    IntakeAllergy,
    IntakeMedication,
    IntakePriorProcedure,
    IntakePriorTreatment,
    Patient,
)
from anagen.procedures.models import (
    Amendment,
    LotUse,
    MesotherapyDelivery,
    MesotherapyFormulation,
    TopicalApplication,
    TreatmentSession,
)
from anagen.scheduling.models import Recall

PDF = b"%PDF-1.4\n% an outcome report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def actor(clinic: Clinic, key: str) -> Actor:
    membership = Membership.objects.select_related("user", "clinic").get(
        clinic=clinic, user__username=f"{clinic.slug}.{key}"
    )
    return Actor(membership.user, membership, via="cli")


def busiest_patient(clinic: Clinic) -> Patient:
    found = (
        Patient.objects.filter(clinic=clinic)
        .annotate(
            photos=Count("photo_sets", distinct=True),
            sessions=Count(
                "treatment_sessions",
                filter=Q(treatment_sessions__preparation__isnull=False),
                distinct=True,
            ),
            plans=Count("treatment_plans", distinct=True),
        )
        .filter(photos__gt=0, sessions__gt=0, plans__gt=0)
        .order_by("-sessions", "-photos", "pk")
        .first()
    )
    assert found is not None
    return Patient.objects.get(pk=found.pk)


def enrich(patient: Patient) -> Patient:
    """Add what the demo leaves out (service where it checks something, rows where not)."""
    from anagen.procedures.services import adverse_event_follow_up, adverse_event_record

    clinic = patient.clinic
    physician = actor(clinic, "physician")
    now = timezone.now()
    latest = Intake.objects.filter(patient=patient).order_by("-version").first()
    assert latest is not None
    # A newer intake version (the first one stays, with its laboratory results).
    intake = Intake.objects.create(
        patient=patient,
        version=latest.version + 1,
        recorded_by=latest.recorded_by,
        conditions=["thyroid"],
        conditions_note="Levothyroxine since 2019.",
        smoking="former",
        hair_loss_onset=dt.date(2021, 5, 1),
        hair_loss_pattern="male_pattern",
        family_history=True,
        family_history_note="Father",
        recent_triggers="Covid-19 in 2024",
        notes="Prefers morning appointments.",
    )
    IntakeMedication.objects.create(
        intake=intake, name="Finasteride", category="finasteride", prescribed=True, dose="1 mg"
    )
    IntakeAllergy.objects.create(intake=intake, substance="Lidocaine", reaction="rash")
    IntakePriorTreatment.objects.create(
        intake=intake,
        treatment="minoxidil",
        started_on=dt.date(2022, 1, 10),
        response="partial",
        note="5 % foam",
    )
    IntakePriorProcedure.objects.create(
        intake=intake,
        kind="corticosteroid_injection_at_site",
        on=dt.date(2025, 3, 4),
        note="Triamcinolone, vertex",
    )
    session = (
        TreatmentSession.objects.filter(patient=patient, preparation__isnull=False)
        .order_by("pk")
        .first()
    )
    assert session is not None
    TopicalApplication.objects.get_or_create(
        session=session,
        defaults={
            "device": "Dermapen 4",
            "needle_depth_mm": Decimal("0.5"),
            "passes": 3,
            "volume_ml": Decimal("1.2"),
        },
    )
    formulation = MesotherapyFormulation.objects.filter(clinic=clinic).order_by("pk").first()
    assert formulation is not None
    MesotherapyDelivery.objects.create(
        session=session,
        formulation=formulation,
        zone="vertex",
        technique="nappage",
        device="needle",
        injection_points=40,
        volume_per_point_ml=Decimal("0.050"),
        area_cm2=Decimal("60.0"),
        ingredient_codes=["biotin"],
        findings=[{"level": "info", "text": "Within the interval."}],
        rules_version="2026.1",
    )
    use = LotUse.objects.filter(session=session).select_related("lot").first()
    assert use is not None
    event = adverse_event_record(
        actor=physician,
        session=session,
        data={
            "term": "bruising",
            "ctcae_grade": 1,
            "relatedness": "probable",
            "action": "none",
            "outcome": "not_resolved",
            "onset_at": session.started_at + dt.timedelta(hours=1),
            "lot": use.lot,
            "description": "Small bruise at the vertex.",
        },
    )
    adverse_event_follow_up(
        actor=physician,
        event=event,
        data={"outcome": "resolved", "note": "Gone at the phone check."},
    )
    Amendment.objects.create(
        session=session,
        section="preparation",
        reason="Platelet count typed in the wrong field.",
        by=physician.user,
        before={"prp_platelets_per_ul": 128000},
        after={"prp_platelets_per_ul": 1280000},
    )
    screening = ScreeningRecord.objects.filter(patient=patient).order_by("pk").first()
    assert screening is not None
    ScreeningRecord.objects.filter(pk=screening.pk).update(
        decision="review",
        override_by=physician.user,
        override_at=now - dt.timedelta(days=2),
        override_reason="Reviewed the platelet count with the haematologist.",
        override_fingerprint={"platelets": "250"},
    )
    consent = Consent.objects.filter(patient=patient, withdrawn_at=None).order_by("-pk").first()
    assert consent is not None
    Consent.objects.filter(pk=consent.pk).update(
        withdrawn_at=now - dt.timedelta(days=1),
        withdrawn_reason="Changed their mind.",
        withdrawn_by=physician.user,
    )
    plan = patient.treatment_plans.order_by("pk")[0]
    if not Recall.objects.filter(patient=patient).exists():
        Recall.objects.create(
            clinic=clinic,
            patient=patient,
            plan=plan,
            due_from=timezone.localdate() + dt.timedelta(days=120),
            due_until=timezone.localdate() + dt.timedelta(days=150),
        )
    job = ReportJob.objects.create(
        clinic=clinic,
        requested_by=physician.user,
        patient_ids=[patient.pk],
        status="done",
        total=1,
        done_count=1,
        finished_at=now,
    )
    report = ReportFile(job=job, patient=patient, sha256=hashlib.sha256(PDF).hexdigest())
    report.file.save("report.pdf", ContentFile(PDF), save=False)
    report.save()
    return Patient.objects.get(pk=patient.pk)


def missing_parts(patient: Patient) -> list[str]:
    """Parts of `record.PARTS` with no row for this patient (the test wants none)."""
    return [
        str(model._meta.label)
        for model, path in record.PARTS
        if not model._base_manager.filter(**{path: patient.pk}).exists()
    ]
