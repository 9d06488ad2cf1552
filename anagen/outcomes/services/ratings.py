"""Writes: blinded rating panels (randomised before/after pairs) and the raters' scores."""

from __future__ import annotations

import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.models import Membership
from anagen.accounts.permissions import Perm, role_has
from anagen.audit.services import audit_record
from anagen.outcomes.models import PhotoView, Rating, RatingPair, RatingPanel
from anagen.patients.models import Patient

# Who may rate a panel: whoever may read the clinical photos (the permission table decides).
RATER_PERM = Perm.CLINICAL_VIEW


def eligible_raters(actor: Actor) -> list[Membership]:
    """Active memberships of the actor's clinic whose role may rate photos."""
    members = Membership.objects.filter(clinic=actor.clinic, is_active=True).select_related("user")
    return [
        m
        for m in members.order_by("user__last_name", "user__first_name", "pk")
        if role_has(m.role, RATER_PERM)
    ]


# --- blinded rating ----------------------------------------------------------------------------


def rating_panel_create(
    *,
    actor: Actor,
    name: str,
    view: str,
    rater_ids: list[int],
    patients: list[Patient] | None = None,
    seed: int | None = None,
) -> RatingPanel:
    """A panel of before/after pairs (first and latest photo of ``view``) for consenting patients.

    The pairs' order and each pair's left/right sides are randomised and stored, so the raters
    cannot tell before from after and the panel can be re-scored later.
    """
    import random

    actor.require(Perm.RATING_MANAGE)
    if not name.strip():
        raise ValidationError({"name": "Name the panel."})
    if view not in PhotoView.values:
        raise ValidationError({"view": "Choose one of the protocol's views."})
    allowed = {m.user_id for m in eligible_raters(actor)}
    raters = sorted(allowed & set(rater_ids))
    if not raters or len(raters) != len(set(rater_ids)):
        raise ValidationError(
            {"raters": "Choose raters among this clinic's staff who may read clinical photos."}
        )
    from anagen.outcomes.selectors import before_after_photos

    pairs = before_after_photos(clinic=actor.clinic, view=view, patients=patients)
    if not pairs:
        raise ValidationError(
            {"view": "No patient with consent has two photo sets with this view yet."}
        )
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    order = list(range(len(pairs)))
    rng.shuffle(order)
    with transaction.atomic():
        panel = RatingPanel.objects.create(
            clinic=actor.clinic, name=name.strip()[:120], view=view, created_by=actor.user
        )
        panel.raters.set(raters)
        for position, index in enumerate(order):
            patient, before, after = pairs[index]
            RatingPair.objects.create(
                panel=panel,
                patient=patient,
                before=before,
                after=after,
                before_on_left=rng.random() < 0.5,
                code=secrets.token_hex(8),
                position=position,
            )
            audit_record(
                action="rating_pair.create",
                actor=actor,
                patient=patient,
                obj=panel,
                changes={"before": before.pk, "after": after.pk},
            )
    return panel


def rating_submit(*, actor: Actor, pair: RatingPair, score: int) -> Rating:
    actor.require(RATER_PERM)
    if (
        pair.panel.clinic_id != actor.clinic.pk
        or not pair.panel.raters.filter(pk=actor.user.pk).exists()
    ):
        raise PermissionDenied("You are not a rater on this panel.")
    if not isinstance(score, int) or isinstance(score, bool) or not -3 <= score <= 3:
        raise ValidationError({"score": "Score must be -3 to +3."})
    if Rating.objects.filter(pair=pair, rater=actor.user).exists():
        raise ValidationError({"score": "You already rated this pair."})
    # The rater scored "right compared with left": turn it into after compared with before.
    change = score if pair.before_on_left else -score
    with transaction.atomic():
        rating = Rating.objects.create(pair=pair, rater=actor.user, score=score, change=change)
        audit_record(
            action="rating.create",
            actor=actor,
            patient=pair.patient,
            obj=rating,
            changes={"pair": pair.code, "score": score},
        )
    return rating
