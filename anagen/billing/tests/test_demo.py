"""The demo's money: each clinic's own currency and tax, packages used by signed records."""

from __future__ import annotations

from decimal import Decimal as D

from anagen.accounts.models import Clinic
from anagen.billing.models import (
    Invoice,
    PackageConsumption,
    PackageSale,
    Payment,
    PriceItem,
    Refund,
)
from anagen.demo import seed_demo


def _counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count()
        for m in (PriceItem, Invoice, Payment, Refund, PackageSale, PackageConsumption)
    )


def test_demo_money_per_clinic_and_idempotent(db):
    seed_demo()
    north, river = Clinic.objects.get(slug="north"), Clinic.objects.get(slug="river")
    assert (north.currency, river.currency) == ("USD", "GBP")
    prp = PriceItem.objects.filter(clinic=north, code="prp_scalp").order_by("valid_from")
    assert [p.unit_price for p in prp] == [D(900), D(1100)]  # versioned by date
    assert PriceItem.objects.get(clinic=river, code="prp_scalp", unit_price=600).tax_rate == 20
    for clinic in (north, river):
        # the package sold at the desk, used by signed records (an accepted package quote
        # may have sold another, not used yet)
        used = [s.consumptions.count() for s in PackageSale.objects.filter(clinic=clinic)]
        assert any(1 <= n <= 3 for n in used), used
        numbers = sorted(
            n or 0
            for n in Invoice.objects.filter(clinic=clinic, status="issued").values_list(
                "number", flat=True
            )
        )
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 5
        assert Invoice.objects.filter(clinic=clinic, kind="credit_note").count() == 1
        assert Invoice.objects.filter(clinic=clinic, status="draft").count() == 1
        assert Refund.objects.filter(payment__clinic=clinic).count() == 1
        assert Payment.objects.filter(clinic=clinic, method="voucher").exists()
    before = _counts()
    seed_demo()
    assert _counts() == before
