"""Which rows belong to a patient, in the order they can be inserted.

A row belongs to a patient when it points at the patient, or at a row that belongs to the
patient, by a foreign key. The walk is over the model graph, so a new model that hangs off a
patient is copied without a change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.db import models

from anagen.patients.models import Patient

# Not copied: money keeps one gap-free invoice sequence per clinic, audit rows carry a hash
# chain (the generator writes its own), report files and imports point at files of their own.
EXCLUDED = {
    "audit.AuditEvent",
    "billing.Invoice",
    "billing.InvoiceLine",
    "billing.Payment",
    "billing.Refund",
    "billing.PackageSale",
    "billing.PackageConsumption",
    "billing.Quote",
    "billing.QuoteLine",
    "outcomes.ReportFile",
    "outcomes.ImportBatch",
    "outcomes.RatingPair",
    "outcomes.Rating",
    "scheduling.ReminderSent",
}


def _is_history(model: type[models.Model]) -> bool:
    return model.__name__.startswith("Historical")


@dataclass
class OwnedModel:
    model: type[models.Model]
    # Foreign keys (attname, target model) that point at other owned models.
    owned_fks: list[tuple[str, type[models.Model]]] = field(default_factory=list)


def owned_models(exclude: set[str] | None = None) -> list[OwnedModel]:
    """Models owned by a patient, parents before children (Patient first).

    `exclude`: model labels left out (default: EXCLUDED, what the bench copy skips).
    """
    skipped = EXCLUDED if exclude is None else exclude
    owned: dict[type[models.Model], OwnedModel] = {Patient: OwnedModel(Patient)}
    changed = True
    while changed:
        changed = False
        for model in apps.get_models():
            if model in owned or _is_history(model) or model._meta.label in skipped:
                continue
            fks = [
                (f.attname, f.related_model)
                for f in model._meta.concrete_fields
                if f.is_relation and f.related_model in owned
            ]
            if fks:
                owned[model] = OwnedModel(model, fks)  # type: ignore[arg-type]
                changed = True
    # Refresh each model's owned foreign keys now that the set is complete, then sort.
    for om in owned.values():
        om.owned_fks = [
            (f.attname, f.related_model)  # type: ignore[misc]
            for f in om.model._meta.concrete_fields
            if f.is_relation and f.related_model in owned
        ]
    ordered: list[OwnedModel] = []
    placed: set[type[models.Model]] = set()
    while len(ordered) < len(owned):
        progress = False
        for model, om in owned.items():
            if model in placed:
                continue
            if all(target in placed or target is model for _, target in om.owned_fks):
                ordered.append(om)
                placed.add(model)
                progress = True
        if not progress:  # a cycle: nothing in this schema has one today
            raise RuntimeError("patient-owned models form a foreign-key cycle")
    return ordered


def history_model_of(model: type[models.Model]) -> type[models.Model] | None:
    """The simple-history shadow model of `model`, if it has one."""
    manager = getattr(model, "history", None)
    return getattr(manager, "model", None) if manager is not None else None
