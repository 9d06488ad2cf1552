"""Rounding per line to the currency's minor unit, half up; money in words."""

from __future__ import annotations

from decimal import Decimal as D

from anagen.billing.money import format_money, line_amounts, minor_units, round_money


def test_minor_units_and_half_up_rounding():
    assert minor_units("USD") == 2 and minor_units("JPY") == 0 and minor_units("KWD") == 3
    assert round_money(D("0.125"), "GBP") == D("0.13")
    assert round_money(D("0.124"), "GBP") == D("0.12")
    assert round_money(D("1500.5"), "JPY") == D("1501")
    assert round_money(D("1.0005"), "KWD") == D("1.001")


def test_tax_exclusive_line_adds_tax_on_top():
    # 3 × $45.50 = $136.50; 8.875 % = 12.114375 → $12.11; gross $148.61
    a = line_amounts(
        quantity=D(3), unit_price=D("45.50"), tax_rate=D("8.875"), tax_inclusive=False,
        currency="USD",
    )  # fmt: skip
    assert (a.net, a.tax, a.gross) == (D("136.50"), D("12.11"), D("148.61"))


def test_tax_inclusive_line_takes_vat_out_of_the_price():
    # £600 including 20 % VAT: net 500.00, VAT 100.00; £45 → net 37.50, VAT 7.50
    a = line_amounts(
        quantity=D(1), unit_price=D(600), tax_rate=D(20), tax_inclusive=True, currency="GBP"
    )
    assert (a.net, a.tax, a.gross) == (D("500.00"), D("100.00"), D("600.00"))
    # £9.99 incl. 20 %: 8.325 → net 8.33 (half up), VAT 1.66; net + VAT = the price
    b = line_amounts(
        quantity=D(1), unit_price=D("9.99"), tax_rate=D(20), tax_inclusive=True, currency="GBP"
    )
    assert (b.net, b.tax, b.gross) == (D("8.33"), D("1.66"), D("9.99"))


def test_yen_lines_round_to_whole_yen():
    a = line_amounts(
        quantity=D(1), unit_price=D(1999), tax_rate=D(10), tax_inclusive=False, currency="JPY"
    )
    assert (a.net, a.tax, a.gross) == (D(1999), D(200), D(2199))


def test_money_reads_as_people_write_it():
    assert format_money(D("1200"), "USD") == "$1,200.00"
    assert format_money(D("-40"), "GBP") == "-£40.00"
    assert format_money(D("12000"), "JPY") == "¥12,000"
    assert format_money(D("1200"), "CHF") == "1,200.00 CHF"
