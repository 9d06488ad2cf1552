"""Patients API: search, read, register and update (same services and rules as the pages)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from anagen.accounts.access import patient_for
from anagen.accounts.permissions import Perm
from anagen.interop.auth import api_actor
from anagen.interop.paging import PageQuery, page_of
from anagen.interop.problems import problems
from anagen.interop.schemas import BodyIn
from anagen.patients import selectors, services

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


@router.get("", response=PatientPage, summary="Search patients")
def list_patients(request: HttpRequest, filters: Query[PatientListQuery]) -> dict[str, object]:
    qs = selectors.patient_search(actor=api_actor(request, Perm.PATIENT_VIEW), query=filters.q)
    return page_of(qs, filters.page, filters.page_size)


@router.get("/{patient_id}", response=PatientOut, summary="Read a patient")
def get_patient(request: HttpRequest, patient_id: int) -> object:
    actor = api_actor(request, Perm.PATIENT_VIEW)
    patient = patient_for(actor, patient_id)
    services.patient_record_read(actor=actor, patient=patient, what="patient")
    return patient


@router.post(
    "",
    response={201: PatientOut, **problems(409)},
    summary="Register a patient (409 for a possible duplicate until confirmed)",
)
def create_patient(request: HttpRequest, payload: PatientIn) -> Status[object]:
    data = payload.dict()
    confirm = data.pop("confirm_duplicate")
    patient = services.patient_create(
        actor=api_actor(request, Perm.PATIENT_REGISTER), data=data, confirm_duplicate=confirm
    )
    return Status(201, patient)


@router.patch("/{patient_id}", response=PatientOut, summary="Update a patient's details")
def update_patient(request: HttpRequest, patient_id: int, payload: PatientPatch) -> object:
    actor = api_actor(request, Perm.PATIENT_REGISTER)
    patient = patient_for(actor, patient_id)
    data = payload.dict(exclude_unset=True)
    nulls = [k for k, v in data.items() if v is None]
    if nulls:
        raise ValidationError({k: "May not be null." for k in nulls})
    return services.patient_update(actor=actor, patient=patient, data=data)
