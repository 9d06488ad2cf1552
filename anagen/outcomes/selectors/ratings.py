"""Reads: blinded rating panels, the pairs a rater still has to score, and their results."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.outcomes.models import Rating, RatingPair, RatingPanel
from anagen.patients.models import Patient

# --- blinded rating ----------------------------------------------------------------------------


def panels_for(actor: Actor) -> QuerySet[RatingPanel]:
    actor.require(Perm.CLINICAL_VIEW)
    return RatingPanel.objects.filter(clinic=actor.clinic).prefetch_related("raters")


def panel_get(actor: Actor, panel_id: int) -> RatingPanel | None:
    return panels_for(actor).filter(pk=panel_id).first()


def pairs_to_rate(*, actor: Actor, panel: RatingPanel) -> list[RatingPair]:
    """The rater's unrated pairs in the panel's stored random order (no patient data shown)."""
    if not panel.raters.filter(pk=actor.user.pk).exists():
        raise PermissionDenied("You are not a rater on this panel.")
    return list(
        panel.pairs.exclude(ratings__rater=actor.user)
        .select_related("before", "after")
        .order_by("position")
    )


def pair_by_code(*, actor: Actor, code: str) -> RatingPair | None:
    actor.require(Perm.CLINICAL_VIEW)
    return (
        RatingPair.objects.filter(code=code, panel__clinic=actor.clinic)
        .select_related("panel", "before", "after", "patient")
        .first()
    )


@dataclass(frozen=True)
class BlindedResult:
    ratings: int
    mean_change: float
    raters: int


def blinded_results(patient: Patient) -> BlindedResult | None:
    """Mean blinded after-vs-before rating of a patient's pairs (-3..+3). One query."""
    changes = list(Rating.objects.filter(pair__patient=patient).values_list("change", "rater_id"))
    if not changes:
        return None
    return BlindedResult(
        ratings=len(changes),
        mean_change=statistics.fmean(c for c, _ in changes),
        raters=len({r for _, r in changes}),
    )


def panel_summary(panel: RatingPanel) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for rating in Rating.objects.filter(pair__panel=panel).select_related("pair__patient"):
        patient = rating.pair.patient
        entry = rows.setdefault(patient.pk, {"patient": patient, "changes": []})
        entry["changes"].append(rating.change)
    for entry in rows.values():
        entry["mean"] = statistics.fmean(entry["changes"])
        entry["n"] = len(entry["changes"])
    return sorted(rows.values(), key=lambda e: e["patient"].family_name)


def rater_choices(actor: Actor) -> list[tuple[int, str]]:
    """(user id, "Name (Role)") of the clinic's staff who may rate, for the panel form."""
    from anagen.outcomes.services.ratings import eligible_raters

    return [(m.user_id, f"{m.user} ({m.get_role_display()})") for m in eligible_raters(actor)]


def is_rater(*, actor: Actor, panel: RatingPanel) -> bool:
    return panel.raters.filter(pk=actor.user.pk).exists()
