"""Money tied to the record: price list, packages, invoices and credit notes, payments, refunds.

Amounts are Decimal in the clinic's ISO 4217 currency (copied onto every document, so a clinic
that changes currency keeps its history). Nothing here is deleted: an issued document is
corrected by a credit note, money going back is a refund against the payment it returns.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value

from anagen.billing.money import format_money

# SQLite compares decimals as floating point: "adds up" allows less than half a thousandth.
_HALF_THOUSANDTH = Value(Decimal("0.0005"))


def _adds_up(total: str, a: str, b: str) -> Q:
    return Q(
        **{
            f"{total}__gt": F(a) + F(b) - _HALF_THOUSANDTH,
            f"{total}__lt": F(a) + F(b) + _HALF_THOUSANDTH,
        }
    )


class ItemKind(models.TextChoices):
    CONSULTATION = "consultation", "Consultation"
    PROCEDURE = "procedure", "Procedure"
    PRODUCT = "product", "Product"


class PriceItem(models.Model):
    """One version of one price: the price of `code` from `valid_from` on (until a later row)."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(max_length=60)  # stable key: "consultation", "prp_scalp", "minoxidil"
    kind = models.CharField(max_length=20, choices=ItemKind.choices)
    procedure = models.CharField(max_length=40, blank=True)  # kernel procedure code, if any
    name = models.CharField(max_length=200)
    valid_from = models.DateField()
    unit_price = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(max_length=3)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal(0))
    tax_inclusive = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "code", "valid_from"], name="billing_one_price_per_day"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="billing_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0, tax_rate__lte=100), name="billing_tax_rate_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {format_money(self.unit_price, self.currency)}"


class PackageDefinition(models.Model):
    """A package built from a protocol: N sessions of one procedure at a package price."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    protocol_id = models.CharField(max_length=60)
    procedure = models.CharField(max_length=40)
    sessions = models.PositiveSmallIntegerField()
    price = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(max_length=3)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal(0))
    tax_inclusive = models.BooleanField(default=False)
    validity_days = models.PositiveIntegerField(default=365)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(sessions__gte=1), name="billing_package_sessions"),
            models.CheckConstraint(condition=Q(price__gte=0), name="billing_package_price"),
            models.CheckConstraint(
                condition=Q(validity_days__gte=1), name="billing_package_validity"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"


class InvoiceCounter(models.Model):
    """The clinic's one gap-free document sequence (invoices and credit notes share it)."""

    clinic = models.OneToOneField(
        "accounts.Clinic", on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Last number {self.last_number}"


class Invoice(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="invoices"
    )
    kind = models.CharField(max_length=20, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    status = models.CharField(
        max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    number = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    reason = models.TextField(blank=True)  # why a credit note was issued
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True)  # the clinic-local date printed on it
    total_net = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    total_tax = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    total_gross = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    # On a final invoice from an accepted quote: the deposit already paid, taken off what is due.
    deposit_applied = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["clinic", "patient", "status"])]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "number"], name="billing_number_unique"),
            # A draft has no number; an issued document has its number, date, signer.
            models.CheckConstraint(
                condition=(
                    Q(status="draft", number__isnull=True, issued_at__isnull=True)
                    | Q(
                        status="issued",
                        number__isnull=False,
                        issued_at__isnull=False,
                        issue_date__isnull=False,
                        issued_by__isnull=False,
                    )
                ),
                name="billing_issued_has_number",
            ),
            models.CheckConstraint(
                condition=_adds_up("total_gross", "total_net", "total_tax"),
                name="billing_totals_add_up",
            ),
            models.CheckConstraint(
                condition=Q(kind="invoice", corrects__isnull=True)
                | Q(kind="credit_note", corrects__isnull=False),
                name="billing_credit_note_corrects_invoice",
            ),
            models.CheckConstraint(
                condition=Q(deposit_applied__gte=0, deposit_applied__lte=F("total_gross")),
                name="billing_deposit_applied_range",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        if self.number is None:
            return "Draft"
        prefix = "CN" if self.kind == InvoiceKind.CREDIT_NOTE else "INV"
        return f"{prefix}-{self.clinic.record_prefix}-{self.number:06d}"

    @property
    def is_issued(self) -> bool:
        return self.status == InvoiceStatus.ISSUED


class InvoiceLine(models.Model):
    """A priced line, its price copied from the price list when it was added."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    price_item = models.ForeignKey(
        PriceItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    package_sale = models.ForeignKey(
        "billing.PackageSale", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # On a credit note: the invoice line it takes back (whole, once; or a package's unused
    # sessions, which may be credited in parts up to what is left).
    credits_line = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credited_by"
    )
    procedure = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal(1))
    unit_price = models.DecimalField(max_digits=14, decimal_places=3)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3)
    tax_inclusive = models.BooleanField()
    net = models.DecimalField(max_digits=14, decimal_places=3)
    tax = models.DecimalField(max_digits=14, decimal_places=3)
    gross = models.DecimalField(max_digits=14, decimal_places=3)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="billing_line_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="billing_line_quantity"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="billing_line_price"),
            models.CheckConstraint(
                condition=_adds_up("gross", "net", "tax"), name="billing_line_adds_up"
            ),
        ]

    def __str__(self) -> str:
        return self.description


class PaymentMethod(models.TextChoices):
    CASH = "cash", "Cash"
    CARD = "card", "Card"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    VOUCHER = "voucher", "Voucher"


class Payment(models.Model):
    """Money received. `applied` went to the invoice; the rest is credit on the account."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="payments"
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=3)
    applied = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=100, blank=True)  # terminal slip, transfer ref
    received_at = models.DateTimeField()
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["clinic", "-received_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_payment_positive"),
            models.CheckConstraint(
                condition=Q(applied__gte=0, applied__lte=F("amount")),
                name="billing_payment_applied_range",
            ),
            models.CheckConstraint(
                condition=Q(invoice__isnull=False) | Q(applied=0),
                name="billing_payment_applied_needs_invoice",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {format_money(self.amount, self.currency)}"

    @property
    def on_account(self) -> Decimal:
        return self.amount - self.applied


class Refund(models.Model):
    """Money returned, recorded against the payment it returns, approved by the clinic admin."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=14, decimal_places=3)
    reason = models.TextField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    refunded_at = models.DateTimeField()

    class Meta:
        ordering = ["-refunded_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_refund_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="billing_refund_reason"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount}"


class PackageSale(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="package_sales"
    )
    package = models.ForeignKey(PackageDefinition, on_delete=models.PROTECT, related_name="sales")
    name = models.CharField(max_length=200)  # copied: the sale keeps what was sold
    procedure = models.CharField(max_length=40)
    sessions_total = models.PositiveSmallIntegerField()
    sessions_refunded = models.PositiveSmallIntegerField(default=0)  # credited, never to be used
    # moved to another patient's package (``transferred_from`` on theirs); used ones stay here
    sessions_transferred = models.PositiveSmallIntegerField(default=0)
    transferred_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="transfers"
    )
    price = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(max_length=3)
    sold_on = models.DateField()
    expires_on = models.DateField()
    # While frozen no session is used; unfreezing moves the expiry on by the days frozen.
    frozen_on = models.DateField(null=True, blank=True)
    sold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sold_on", "-id"]
        indexes = [models.Index(fields=["patient", "procedure"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(sessions_total__gte=1), name="billing_sale_sessions"
            ),
            models.CheckConstraint(
                condition=Q(expires_on__gte=F("sold_on")), name="billing_sale_expiry"
            ),
            models.CheckConstraint(
                condition=Q(sessions_refunded__lte=F("sessions_total")),
                name="billing_sale_refunded_range",
            ),
            models.CheckConstraint(
                condition=Q(sessions_transferred__lte=F("sessions_total") - F("sessions_refunded")),
                name="billing_sale_transferred_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def sessions_open(self) -> int:
        """Sessions sold here that are neither credited nor transferred (used or not)."""
        return self.sessions_total - self.sessions_refunded - self.sessions_transferred


class PackageConsumption(models.Model):
    """One package session used by one signed session record: at most once, ever."""

    package_sale = models.ForeignKey(
        PackageSale, on_delete=models.PROTECT, related_name="consumptions"
    )
    session = models.OneToOneField(
        "procedures.TreatmentSession", on_delete=models.PROTECT, related_name="package_use"
    )
    consumed_at = models.DateTimeField()

    class Meta:
        ordering = ["consumed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["package_sale", "session"], name="billing_consume_once")
        ]

    def __str__(self) -> str:
        return f"{self.package_sale} — session {self.session_id}"


class BillingSettings(models.Model):
    """A clinic's billing terms and the legal details printed on its invoices."""

    clinic = models.OneToOneField(
        "accounts.Clinic", on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    deposit_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal(20))
    legal_name = models.CharField(max_length=200, blank=True)
    legal_address = models.TextField(blank=True)
    tax_id = models.CharField(max_length=60, blank=True)

    class Meta:
        verbose_name_plural = "billing settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(deposit_percent__gte=0, deposit_percent__lte=100),
                name="billing_deposit_percent_range",
            )
        ]

    def __str__(self) -> str:
        return f"Deposit {self.deposit_percent} %"


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    ACCEPTED = "accepted", "Accepted"


class Quote(models.Model):
    """What a treatment plan will cost, valid until a date; accepting it asks for a deposit."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="quotes")
    plan = models.ForeignKey(
        "scheduling.TreatmentPlan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(max_length=20, choices=QuoteStatus.choices, default="draft")
    currency = models.CharField(max_length=3)
    valid_until = models.DateField()
    total_net = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    total_tax = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    total_gross = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal(0))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_on = models.DateField()  # clinic-local date printed on it
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    deposit_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    deposit_invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="deposit_for"
    )
    final_invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="from_quote"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=_adds_up("total_gross", "total_net", "total_tax"),
                name="billing_quote_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(status="accepted", accepted_at__isnull=False)
                | (~Q(status="accepted") & Q(accepted_at__isnull=True)),
                name="billing_quote_accepted_stamp",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return f"Q-{self.clinic.record_prefix}-{self.pk:06d}"


class QuoteLine(models.Model):
    """A priced line of a quote, copied like an invoice line."""

    quote = models.ForeignKey(Quote, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    price_item = models.ForeignKey(
        PriceItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    package = models.ForeignKey(
        PackageDefinition, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The package sold to the patient when the quote was accepted (its final invoice line
    # is this sale's invoice line).
    package_sale = models.ForeignKey(
        PackageSale, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    procedure = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal(1))
    unit_price = models.DecimalField(max_digits=14, decimal_places=3)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3)
    tax_inclusive = models.BooleanField()
    net = models.DecimalField(max_digits=14, decimal_places=3)
    tax = models.DecimalField(max_digits=14, decimal_places=3)
    gross = models.DecimalField(max_digits=14, decimal_places=3)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["quote", "position"], name="billing_quote_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="billing_quote_quantity"),
            models.CheckConstraint(
                condition=_adds_up("gross", "net", "tax"), name="billing_quote_line_adds_up"
            ),
        ]

    def __str__(self) -> str:
        return self.description
