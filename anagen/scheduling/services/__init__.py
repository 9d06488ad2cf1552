"""Writes of scheduling data: plans, bookings, moves, status changes, resources, reminders.

A package by topic; every public name is re-exported here, so ``from anagen.scheduling import
services; services.appointment_book(...)`` and ``from anagen.scheduling.services import ...`` both
work. Every write that touches a patient records an audit event in the same transaction.

Who may do what is the permission table (``anagen.accounts.permissions``), asked through
``actor.require``:
- choosing a protocol (creating a treatment plan): ``PLAN``, it is a prescription;
- booking single appointments, rescheduling, cancel, no-show, cancelling a plan: ``BOOK``;
- check-in (arrival, no clinical gate): ``CHECK_IN``;
- completing a visit without a session record: ``SESSION_PERFORM``; a procedure appointment
  completes when its session record is signed;
- resources and working hours: ``RESOURCES_MANAGE``; reminder rules: ``REMINDERS_MANAGE``;
  a practitioner may rotate the secret of their own calendar feed, a resource manager anyone's.

Topics: ``plans`` (preview, book a series, cancel), ``batch_booking`` (many series in one
pass), ``booking`` (single appointments, notes),
``moves``, ``status`` (check-in, complete, cancel, no-show), ``recalls``, ``resources``,
``feeds`` (calendar feed secrets), ``reminders`` (messages and rules), ``closures`` (clinic
closures, staff leave and the clinic's public-holiday region: ``RESOURCES_MANAGE``).
``_common`` holds the booking primitives (see its docstring for how double booking is prevented).
"""

from anagen.scheduling.services._common import (
    BookingConflict,
    GateRefused,
    OutsideWindow,
    _check_patient,
    _fmt,
    _today,
    _tz,
)
from anagen.scheduling.services.batch_booking import (
    BatchResult,
    SeriesOutcome,
    SeriesRequest,
    plan_book_series_batch,
)
from anagen.scheduling.services.booking import appointment_book, appointment_update_notes
from anagen.scheduling.services.closures import (
    clinic_holidays_set,
    closure_add,
    closure_remove,
    leave_add,
    leave_remove,
)
from anagen.scheduling.services.feeds import feed_may_rotate, feed_token_hash, feed_token_rotate
from anagen.scheduling.services.moves import (
    MoveWarning,
    appointment_move,
    appointment_move_targets,
    appointment_move_warnings,
)
from anagen.scheduling.services.plans import (
    ProposedSlot,
    SessionPreview,
    SlotChoice,
    plan_book_series,
    plan_cancel,
    plan_preview,
)
from anagen.scheduling.services.recalls import recall_dismiss, recall_window
from anagen.scheduling.services.reminders import (
    DEFAULT_REMINDER_RULES,
    reminder_rule_add,
    reminder_rule_set_active,
    reminder_rule_set_template,
    reminder_rules_ensure_defaults,
    reminders_send_due,
)
from anagen.scheduling.services.resources import (
    resource_create,
    resource_update,
    working_hours_set,
)
from anagen.scheduling.services.status import (
    COMPLETES_WITH_SESSION,
    appointment_cancel,
    appointment_check_in,
    appointment_complete,
    appointment_no_show,
)
from anagen.serialised_writes import serialised

__all__ = [
    "COMPLETES_WITH_SESSION",
    "DEFAULT_REMINDER_RULES",
    "BatchResult",
    "BookingConflict",
    "GateRefused",
    "MoveWarning",
    "OutsideWindow",
    "ProposedSlot",
    "SeriesOutcome",
    "SeriesRequest",
    "SessionPreview",
    "SlotChoice",
    "_check_patient",
    "_fmt",
    "_today",
    "_tz",
    "appointment_book",
    "appointment_cancel",
    "appointment_check_in",
    "appointment_complete",
    "appointment_move",
    "appointment_move_targets",
    "appointment_move_warnings",
    "appointment_no_show",
    "appointment_update_notes",
    "clinic_holidays_set",
    "closure_add",
    "closure_remove",
    "feed_may_rotate",
    "feed_token_hash",
    "feed_token_rotate",
    "leave_add",
    "leave_remove",
    "plan_book_series",
    "plan_book_series_batch",
    "plan_cancel",
    "plan_preview",
    "recall_dismiss",
    "recall_window",
    "reminder_rule_add",
    "reminder_rule_set_active",
    "reminder_rule_set_template",
    "reminder_rules_ensure_defaults",
    "reminders_send_due",
    "resource_create",
    "resource_update",
    "serialised",
    "working_hours_set",
]
