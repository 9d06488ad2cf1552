"""The account page in one query (issue 15): the same rows and the same bytes as the separate
selectors and the template's loops gave, on random accounts (drafts, issued and credited
invoices, part-paid and refunded payments, payments on account, packages frozen, expired and
credited, quotes of every state, plans of every status), and flat in queries."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal as D

import pytest
from django.db import connection
from django.template import Context, Template
from django.template.loader import get_template, render_to_string
from django.template.loader_tags import BlockNode
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.billing import account_html, selectors, services
from anagen.billing.forms import PaymentForm, SellForm
from anagen.billing.models import (
    Invoice,
    PackageDefinition,
    PackageSale,
    Payment,
    Quote,
    Refund,
)
from anagen.billing.views import _package_choices
from anagen.scheduling.models import TreatmentPlan
from anagen.web.fast_widgets import form_fields
from conftest import make_patient

TODAY = dt.date(2026, 6, 15)
BASE = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def _money(rng: random.Random, low: int = 1, high: int = 3000) -> D:
    return D(rng.randint(low * 1000, high * 1000)) / 1000


def _account(staff, patient, rng: random.Random, big: bool = False) -> None:
    """Random rows as the database accepts them (not through the services: every shape);
    ``big``: more of each than the page shows."""
    clinic, user = staff.clinic, staff.admin
    invoices = []
    number = Invoice.objects.filter(clinic=clinic).count() * 10 + 1
    for _ in range(55 if big else rng.choice([0, 3, 12])):
        issued = rng.random() < 0.8
        gross = _money(rng)
        tax = min(gross, _money(rng, 0, 50))
        number += 1
        inv = Invoice.objects.create(
            clinic=clinic,
            patient=patient,
            status="issued" if issued else "draft",
            number=number if issued else None,
            currency=rng.choice(["USD", "GBP"]),
            created_by=user,
            issued_by=user if issued else None,
            issued_at=BASE if issued else None,
            issue_date=(TODAY - dt.timedelta(days=rng.randint(0, 400))) if issued else None,
            total_net=gross - tax,
            total_tax=tax,
            total_gross=gross,
            deposit_applied=min(gross, _money(rng, 0, 200)) if rng.random() < 0.2 else D(0),
        )
        invoices.append(inv)
        if issued and rng.random() < 0.3:  # a credit note, issued or a draft
            cn_issued = rng.random() < 0.7
            number += 1
            cn_gross = rng.choice([gross, min(gross, _money(rng, 1, 500))])
            invoices.append(
                Invoice.objects.create(
                    clinic=clinic,
                    patient=patient,
                    kind="credit_note",
                    corrects=inv,
                    status="issued" if cn_issued else "draft",
                    number=number if cn_issued else None,
                    currency=inv.currency,
                    created_by=user,
                    issued_by=user if cn_issued else None,
                    issued_at=BASE if cn_issued else None,
                    issue_date=TODAY if cn_issued else None,
                    total_net=cn_gross,
                    total_gross=cn_gross,
                )
            )
    for inv in invoices:  # ties in created_at on purpose: the id decides
        Invoice.objects.filter(pk=inv.pk).update(
            created_at=BASE + dt.timedelta(hours=rng.randint(0, 30))
        )
    for _ in range(60 if big else rng.choice([0, 4, 20])):
        against = rng.choice([None, *invoices]) if invoices else None
        amount = _money(rng, 1, 1500)
        pay = Payment.objects.create(
            clinic=clinic,
            patient=patient,
            invoice=against,
            method=rng.choice(["cash", "card", "bank_transfer", "voucher"]),
            amount=amount,
            applied=min(amount, _money(rng, 0, 1500)) if against else D(0),
            currency="USD",
            reference=rng.choice(["", "slip 12 <b>&", "TR-9"]),
            received_at=BASE + dt.timedelta(hours=rng.randint(0, 40)),
            taken_by=user,
        )
        for _ in range(rng.choice([0, 0, 1, 2])):
            Refund.objects.create(
                payment=pay,
                amount=min(amount, _money(rng, 1, 300)),
                reason="Changed plans",
                approved_by=user,
                refunded_at=BASE,
            )
    definitions = [
        PackageDefinition.objects.create(
            clinic=clinic,
            name=rng.choice(["PRP × 3", "PRP & mesotherapy", "Scalp <plus>"]),
            protocol_id="prp-aga-monthly-3",
            procedure="prp_scalp",
            sessions=rng.randint(1, 6),
            price=_money(rng),
            currency="USD",
            is_active=rng.random() < 0.8,
        )
        for _ in range(4 if big else rng.choice([0, 1, 3]))
    ]
    for _ in range((25 if big else rng.choice([0, 2])) if definitions else 0):
        total = rng.randint(1, 6)
        refunded = rng.randint(0, total)
        sold = TODAY - dt.timedelta(days=rng.randint(0, 500))
        PackageSale.objects.create(
            clinic=clinic,
            patient=patient,
            package=rng.choice(definitions),
            name=rng.choice(["PRP × 3", "Scalp <plus>"]),
            procedure="prp_scalp",
            sessions_total=total,
            sessions_refunded=refunded,
            sessions_transferred=rng.randint(0, total - refunded),
            price=_money(rng),
            currency="USD",
            sold_on=sold,
            expires_on=sold + dt.timedelta(days=rng.randint(0, 400)),
            frozen_on=TODAY - dt.timedelta(days=3) if rng.random() < 0.3 else None,
            sold_by=user,
        )
    plans = []
    for _ in range(55 if big else rng.choice([0, 2])):
        plans.append(
            TreatmentPlan.objects.create(
                clinic=clinic,
                patient=patient,
                protocol_id="prp-aga-monthly-3",
                protocol_name=rng.choice(["PRP monthly × 3", "Mesotherapy <face> & more"]),
                procedure="prp_scalp",
                start_on=TODAY + dt.timedelta(days=rng.randint(-300, 60)),
                status=rng.choice(["planned", "active", "completed", "cancelled"]),
                created_by=user,
            )
        )
    for _ in range(52 if big else rng.choice([0, 3])):
        status = rng.choice(["draft", "sent", "accepted"])
        gross = _money(rng)
        quote = Quote.objects.create(
            clinic=clinic,
            patient=patient,
            plan=rng.choice([None, *plans]) if plans else None,
            status=status,
            currency="USD",
            valid_until=TODAY + dt.timedelta(days=rng.randint(-30, 30)),
            total_net=gross,
            total_gross=gross,
            created_by=user,
            created_on=TODAY,
            accepted_at=BASE if status == "accepted" else None,
        )
        Quote.objects.filter(pk=quote.pk).update(
            created_at=BASE + dt.timedelta(hours=rng.randint(0, 5))
        )


def _shown(page_or_parts) -> list:
    """Every value the page shows, from either source."""
    account, packages, on_sale, quotes, plans = page_or_parts
    return [
        (account.currency, account.invoiced, account.credited, account.paid, account.refunded),
        [
            (
                r.invoice.pk, r.invoice.display_number, r.invoice.kind, r.invoice.is_issued,
                r.invoice.corrects.display_number if r.invoice.corrects_id else None,
                r.invoice.issue_date, r.invoice.total_gross, r.invoice.currency, r.state, r.due,
            )
            for r in account.invoices
        ],
        [
            (
                p.pk, p.received_at, p.get_method_display(), p.reference, p.amount, p.currency,
                p.invoice.display_number if p.invoice_id else None, p.on_account, p.refunded,
            )
            for p in account.payments
        ],
        [
            (
                s.sale.pk, s.sale.name, s.sale.sold_on, s.used, s.sale.sessions_total,
                s.sale.sessions_refunded, s.left, s.sale.expires_on, s.expired, s.frozen,
                s.sale.frozen_on, s.unused,
            )
            for s in packages
        ],
        _package_choices(on_sale),
        [
            (q.pk, q.display_number, str(q.plan) if q.plan_id else None, q.total_gross,
             q.currency, q.valid_until, state)
            for q, state in quotes
        ],
        [(p.pk, str(p)) for p in plans],
    ]  # fmt: skip


def _before(actor, patient) -> tuple:
    """What the page read before (issue 15): the separate selectors."""
    return (
        selectors.patient_account(actor=actor, patient=patient),
        selectors.patient_packages(actor=actor, patient=patient),
        list(selectors.packages_on_sale(actor=actor).order_by("name", "id")),
        [
            (q, services.quote_state(q, actor.today()))
            for q in selectors.patient_quotes(actor=actor, patient=patient)
        ],
        selectors.patient_plans(actor=actor, patient=patient),
    )


def _content(context: dict) -> str:
    """The account page's content block (what the view adds to the layout)."""
    template = get_template("billing/account.html").template  # type: ignore[attr-defined]
    block = next(n for n in template.nodelist.get_nodes_by_type(BlockNode) if n.name == "content")
    return block.nodelist.render(Context({**context, "csrf_token": "token"}))


_OPTIONS = Template('{% for p in plans %}<option value="{{ p.pk }}">{{ p }}</option>{% endfor %}')


@pytest.mark.parametrize("seed", range(5))
def test_money_page_shows_what_the_separate_selectors_showed(
    clinic_a, patient_a, seed, monkeypatch
):
    from anagen.accounts import access

    monkeypatch.setattr(access.Actor, "today", lambda self: TODAY)
    rng = random.Random(seed)
    _account(clinic_a, patient_a, rng, big=seed in (0, 3))
    other = make_patient(clinic_a, given_name="Ann", family_name="Other")
    _account(clinic_a, other, random.Random(seed + 100))  # never on patient_a's page
    for user in (clinic_a.admin, clinic_a.front_desk):
        actor = clinic_a.actor(user)
        with timezone.override("Europe/London"):
            page = selectors.money_page(actor=actor, patient=patient_a)
            old = _before(actor, patient_a)
            assert _shown(
                (page.account, page.packages, page.on_sale, page.quotes, page.plans)
            ) == _shown(old)
            # The page's markup: the template on the old objects (its loops and its include)
            # against the page as the view writes it now.
            account, packages, on_sale, quotes, plans = old
            sell_old = SellForm(packages=_package_choices(on_sale))
            sell_new = SellForm(packages=_package_choices(page.on_sale))
            common = {"patient": patient_a, "actor": actor}
            before = _content(
                {
                    **common,
                    "account": account,
                    "packages": packages,
                    "quotes": quotes,
                    "plans": plans,
                    "sell_form": sell_old,
                    "sell_fields": render_to_string("_form_fields.html", {"form": sell_old}),
                    "pay_fields": render_to_string("_form_fields.html", {"form": PaymentForm()}),
                    "plan_options": _OPTIONS.render(Context({"plans": plans})),
                }
            )
            after = _content(
                {
                    **common,
                    "account": page.account,
                    "packages": page.packages,
                    "quotes": page.quotes,
                    "plans": page.plans,
                    "sell_form": sell_new,
                    "sell_fields": form_fields(sell_new),
                    "pay_fields": form_fields(PaymentForm()),
                    "plan_options": account_html.plan_options(page.plans),
                }
            )
            assert after == before


def test_money_page_is_one_query_whatever_the_history(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.admin)
    selectors.money_page(actor=actor, patient=patient_a)  # the actor's clinic, once
    with CaptureQueriesContext(connection) as empty:
        selectors.money_page(actor=actor, patient=patient_a)
    _account(clinic_a, patient_a, random.Random(3), big=True)
    with CaptureQueriesContext(connection) as full:
        selectors.money_page(actor=actor, patient=patient_a)
    assert len(empty) == len(full) == 1


def test_account_page_shows_a_payment_at_once(clinic_a, patient_a):
    """Nothing on the page is kept between requests: a new payment shows on the next view."""
    client = clinic_a.client(clinic_a.front_desk)
    url = reverse("billing-patient", args=[patient_a.pk])
    assert "No payments yet." in client.get(url).content.decode()
    services.payment_record(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, amount="12.5",
        method="cash", reference="slip <7>",
    )  # fmt: skip
    body = client.get(url).content.decode()
    assert "No payments yet." not in body and "slip &lt;7&gt;" in body
