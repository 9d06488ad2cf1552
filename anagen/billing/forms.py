"""Page forms of billing: they check the shape of input; the services decide the rest."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from anagen.billing.models import ItemKind, PaymentMethod
from anagen.clinical import PROCEDURES, PROTOCOLS
from anagen.web.fast_widgets import fast_form

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _amount(label: str, **kw: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, max_digits=13, decimal_places=3, min_value=Decimal(0), **kw
    )


class PriceForm(forms.Form):
    kind = forms.ChoiceField(choices=ItemKind.choices)
    procedure = forms.ChoiceField(
        required=False,
        choices=[("", "—")] + [(k, str(v["label"])) for k, v in PROCEDURES.items()],
        help_text="For a procedure: which one (its name comes from it unless you give one).",
    )
    name = forms.CharField(max_length=200, required=False)
    unit_price = _amount("Price")
    tax_rate = forms.DecimalField(
        label="Tax rate (%)", max_digits=6, decimal_places=3, min_value=0, max_value=100,
        initial=0,
    )  # fmt: skip
    tax_inclusive = forms.BooleanField(required=False, label="Price includes tax")
    valid_from = forms.DateField(widget=DATE, label="Valid from")


class PackageForm(forms.Form):
    protocol_id = forms.ChoiceField(
        label="Protocol", choices=[(k, p.name) for k, p in PROTOCOLS.items()]
    )
    name = forms.CharField(max_length=200, required=False, help_text="Defaults to the protocol.")
    price = _amount("Package price")
    validity_days = forms.IntegerField(
        label="Valid for (days)", min_value=1, max_value=3650, initial=365
    )
    tax_rate = forms.DecimalField(
        label="Tax rate (%)", max_digits=6, decimal_places=3, min_value=0, max_value=100,
        initial=0,
    )  # fmt: skip
    tax_inclusive = forms.BooleanField(required=False, label="Price includes tax")


class LineForm(forms.Form):
    code = forms.ChoiceField(label="Item")
    quantity = forms.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0.001"), max_value=1000, initial=1
    )

    def __init__(self, *args: Any, items: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = items  # type: ignore[attr-defined]


@fast_form
class PaymentForm(forms.Form):
    amount = _amount("Amount")
    method = forms.ChoiceField(choices=PaymentMethod.choices)
    reference = forms.CharField(
        max_length=100, required=False, help_text="Card slip, transfer reference or voucher code."
    )


@fast_form
class SellForm(forms.Form):
    package = forms.ChoiceField(label="Package")

    def __init__(self, *args: Any, packages: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["package"].choices = packages  # type: ignore[attr-defined]


class CreditForm(forms.Form):
    line_ids = forms.MultipleChoiceField(
        label="Lines to credit", widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args: Any, lines: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line_ids"].choices = lines  # type: ignore[attr-defined]


class RefundForm(forms.Form):
    amount = _amount("Amount")
    reason = forms.CharField(max_length=2000)


class PackageRefundForm(forms.Form):
    sessions = forms.IntegerField(label="Unused sessions to credit", min_value=1, max_value=100)
    reason = forms.CharField(max_length=2000)


class ReportForm(forms.Form):
    start = forms.DateField(widget=DATE, label="From")
    end = forms.DateField(widget=DATE, label="To")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if (end - start).days > 366:
                raise forms.ValidationError("Choose at most one year.")
        return data


class SettingsForm(forms.Form):
    deposit_percent = forms.DecimalField(
        label="Deposit on accepting a quote (%)", min_value=0, max_value=100, decimal_places=2
    )
    legal_name = forms.CharField(label="Legal name", max_length=200, required=False)
    legal_address = forms.CharField(
        label="Address", widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=1000
    )
    tax_id = forms.CharField(label="Tax ID", max_length=60, required=False)

    def __init__(self, *args: Any, instance_values: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "deposit_percent": instance_values.deposit_percent,
                "legal_name": instance_values.legal_name,
                "legal_address": instance_values.legal_address,
                "tax_id": instance_values.tax_id,
            },
        )
        super().__init__(*args, **kwargs)
