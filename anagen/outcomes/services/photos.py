"""Writes and audited reads: standardised photo sets and photos (re-encoded, no metadata)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.outcomes import imaging
from anagen.outcomes.models import Photo, PhotoSet, PhotoView
from anagen.outcomes.services._common import _check_patient
from anagen.patients.models import Patient


class PhotoFileMissing(Exception):
    """The photo's record exists but its stored file does not (lost from storage)."""

    def __init__(self) -> None:
        super().__init__("The file of this photo is missing from storage.")


# --- photos ----------------------------------------------------------------------------------

# Upload bounds and the bounded-memory decoder live in ``anagen.outcomes.imaging`` (issue 13);
# the limits are settings (ANAGEN_UPLOAD_MAX_BYTES, ANAGEN_UPLOAD_MAX_PIXELS).
MAX_PHOTO_BYTES = imaging.DEFAULT_MAX_BYTES
MAX_PHOTO_PIXELS = imaging.DEFAULT_MAX_PIXELS
MAX_PHOTO_EDGE = imaging.MAX_PHOTO_EDGE
THUMB_EDGE = imaging.THUMB_EDGE


def _require_photo_consent(patient: Patient, kind: str = "photo_clinical") -> None:
    from anagen.care.selectors import consent_valid_for

    if consent_valid_for(patient, kind) is None:
        label = kind.removeprefix("photo_")
        raise PermissionDenied(f"The patient has no valid consent for {label} photos.")


def photo_consent_required(patient: Patient) -> None:
    """PermissionDenied (403) unless the patient has a valid consent to clinical photos."""
    _require_photo_consent(patient)


def _reencode(content: bytes) -> tuple[bytes, bytes, int, int]:
    """Re-encode as JPEG without metadata (orientation applied first) plus a thumbnail."""
    done = imaging.decode(content)
    return done.image, done.thumbnail, done.width, done.height


def photo_set_create(
    *, actor: Actor, patient: Patient, taken_on: dt.date, notes: str = ""
) -> PhotoSet:
    actor.require(Perm.OUTCOMES_RECORD)
    _check_patient(actor, patient)
    _require_photo_consent(patient)
    if taken_on > actor.today() + dt.timedelta(days=1):
        raise ValidationError({"taken_on": "Photos cannot be dated in the future."})
    with transaction.atomic():
        photo_set = PhotoSet.objects.create(
            patient=patient, taken_on=taken_on, notes=notes[:200], created_by=actor.user
        )
        audit_record(
            action="photo_set.create",
            actor=actor,
            patient=patient,
            obj=photo_set,
            changes={"taken_on": taken_on},
        )
    return photo_set


def photo_add(*, actor: Actor, photo_set: PhotoSet, view: str, content: bytes) -> Photo:
    actor.require(Perm.OUTCOMES_RECORD)
    patient = photo_set.patient
    _check_patient(actor, patient)
    _require_photo_consent(patient)
    if view not in PhotoView.values:
        raise ValidationError({"view": "Choose one of the protocol's views."})
    if Photo.objects.filter(photo_set=photo_set, view=view).exists():
        raise ValidationError({"view": "This view is already in the set."})
    image, thumb, width, height = _reencode(content)
    digest = hashlib.sha256(image).hexdigest()
    name = secrets.token_hex(16)
    with transaction.atomic():
        photo = Photo(
            photo_set=photo_set,
            view=view,
            sha256=digest,
            width=width,
            height=height,
            uploaded_by=actor.user,
        )
        photo.file.save(f"{name}.jpg", ContentFile(image), save=False)
        photo.thumbnail.save(f"{name}.jpg", ContentFile(thumb), save=False)
        photo.save()
        audit_record(
            action="photo.create",
            actor=actor,
            patient=patient,
            obj=photo,
            changes={"view": view, "sha256": digest, "width": width, "height": height},
        )
    return photo


PHOTO_PURPOSES = {
    "clinical": "photo_clinical",
    "teaching": "photo_teaching",
    "marketing": "photo_marketing",
}


def photo_read(
    *, actor: Actor, photo: Photo, purpose: str = "clinical", thumb: bool = False
) -> bytes:
    """The stored bytes of a photo, after the consent check for ``purpose``; audited.

    Raises ``PhotoFileMissing`` when the stored file is gone (the view answers 404).
    """
    actor.require(Perm.CLINICAL_VIEW)
    patient = photo.photo_set.patient
    _check_patient(actor, patient)
    kind = PHOTO_PURPOSES.get(purpose)
    if kind is None:
        raise ValidationError({"purpose": "Purpose must be clinical, teaching or marketing."})
    _require_photo_consent(patient, kind)
    stored = photo.thumbnail if thumb else photo.file
    try:
        with stored.open("rb") as fh:
            data = fh.read()
    except (FileNotFoundError, ValueError):  # ValueError: the field holds no file name
        imaging.alert_missing_file("photo", photo.pk, stored.name)
        raise PhotoFileMissing() from None
    with transaction.atomic():
        audit_record(
            action="photo.read",
            actor=actor,
            patient=patient,
            obj=photo,
            changes={"purpose": purpose, "thumbnail": thumb},
        )
    return data
