"""Reads of consultation records. Callers reach the patient through the access helper first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.care.consent_texts import DEFAULT_TEMPLATES
from anagen.care.models import (
    Assessment,
    Consent,
    ConsentKind,
    ConsentTemplate,
    ScreeningRecord,
)
from anagen.patients.models import Patient
from anagen.raw_values import day as _day
from anagen.raw_values import instant as _instant

# --- assessments ---------------------------------------------------------------------------


def assessment_list(*, actor: Actor, patient: Patient) -> QuerySet[Assessment]:
    actor.require(Perm.CLINICAL_VIEW)
    return (
        Assessment.objects.filter(patient=patient)
        .select_related("created_by", "signed_by")
        .order_by("-version")
    )


def assessment_get(*, actor: Actor, patient: Patient, version: int) -> Assessment | None:
    return assessment_list(actor=actor, patient=patient).filter(version=version).first()


def assessment_latest(*, actor: Actor, patient: Patient) -> Assessment | None:
    return assessment_list(actor=actor, patient=patient).first()


def assessment_for_screening(patient: Patient) -> Assessment | None:
    """The latest signed assessment, else the latest draft: what screening reads."""
    qs = Assessment.objects.filter(patient=patient)
    return (
        qs.filter(signed_at__isnull=False).order_by("-version").first()
        or qs.order_by("-version").first()
    )


# --- screenings ----------------------------------------------------------------------------


def screening_list(*, actor: Actor, patient: Patient) -> QuerySet[ScreeningRecord]:
    actor.require(Perm.CLINICAL_VIEW)
    return ScreeningRecord.objects.filter(patient=patient).select_related("run_by", "override_by")


def screening_get(*, actor: Actor, patient: Patient, screening_id: int) -> ScreeningRecord | None:
    return screening_list(actor=actor, patient=patient).filter(pk=screening_id).first()


def screening_latest(*, actor: Actor, patient: Patient) -> ScreeningRecord | None:
    return screening_list(actor=actor, patient=patient).first()


# --- consent templates -----------------------------------------------------------------------


def consent_templates_visible(clinic: Clinic | int) -> QuerySet[ConsentTemplate]:
    """A clinic's own templates and the shared defaults, active ones only."""
    clinic_id = clinic if isinstance(clinic, int) else clinic.pk
    return ConsentTemplate.objects.filter(
        Q(clinic_id=clinic_id) | Q(clinic__isnull=True), is_active=True
    )


def _ensure_default(kind: str) -> ConsentTemplate | None:
    """The data migration seeds defaults; this re-creates one if a test database was flushed."""
    if kind not in DEFAULT_TEMPLATES:
        return None
    title, body = DEFAULT_TEMPLATES[kind]
    template, _ = ConsentTemplate.objects.get_or_create(
        clinic=None,
        kind=kind,
        version=1,
        defaults={"title": title, "body": body, "published_at": timezone.now()},
    )
    return template


def consent_template_current(clinic: Clinic | int, kind: str) -> ConsentTemplate | None:
    """The version a patient signs today: the highest active version visible to the clinic."""
    current = consent_templates_visible(clinic).filter(kind=kind).order_by("-version").first()
    return current or _ensure_default(kind)


def consent_templates_current(clinic: Clinic | int) -> dict[str, ConsentTemplate]:
    """Current template per kind, in one query (plus a one-off seed after a flush)."""
    current: dict[str, ConsentTemplate] = {}
    for t in consent_templates_visible(clinic).order_by("kind", "-version"):
        current.setdefault(t.kind, t)
    for kind in ConsentKind.values:
        if kind not in current:
            template = _ensure_default(kind)
            if template is not None:
                current[kind] = template
    return current


def consent_template_versions(clinic: Clinic | int, kind: str) -> QuerySet[ConsentTemplate]:
    clinic_id = clinic if isinstance(clinic, int) else clinic.pk
    return (
        ConsentTemplate.objects.filter(Q(clinic_id=clinic_id) | Q(clinic__isnull=True), kind=kind)
        .select_related("published_by")
        .order_by("-version")
    )


# --- consents ------------------------------------------------------------------------------


def consent_latest(patient: Patient, kind: str) -> Consent | None:
    """The patient's latest consent of ``kind`` (withdrawn or not), or None."""
    return (
        Consent.objects.filter(patient=patient, kind=kind)
        .select_related("template")
        .order_by("-signed_at", "-id")
        .first()
    )


def consent_valid_for(patient: Patient, kind: str) -> Consent | None:
    """The consent that covers ``kind`` today, or None.

    That is the patient's latest consent of the kind, if it is not withdrawn and was signed on
    the template version that is current now (a new version asks for re-consent). A withdrawn
    latest consent is not replaced by an older one: withdrawal means no.
    """
    latest = consent_latest(patient, kind)
    if latest is None or latest.is_withdrawn:
        return None
    current = consent_template_current(patient.clinic_id, kind)
    if current is None or latest.template_id != current.pk:
        return None
    return latest


@dataclass(frozen=True)
class ConsentStatus:
    kind: str
    label: str
    status: str  # valid | needs_reconsent | withdrawn | none
    template: ConsentTemplate | None
    consent: Consent | None

    @property
    def status_label(self) -> str:
        if self.status == "needs_reconsent" and self.consent is not None:
            return (
                f"Needs re-consent (signed v{self.consent.template.version}, "
                f"current v{self.template.version if self.template else '?'})"
            )
        return {"valid": "Valid", "withdrawn": "Withdrawn", "none": "Not signed"}.get(
            self.status, self.status
        )


def consent_statuses(*, actor: Actor, patient: Patient) -> list[ConsentStatus]:
    """Every consent kind with its state for this patient, in two queries.

    Front desk may read this (booking needs it); it says nothing clinical beyond the kind.
    """
    actor.require(Perm.CONSENT_STATUS_VIEW)
    current = consent_templates_current(patient.clinic_id)
    latest: dict[str, Consent] = {}
    for c in (
        Consent.objects.filter(patient=patient)
        .select_related("template", "witness")
        .order_by("kind", "-signed_at", "-id")
    ):
        latest.setdefault(c.kind, c)
    return _consent_statuses_of(current, latest)


def _consent_statuses_of(
    current: dict[str, ConsentTemplate], latest: dict[str, Consent]
) -> list[ConsentStatus]:
    """Every kind's status from its current template and the patient's latest consent."""
    result = []
    for kind, label in ConsentKind.choices:
        consent = latest.get(kind)
        template = current.get(kind)
        if consent is None:
            status = "none"
        elif consent.is_withdrawn:
            status = "withdrawn"
        elif template is not None and consent.template_id == template.pk:
            status = "valid"
        else:
            status = "needs_reconsent"
        result.append(ConsentStatus(kind, str(label), status, template, consent))
    return result


# The chart's Consultation card in one query (issue 15): the latest assessment, the latest
# screening, the patient's latest consent of each kind and the current template of each kind
# (rows tagged a / s / c / t), with only the columns the card shows.
_CARE_PANEL_SQL = (
    "SELECT * FROM (SELECT 'a' AS r, a.id, a.version AS i1, CAST(NULL AS bigint) AS i2,"
    " a.signed_at AS at1, a.created_at AS at2, CAST(NULL AS date) AS day, a.diagnosis_code AS t1,"
    " a.scale_id AS t2, a.scale_value AS t3, a.salt_band AS t4, a.salt_score AS dec"
    " FROM care_assessment a WHERE a.patient_id = %s ORDER BY a.version DESC LIMIT 1) pa"
    " UNION ALL SELECT * FROM (SELECT 's', s.id, CAST(NULL AS bigint), CAST(NULL AS bigint),"
    " s.run_at, s.override_at, s.earliest_on, s.procedure, s.decision, CAST(NULL AS text),"
    " CAST(NULL AS text), CAST(NULL AS numeric) FROM care_screeningrecord s"
    " WHERE s.patient_id = %s ORDER BY s.run_at DESC, s.id DESC LIMIT 1) ps"
    " UNION ALL SELECT 'c', id, version, template_id, withdrawn_at, signed_at, NULL, kind,"
    " NULL, NULL, NULL, NULL FROM (SELECT c.id, t.version, c.template_id, c.withdrawn_at,"
    " c.signed_at, c.kind, ROW_NUMBER() OVER (PARTITION BY c.kind"
    " ORDER BY c.signed_at DESC, c.id DESC) AS n FROM care_consent c"
    " JOIN care_consenttemplate t ON t.id = c.template_id WHERE c.patient_id = %s) pc"
    " WHERE n = 1"
    " UNION ALL SELECT 't', id, version, NULL, NULL, NULL, NULL, kind, NULL, NULL, NULL, NULL"
    " FROM (SELECT t.id, t.version, t.kind, ROW_NUMBER() OVER (PARTITION BY t.kind"
    " ORDER BY t.version DESC) AS n FROM care_consenttemplate t"
    " WHERE (t.clinic_id = %s OR t.clinic_id IS NULL) AND t.is_active) pt WHERE n = 1"
)


def _decimal(value: Any, places: int) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        value = Context(prec=15).create_decimal_from_float(value)
    return Decimal(value).quantize(Decimal(1).scaleb(-places))


@dataclass(frozen=True)
class CarePanel:
    assessment: Assessment | None
    screening: ScreeningRecord | None
    consents: list[ConsentStatus]


def care_panel(*, actor: Actor, patient: Patient) -> CarePanel:
    """What the chart's Consultation card shows (as assessment_latest, screening_latest and
    consent_statuses give it), in one query whatever the history: the rows carry only the
    fields the card shows."""
    actor.require(Perm.CLINICAL_VIEW)
    actor.require(Perm.CONSENT_STATUS_VIEW)
    assessment = screening = None
    current: dict[str, ConsentTemplate] = {}
    latest: dict[str, Consent] = {}
    with connection.cursor() as cursor:
        cursor.execute(_CARE_PANEL_SQL, [patient.pk, patient.pk, patient.pk, patient.clinic_id])
        rows = cursor.fetchall()
    for r, pk, i1, i2, at1, at2, day, t1, t2, t3, t4, dec in rows:
        if r == "a":
            assessment = Assessment(
                id=pk,
                patient=patient,
                version=i1,
                signed_at=_instant(at1),
                created_at=_instant(at2),
                diagnosis_code=t1,
                scale_id=t2,
                scale_value=t3,
                salt_band=t4,
                salt_score=_decimal(dec, 1),
            )
        elif r == "s":
            screening = ScreeningRecord(
                id=pk,
                patient=patient,
                run_at=_instant(at1),
                override_at=_instant(at2),
                earliest_on=_day(day),
                procedure=t1,
                decision=t2,
            )
        elif r == "c":
            consent = Consent(
                id=pk,
                patient=patient,
                kind=t1,
                template_id=i2,
                withdrawn_at=_instant(at1),
                signed_at=_instant(at2),
            )
            consent.template = ConsentTemplate(id=i2, kind=t1, version=i1)
            latest[t1] = consent
        else:
            current[t1] = ConsentTemplate(id=pk, kind=t1, version=i1)
    for kind in ConsentKind.values:
        if kind not in current:  # after a flush of a test database (as consent_templates_current)
            template = _ensure_default(kind)
            if template is not None:
                current[kind] = template
    return CarePanel(assessment, screening, _consent_statuses_of(current, latest))


# The consents page in one query (issue 15): each kind's latest consent and the page's history
# (the latest ``limit``) from one pass over the patient's consents, with each kind's current
# template (rows tagged c / t), and only the columns the page shows.
_CONSENT_PAGE_SQL = (
    "SELECT 'c', pc.id, pc.kind, pc.template_id, pc.version, pc.signed_at, pc.withdrawn_at,"
    " pc.nk, pc.n, u.first_name, u.last_name, u.username FROM (SELECT c.id, c.kind,"
    " c.template_id, t.version, c.signed_at, c.withdrawn_at, c.witness_id,"
    " ROW_NUMBER() OVER (PARTITION BY c.kind ORDER BY c.signed_at DESC, c.id DESC) AS nk,"
    " ROW_NUMBER() OVER (ORDER BY c.signed_at DESC, c.id DESC) AS n"
    " FROM care_consent c JOIN care_consenttemplate t ON t.id = c.template_id"
    " WHERE c.patient_id = %s) pc JOIN accounts_user u ON u.id = pc.witness_id"
    " WHERE pc.nk = 1 OR pc.n <= %s"
    " UNION ALL SELECT 't', id, kind, NULL, version, NULL, NULL, n, NULL, NULL, NULL, NULL"
    " FROM (SELECT t.id, t.version, t.kind, ROW_NUMBER() OVER (PARTITION BY t.kind"
    " ORDER BY t.version DESC) AS n FROM care_consenttemplate t"
    " WHERE (t.clinic_id = %s OR t.clinic_id IS NULL) AND t.is_active) pt WHERE n = 1"
)


@dataclass(frozen=True)
class ConsentLine:
    """One signed consent as the consents page lists it."""

    pk: int
    kind: str
    kind_label: str
    version: int
    signed_at: dt.datetime
    witness: str
    withdrawn_at: dt.datetime | None


@dataclass(frozen=True)
class ConsentPage:
    statuses: list[ConsentStatus]
    history: list[ConsentLine]


def consent_page(*, actor: Actor, patient: Patient, limit: int = 50) -> ConsentPage:
    """What the consents page shows, as consent_statuses and ``consent_list(...)[:limit]``
    give it (the history only to a role that may read clinical records), in one query."""
    actor.require(Perm.CONSENT_STATUS_VIEW)
    if not actor.can(Perm.CLINICAL_VIEW):
        limit = 0
    with connection.cursor() as cursor:
        cursor.execute(_CONSENT_PAGE_SQL, [patient.pk, limit, patient.clinic_id])
        rows = cursor.fetchall()
    labels = dict(ConsentKind.choices)
    current: dict[str, ConsentTemplate] = {}
    latest: dict[str, Consent] = {}
    lines: list[tuple[int, ConsentLine]] = []
    for r, pk, kind, template_id, version, at1, at2, nk, n, first, last, username in rows:
        if r == "t":
            current[kind] = ConsentTemplate(id=pk, kind=kind, version=version)
            continue
        signed_at, withdrawn_at = _instant(at1), _instant(at2)
        if nk == 1:
            consent = Consent(
                id=pk,
                patient=patient,
                kind=kind,
                template_id=template_id,
                signed_at=signed_at,
                withdrawn_at=withdrawn_at,
            )
            consent.template = ConsentTemplate(id=template_id, kind=kind, version=version)
            latest[kind] = consent
        if n <= limit:
            # User.__str__: the full name, else the user name.
            witness = f"{first} {last}".strip() or username
            label = str(labels.get(kind, kind))
            line = ConsentLine(pk, kind, label, version, signed_at, witness, withdrawn_at)
            lines.append((n, line))
    for kind in ConsentKind.values:
        if kind not in current:  # after a flush of a test database (as consent_templates_current)
            template = _ensure_default(kind)
            if template is not None:
                current[kind] = template
    lines.sort(key=lambda x: x[0])
    return ConsentPage(_consent_statuses_of(current, latest), [line for _, line in lines])


# The API's page of a patient's consents in one fixed query (issue 15): the rows with only
# the fields the API writes, each carrying the bounded count (as interop.paging.page_of).
_CONSENT_API_SQL = (
    "SELECT c.id, c.kind, c.template_id, t.version, c.signed_at, c.signed_by_patient_name,"
    " u.username, c.sha256, c.snapshot_html, c.withdrawn_at, c.withdrawn_reason,"
    " (SELECT COUNT(*) FROM (SELECT x.id FROM care_consent x WHERE x.patient_id = %s"
    " LIMIT %s) n) FROM care_consent c JOIN care_consenttemplate t ON t.id = c.template_id"
    " JOIN accounts_user u ON u.id = c.witness_id WHERE c.patient_id = %s"
    " ORDER BY c.signed_at DESC, c.id DESC LIMIT %s OFFSET %s"
)
_CONSENT_COUNT_SQL = (
    "SELECT COUNT(*) FROM (SELECT x.id FROM care_consent x WHERE x.patient_id = %s LIMIT %s) n"
)


def consent_api_page(
    *, actor: Actor, patient: Patient, page: int, page_size: int, cap: int
) -> tuple[int, list[dict[str, Any]]]:
    """(count, rows) of one page of ``consent_list`` for the API: each row the fields of the
    API's ConsentOut, in its order (instants as they come: the renderer writes them); the count
    stops at ``cap + 1``."""
    actor.require(Perm.CLINICAL_VIEW)
    limit = cap + 1
    start = (page - 1) * page_size
    with connection.cursor() as cursor:
        cursor.execute(_CONSENT_API_SQL, [patient.pk, limit, patient.pk, page_size, start])
        rows = cursor.fetchall()
        if rows:
            count = int(rows[0][-1])
        elif page == 1:
            count = 0
        else:  # past the end: ask
            cursor.execute(_CONSENT_COUNT_SQL, [patient.pk, limit])
            count = int(cursor.fetchone()[0])
    results = [
        {
            "id": pk,
            "kind": kind,
            "template_id": template_id,
            "template_version": version,
            "signed_at": _instant(signed_at),
            "signed_by_patient_name": name,
            "witness": witness,
            "sha256": sha256,
            "snapshot_html": snapshot,
            "withdrawn_at": _instant(withdrawn_at),
            "withdrawn_reason": reason,
        }
        for (
            pk, kind, template_id, version, signed_at, name, witness, sha256, snapshot,
            withdrawn_at, reason, _,
        ) in rows
    ]  # fmt: skip
    return count, results


def consent_list(*, actor: Actor, patient: Patient) -> QuerySet[Consent]:
    actor.require(Perm.CLINICAL_VIEW)
    return Consent.objects.filter(patient=patient).select_related(
        "template", "witness", "withdrawn_by"
    )


def consent_get(*, actor: Actor, patient: Patient, consent_id: int) -> Consent | None:
    return consent_list(actor=actor, patient=patient).filter(pk=consent_id).first()


# --- clinic-wide reads (FHIR) ------------------------------------------------------------------


def assessments_for(actor: Actor) -> QuerySet[Assessment]:
    """Every assessment of the clinic's live patients."""
    actor.require(Perm.CLINICAL_VIEW)
    return Assessment.objects.filter(
        patient__clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "created_by", "signed_by")


def consents_for(actor: Actor) -> QuerySet[Consent]:
    """Every signed consent of the clinic's live patients."""
    actor.require(Perm.CLINICAL_VIEW)
    return Consent.objects.filter(
        patient__clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "template", "witness", "withdrawn_by")


def patient_ids_with_valid_consent(actor: Actor, kind: str) -> set[int]:
    """The clinic's live patients whose consent of ``kind`` covers today (as consent_valid_for:
    latest of the kind, not withdrawn, on the current template), in two queries."""
    current = consent_template_current(actor.clinic, kind)
    if current is None:
        return set()
    latest: dict[int, tuple[int, object]] = {}
    rows = (
        consents_for(actor)
        .filter(kind=kind)
        .order_by("patient_id", "-signed_at", "-id")
        .values_list("patient_id", "template_id", "withdrawn_at")
    )
    for patient_id, template_id, withdrawn_at in rows:
        latest.setdefault(patient_id, (template_id, withdrawn_at))
    return {
        pid for pid, (tid, withdrawn) in latest.items() if withdrawn is None and tid == current.pk
    }
