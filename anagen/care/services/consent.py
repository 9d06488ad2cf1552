"""Consent: signing (an immutable snapshot with its SHA-256), withdrawal, publishing texts."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, User
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.care import selectors
from anagen.care.models import Consent, ConsentKind, ConsentTemplate
from anagen.care.services.common import _require
from anagen.patients.models import Patient
from anagen.patients.normalise import fold_text

UNKNOWN_KIND = f"Choose one of the consent kinds: {'; '.join(map(str, ConsentKind.labels))}."

SIGNATURE_PREFIX = "data:image/png;base64,"
SIGNATURE_MAX_BYTES = 200_000  # a drawn signature on a tablet canvas is a few kilobytes
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def signature_clean(value: str) -> str:
    """A drawn signature as a PNG data URI (checked: prefix, base64, PNG bytes, size), or ""."""
    value = (value or "").strip()
    if not value:
        return ""
    bad = ValidationError(
        {"signature": "The drawn signature could not be read; clear it and draw it again."}
    )
    if not value.startswith(SIGNATURE_PREFIX):
        raise bad
    try:
        content = base64.b64decode(value[len(SIGNATURE_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise bad from None
    if not content.startswith(PNG_MAGIC) or len(content) > SIGNATURE_MAX_BYTES:
        raise bad
    # Re-encoded from the bytes: only canonical base64 is stored (and hashed).
    return SIGNATURE_PREFIX + base64.b64encode(content).decode("ascii")


def consent_document_html(
    *,
    template: ConsentTemplate,
    patient: Patient,
    signed_name: str = "",
    signed_at: dt.datetime | None = None,
    witness: User | None = None,
    signature: str = "",
) -> str:
    """The consent exactly as shown and stored: template text, patient, signature, witness.

    A drawn signature (a PNG data URI) is part of the snapshot, so its SHA-256 covers it."""
    return render_to_string(
        "care/_consent_document.html",
        {
            "template": template,
            "patient": patient,
            "signed_name": signed_name,
            "signed_at": signed_at,
            "witness": witness,
            "signature": signature,
        },
    )


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@transaction.atomic
def consent_sign(
    *,
    actor: Actor,
    patient: Patient,
    kind: str,
    signed_name: str,
    agreed: bool,
    template_version: int | None = None,
    signature: str = "",
) -> Consent:
    """Store the signed consent as an immutable snapshot with its SHA-256; the actor witnesses."""
    # Witnessing is clinical work (front desk sees the status only).
    _require(actor, patient, Perm.CONSENT_RECORD)
    if kind not in ConsentKind.values:
        raise ValidationError({"kind": UNKNOWN_KIND})
    template = selectors.consent_template_current(patient.clinic_id, kind)
    if template is None:
        raise ValidationError({"kind": "No consent text is published for this kind."})
    errors: dict[str, str] = {}
    if template_version is not None and template_version != template.version:
        errors["__all__"] = (
            f"Version {template.version} of this consent was published while it was being read; "
            "show the patient the new text and sign again."
        )
    signed_name = " ".join((signed_name or "").split())
    if not signed_name:
        errors["signed_name"] = "The patient types their full name to sign."
    elif fold_text(signed_name) != fold_text(patient.full_name):
        errors["signed_name"] = (
            f"The typed name must be the patient's full name as registered ({patient.full_name})."
        )
    if not agreed:
        errors["agreed"] = "The patient must confirm they have read and agree to the text."
    try:
        signature = signature_clean(signature)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    signed_at = timezone.now()
    with timezone.override(actor.tz):  # the snapshot states the time in the clinic's zone
        snapshot = consent_document_html(
            template=template,
            patient=patient,
            signed_name=signed_name,
            signed_at=signed_at,
            witness=actor.user,
            signature=signature,
        )
    consent = Consent.objects.create(
        patient=patient,
        template=template,
        kind=kind,
        signed_at=signed_at,
        signed_by_patient_name=signed_name,
        witness=actor.user,
        snapshot_html=snapshot,
        sha256=sha256_of(snapshot),
    )
    audit_record(
        action="consent.sign",
        actor=actor,
        patient=patient,
        obj=consent,
        changes={
            "kind": kind,
            "template": template.pk,
            "template_version": template.version,
            "sha256": consent.sha256,
            "drawn_signature": bool(signature),
        },
    )
    return consent


@transaction.atomic
def consent_withdraw(*, actor: Actor, consent: Consent, reason: str) -> Consent:
    _require(actor, consent.patient, Perm.CONSENT_RECORD)
    locked = Consent.objects.select_for_update().get(pk=consent.pk)
    if locked.is_withdrawn:
        raise ValidationError("This consent is already withdrawn.", code="withdrawn")
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise ValidationError({"reason": "Say why the consent is withdrawn (who asked, when)."})
    locked.withdrawn_at = timezone.now()
    locked.withdrawn_reason = reason
    locked.withdrawn_by = actor.user
    locked.save(update_fields=["withdrawn_at", "withdrawn_reason", "withdrawn_by"])
    audit_record(
        action="consent.withdraw",
        actor=actor,
        patient=locked.patient,
        obj=locked,
        changes={"kind": locked.kind, "reason": reason},
    )
    return locked


def can_publish_templates(actor: Actor) -> bool:
    """Kept for callers of the old name: the permission table decides."""
    return actor.can(Perm.CONSENT_PUBLISH)


@transaction.atomic
def consent_template_publish(*, actor: Actor, kind: str, title: str, body: str) -> ConsentTemplate:
    """Publish a new version for the actor's clinic; earlier consents then need re-consent."""
    actor.require(Perm.CONSENT_PUBLISH)
    if kind not in ConsentKind.values:
        raise ValidationError({"kind": UNKNOWN_KIND})
    title = " ".join((title or "").split())
    body = (body or "").replace("\r\n", "\n").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "Give the consent a title."
    if len(body) < 20:
        errors["body"] = "The consent text is too short."
    if errors:
        raise ValidationError(errors)
    clinic = actor.clinic
    # Lock the clinic row so two publications get distinct version numbers.
    Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
    current = selectors.consent_template_current(clinic, kind)
    if current is not None and current.title == title and current.body == body:
        raise ValidationError(
            {"body": f"This is the text of the current version (v{current.version}); change it."}
        )
    last = selectors.consent_template_versions(clinic, kind).aggregate(v=Max("version"))["v"] or 0
    template = ConsentTemplate.objects.create(
        clinic=clinic,
        kind=kind,
        version=last + 1,
        title=title,
        body=body,
        published_at=timezone.now(),
        published_by=actor.user,
    )
    audit_record(
        action="consent_template.publish",
        actor=actor,
        obj=template,
        changes={"kind": kind, "version": template.version, "title": title},
    )
    return template
