"""Reads of patient data. Each takes an Actor and goes through the access helper."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from django.db.models import Q, QuerySet, Subquery
from django.db.models.functions import Reverse
from django.http import Http404

from anagen.accounts.access import MAX_DB_ID, Actor, patients_for
from anagen.accounts.permissions import Perm
from anagen.audit.reads import note_list, note_read
from anagen.patients.models import Intake, IntakeAllergy, Patient
from anagen.patients.normalise import digits_of, fold_text, parse_loose_date, search_name_for


@dataclass(frozen=True)
class SearchTerms:
    """What a search box's text asks for (``search_terms``), before any query is built.

    ``kind``: "all" (nothing typed), "birth" (a date), "phone" (mostly digits: the trailing
    digits, reversed, or the exact record number), "names" (every word in the folded name) or
    "names_or_record" (words with a digit: the name, or the exact record number)."""

    kind: str
    words: tuple[str, ...] = ()
    records: tuple[str, ...] = ()
    phone_reversed: str = ""
    birth_date: dt.date | None = None


def search_terms(query: str) -> SearchTerms:
    query = query.strip()
    if not query:
        return SearchTerms("all")
    birth_date = parse_loose_date(query)
    if birth_date is not None:
        return SearchTerms("birth", birth_date=birth_date)
    digits = digits_of(query)
    record = query.replace(" ", "")
    # Exact (the unique index): as typed or upper-cased; a tuple, so the SQL is the same each time.
    records = (record,) if record == record.upper() else (record, record.upper())
    if digits and len(digits) >= 6 and len(digits) >= len(record) - 1:
        return SearchTerms("phone", records=records, phone_reversed=digits[-9:][::-1])
    words = tuple(fold_text(query).split())
    if digits:
        return SearchTerms("names_or_record", words=words, records=records)
    return SearchTerms("names", words=words)


def search_filter(qs: QuerySet[Patient], terms: SearchTerms) -> QuerySet[Patient]:
    """``qs`` narrowed to the patients ``terms`` ask for (see ``patient_search``)."""
    if terms.kind == "all":
        return qs
    if terms.kind == "birth":
        return qs.filter(birth_date=cast(dt.date, terms.birth_date))
    records = Q(record_number__in=terms.records)
    if terms.kind == "phone":
        # A phone number, matched on its trailing digits so national and international forms
        # both hit. The suffix is a prefix of the reversed digits, which PostgreSQL answers
        # from an index (patients migration 0004), not a LIKE '%…' scan.
        return qs.annotate(phone_reversed=Reverse("phone_digits")).filter(
            Q(phone_reversed__startswith=terms.phone_reversed) | records
        )
    names = Q()
    for word in terms.words:
        names &= Q(search_name__contains=word)
    if terms.kind == "names_or_record":
        # Perhaps a record number: one query, the exact record (its unique index) or the name
        # (trigram index on PostgreSQL), instead of a case-insensitive probe and then a search.
        return qs.filter(records | names)
    return qs.filter(names)


def patient_search(*, actor: Actor, query: str = "") -> QuerySet[Patient]:
    """Patients of the actor's clinic matching a name, birth date, phone or record number.

    Every word of a name query must appear (in any order), ignoring case and accents. The
    search page reads its page through ``anagen.patients.search`` (same terms, same filter).
    """
    qs = patients_for(actor)
    query = query.strip()
    note_list(actor, what="Patient search", query=query)  # audited (anagen/audit/reads.py)
    return search_filter(qs, search_terms(query))


def patient_possible_duplicates(
    *,
    actor: Actor,
    given_name: str,
    family_name: str,
    birth_date: dt.date,
    exclude_id: int | None = None,
) -> QuerySet[Patient]:
    qs = patients_for(actor).filter(
        search_name=search_name_for(given_name, family_name), birth_date=birth_date
    )
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    return qs


def patients_deleted(*, actor: Actor) -> QuerySet[Patient]:
    """The clinic's soft-deleted patients, most recently deleted first (for restore)."""
    actor.require(Perm.PATIENT_DELETE)
    note_list(actor, what="Deleted patients")  # audited (anagen/audit/reads.py)
    return (
        # A record restricted by an erasure request cannot be restored (anagen/imports/erasure.py).
        Patient.all_objects.filter(
            clinic=actor.clinic, deleted_at__isnull=False, erasure__isnull=True
        )
        .select_related("deleted_by")
        .order_by("-deleted_at", "-id")
    )


def patient_deleted_get(*, actor: Actor, patient_id: int) -> Patient:
    """One deleted patient of the actor's clinic; anything else is a 404."""
    if not 0 < patient_id <= MAX_DB_ID:
        raise Http404("No such patient.")
    patient = patients_deleted(actor=actor).filter(pk=patient_id).first()
    if patient is None:
        raise Http404("No such patient.")
    note_read(actor, patient=patient)
    return patient


def intake_latest(*, actor: Actor, patient: Patient) -> Intake | None:
    actor.require(Perm.CLINICAL_VIEW)
    return (
        Intake.objects.filter(patient=patient)
        .select_related("recorded_by")
        .prefetch_related(
            "medications", "allergies", "labs", "prior_treatments", "prior_procedures"
        )
        .order_by("-version")
        .first()
    )


def intake_latest_head(*, actor: Actor, patient: Patient) -> Intake | None:
    """The latest intake version without its lines (the chart: anagen/patients/chart.py reads
    them only when the version's summary is not rendered yet)."""
    actor.require(Perm.CLINICAL_VIEW)
    return (
        Intake.objects.filter(patient=patient)
        .select_related("recorded_by")
        .order_by("-version")
        .first()
    )


def intake_versions(*, actor: Actor, patient: Patient) -> QuerySet[Intake]:
    actor.require(Perm.CLINICAL_VIEW)
    # What the version list shows (anagen/patients/intake_pages.py), not each version's answers.
    return (
        Intake.objects.filter(patient=patient)
        .select_related("recorded_by")
        .only("patient_id", "version", "recorded_at", "recorded_by")
        .order_by("-version")
    )


def intake_get_head(*, actor: Actor, patient: Patient, version: int) -> Intake | None:
    """One intake version without its lines: the intake page draws its summary through the
    rendered-summary cache (anagen/patients/chart.py `intake_summary_html`, which reads the
    lines when the version's summary is not rendered yet; versions never change)."""
    actor.require(Perm.CLINICAL_VIEW)
    return (
        Intake.objects.filter(patient=patient, version=version)
        .select_related("recorded_by")
        .first()
    )


def intake_get(*, actor: Actor, patient: Patient, version: int) -> Intake | None:
    actor.require(Perm.CLINICAL_VIEW)
    return (
        Intake.objects.filter(patient=patient, version=version)
        .select_related("recorded_by")
        .prefetch_related(
            "medications", "allergies", "labs", "prior_treatments", "prior_procedures"
        )
        .first()
    )


@dataclass(frozen=True)
class PatientAlerts:
    """What must be in front of whoever treats the patient: allergies from the latest intake and
    earlier adverse events (newest first; ``more_events`` says the list was cut)."""

    allergies: list[IntakeAllergy]
    adverse_events: list[Any]
    more_events: bool = False

    def __bool__(self) -> bool:
        return bool(self.allergies or self.adverse_events)


ALERT_EVENTS_SHOWN = 10


# The banner's one query (tables of AdverseEvent, IntakeAllergy and Intake).
_ALERTS_SQL = (
    "SELECT * FROM (SELECT id, term, term_other, ctcae_grade, serious, onset_at,"
    " 1 AS r_event, '' AS r_substance, '' AS r_reaction FROM procedures_adverseevent"
    " WHERE patient_id = %s ORDER BY onset_at DESC, id DESC LIMIT %s) e"
    " UNION ALL"
    " SELECT id, '', '', 0, FALSE, NULL, 0, substance, reaction FROM patients_intakeallergy"
    " WHERE intake_id = (SELECT id FROM patients_intake WHERE patient_id = %s"
    " ORDER BY version DESC LIMIT 1)"
)


def patient_alerts(*, actor: Actor, patient: Patient) -> PatientAlerts | None:
    """Allergies (latest intake) and earlier adverse events for the banner on every clinical
    page of the patient. None for anyone the permission table does not let see clinical data
    (front desk). One query whatever the history: the newest ``ALERT_EVENTS_SHOWN`` + 1 adverse
    events and the latest intake's allergies as one ``UNION ALL`` (written out: the ORM cannot
    slice a branch of a union on SQLite, and compiling the expressions costs more than the round
    trip saved). The events come back as ``AdverseEvent`` rows (the database's converters apply)
    with only the columns the banner shows."""
    if not actor.can(Perm.CLINICAL_VIEW) or patient.clinic_id != actor.membership.clinic_id:
        return None
    from anagen.procedures.models import AdverseEvent

    params = [patient.pk, ALERT_EVENTS_SHOWN + 1, patient.pk]
    allergies: list[IntakeAllergy] = []
    shown: list[Any] = []
    row: Any  # an AdverseEvent with the extra r_* columns of the union
    for row in AdverseEvent.objects.raw(_ALERTS_SQL, params):
        if row.r_event:
            shown.append(row)
        else:
            allergies.append(
                IntakeAllergy(id=row.pk, substance=row.r_substance, reaction=row.r_reaction)
            )
    allergies.sort(key=lambda a: a.pk)
    shown.sort(key=lambda e: (e.onset_at, e.pk), reverse=True)
    return PatientAlerts(
        allergies=allergies,
        adverse_events=shown[:ALERT_EVENTS_SHOWN],
        more_events=len(shown) > ALERT_EVENTS_SHOWN,
    )


# --- clinic-wide reads (FHIR) ------------------------------------------------------------------


def intakes_latest_for(actor: Actor) -> QuerySet[Intake]:
    """The latest intake of each live patient of the clinic."""
    from django.db.models import OuterRef

    actor.require(Perm.CLINICAL_VIEW)
    newest = Intake.objects.filter(patient=OuterRef("patient")).order_by("-version").values("pk")
    return Intake.objects.filter(
        patient__clinic=actor.clinic, patient__deleted_at__isnull=True, pk=Subquery(newest[:1])
    ).select_related("patient", "recorded_by")


def intake_rows_for(actor: Actor, kind: str) -> QuerySet[Any]:
    """Medications, allergies or labs (``kind``) of the latest intake of each live patient."""
    from anagen.patients.models import IntakeLab, IntakeMedication

    models: dict[str, Any] = {
        "medications": IntakeMedication,
        "allergies": IntakeAllergy,
        "labs": IntakeLab,
    }
    return (
        models[kind]
        .objects.filter(intake__in=intakes_latest_for(actor))
        .select_related("intake__patient", "intake__recorded_by")
    )
