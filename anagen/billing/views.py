"""Billing pages: the price list, a patient's account, invoices, payments and refunds.

Patient and invoice pages look the object up through the access helper first (another clinic's
is a 404), then check what the role may do (a 403 that names it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from anagen.accounts.access import ClinicRequest, patient_for
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.billing import account_html, selectors, services
from anagen.billing.forms import (
    CreditForm,
    LineForm,
    PackageForm,
    PackageRefundForm,
    PaymentForm,
    PriceForm,
    RefundForm,
    ReportForm,
    SellForm,
    SettingsForm,
)
from anagen.billing.models import Invoice, PackageDefinition, PaymentMethod
from anagen.billing.money import format_money
from anagen.patients.models import Patient
from anagen.web.confirm import unconfirmed
from anagen.web.fast_widgets import form_fields
from anagen.web.forms import attach_errors
from anagen.web.versions import page_version, refusal


def _items(request: ClinicRequest) -> list[tuple[str, str]]:
    return [
        (i.code, f"{i.name} — {format_money(i.unit_price, i.currency)}")
        for i in selectors.price_list(actor=request.actor)
    ]


def _package_choices(packages: Iterable[PackageDefinition]) -> list[tuple[str, str]]:
    return [
        (str(p.pk), f"{p.name} — {p.sessions} sessions, {format_money(p.price, p.currency)}")
        for p in packages
    ]


def _packages(request: ClinicRequest) -> list[tuple[str, str]]:
    return _package_choices(selectors.packages_on_sale(actor=request.actor))


# --- Clinic-wide pages -----------------------------------------------------------------------


@clinic_view(Perm.BILLING)
def billing_home(request: ClinicRequest) -> HttpResponse:
    invoices = selectors.clinic_invoices(actor=request.actor)
    return render(request, "billing/home.html", {"invoices": invoices})


@clinic_view(Perm.PRICE_LIST_MANAGE)
def price_list(request: ClinicRequest) -> HttpResponse:
    actor = request.actor
    price_form = PriceForm(
        request.POST if request.method == "POST" and "unit_price" in request.POST else None,
        initial={"valid_from": actor.today()},
    )
    package_form = PackageForm(
        request.POST if request.method == "POST" and "protocol_id" in request.POST else None
    )
    status = 200
    if price_form.is_bound:
        if price_form.is_valid():
            d = price_form.cleaned_data
            try:
                item = services.price_set(
                    actor=actor,
                    code=d["procedure"] or d["name"],
                    kind=d["kind"],
                    name=d["name"],
                    procedure=d["procedure"],
                    unit_price=d["unit_price"],
                    tax_rate=d["tax_rate"],
                    tax_inclusive=d["tax_inclusive"],
                    valid_from=d["valid_from"],
                )
            except ValidationError as exc:
                attach_errors(price_form, exc)
            else:
                messages.success(request, f"Price of {item.name} set.")
                return redirect("billing-prices")
        status = 400
    if package_form.is_bound:
        if package_form.is_valid():
            d = package_form.cleaned_data
            try:
                package = services.package_define(actor=actor, **d)
            except ValidationError as exc:
                attach_errors(package_form, exc)
            else:
                messages.success(request, f"Package {package.name} added.")
                return redirect("billing-prices")
        status = 400
    context = {
        "items": selectors.price_list(actor=actor),
        "history": selectors.price_history(actor=actor),
        "packages": selectors.packages_on_sale(actor=actor),
        "price_form": price_form,
        "package_form": package_form,
        "currency": actor.clinic.currency,
    }
    return render(request, "billing/prices.html", context, status=status)


# --- A patient's account ---------------------------------------------------------------------


def _account_page(
    request: ClinicRequest, patient: Any, status: int = 200, **forms: Any
) -> HttpResponse:
    # Everything the page shows in one query (issue 15).
    page = selectors.money_page(actor=request.actor, patient=patient)
    sell_form = forms.get("sell_form") or SellForm(packages=_package_choices(page.on_sale))
    pay_form = forms.get("pay_form") or PaymentForm()
    context = {
        "patient": patient,
        "account": page.account,
        "packages": page.packages,
        "sell_form": sell_form,
        "sell_fields": form_fields(sell_form),
        "pay_fields": form_fields(pay_form),
        "quotes": page.quotes,
        "plans": page.plans,
        "plan_options": account_html.plan_options(page.plans),
    }
    return render(request, "billing/account.html", context, status=status)


@clinic_view()
def patient_billing(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    request.actor.require(Perm.BILLING)
    return _account_page(request, patient)


@require_POST
@clinic_view()
def invoice_new(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    invoice = services.invoice_create(actor=request.actor, patient=patient)
    return redirect("billing-invoice", invoice.pk)


@require_POST
@clinic_view()
def package_sell(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    request.actor.require(Perm.BILLING)
    form = SellForm(request.POST, packages=_packages(request))
    if form.is_valid():
        package = selectors.package_definition_for(request.actor, form.cleaned_data["package"])
        try:
            sale = services.package_sell(actor=request.actor, patient=patient, package=package)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, f"{sale.name} sold; its invoice is issued.")
            return redirect("billing-patient", patient.pk)
    return _account_page(request, patient, status=400, sell_form=form)


@require_POST
@clinic_view()
def payment_on_account(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    request.actor.require(Perm.BILLING)
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            services.payment_record(actor=request.actor, patient=patient, **form.cleaned_data)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, "Payment taken onto the account.")
            return redirect("billing-patient", patient.pk)
    return _account_page(request, patient, status=400, pay_form=form)


# --- Invoices --------------------------------------------------------------------------------


def _invoice_page(
    request: ClinicRequest, invoice: Invoice, status: int = 200, **forms: Any
) -> HttpResponse:
    lines = list(invoice.lines.all())
    context = {
        "invoice": invoice,
        "patient": invoice.patient,
        "lines": lines,
        "state": selectors.invoice_state(invoice),
        "due": selectors.invoice_due(invoice),
        "credit_notes": list(invoice.credit_notes.all()),
        "payments": selectors.invoice_payments(invoice),
        "line_form": forms.get("line_form") or LineForm(items=_items(request)),
        "pay_form": forms.get("pay_form") or PaymentForm(),
        "credit_form": forms.get("credit_form")
        or CreditForm(lines=[(str(x.pk), x.description) for x in lines]),
        "refund_form": RefundForm(prefix="refund"),
        "refund_errors": forms.get("refund_errors"),
        "deposit_for": getattr(invoice, "deposit_for", None),
        "from_quote": getattr(invoice, "from_quote", None),
        "stale": forms.get("stale", ""),
        "record_version": page_version(*_invoice_record(invoice)),
    }
    return render(request, "billing/invoice.html", context, status=status)


def _invoice_record(invoice: Invoice) -> tuple[Any, ...]:
    """What a draft's version covers (no lost updates, anagen.web.versions): the document and
    its lines, as the API's ETag."""
    return (invoice, invoice.lines.all())


def _invoice_stale(request: ClinicRequest, invoice: Invoice, retry: str = "") -> str:
    return refusal(request, *_invoice_record(invoice), what="this invoice", retry=retry)


@clinic_view(Perm.BILLING)
def invoice_detail(request: ClinicRequest, invoice_id: int) -> HttpResponse:
    return _invoice_page(request, selectors.invoice_for(request.actor, invoice_id))


@require_POST
@clinic_view(Perm.BILLING)
def invoice_line_add(request: ClinicRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for(request.actor, invoice_id)
    form = LineForm(request.POST, items=_items(request))
    stale = _invoice_stale(request, invoice)
    if stale:  # the line typed is kept in the form, under the message
        return _invoice_page(request, invoice, status=409, line_form=form, stale=stale)
    if form.is_valid():
        try:
            services.invoice_add_line(actor=request.actor, invoice=invoice, **form.cleaned_data)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            return redirect("billing-invoice", invoice.pk)
    return _invoice_page(request, invoice, status=400, line_form=form)


@require_POST
@clinic_view(Perm.BILLING)
def invoice_line_remove(request: ClinicRequest, invoice_id: int, line_id: int) -> HttpResponse:
    invoice = selectors.invoice_for(request.actor, invoice_id)
    stale = _invoice_stale(request, invoice, retry="remove the line")
    if stale:
        return _invoice_page(request, invoice, status=409, stale=stale)
    line = next((x for x in invoice.lines.all() if x.pk == line_id), None)
    asked = unconfirmed(
        request,
        question=f"Remove {line.description if line else 'this line'} from the draft invoice?",
        detail="The line is deleted from the draft; add it again if you need it.",
        action="Yes, remove the line",
        back=reverse("billing-invoice", args=[invoice.pk]),
    )
    if asked is not None:
        return asked
    try:
        services.invoice_remove_line(actor=request.actor, invoice=invoice, line_id=line_id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("billing-invoice", invoice.pk)


@require_POST
@clinic_view(Perm.BILLING)
def invoice_issue(request: ClinicRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for(request.actor, invoice_id)
    stale = _invoice_stale(request, invoice, retry="issue it")
    if stale:  # issuing would fix a document nobody checked as it is now
        return _invoice_page(request, invoice, status=409, stale=stale)
    try:
        invoice = services.invoice_issue(actor=request.actor, invoice=invoice)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Invoice {invoice.display_number} issued.")
    return redirect("billing-invoice", invoice.pk)


@require_POST
@clinic_view(Perm.BILLING)
def invoice_pay(request: ClinicRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for(request.actor, invoice_id)
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            services.payment_record(
                actor=request.actor, patient=invoice.patient, invoice=invoice, **form.cleaned_data
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, "Payment taken.")
            return redirect("billing-invoice", invoice.pk)
    return _invoice_page(request, invoice, status=400, pay_form=form)


@require_POST
@clinic_view(Perm.BILLING_APPROVE)
def invoice_credit(request: ClinicRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for(request.actor, invoice_id)
    form = CreditForm(request.POST, lines=[(str(x.pk), x.description) for x in invoice.lines.all()])
    if form.is_valid():
        try:
            note = services.credit_note_issue(
                actor=request.actor,
                invoice=invoice,
                line_ids=[int(i) for i in form.cleaned_data["line_ids"]],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, f"Credit note {note.display_number} issued.")
            return redirect("billing-invoice", note.pk)
    return _invoice_page(request, invoice, status=400, credit_form=form)


@require_POST
@clinic_view(Perm.BILLING_APPROVE)
def payment_refund(request: ClinicRequest, payment_id: int) -> HttpResponse:
    payment = selectors.payment_for(request.actor, payment_id)
    form = RefundForm(request.POST, prefix="refund")
    errors: list[str] = []
    if form.is_valid():
        try:
            services.refund_record(actor=request.actor, payment=payment, **form.cleaned_data)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, "Refund recorded.")
    else:
        errors = [str(e) for errs in form.errors.values() for e in errs]
    if errors:
        messages.error(request, "Refund not recorded: " + " ".join(errors))
    if payment.invoice_id is not None:
        return redirect("billing-invoice", payment.invoice_id)
    return redirect("billing-patient", payment.patient_id)


@require_POST
@clinic_view(Perm.BILLING_APPROVE)
def package_refund(request: ClinicRequest, sale_id: int) -> HttpResponse:
    sale = selectors.package_sale_for(request.actor, sale_id)
    form = PackageRefundForm(request.POST, prefix=f"sale{sale.pk}")
    errors: list[str] = []
    if form.is_valid():
        try:
            note = services.package_refund_unused(
                actor=request.actor, sale=sale, **form.cleaned_data
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            buyer = (
                f" to {note.patient.full_name}, who bought the package,"
                if note.patient_id != sale.patient_id
                else ""
            )
            messages.success(
                request,
                f"Credit note {note.display_number} issued{buyer} for the unused sessions. "
                "Refund the money against the payment it returns.",
            )
    else:
        errors = [str(e) for errs in form.errors.values() for e in errs]
    if errors:
        messages.error(request, "Nothing credited: " + " ".join(errors))
    return redirect("billing-patient", sale.patient_id)


# --- Reports -----------------------------------------------------------------------------------


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@clinic_view(Perm.BILLING_REPORTS)
def reports(request: ClinicRequest) -> HttpResponse:
    actor = request.actor
    today = actor.today()
    chosen = "start" in request.GET or "end" in request.GET
    form = ReportForm(
        request.GET if chosen else None, initial={"start": today.replace(day=1), "end": today}
    )
    start, end = today.replace(day=1), today
    status = 200
    if form.is_bound:
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        else:
            status = 400
    takings = selectors.report_takings(actor=actor, start=start, end=end)
    outstanding = selectors.report_outstanding(actor=actor, on=end)
    liability = selectors.report_package_liability(actor=actor, on=end)
    revenue = selectors.report_revenue(actor=actor, start=start, end=end)
    by_practitioner = selectors.report_takings_by_practitioner(actor=actor, start=start, end=end)
    currency = actor.clinic.currency
    export = request.GET.get("csv")
    if status == 200 and export == "takings":
        return _csv(
            f"takings-{start}-{end}",
            ["date", "method", "received", "refunded", "net", "currency"],
            [[r.day, r.method, r.received, r.refunded, r.net, currency] for r in takings],
        )
    if status == 200 and export == "outstanding":
        return _csv(
            f"outstanding-{end}",
            ["invoice", "patient record", "issued", "age days", "band", "due", "currency"],
            [
                [
                    r.invoice.display_number,
                    r.invoice.patient.record_number,
                    r.invoice.issue_date,
                    r.age_days,
                    r.band,
                    r.due,
                    r.invoice.currency,
                ]
                for r in outstanding
            ],
        )
    if status == 200 and export == "liability":
        return _csv(
            f"package-liability-{end}",
            ["package", "patient record", "sold", "expires", "unused", "per session", "value"],
            [
                [
                    r.sale.name,
                    r.sale.patient.record_number,
                    r.sale.sold_on,
                    r.sale.expires_on,
                    r.unused,
                    r.per_session,
                    r.value,
                ]
                for r in liability
            ],
        )
    if status == 200 and export == "practitioners":
        return _csv(
            f"takings-by-practitioner-{start}-{end}",
            ["practitioner", "received", "refunded", "net", "currency"],
            [[r.practitioner, r.received, r.refunded, r.net, currency] for r in by_practitioner],
        )
    if status == 200 and export == "revenue":
        return _csv(
            f"revenue-{start}-{end}",
            ["month", "procedure or kind", "net", "tax", "gross", "currency"],
            [
                [r.month.strftime("%Y-%m"), r.label, r.net, r.tax, r.gross, currency]
                for r in revenue
            ],
        )
    by_method: dict[str, Decimal] = {}
    for r in takings:
        by_method[r.method] = by_method.get(r.method, Decimal(0)) + r.net
    bands: dict[str, Decimal] = {label: Decimal(0) for _, label in selectors.AGE_BANDS}
    for o in outstanding:
        bands[o.band] += o.due
    context = {
        "form": form,
        "start": start,
        "end": end,
        "currency": currency,
        "takings": takings,
        "by_method": [(PaymentMethod(m).label, v) for m, v in sorted(by_method.items())],
        "takings_total": sum((r.net for r in takings), Decimal(0)),
        "outstanding": outstanding,
        "bands": list(bands.items()),
        "outstanding_total": sum((o.due for o in outstanding), Decimal(0)),
        "liability": liability,
        "liability_total": sum((r.value for r in liability), Decimal(0)),
        "revenue": revenue,
        "by_practitioner": by_practitioner,
        "practitioner_total": sum((r.net for r in by_practitioner), Decimal(0)),
        "revenue_net": sum((r.net for r in revenue), Decimal(0)),
        "query": f"start={start.isoformat()}&end={end.isoformat()}",
    }
    return render(request, "billing/reports.html", context, status=status)


@require_POST
@clinic_view(Perm.BILLING)
def package_freeze(request: ClinicRequest, sale_id: int) -> HttpResponse:
    """Freeze or unfreeze (whichever the package is not), with a reason."""
    sale = selectors.package_sale_for(request.actor, sale_id)
    action = services.package_unfreeze if sale.frozen_on else services.package_freeze
    try:
        action(actor=request.actor, sale=sale, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, "Nothing changed: " + " ".join(exc.messages))
    else:
        messages.success(request, f"{sale.name}: {'resumed' if sale.frozen_on else 'frozen'}.")
    return redirect("billing-patient", sale.patient_id)


# --- Quotes and deposits ---------------------------------------------------------------------


@require_POST
@clinic_view()
def quote_new(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    request.actor.require(Perm.BILLING)
    plan = selectors.plan_for(request.actor, patient, request.POST.get("plan", ""))
    try:
        quote = services.quote_from_plan(actor=request.actor, plan=plan)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("billing-patient", patient.pk)
    return redirect("billing-quote", quote.pk)


@clinic_view(Perm.BILLING)
def quote_detail(request: ClinicRequest, quote_id: int) -> HttpResponse:
    quote = selectors.quote_for(request.actor, quote_id)
    legal = selectors.billing_settings(request.actor.clinic)
    percent = legal.deposit_percent if legal else Decimal(20)
    if quote.deposit_percent is not None:
        percent = quote.deposit_percent
    context = {
        "quote": quote,
        "patient": quote.patient,
        "lines": selectors.quote_lines(quote),
        "state": services.quote_state(quote, request.actor.today()),
        "legal": legal,
        "deposit_percent": percent,
        "deposit": services.deposit_amount(quote.total_gross, percent, quote.currency),
    }
    return render(request, "billing/quote.html", context)


def _quote_action(request: ClinicRequest, quote_id: int, action: Any, done: str) -> HttpResponse:
    quote = selectors.quote_for(request.actor, quote_id)
    try:
        result = action(actor=request.actor, quote=quote)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("billing-quote", quote.pk)
    messages.success(request, done)
    if isinstance(result, Invoice):
        return redirect("billing-invoice", result.pk)
    return redirect("billing-quote", quote.pk)


@require_POST
@clinic_view(Perm.BILLING)
def quote_send(request: ClinicRequest, quote_id: int) -> HttpResponse:
    return _quote_action(request, quote_id, services.quote_send, "Quote marked as sent.")


@require_POST
@clinic_view(Perm.BILLING)
def quote_accept(request: ClinicRequest, quote_id: int) -> HttpResponse:
    return _quote_action(
        request, quote_id, services.quote_accept, "Quote accepted; the deposit is invoiced."
    )


@require_POST
@clinic_view(Perm.BILLING)
def quote_invoice(request: ClinicRequest, quote_id: int) -> HttpResponse:
    return _quote_action(
        request, quote_id, services.quote_invoice, "Final invoice issued, deposit taken off."
    )


@clinic_view(Perm.PRICE_LIST_MANAGE)
def billing_settings(request: ClinicRequest) -> HttpResponse:
    actor = request.actor
    current = services.settings_for(actor.clinic)
    form = SettingsForm(request.POST or None, instance_values=current)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.settings_update(actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, "Billing settings saved.")
                return redirect("billing-settings")
        status = 400
    return render(request, "billing/settings.html", {"form": form}, status=status)


@clinic_view(Perm.BILLING)
def invoice_pdf(request: ClinicRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for(request.actor, invoice_id)
    try:
        pdf = services.invoice_pdf_read(actor=request.actor, invoice=invoice)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("billing-invoice", invoice.pk)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.display_number}.pdf"'
    return response


@require_POST
@clinic_view(Perm.BILLING)
def package_transfer(request: ClinicRequest, sale_id: int) -> HttpResponse:
    """Move the package's remaining sessions to another patient (by record number)."""
    sale = selectors.package_sale_for(request.actor, sale_id)
    if request.POST.get("patient"):  # by id: another clinic's patient is a 404
        target: Patient | None = patient_for(request.actor, request.POST["patient"])
    else:
        record = request.POST.get("record_number", "").strip()
        target = selectors.patient_by_record(request.actor, record)
    if target is None:
        messages.error(
            request, "Nothing changed: no patient of this clinic has that record number."
        )
        return redirect("billing-patient", sale.patient_id)
    try:
        moved = services.package_transfer(
            actor=request.actor, sale=sale, patient=target, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, "Nothing changed: " + " ".join(exc.messages))
    else:
        messages.success(
            request, f"{sale.name}: {moved.sessions_total} sessions moved to {target.full_name}."
        )
    return redirect("billing-patient", sale.patient_id)
