"""Writes of billing: every money write is audited in the same transaction.

One module per topic, re-exported here: ``from anagen.billing import services; services.x``.
"""

from anagen.billing.services._common import money_in
from anagen.billing.services.invoices import (
    LOCKED,
    credit_note_issue,
    invoice_add_line,
    invoice_create,
    invoice_draft,
    invoice_issue,
    invoice_pdf_read,
    invoice_remove_line,
)
from anagen.billing.services.packages import (
    package_consume_for_session,
    package_freeze,
    package_refund_unused,
    package_sell,
    package_transfer,
    package_unfreeze,
)
from anagen.billing.services.payments import payment_record, refund_record
from anagen.billing.services.prices import package_define, price_set
from anagen.billing.services.quotes import (
    deposit_amount,
    quote_accept,
    quote_from_plan,
    quote_invoice,
    quote_send,
    quote_state,
    settings_for,
    settings_update,
)
from anagen.serialised_writes import serialised

__all__ = [
    "LOCKED",
    "credit_note_issue",
    "deposit_amount",
    "invoice_add_line",
    "invoice_create",
    "invoice_draft",
    "invoice_issue",
    "invoice_pdf_read",
    "invoice_remove_line",
    "money_in",
    "package_consume_for_session",
    "package_define",
    "package_freeze",
    "package_refund_unused",
    "package_sell",
    "package_transfer",
    "package_unfreeze",
    "payment_record",
    "price_set",
    "quote_accept",
    "quote_from_plan",
    "quote_invoice",
    "quote_send",
    "quote_state",
    "refund_record",
    "serialised",
    "settings_for",
    "settings_update",
]
