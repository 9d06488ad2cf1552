"""Reads: photo sets, photos by view, the capture page's ghost overlay, before/after pairs."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.outcomes.models import Photo, PhotoSet
from anagen.patients.models import Patient
from anagen.raw_values import day as _as_date
from anagen.raw_values import instant as _as_datetime

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


# --- one-query reads for the photo pages (issue 15) ---------------------------------------------


def photo_consent_valid(patient: Patient, kind: str = "photo_clinical") -> bool:
    """``care.selectors.consent_valid_for(patient, kind) is not None`` in one query: the latest
    consent of the kind, not withdrawn, signed on the template version current now. Only when no
    active template is visible (a flushed test database) does it ask ``consent_valid_for``, which
    seeds the default."""
    from django.db.models import Subquery

    from anagen.care.models import Consent
    from anagen.care.selectors import consent_templates_visible, consent_valid_for

    current = consent_templates_visible(patient.clinic_id)
    row = (
        Consent.objects.filter(patient_id=patient.pk, kind=kind)
        .order_by("-signed_at", "-id")
        .values_list("template_id", "withdrawn_at")
        .annotate(current=Subquery(current.filter(kind=kind).order_by("-version").values("id")[:1]))
        .first()
    )
    if row is None or row[1] is not None:
        return False
    if row[2] is None:
        return consent_valid_for(patient, kind) is not None
    return bool(row[0] == row[2])


@dataclass(frozen=True, slots=True)
class PhotoRow:
    """What the photo pages show of a photo (no model instance: ~60 per page)."""

    pk: int
    view: str
    file_name: str
    thumbnail_name: str
    sha256: str
    width: int
    height: int
    uploaded_at: dt.datetime

    def get_view_display(self) -> str:
        return str(_VIEW_LABELS.get(self.view, self.view))

    @property
    def file_missing(self) -> bool:
        """As ``Photo.file_missing``: the photo or its thumbnail is gone from storage."""
        storage = Photo._meta.get_field("file").storage  # type: ignore[union-attr]
        for name in (self.file_name, self.thumbnail_name):
            if not name or not storage.exists(name):
                from anagen.outcomes.imaging import alert_missing_file

                alert_missing_file("photo", self.pk, name)
                return True
        return False


@dataclass(frozen=True, slots=True)
class PhotoSetRow:
    pk: int
    patient_id: int
    taken_on: dt.date
    notes: str
    photos: list[PhotoRow]


def _view_labels() -> dict[str, Any]:
    from anagen.outcomes.models import PhotoView

    return dict(PhotoView.choices)


_VIEW_LABELS = _view_labels()

PHOTO_SETS_PAGE_SQL = """
SELECT s.id, s.taken_on, s.notes, s.n, ph.id, ph.view, ph.file, ph.thumbnail, ph.sha256,
       ph.width, ph.height, ph.uploaded_at
FROM (
    SELECT id, taken_on, notes, row_number() OVER (ORDER BY taken_on, id) AS rn,
           count(*) OVER () AS n
    FROM {sets} WHERE patient_id = %s
) s
LEFT JOIN {photos} ph ON ph.photo_set_id = s.id
WHERE s.rn > %s * ((CASE WHEN %s BETWEEN 1 AND (s.n + %s - 1) / %s THEN %s
                        ELSE (s.n + %s - 1) / %s END) - 1)
  AND s.rn <= %s * (CASE WHEN %s BETWEEN 1 AND (s.n + %s - 1) / %s THEN %s
                        ELSE (s.n + %s - 1) / %s END)
ORDER BY s.taken_on, s.id, ph.id
"""

API_PHOTO_SETS_SQL = """
SELECT s.id, s.taken_on, s.notes, 0, ph.id, ph.view, ph.file, ph.thumbnail, ph.sha256,
       ph.width, ph.height, ph.uploaded_at
FROM (
    SELECT id, taken_on, notes FROM {sets} WHERE patient_id = %s
    ORDER BY taken_on, id LIMIT %s OFFSET %s
) s
LEFT JOIN {photos} ph ON ph.photo_set_id = s.id
ORDER BY s.taken_on, s.id, ph.id
"""


def _set_rows(patient_id: int, rows: Iterable[tuple[Any, ...]]) -> tuple[list[PhotoSetRow], int]:
    out: list[PhotoSetRow] = []
    count = 0
    current: PhotoSetRow | None = None
    for row in rows:
        set_id, taken_on, notes, count = row[0], row[1], row[2], row[3]
        if current is None or current.pk != set_id:
            current = PhotoSetRow(set_id, patient_id, _as_date(taken_on), notes, [])
            out.append(current)
        if row[4] is not None:
            current.photos.append(
                PhotoRow(
                    row[4], row[5], row[6], row[7], row[8], row[9], row[10], _as_datetime(row[11])
                )
            )
    return out, int(count or 0)


def photo_sets_page(
    *, actor: Actor, patient: Patient, page: int | None, per_page: int
) -> tuple[list[PhotoSetRow], int, int]:
    """One page of the patient's photo sets with their photos and the number of sets, in one
    query: ``(sets, count, page number)``. ``page`` None (or out of range) is the latest page,
    as ``Paginator.get_page`` gives it; the caller maps a page that is not a number to 1."""
    from django.db import connection

    actor.require(Perm.CLINICAL_VIEW)
    wanted = page if page is not None and 0 < page < 2**31 else 0
    sql = PHOTO_SETS_PAGE_SQL.format(sets=PhotoSet._meta.db_table, photos=Photo._meta.db_table)
    bounds = [per_page, wanted, per_page, per_page, wanted, per_page, per_page]
    with connection.cursor() as cursor:
        cursor.execute(sql, [patient.pk, *bounds, *bounds])
        sets, count = _set_rows(patient.pk, cursor.fetchall())
    pages = max(1, -(-count // per_page))
    number = wanted if 1 <= wanted <= pages else pages
    return sets, count, number


def photo_sets_slice(
    *, actor: Actor, patient: Patient, start: int, limit: int
) -> list[PhotoSetRow]:
    """``limit`` photo sets from ``start`` (oldest first) with their photos, in one query."""
    from django.db import connection

    actor.require(Perm.CLINICAL_VIEW)
    sql = API_PHOTO_SETS_SQL.format(sets=PhotoSet._meta.db_table, photos=Photo._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [patient.pk, limit, start])
        return _set_rows(patient.pk, cursor.fetchall())[0]
