"""Reads of patient data are audited once per request, at the doors to patient data.

The selectors every page and API handler must use to reach patient data (`patient_for`,
`appointment_for`, `invoice_for` …) call `note_read`, and views that list many patients call
`note_list`. `AuditReadMiddleware` opens a scope for each request and, when the request
succeeded (status below 400), read patient data and wrote no audit row of its own (a write's
row, or a read a view audits itself such as a photo or a PDF), writes one row: "Record
opened" for the object (and patient) read, or "Patient list viewed" with what was listed.
Outside a request (tasks, commands, tests calling selectors) noting is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from django.db.models import Model

    from anagen.accounts.access import Actor
    from anagen.patients.models import Patient


@dataclass
class _Scope:
    actor: Actor | None = None
    patients: dict[int, Patient] = field(default_factory=dict)
    obj: Model | None = None
    lists: list[dict[str, Any]] = field(default_factory=list)
    audited: bool = False


_scope: ContextVar[_Scope | None] = ContextVar("anagen_audit_read_scope", default=None)


def note_read(actor: Actor, *, patient: Patient | None = None, obj: Model | None = None) -> None:
    """This request read `obj` (or the patient's record) for `actor`."""
    scope = _scope.get()
    if scope is None:
        return
    scope.actor = scope.actor or actor
    if patient is not None:
        scope.patients.setdefault(patient.pk, patient)
    if obj is not None and scope.obj is None:
        scope.obj = obj


def note_list(actor: Actor, *, what: str, shown: int | None = None, query: str = "") -> None:
    """This request showed a list of patients' data (`what`: words, e.g. "Patient search")."""
    scope = _scope.get()
    if scope is None:
        return
    scope.actor = scope.actor or actor
    entry: dict[str, Any] = {"list": what}
    if query:
        entry["search"] = query[:200]
    if shown is not None:
        entry["shown"] = shown
    scope.lists.append(entry)


def note_audited() -> None:
    """The request wrote an audit row itself (called by `audit_record`)."""
    scope = _scope.get()
    if scope is not None:
        scope.audited = True


def _write_receipt(scope: _Scope) -> None:
    from anagen.audit.models import AuditAction
    from anagen.audit.services import audit_record

    patients = list(scope.patients.values())
    if not patients and getattr(scope.obj, "patient_id", None) is not None:
        patients = [scope.obj.patient]  # type: ignore[union-attr]
    if scope.lists and not patients:
        changes: dict[str, Any] = dict(scope.lists[0])
        if len(scope.lists) > 1:
            changes["also"] = [entry["list"] for entry in scope.lists[1:]]
        audit_record(action=AuditAction.PATIENT_LIST_READ, actor=scope.actor, changes=changes)
        return
    one = patients[0] if len(patients) == 1 else None
    changes = {}
    if len(patients) > 1:
        changes["patients"] = [p.record_number for p in patients]
    if scope.lists:
        changes["lists"] = [entry["list"] for entry in scope.lists]
    audit_record(
        action=AuditAction.RECORD_READ,
        actor=scope.actor,
        patient=one,
        obj=scope.obj if scope.obj is not None else one,
        changes=changes,
    )


class AuditReadMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scope = _Scope()
        token = _scope.set(scope)
        try:
            response = self.get_response(request)
        finally:
            _scope.reset(token)
        read = scope.patients or scope.lists or scope.obj is not None
        if read and not scope.audited and scope.actor is not None and response.status_code < 400:
            _write_receipt(scope)
        return response
