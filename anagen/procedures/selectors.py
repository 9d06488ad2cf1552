"""Reads of the treatment-room record, always scoped by the actor's clinic (another clinic's
object is a 404)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, QuerySet, Sum, Window
from django.http import Http404

from anagen.accounts.access import Actor, patient_for, record_id
from anagen.accounts.permissions import Perm
from anagen.audit.reads import note_read
from anagen.clinical import procedure_rules as rules
from anagen.patients.models import Patient
from anagen.procedures import compiled
from anagen.procedures.models import (
    AdverseEvent,
    AdverseEventFollowUp,
    Amendment,
    DeliveryMode,
    DeliveryZone,
    Lot,
    LotUse,
    MesotherapyDelivery,
    MesotherapyFormulation,
    Preparation,
    Product,
    TopicalApplication,
    TreatmentSession,
)

KIT_CATEGORIES = ("kit", "tube")


# --- sessions ----------------------------------------------------------------------------------


def sessions_for(actor: Actor) -> QuerySet[TreatmentSession]:
    actor.require(Perm.CLINICAL_VIEW)
    return TreatmentSession.objects.filter(clinic=actor.clinic, patient__deleted_at__isnull=True)


# What the API's session list shows of a session (procedures.api.SessionOut) and of who signed.
SESSION_LIST_FIELDS = (
    "id",
    "clinic_id",
    "patient_id",
    "appointment_id",
    "procedure",
    "status",
    "started_at",
    "screening_id",
    "consent_id",
    "delivery_mode",
    "rotor_radius_cm",
    "notes",
    "checked_in_at",
    "cream_applied_at",
    "draw_at",
    "spin_started_at",
    "activation_at",
    "injection_started_at",
    "completed_at",
    "baseline_photos_taken",
    "aftercare_given",
    "signed_at",
    "signed_by__username",
)


def session_list(*, actor: Actor, patient: Patient) -> QuerySet[TreatmentSession]:
    """A patient's sessions, newest first. `patient` comes through the one door
    (`patient_for`: a live patient of the actor's clinic), so the rows are filtered by it
    directly (no join to the patient to re-check it), and only the columns the list shows are
    read."""
    actor.require(Perm.CLINICAL_VIEW)
    return (
        TreatmentSession.objects.filter(clinic=actor.clinic, patient=patient)
        # The API list shows who signed, not the preparation (no joined row to decode).
        .select_related("signed_by")
        .only(*SESSION_LIST_FIELDS)
        .order_by("-started_at", "-id")
    )


def _session_list_shape(a: int, b: int) -> QuerySet[TreatmentSession]:
    return (
        TreatmentSession.objects.filter(clinic_id=a, patient_id=b)
        .select_related("signed_by")
        .only(*SESSION_LIST_FIELDS)
        .annotate(_list_total=Window(Count("id")))
        .order_by("-started_at", "-id")
    )


def session_list_page(
    *, actor: Actor, patient: Patient, page: int, page_size: int
) -> dict[str, Any]:
    """One page of `session_list` as `anagen.interop.paging.page_of` gives it ({count, page,
    pages, results}, the count capped at COUNT_CAP + 1), in one query compiled once per page
    position: the count rides along as a window over the patient's rows."""
    from anagen.interop.paging import COUNT_CAP, page_of

    actor.require(Perm.CLINICAL_VIEW)
    start = (page - 1) * page_size
    results = compiled.rows(
        f"session_list:{start}:{page_size}",
        lambda a, b: _session_list_shape(a, b)[start : start + page_size],
        a=actor.clinic.pk,
        b=patient.pk,
    )
    if not results and page == 1:  # no session yet
        return {"count": 0, "page": 1, "pages": 1, "results": []}
    if not results:  # a page past the end: counted as page_of counts it
        return page_of(session_list(actor=actor, patient=patient), page, page_size)
    count = min(int(getattr(results[0], "_list_total")), COUNT_CAP + 1)  # noqa: B009
    return {
        "count": count,
        "page": page,
        "pages": max(1, math.ceil(count / page_size)),
        "results": results,
    }


def session_get(
    *, actor: Actor, session_id: Any, patient: Patient | None = None
) -> TreatmentSession:
    qs = sessions_for(actor).select_related(
        "patient", "clinic", "started_by", "signed_by", "screening", "consent", "appointment"
    )
    if patient is not None:
        qs = qs.filter(patient=patient)
    session = qs.filter(pk=record_id(session_id)).first()
    if session is None:
        raise Http404("No such session.")
    return session


def session_for_patient(actor: Actor, patient_id: Any, session_id: Any) -> TreatmentSession:
    patient = patient_for(actor, patient_id)
    return session_get(actor=actor, patient=patient, session_id=session_id)


def session_record(actor: Actor, patient_id: Any, session_id: Any) -> TreatmentSession:
    """The session page's record: the patient through the one door, then the session with its
    preparation, topical application and the people who started and signed it in one query.
    The patient and clinic already read are reused (no join to re-read them: PostgreSQL's
    planning time grows with every join of the query). The gate (screening, consent,
    appointment) is read when the page shows it."""
    patient = patient_for(actor, patient_id)
    actor.require(Perm.CLINICAL_VIEW)
    found = compiled.rows(
        "session_record",
        _record_shape,
        a=actor.clinic.pk,
        b=patient.pk,
        c=record_id(session_id),
    )
    if not found:
        raise Http404("No such session.")
    session: TreatmentSession = found[0]
    session.patient = patient
    session.clinic = actor.clinic
    return session


def _record_shape(a: int, b: int, c: int) -> QuerySet[TreatmentSession]:
    return (
        TreatmentSession.objects.filter(clinic_id=a, patient_id=b, pk=c)
        .select_related(
            "preparation", "preparation__operator", "topical", "started_by", "signed_by"
        )
        .order_by()[:1]
    )


# What the page and the checklist read of the gate: the screening's decision (and whether it
# was overridden), when the consent was signed, the appointment's name and time.
GATE_FIELDS = (
    "screening__decision",
    "screening__override_at",
    "consent__signed_at",
    "appointment__kind",
    "appointment__sequence",
    "appointment__starts_at",
)


def session_gate(session: TreatmentSession) -> None:
    """The gate at start the page shows (screening, consent, appointment) in one query instead
    of one per part, set on the session; only the columns shown are read (not the screening's
    inputs nor the consent's signed text)."""
    if not (session.screening_id or session.consent_id or session.appointment_id):
        return
    found = compiled.rows("session_gate", _gate_shape, a=session.pk)
    if not found:  # pragma: no cover - the record was just read
        return
    gate = found[0]
    session.screening = gate.screening
    session.consent = gate.consent
    session.appointment = gate.appointment


def _gate_shape(a: int) -> QuerySet[TreatmentSession]:
    return (
        TreatmentSession.objects.filter(pk=a)
        .select_related("screening", "consent", "appointment")
        .only(*GATE_FIELDS)
        .order_by()[:1]
    )


@dataclass(frozen=True)
class SessionRows:
    """One session record's rows, each read once: the page's sections, its checklist, its
    totals and its version all come from these."""

    prep: Preparation | None
    topical: TopicalApplication | None
    zones: list[DeliveryZone]
    meso: list[MesotherapyDelivery]
    lot_uses: list[LotUse]


def session_rows(session: TreatmentSession) -> SessionRows:
    """The record's parts (preparation and topical from `session_record`'s join when it made
    them, else read here): three queries whatever the state of the record (two for a record
    that cannot hold mesotherapy deliveries)."""
    meso = session.meso_deliveries.select_related("formulation", "allergy_override_by")
    if not session.is_prp:
        meso = meso.prefetch_related("formulation__ingredients")
    return SessionRows(
        prep=getattr(session, "preparation", None),
        topical=getattr(session, "topical", None),
        zones=compiled.rows("session_zones", _zones_shape, a=session.pk),
        # Only mesotherapy sessions hold deliveries (services.meso_delivery_add refuses the
        # others, and a PRP page shows none): no query for a PRP record.
        meso=list(meso) if session.kind == "mesotherapy" else [],
        lot_uses=compiled.rows("session_lot_uses", _lot_uses_shape, a=session.pk),
    )


def _zones_shape(a: int) -> QuerySet[DeliveryZone]:
    return DeliveryZone.objects.filter(session_id=a)


def _lot_uses_shape(a: int) -> QuerySet[LotUse]:
    return LotUse.objects.filter(session_id=a).select_related(
        "lot", "lot__product", "used_by", "allergy_override_by"
    )


def _loaded_row(row: Any) -> dict[str, Any]:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields}


def rows_version(session: TreatmentSession, rows: SessionRows) -> str:
    """The page version (`anagen.web.versions.page_version`) of the record from the rows just
    read, without reading them again: the same token as ``page_version(*session_record_parts(
    session), session.lot_uses.all())`` (asserted by the tests for every state of a record)."""
    import hashlib
    import json

    from anagen.interop.etag import _canonical

    def one(row: Any) -> Any:
        if row is None or row.pk is None:
            return None
        return {"model": row._meta.label_lower, "pk": row.pk, "row": _canonical(_loaded_row(row))}

    def many(model: Any, items: list[Any]) -> Any:
        ordered = sorted(items, key=lambda r: r.pk)
        return {
            "model": model._meta.label_lower,
            "rows": _canonical([_loaded_row(r) for r in ordered]),
        }

    bodies = (
        one(session),
        one(rows.prep),
        many(DeliveryZone, rows.zones),
        many(MesotherapyDelivery, rows.meso),
        many(TopicalApplication, [rows.topical] if rows.topical is not None else []),
        many(LotUse, rows.lot_uses),
    )
    digest = hashlib.sha256()
    for body in bodies:
        digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
        digest.update(b";")
    return digest.hexdigest()[:32]


def preparation_of(session: TreatmentSession) -> Preparation | None:
    return Preparation.objects.filter(session=session).select_related("operator").first()


def preparation_flags(session: TreatmentSession, prep: Preparation | None) -> list[dict[str, str]]:
    """Kernel warnings plus where the preparation leaves the targets of the data file, every
    one in the same shape: code (= rule), level, message and source (a reference)."""
    if prep is None:
        return []
    computed = prep.computed if isinstance(prep.computed, dict) else {}
    findings = rules.prp_warnings(computed)
    findings += rules.prp_flags(
        computed, draw_to_injection_minutes=session.draw_to_injection_minutes
    )
    return [f.as_dict() for f in findings]


@dataclass(frozen=True)
class DeliveryTotals:
    delivered_ml: Decimal
    injected_ml: Decimal | None
    ok: bool
    message: str


def delivery_totals(
    session: TreatmentSession,
    prep: Preparation | None = None,
    rows: SessionRows | None = None,
) -> DeliveryTotals:
    """Do the zones (or the topical application) add up to the PRP volume injected? With the
    record's `rows` already read, nothing is read again."""
    if rows is not None:
        prep = rows.prep
    prep = prep if prep is not None else preparation_of(session)
    injected = prep.injected_volume_ml if prep is not None else None
    if session.delivery_mode == DeliveryMode.TOPICAL:
        topical = rows.topical if rows is not None else getattr(session, "topical", None)
        delivered = topical.volume_ml if topical is not None else Decimal("0")
    elif rows is not None:
        delivered = sum((z.volume_ml for z in rows.zones if z.volume_ml is not None), Decimal(0))
    else:
        delivered = session.zones.aggregate(v=Sum("volume_ml"))["v"] or Decimal("0")
    # SQLite sums decimals as floats: back to the stored precision (0.01 mL).
    delivered = Decimal(delivered).quantize(Decimal("0.01"))
    if injected is None:
        return DeliveryTotals(
            delivered, None, False, "Record the injected volume in the preparation."
        )
    tolerance = rules.delivery_tolerance_ml()
    if abs(delivered - injected) <= tolerance:
        return DeliveryTotals(
            delivered, injected, True, f"{delivered} mL delivered of {injected} mL."
        )
    return DeliveryTotals(
        delivered,
        injected,
        False,
        f"Delivery totals {delivered} mL do not match the {injected} mL of PRP injected "
        f"(difference {delivered - injected:+} mL; allowed ± {tolerance} mL).",
    )


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    label: str
    ok: bool
    detail: str = ""


def session_checklist(
    session: TreatmentSession, rows: SessionRows | None = None
) -> list[ChecklistItem]:
    """What must be true before the session can be closed and signed (one function, used by
    the page, the API and the services). The page passes the record's `rows` it has read."""
    items = [
        ChecklistItem(
            "consent",
            "Consent valid at start",
            session.consent_id is not None,
            "" if session.consent_id else "no valid consent was on file",
        )
    ]
    screening = session.screening
    screen_ok = screening is not None and screening.effective_decision == "eligible"
    items.append(
        ChecklistItem(
            "screening",
            "Screening eligible or overridden",
            screen_ok,
            "" if screen_ok else "no eligible pre-session screening",
        )
    )
    categories = (
        {u.lot.product.category for u in rows.lot_uses}
        if rows is not None
        else set(
            LotUse.objects.filter(session=session).values_list("lot__product__category", flat=True)
        )
    )
    if session.is_prp:
        lots_ok = bool(categories & set(KIT_CATEGORIES))
        items.append(
            ChecklistItem(
                "lots", "PRP kit or tube lot recorded", lots_ok, "" if lots_ok else "none yet"
            )
        )
        prep = rows.prep if rows is not None else preparation_of(session)
        items.append(
            ChecklistItem(
                "preparation",
                "Preparation recorded",
                prep is not None and prep.injected_volume_ml is not None,
                "" if prep is not None else "none yet",
            )
        )
        totals = delivery_totals(session, prep, rows)
        items.append(
            ChecklistItem(
                "delivery", "Delivery recorded and totals agree", totals.ok, totals.message
            )
        )
    else:
        lots_ok = bool(categories)
        items.append(
            ChecklistItem("lots", "Product lot recorded", lots_ok, "" if lots_ok else "none yet")
        )
        has = bool(rows.meso) if rows is not None else session.meso_deliveries.exists()
        items.append(
            ChecklistItem(
                "delivery", "Delivery recorded", has, "" if has else "no formulation delivered"
            )
        )
    items.append(ChecklistItem("photos", "Baseline photos taken", session.baseline_photos_taken))
    items.append(ChecklistItem("aftercare", "Aftercare given", session.aftercare_given))
    return items


@dataclass(frozen=True)
class AmendmentRow:
    at: dt.datetime
    by: Any
    section: str
    reason: str
    changes: list[str]


def amendments_of(session: TreatmentSession) -> list[AmendmentRow]:
    """The amendment trail in words: "Field: before → after" per changed field."""
    from anagen.procedures.labels import change_lines, section_label

    rows = []
    for a in compiled.rows("session_amendments", _amendments_shape, a=session.pk):
        before = a.before if isinstance(a.before, dict) else {}
        after = a.after if isinstance(a.after, dict) else {}
        rows.append(
            AmendmentRow(
                at=a.at,
                by=a.by,
                section=section_label(a.section),
                reason=a.reason,
                changes=change_lines(a.section, before, after) or ["No value changed"],
            )
        )
    return rows


def _amendments_shape(a: int) -> QuerySet[Amendment]:
    return Amendment.objects.filter(session_id=a).select_related("by")


def appointment_for_session(actor: Actor, appointment_id: Any) -> Any:
    """A checked-in appointment of this clinic (404 otherwise) and the session it already has."""
    from anagen.scheduling.models import Appointment

    actor.require(Perm.CLINICAL_VIEW)
    appt = (
        Appointment.objects.filter(clinic=actor.clinic, pk=record_id(appointment_id))
        .select_related("patient", "centrifuge")
        .first()
    )
    if appt is None:
        raise Http404("No such appointment.")
    note_read(actor, obj=appt)  # audited once per request (anagen/audit/reads.py)
    return appt


def session_of_appointment(appointment: Any) -> TreatmentSession | None:
    return TreatmentSession.objects.filter(appointment=appointment).first()


def panel_sessions(
    actor: Actor, patient: Patient, limit: int, *, since: dt.datetime | None = None
) -> list[TreatmentSession]:
    """The latest few sessions (started at `since` or later) with their preparation's figures
    (one query; chart card and timeline)."""
    if not actor.can(Perm.CLINICAL_VIEW):
        return []
    rows = TreatmentSession.objects.filter(patient=patient, clinic=actor.clinic)
    if since is not None:
        rows = rows.filter(started_at__gte=since)
    return list(
        rows.select_related("preparation")
        .only(
            "id",
            "clinic_id",
            "patient_id",
            "procedure",
            "status",
            "started_at",
            "preparation__id",
            "preparation__session_id",
            "preparation__computed",
            "preparation__injected_volume_ml",
        )
        .order_by("-started_at", "-id")[:limit]
    )


# --- inventory ---------------------------------------------------------------------------------


def products_for(actor: Actor) -> QuerySet[Product]:
    return Product.objects.filter(clinic=actor.clinic)


def product_get(actor: Actor, product_id: Any) -> Product:
    product = products_for(actor).filter(pk=record_id(product_id)).first()
    if product is None:
        raise Http404("No such product.")
    return product


def lots_for(actor: Actor) -> QuerySet[Lot]:
    return (
        Lot.objects.filter(product__clinic=actor.clinic)
        .select_related("product", "recalled_by")
        .order_by("expires_on", "id")  # Lot.used is the kept stock level: no sum per request
    )


def lot_get(actor: Actor, lot_id: Any) -> Lot:
    lot = (
        Lot.objects.filter(product__clinic=actor.clinic, pk=record_id(lot_id))
        .select_related("product", "recalled_by")
        .first()
    )
    if lot is None:
        raise Http404("No such lot.")
    return lot


def lot_choices(
    actor: Actor, on: dt.date, *, categories: tuple[str, ...] | None = None
) -> list[Lot]:
    """Lots to choose from in the room: expired ones are listed (marked) so a refusal is
    explained rather than the lot silently missing; recalled lots are not offered at all."""
    qs = lots_for(actor).filter(product__is_active=True, recalled_at__isnull=True)
    if categories:
        qs = qs.filter(product__category__in=categories)
    return list(qs.filter(expires_on__gte=on - dt.timedelta(days=365))[:200])


@dataclass(frozen=True)
class Exposure:
    patient: Patient
    session: TreatmentSession
    quantity: int
    used_at: dt.datetime


def recall_exposures(actor: Actor, lot: Lot) -> list[Exposure]:
    """Every patient and session exposed to a lot (one query)."""
    actor.require(Perm.CLINICAL_VIEW)
    uses = (
        LotUse.objects.filter(lot=lot, session__clinic=actor.clinic)
        .select_related("session", "session__patient")
        .order_by("session__patient__family_name", "session__patient__given_name", "used_at")
    )
    return [Exposure(u.session.patient, u.session, u.quantity, u.used_at) for u in uses]


# --- mesotherapy -------------------------------------------------------------------------------


def formulations_for(actor: Actor) -> QuerySet[MesotherapyFormulation]:
    return (
        MesotherapyFormulation.objects.filter(clinic=actor.clinic)
        .prefetch_related("ingredients")
        .order_by("name")
    )


def formulation_get(actor: Actor, formulation_id: Any) -> MesotherapyFormulation:
    f = formulations_for(actor).filter(pk=record_id(formulation_id)).first()
    if f is None:
        raise Http404("No such formulation.")
    return f


# --- adverse events ----------------------------------------------------------------------------


def adverse_events_of(session: TreatmentSession) -> QuerySet[AdverseEvent]:
    return (
        AdverseEvent.objects.filter(session=session)
        .select_related("lot", "lot__product", "recorded_by")
        .prefetch_related(Prefetch("follow_ups"))
    )


def session_adverse_events(session: TreatmentSession) -> list[AdverseEvent]:
    """The session page's adverse events with their lot, product and recorder, and their
    follow-ups (one more query, only when there are events): the same rows as
    ``adverse_events_of``, read afresh, with the queries compiled once."""
    events: list[AdverseEvent] = compiled.rows("session_events", _events_shape, a=session.pk)
    if events:
        by_event: dict[int, list[AdverseEventFollowUp]] = {e.pk: [] for e in events}
        for fu in compiled.rows("session_follow_ups", _follow_ups_shape, a=session.pk):
            if fu.event_id in by_event:
                by_event[fu.event_id].append(fu)
        for e in events:
            # What prefetch_related("follow_ups") leaves: e.follow_ups.all() reads no more.
            e._prefetched_objects_cache = {"follow_ups": by_event[e.pk]}  # type: ignore[attr-defined]
    return events


def _events_shape(a: int) -> QuerySet[AdverseEvent]:
    return AdverseEvent.objects.filter(session_id=a).select_related(
        "lot", "lot__product", "recorded_by"
    )


def _follow_ups_shape(a: int) -> QuerySet[AdverseEventFollowUp]:
    return AdverseEventFollowUp.objects.filter(event__session_id=a)


def adverse_event_get(session: TreatmentSession, event_id: Any) -> AdverseEvent:
    event = AdverseEvent.objects.filter(session=session, pk=record_id(event_id)).first()
    if event is None:
        raise Http404("No such adverse event.")
    return event


def session_lot_uses(session: TreatmentSession) -> QuerySet[LotUse]:
    """The lots used in a session, with their product (for the API's session detail)."""
    return session.lot_uses.select_related("lot", "lot__product")


# --- mesotherapy -------------------------------------------------------------------------------


def meso_delivery_get(session: TreatmentSession, delivery_id: Any) -> MesotherapyDelivery:
    delivery = (
        MesotherapyDelivery.objects.filter(session=session, pk=record_id(delivery_id))
        .select_related("formulation")
        .first()
    )
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery


def session_doses(
    session: TreatmentSession, deliveries: list[MesotherapyDelivery] | None = None
) -> list[rules.MesoDose]:
    """The session's mesotherapy deliveries as the kernel reads them (totals and limits);
    `deliveries` already read with their formulation's ingredients are not read again."""
    out = []
    if deliveries is None:
        deliveries = list(
            MesotherapyDelivery.objects.filter(session=session)
            .select_related("formulation")
            .prefetch_related("formulation__ingredients")
        )
    for d in deliveries:
        out.append(
            rules.MesoDose(
                ingredients=tuple(
                    rules.Ingredient(
                        code=i.code, name=i.name, concentration=i.concentration, unit=i.unit
                    )
                    for i in d.formulation.ingredients.all()
                ),
                points=d.injection_points,
                volume_per_point_ml=d.volume_per_point_ml,
                area_cm2=d.area_cm2,
                area_code=d.zone,
                formulation=str(d.formulation_id),
            )
        )
    return out


def meso_totals(
    session: TreatmentSession, deliveries: list[MesotherapyDelivery] | None = None
) -> list[dict[str, Any]]:
    """Per ingredient: injections, mL and mg summed over the session's deliveries."""
    return rules.meso_session_totals(session_doses(session, deliveries))


def patient_adverse_events(patient: Patient, limit: int = 10) -> list[AdverseEvent]:
    """A patient's earlier adverse events, newest onset first, at most ``limit`` + 1 (so a caller
    can say "and more"). One query whatever the history; for the banner at the chair."""
    return list(
        AdverseEvent.objects.filter(patient=patient).order_by("-onset_at", "-id")[: limit + 1]
    )


# --- clinic-wide reads (FHIR) ------------------------------------------------------------------


def preparations_for(actor: Actor) -> QuerySet[Preparation]:
    """Every PRP preparation of the clinic's live patients."""
    actor.require(Perm.CLINICAL_VIEW)
    return Preparation.objects.filter(
        session__clinic=actor.clinic, session__patient__deleted_at__isnull=True
    ).select_related("session__patient", "operator", "recorded_by")


def adverse_events_for(actor: Actor) -> QuerySet[AdverseEvent]:
    """Every adverse event of the clinic's live patients."""
    actor.require(Perm.CLINICAL_VIEW)
    return AdverseEvent.objects.filter(
        session__clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "session", "lot__product", "recorded_by")


def meso_deliveries_of(session: TreatmentSession) -> QuerySet[MesotherapyDelivery]:
    """The session's mesotherapy deliveries in the order recorded (API)."""
    return (
        MesotherapyDelivery.objects.filter(session=session)
        .select_related("formulation")
        .order_by("id")
    )


def adverse_event_follow_ups(event: AdverseEvent) -> QuerySet[AdverseEventFollowUp]:
    """An adverse event's follow-up notes, oldest first (API)."""
    return AdverseEventFollowUp.objects.filter(event=event).order_by("on", "id")


def session_record_parts(session: TreatmentSession) -> tuple[Any, ...]:
    """What one session record's version (its API ETag) covers: the session, its preparation,
    its injection map, its mesotherapy deliveries and its topical application (API)."""
    return (
        session,
        preparation_of(session),
        DeliveryZone.objects.filter(session=session),
        MesotherapyDelivery.objects.filter(session=session),
        TopicalApplication.objects.filter(session=session),
    )


def topical_of(session: TreatmentSession) -> TopicalApplication | None:
    """The session's topical application with microneedling, if recorded (API)."""
    return TopicalApplication.objects.filter(session=session).first()


def clinic_member_get(actor: Actor, user_id: Any) -> Any:
    """A person with an active membership of the actor's clinic (a preparation's operator);
    anyone else is a 404."""
    from anagen.accounts.models import User

    user = (
        User.objects.filter(
            pk=record_id(user_id),
            memberships__clinic=actor.clinic,
            memberships__is_active=True,
        )
        .distinct()
        .first()
    )
    if user is None:
        raise Http404("No such member of this clinic.")
    return user
