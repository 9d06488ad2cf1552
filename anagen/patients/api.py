"""Patients API: search, read, register and update (same services and rules as the pages)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from anagen.accounts.access import patient_for
from anagen.accounts.permissions import Perm
from anagen.interop.auth import api_actor
from anagen.interop.etag import (
    PRECONDITION_PROBLEMS,
    IfMatch,
    etag_documented,
    require_if_match,
    tag,
    tag_read,
)
from anagen.interop.paging import PageQuery, page_of
from anagen.interop.problems import problems
from anagen.interop.schemas import BodyIn
from anagen.patients import selectors, services, vocab
from anagen.patients.models import Intake

router = Router()

SexCode = Literal["female", "male", "other"]


class PatientOut(Schema):
    id: int
    record_number: str
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str
    phone: str
    email: str
    address: str
    preferred_language: str
    sms_reminders: bool
    email_reminders: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class PatientIn(BodyIn):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    birth_date: dt.date
    sex: SexCode
    phone: str = Field("", max_length=30)
    email: str = Field("", max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
    address: str = Field("", max_length=1000)
    preferred_language: str = Field("en", max_length=35)
    sms_reminders: bool = False
    email_reminders: bool = False
    confirm_duplicate: bool = False


class PatientPatch(BodyIn):
    given_name: str | None = Field(None, min_length=1, max_length=100)
    family_name: str | None = Field(None, min_length=1, max_length=100)
    birth_date: dt.date | None = None
    sex: SexCode | None = None
    phone: str | None = Field(None, max_length=30)
    email: str | None = Field(None, max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
    address: str | None = Field(None, max_length=1000)
    preferred_language: str | None = Field(None, max_length=35)
    sms_reminders: bool | None = None
    email_reminders: bool | None = None


class PatientPage(Schema):
    count: int
    page: int
    pages: int
    results: list[PatientOut]


class PatientListQuery(PageQuery):
    q: str = Field("", max_length=100)


@router.get(
    "",
    response=PatientPage,
    summary="Search patients",
    description=(
        "The clinic's live patients, by family then given name; `q` searches names, record "
        "number, phone and email. Paged."
    ),
)
def list_patients(request: HttpRequest, filters: Query[PatientListQuery]) -> dict[str, object]:
    qs = selectors.patient_search(actor=api_actor(request, Perm.PATIENT_VIEW), query=filters.q)
    return page_of(qs, filters.page, filters.page_size)


@router.get(
    "/{patient_id}",
    response=PatientOut,
    summary="Read a patient",
    description=(
        "One patient of the caller's clinic (another clinic's patient is a 404). The ETag is "
        "the patient record's: send it in If-Match to change it."
    ),
    openapi_extra=etag_documented(write=False),
)
def get_patient(request: HttpRequest, patient_id: int, response: HttpResponse) -> object:
    actor = api_actor(request, Perm.PATIENT_VIEW)
    patient = patient_for(actor, patient_id)
    services.patient_record_read(actor=actor, patient=patient, what="patient")
    return tag_read(response, patient)


@router.post(
    "",
    response={201: PatientOut, **problems(409)},
    summary="Register a patient (409 for a possible duplicate until confirmed)",
    description=(
        "Registers a new patient. A possible duplicate (same name and birth date, or phone or "
        "email) is refused with 409 until the call is repeated with `confirm_duplicate` true."
    ),
)
def create_patient(request: HttpRequest, payload: PatientIn) -> Status[object]:
    data = payload.dict()
    confirm = data.pop("confirm_duplicate")
    patient = services.patient_create(
        actor=api_actor(request, Perm.PATIENT_REGISTER), data=data, confirm_duplicate=confirm
    )
    return Status(201, patient)


@router.patch(
    "/{patient_id}",
    response={200: PatientOut, **PRECONDITION_PROBLEMS},
    summary="Update a patient's details (If-Match: the ETag of your last read)",
    description=(
        "Changes the fields sent (a partial update). Needs the patient's ETag in If-Match: 428 "
        "without it, 412 when someone changed the patient since."
    ),
    openapi_extra=etag_documented(),
)
def update_patient(
    request: HttpRequest,
    patient_id: int,
    payload: PatientPatch,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> object:
    actor = api_actor(request, Perm.PATIENT_REGISTER)
    patient = patient_for(actor, patient_id)
    require_if_match(if_match, patient)
    data = payload.dict(exclude_unset=True)
    nulls = [k for k, v in data.items() if v is None]
    if nulls:
        raise ValidationError({k: "May not be null." for k in nulls})
    return tag(response, services.patient_update(actor=actor, patient=patient, data=data))


# --- intake (versioned: each change is a new version; the ETag is the latest version's) -------


def _one_of(choices: list[str]) -> str:
    return "^(" + "|".join(choices) + ")$"


class IntakeMedicationIO(BodyIn):
    name: str = Field(min_length=1, max_length=120)
    category: str = Field(pattern=_one_of(vocab.MedicationCategory.values))
    prescribed: bool = Field(description="Prescribed (true) or over the counter (false).")
    last_dose_on: dt.date | None = None
    dose: str = Field("", max_length=80)


class IntakeAllergyIO(BodyIn):
    substance: str = Field(min_length=1, max_length=120)
    reaction: str = Field("", max_length=200)


class IntakeLabIn(BodyIn):
    analyte: str = Field(pattern=_one_of(vocab.LabAnalyte.values))
    value: Decimal = Field(ge=0, lt=10**7, max_digits=12, decimal_places=3)
    unit: str = Field(max_length=12, description="A unit of this analyte (see the pages).")
    taken_on: dt.date


class IntakeLabOut(Schema):
    analyte: str
    value_entered: Decimal
    unit_entered: str
    value: Decimal = Field(description="In the analyte's canonical unit.")
    unit: str
    taken_on: dt.date


class IntakePriorTreatmentIO(BodyIn):
    treatment: str = Field(pattern=_one_of(vocab.PriorTreatment.values))
    started_on: dt.date | None = None
    response: str = Field("unknown", pattern=_one_of(vocab.TreatmentResponse.values))
    note: str = Field("", max_length=200)


class IntakePriorProcedureIO(BodyIn):
    kind: str = Field(pattern=_one_of(vocab.PriorProcedureKind.values))
    on: dt.date
    note: str = Field("", max_length=200)


class IntakeIn(BodyIn):
    conditions: list[str] = Field(
        default_factory=list, max_length=50, description="Condition codes from the intake list."
    )
    conditions_note: str = Field("", max_length=5000)
    smoking: str = Field("never", pattern=_one_of(vocab.Smoking.values))
    pregnant: bool = False
    breastfeeding: bool = False
    hair_loss_onset: dt.date | None = None
    hair_loss_pattern: str = Field("", pattern="^$|" + _one_of(vocab.HairLossPattern.values))
    family_history: bool = False
    family_history_note: str = Field("", max_length=200)
    tight_hairstyles: bool = False
    recent_triggers: str = Field("", max_length=5000)
    notes: str = Field("", max_length=10000)
    medications: list[IntakeMedicationIO] = Field(default_factory=list, max_length=50)
    allergies: list[IntakeAllergyIO] = Field(default_factory=list, max_length=50)
    labs: list[IntakeLabIn] = Field(default_factory=list, max_length=50)
    prior_treatments: list[IntakePriorTreatmentIO] = Field(default_factory=list, max_length=50)
    prior_procedures: list[IntakePriorProcedureIO] = Field(default_factory=list, max_length=50)


class IntakeOut(Schema):
    version: int
    recorded_at: dt.datetime
    recorded_by: str
    conditions: list[str]
    conditions_note: str
    smoking: str
    pregnant: bool
    breastfeeding: bool
    hair_loss_onset: dt.date | None
    hair_loss_pattern: str
    family_history: bool
    family_history_note: str
    tight_hairstyles: bool
    recent_triggers: str
    notes: str
    medications: list[IntakeMedicationIO]
    allergies: list[IntakeAllergyIO]
    labs: list[IntakeLabOut]
    prior_treatments: list[IntakePriorTreatmentIO]
    prior_procedures: list[IntakePriorProcedureIO]

    @staticmethod
    def resolve_recorded_by(obj: Intake) -> str:
        return str(obj.recorded_by.get_username())

    @staticmethod
    def resolve_medications(obj: Intake) -> list[Any]:
        return list(obj.medications.all())

    @staticmethod
    def resolve_allergies(obj: Intake) -> list[Any]:
        return list(obj.allergies.all())

    @staticmethod
    def resolve_labs(obj: Intake) -> list[Any]:
        return list(obj.labs.all())

    @staticmethod
    def resolve_prior_treatments(obj: Intake) -> list[Any]:
        return list(obj.prior_treatments.all())

    @staticmethod
    def resolve_prior_procedures(obj: Intake) -> list[Any]:
        return list(obj.prior_procedures.all())


@router.get(
    "/{patient_id}/intake",
    response=IntakeOut,
    summary="Read a patient's current intake (its latest version)",
    description=(
        "The latest intake version (medical history, medications, allergies, labs, earlier "
        "treatments); 404 while none is recorded. The ETag is the intake's."
    ),
    openapi_extra=etag_documented(write=False),
)
def get_intake(request: HttpRequest, patient_id: int, response: HttpResponse) -> object:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    intake = selectors.intake_latest(actor=actor, patient=patient)
    if intake is None:
        raise Http404("No intake recorded yet.")
    services.patient_record_read(actor=actor, patient=patient, what="intake")
    return tag_read(response, intake)


@router.put(
    "/{patient_id}/intake",
    response={200: IntakeOut, **PRECONDITION_PROBLEMS},
    summary="Record a new version of a patient's intake (If-Match: the current intake's ETag)",
    description=(
        "The whole intake as it is now; earlier versions stay as they were. If-Match is needed "
        "once the patient has an intake (the ETag from reading it); not for the first one."
    ),
    openapi_extra=etag_documented(),
)
def put_intake(
    request: HttpRequest,
    patient_id: int,
    payload: IntakeIn,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> object:
    actor = api_actor(request, Perm.INTAKE_RECORD)
    patient = patient_for(actor, patient_id)
    latest = selectors.intake_latest(actor=actor, patient=patient)
    if latest is not None:
        require_if_match(if_match, latest)
    data = payload.dict()
    intake = services.intake_record(
        actor=actor,
        patient=patient,
        data=services.IntakeData(**data),
        based_on=latest.version if latest is not None else 0,
    )
    return tag(response, selectors.intake_latest(actor=actor, patient=patient) or intake)
