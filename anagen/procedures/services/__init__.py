"""Writes of the treatment-room record. Every write is audited in the same transaction.

Rules of the record:
- a session starts only through care's ``session_gate`` (screening + consent), whose result is kept;
- preparation labels are the kernel's (``prp_evaluate``), stored with the kernel version;
- a lot is chosen at the moment of use and a recalled or expired lot is refused;
- a physician signs once the checklist is complete; a signed session is locked and changes
  afterwards are amendments with a reason (``Amendment`` rows, row history, audit events).
Adverse events are not part of the lock: they are recorded and followed up after signing too.

One module per topic; every public name (and the private helpers other modules use) is
re-exported here, so ``services.preparation_record`` keeps working.
"""

from anagen.procedures.services._common import (
    KERNEL_VERSION,
    LOCKED,
    MIN_REASON,
    GateRefused,
    _amending,
    _check_session,
    _plain,
    _record_change,
    _require_clinical,
    _today,
)
from anagen.procedures.services.adverse_events import (
    _ae_code,
    adverse_event_follow_up,
    adverse_event_record,
)
from anagen.procedures.services.delivery import _zone_codes, delivery_record, topical_record
from anagen.procedures.services.inventory import (
    ALLERGY_OVERRIDE_PHYSICIAN_ONLY,
    _require_inventory,
    lot_allergy_findings,
    lot_expired_message,
    lot_recall,
    lot_recall_read,
    lot_recalled_message,
    lot_receive,
    lot_use_record,
    lots_recount,
    product_create,
)
from anagen.procedures.services.mesotherapy import (
    _meso_ingredients,
    formulation_create,
    meso_check,
    meso_delivery_add,
    meso_delivery_remove,
    session_doses,
)
from anagen.procedures.services.preparation import (
    MISSING_FOR_LABELS,
    PREP_FIELDS,
    _clean_spins,
    _kernel_error,
    _num,
    _prep_snapshot,
    preparation_compute,
    preparation_document,
    preparation_record,
)
from anagen.procedures.services.sessions import (
    DETAIL_FIELDS,
    session_details_update,
    session_phase_stamp,
    session_read,
    session_start,
)
from anagen.procedures.services.signing import _checklist_refusal, session_close, session_sign

__all__ = [
    "ALLERGY_OVERRIDE_PHYSICIAN_ONLY",
    "DETAIL_FIELDS",
    "KERNEL_VERSION",
    "LOCKED",
    "MIN_REASON",
    "MISSING_FOR_LABELS",
    "PREP_FIELDS",
    "GateRefused",
    "_ae_code",
    "_amending",
    "_check_session",
    "_checklist_refusal",
    "_clean_spins",
    "_kernel_error",
    "_meso_ingredients",
    "_num",
    "_plain",
    "_prep_snapshot",
    "_record_change",
    "_require_clinical",
    "_require_inventory",
    "_today",
    "_zone_codes",
    "adverse_event_follow_up",
    "adverse_event_record",
    "delivery_record",
    "formulation_create",
    "lot_allergy_findings",
    "lot_expired_message",
    "lot_recall",
    "lot_recall_read",
    "lot_recalled_message",
    "lot_receive",
    "lot_use_record",
    "lots_recount",
    "meso_check",
    "meso_delivery_add",
    "meso_delivery_remove",
    "preparation_compute",
    "preparation_document",
    "preparation_record",
    "product_create",
    "session_close",
    "session_details_update",
    "session_doses",
    "session_phase_stamp",
    "session_read",
    "session_sign",
    "session_start",
    "topical_record",
]
