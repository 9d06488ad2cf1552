"""Reads: photo sets, photos by view, the capture page's ghost overlay, before/after pairs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.outcomes.models import Photo, PhotoSet
from anagen.patients.models import Patient

# --- photos ------------------------------------------------------------------------------------


def photo_sets(*, actor: Actor, patient: Patient) -> list[PhotoSet]:
    actor.require(Perm.CLINICAL_VIEW)
    return list(
        PhotoSet.objects.filter(patient=patient)
        .prefetch_related("photos")
        .order_by("taken_on", "id")
    )


def photo_sets_paged(*, actor: Actor, patient: Patient) -> QuerySet[PhotoSet]:
    """The photo sets as a queryset for a pager (photos prefetched per page)."""
    actor.require(Perm.CLINICAL_VIEW)
    return (
        PhotoSet.objects.filter(patient=patient)
        .prefetch_related("photos")
        .order_by("taken_on", "id")
    )


def photo_get(*, actor: Actor, patient: Patient, photo_id: int) -> Photo | None:
    actor.require(Perm.CLINICAL_VIEW)
    return (
        Photo.objects.filter(pk=photo_id, photo_set__patient=patient)
        .select_related("photo_set__patient")
        .first()
    )


def previous_view(*, photo_set: PhotoSet, view: str) -> Photo | None:
    """The most recent earlier photo of the same view: the capture page's ghost overlay."""
    return (
        Photo.objects.filter(
            photo_set__patient_id=photo_set.patient_id,
            view=view,
            photo_set__taken_on__lte=photo_set.taken_on,
        )
        .exclude(photo_set=photo_set)
        .order_by("-photo_set__taken_on", "-id")
        .first()
    )


def photos_of_view(*, actor: Actor, patient: Patient, view: str) -> list[Photo]:
    actor.require(Perm.CLINICAL_VIEW)
    return list(
        Photo.objects.filter(photo_set__patient=patient, view=view)
        .select_related("photo_set")
        .order_by("photo_set__taken_on", "id")
    )


def before_after_photos(
    *, clinic: Clinic, view: str, patients: Iterable[Patient] | None = None
) -> list[tuple[Patient, Photo, Photo]]:
    """First and latest photo of ``view`` per patient with valid clinical photo consent."""
    from anagen.care.selectors import consent_valid_for

    qs = Photo.objects.filter(
        view=view, photo_set__patient__clinic=clinic, photo_set__patient__deleted_at__isnull=True
    )
    if patients is not None:
        qs = qs.filter(photo_set__patient__in=list(patients))
    by_patient: dict[int, list[Photo]] = defaultdict(list)
    for photo in qs.select_related("photo_set__patient").order_by("photo_set__taken_on", "id"):
        by_patient[photo.photo_set.patient_id].append(photo)
    out = []
    for photos in by_patient.values():
        if len(photos) < 2 or photos[0].photo_set_id == photos[-1].photo_set_id:
            continue
        patient = photos[0].photo_set.patient
        if consent_valid_for(patient, "photo_clinical") is None:
            continue
        out.append((patient, photos[0], photos[-1]))
    return out


def photo_set_get(*, actor: Actor, patient: Patient, set_id: int) -> PhotoSet | None:
    actor.require(Perm.CLINICAL_VIEW)
    return PhotoSet.objects.filter(pk=set_id, patient=patient).first()


def photo_set_photos(photo_set: PhotoSet) -> dict[str, Photo]:
    """The set's photos by view."""
    return {p.view: p for p in photo_set.photos.all()}


def photos_for(actor: Actor) -> QuerySet[Photo]:
    """Every photo of the clinic's live patients (FHIR; callers apply the photo consent)."""
    actor.require(Perm.CLINICAL_VIEW)
    return Photo.objects.filter(
        photo_set__patient__clinic=actor.clinic, photo_set__patient__deleted_at__isnull=True
    ).select_related("photo_set__patient", "uploaded_by")
