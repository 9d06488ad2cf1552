"""The billing API's writes: price list, invoices, credit notes, payments and refunds, packages
and quotes; each money write audited, another clinic's object a 404, every operation and field
documented with an example body."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.audit.models import AuditEvent
from anagen.billing.models import Invoice, PackageSale
from anagen.billing.tests.helpers import issued, package, prices
from anagen.scheduling.models import TreatmentPlan

pytestmark = pytest.mark.django_db
BASE = "/api/v1/billing"


def _api(user) -> Client:
    _, raw = api_token_create(membership=Membership.objects.get(user=user), name="t")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _post(api: Client, path: str, body: dict | None = None, etag: str | None = None):
    headers = {"If-Match": etag} if etag else {}
    return api.post(BASE + path, body or {}, content_type="application/json", headers=headers)


def _etag(api: Client, invoice_id: int) -> str:
    return api.get(f"{BASE}/invoices/{invoice_id}")["ETag"]


def _audited(action: str) -> int:
    return AuditEvent.objects.filter(action=action, via="api").count()


def test_admin_manages_the_price_list_and_packages(clinic_a):
    admin, desk = _api(clinic_a.admin), _api(clinic_a.front_desk)
    body = {
        "kind": "product",
        "name": "Biotin",
        "unit_price": "19.99",
        "tax_rate": "20",
        "tax_inclusive": True,
        "valid_from": "2020-01-01",
    }
    r = _post(admin, "/prices", body)
    assert r.status_code == 201, r.content
    assert r.json()["code"] == "biotin" and D(r.json()["unit_price"]) == D("19.99")
    assert _post(desk, "/prices", body).status_code == 403
    r = _post(admin, "/prices", {**body, "unit_price": "1.234"})
    assert r.status_code == 422 and r["Content-Type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "body.unit_price"
    r = _post(admin, "/prices", {**body, "kind": "procedure", "procedure": ""})
    assert r.status_code == 422
    assert [p["code"] for p in desk.get(BASE + "/prices").json()] == ["biotin"]
    r = _post(admin, "/package-definitions", {"protocol_id": "prp-aga-monthly-3", "price": 2400})
    assert r.status_code == 201 and r.json()["sessions"] == 3
    assert (
        _post(admin, "/package-definitions", {"protocol_id": "nope", "price": 1}).status_code == 422
    )
    assert desk.get(BASE + "/package-definitions").json()[0]["id"] == r.json()["id"]
    assert _audited("billing.price.set") == 1 and _audited("billing.package.define") == 1


def test_front_desk_drafts_issues_and_the_admin_credits_and_voids(clinic_a, patient_a):
    prices(clinic_a)
    desk, admin = _api(clinic_a.front_desk), _api(clinic_a.admin)
    r = _post(
        desk,
        "/invoices",
        {"patient_id": patient_a.pk, "lines": [{"code": "consultation"}, {"code": "minoxidil"}]},
    )
    assert r.status_code == 201, r.content
    draft, created = r.json(), r["ETag"]
    assert draft["status"] == "draft" and draft["number"] is None and len(draft["lines"]) == 2
    r = _post(desk, "/invoices", {"patient_id": patient_a.pk, "lines": [{"code": "nope"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.lines.0.code"
    assert not Invoice.objects.filter(lines__isnull=True).exists()  # all or nothing
    assert _post(desk, f"/invoices/{draft['id']}/lines", {"code": "prp_scalp"}).status_code == 428
    r = _post(
        desk,
        f"/invoices/{draft['id']}/lines",
        {"code": "prp_scalp", "quantity": 2},
        created,
    )
    assert r.status_code == 201 and len(r.json()["lines"]) == 3
    minoxidil = next(x for x in r.json()["lines"] if x["description"].startswith("Minoxidil"))
    stale = r["ETag"]
    r = desk.delete(
        f"{BASE}/invoices/{draft['id']}/lines/{minoxidil['id']}", headers={"If-Match": stale}
    )
    assert r.status_code == 204
    assert _post(desk, f"/invoices/{draft['id']}/issue", etag=stale).status_code == 412
    r = _post(desk, f"/invoices/{draft['id']}/issue", etag=_etag(desk, draft["id"]))
    assert r.status_code == 200, r.content
    invoice = r.json()
    assert invoice["number"] == "INV-A-000001" and D(invoice["total_gross"]) == D(2050)
    assert invoice["state"] == "Unpaid" and D(invoice["due"]) == D(2050)
    tag = r["ETag"]
    r = _post(desk, f"/invoices/{draft['id']}/lines", {"code": "consultation"}, tag)
    assert r.status_code == 422  # issued: locked
    assert _post(desk, f"/invoices/{draft['id']}/issue", etag=tag).status_code == 422
    consultation = invoice["lines"][0]
    body = {"line_ids": [consultation["id"]], "reason": "Consultation waived"}
    assert _post(desk, f"/invoices/{invoice['id']}/credit-notes", body, tag).status_code == 403
    r = _post(admin, f"/invoices/{invoice['id']}/credit-notes", body, tag)
    assert r.status_code == 201, r.content
    note = r.json()
    assert note["kind"] == "credit_note" and note["number"] == "CN-A-000002"
    assert note["corrects_id"] == invoice["id"] and D(note["total_gross"]) == D(250)
    assert note["lines"][0]["credits_line_id"] == consultation["id"]
    assert _post(admin, f"/invoices/{invoice['id']}/credit-notes", body, tag).status_code == 422
    # void: the rest of the invoice
    void = {"reason": "Issued in error"}
    r = _post(admin, f"/invoices/{invoice['id']}/credit-notes", void, tag)
    assert r.status_code == 201 and D(r.json()["total_gross"]) == D(1800)
    assert desk.get(f"{BASE}/invoices/{invoice['id']}").json()["state"] == "Credited"
    r = _post(admin, f"/invoices/{invoice['id']}/credit-notes", void, tag)
    assert r.status_code == 422
    page = desk.get(f"{BASE}/invoices?kind=credit_note&patient_id={patient_a.pk}").json()
    assert page["count"] == 2 and {x["kind"] for x in page["results"]} == {"credit_note"}
    assert _audited("billing.invoice.create") == 1  # the refused draft rolled back
    assert _audited("billing.invoice.issue") == 1
    assert _audited("billing.credit_note.issue") == 2


def test_payments_on_account_and_refunds_against_them(clinic_a, patient_a):
    prices(clinic_a)
    invoice = issued(clinic_a, patient_a, "consultation")
    desk, admin = _api(clinic_a.front_desk), _api(clinic_a.admin)
    body = {"amount": "300", "method": "cash"}
    r = _post(desk, f"/invoices/{invoice.pk}/payments", body, _etag(desk, invoice.pk))
    assert r.status_code == 201 and D(r.json()["applied"]) == D(250)
    payment = r.json()
    r = _post(desk, f"/patients/{patient_a.pk}/payments", {"amount": 100, "method": "voucher"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.reference"
    r = _post(
        desk,
        f"/patients/{patient_a.pk}/payments",
        {"amount": 100, "method": "voucher", "reference": "GIFT-1"},
    )
    assert r.status_code == 201 and r.json()["invoice_id"] is None
    body = {"amount": "50", "reason": "Change given back"}
    assert _post(desk, f"/payments/{payment['id']}/refunds", body).status_code == 403
    r = _post(admin, f"/payments/{payment['id']}/refunds", body)
    assert r.status_code == 201 and D(r.json()["amount"]) == D(50)
    r = _post(admin, f"/payments/{payment['id']}/refunds", {"amount": "251", "reason": "Too much"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.amount"
    detail = desk.get(f"{BASE}/payments/{payment['id']}").json()
    assert [D(x["amount"]) for x in detail["refunds"]] == [D(50)]
    account = desk.get(f"{BASE}/patients/{patient_a.pk}/account").json()
    # invoiced 250, paid 300 + 100, refunded 50: credit of 100
    assert D(account["balance"]) == D(-100)
    assert _audited("billing.payment.record") == 2 and _audited("billing.refund.record") == 1


def test_packages_sold_frozen_transferred_and_credited(clinic_a, patient_a):
    from conftest import make_patient

    prices(clinic_a)
    pkg = package(clinic_a)
    other = make_patient(clinic_a)
    desk, admin, nurse = _api(clinic_a.front_desk), _api(clinic_a.admin), _api(clinic_a.nurse)
    assert (
        _post(nurse, f"/patients/{patient_a.pk}/packages", {"package_id": pkg.pk}).status_code
        == 403
    )
    r = _post(desk, f"/patients/{patient_a.pk}/packages", {"package_id": pkg.pk})
    assert r.status_code == 201, r.content
    sale = r.json()
    assert (sale["sessions_total"], sale["sessions_left"]) == (3, 3)
    assert (
        _post(desk, f"/patients/{patient_a.pk}/packages", {"package_id": 999999}).status_code == 404
    )
    r = _post(desk, f"/packages/{sale['id']}/freeze", {"reason": "Travelling abroad"})
    assert r.status_code == 200 and r.json()["frozen_on"] is not None
    assert (
        _post(desk, f"/packages/{sale['id']}/freeze", {"reason": "Again please"}).status_code == 422
    )
    r = _post(desk, f"/packages/{sale['id']}/unfreeze", {"reason": "Back home now"})
    assert r.status_code == 200 and r.json()["frozen_on"] is None
    r = _post(admin, f"/packages/{sale['id']}/refund", {"sessions": 1, "reason": "Moving away"})
    assert r.status_code == 201, r.content
    assert r.json()["kind"] == "credit_note" and D(r.json()["total_gross"]) == D(800)
    r = _post(
        desk, f"/packages/{sale['id']}/transfer", {"patient_id": other.pk, "reason": "Gift to son"}
    )
    assert r.status_code == 201 and r.json()["sessions_total"] == 2
    moved = r.json()
    assert moved["transferred_from_id"] == sale["id"]
    assert desk.get(f"{BASE}/packages/{sale['id']}").json()["sessions_transferred"] == 2
    # the new holder's package is credited too (the note corrects the buyer's invoice)
    r = _post(admin, f"/packages/{moved['id']}/refund", {"sessions": 1, "reason": "Not needed"})
    assert r.status_code == 201 and r.json()["patient_id"] == patient_a.pk
    r = _post(admin, f"/packages/{moved['id']}/refund", {"sessions": 5, "reason": "Not needed"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.sessions"
    left = nurse.get(f"{BASE}/patients/{other.pk}/packages").json()
    assert [(p["sessions_left"], p["sessions_refunded"]) for p in left] == [(1, 1)]
    for action in ("sell", "freeze", "unfreeze", "refund", "transfer"):
        assert _audited(f"billing.package.{action}") >= 1, action


def test_quote_from_a_plan_accepted_sells_the_package_then_invoiced(clinic_a, patient_a):
    prices(clinic_a)
    package(clinic_a)
    plan = TreatmentPlan.objects.create(
        clinic=clinic_a.clinic, patient=patient_a, protocol_id="prp-aga-monthly-3",
        protocol_name="PRP AGA", procedure="prp_scalp", start_on=dt.date(2026, 1, 5),
        created_by=clinic_a.physician,
    )  # fmt: skip
    desk = _api(clinic_a.front_desk)
    r = _post(desk, "/quotes", {"plan_id": plan.pk})
    assert r.status_code == 201, r.content
    quote = r.json()
    assert quote["state"] == "Draft" and D(quote["total_gross"]) == D(2400)
    assert quote["lines"][0]["package_id"] is not None
    assert (
        _post(desk, "/quotes", {"plan_id": plan.pk, "valid_until": "2000-01-01"}).status_code == 422
    )
    assert _post(desk, f"/quotes/{quote['id']}/send").json()["state"] == "Sent"
    r = _post(desk, f"/quotes/{quote['id']}/accept")
    assert r.status_code == 200, r.content
    accepted = r.json()
    assert accepted["state"] == "Accepted" and accepted["deposit_invoice_id"] is not None
    sale = PackageSale.objects.get(patient=patient_a)
    assert accepted["lines"][0]["package_sale_id"] == sale.pk
    assert _post(desk, f"/quotes/{quote['id']}/accept").status_code == 422
    deposit = desk.get(f"{BASE}/invoices/{accepted['deposit_invoice_id']}").json()
    assert D(deposit["total_gross"]) == D(480)
    body = {"amount": "480", "method": "card"}
    assert (
        _post(
            desk, f"/invoices/{deposit['id']}/payments", body, _etag(desk, deposit["id"])
        ).status_code
        == 201
    )
    r = _post(desk, f"/quotes/{quote['id']}/invoice")
    assert r.status_code == 201
    final = r.json()
    assert D(final["deposit_applied"]) == D(480) and D(final["due"]) == D(1920)
    assert final["lines"][0]["package_sale_id"] == sale.pk
    assert [q["id"] for q in desk.get(f"{BASE}/patients/{patient_a.pk}/quotes").json()] == [
        quote["id"]
    ]
    assert desk.get(f"{BASE}/quotes/{quote['id']}").json()["final_invoice_id"] == final["id"]
    assert _post(_api(clinic_a.physician), "/quotes", {"plan_id": plan.pk}).status_code == 403
    for action in ("create", "send", "accept", "invoice"):
        assert _audited(f"billing.quote.{action}") == 1, action


def test_another_clinics_objects_are_404_on_every_operation(clinic_a, clinic_b, patient_b):
    prices(clinic_b)
    invoice = issued(clinic_b, patient_b, "consultation")
    b_desk = clinic_b.actor(clinic_b.front_desk)
    from anagen.billing import services

    payment = services.payment_record(
        actor=b_desk, patient=patient_b, invoice=invoice, amount="250", method="cash"
    )
    sale = services.package_sell(actor=b_desk, patient=patient_b, package=package(clinic_b))
    plan = TreatmentPlan.objects.create(
        clinic=clinic_b.clinic, patient=patient_b, protocol_id="prp-aga-monthly-3",
        protocol_name="PRP AGA", procedure="prp_scalp", start_on=dt.date(2026, 1, 5),
        created_by=clinic_b.physician,
    )  # fmt: skip
    quote = services.quote_from_plan(actor=b_desk, plan=plan)
    admin = _api(clinic_a.admin)
    reason = {"reason": "Just because"}
    calls = [
        ("get", f"/invoices/{invoice.pk}", None),
        ("post", "/invoices", {"patient_id": patient_b.pk}),
        ("post", f"/invoices/{invoice.pk}/lines", {"code": "consultation"}),
        ("delete", f"/invoices/{invoice.pk}/lines/{invoice.lines.get().pk}", None),
        ("post", f"/invoices/{invoice.pk}/issue", None),
        ("post", f"/invoices/{invoice.pk}/credit-notes", reason),
        ("post", f"/invoices/{invoice.pk}/payments", {"amount": 1, "method": "cash"}),
        ("post", f"/patients/{patient_b.pk}/payments", {"amount": 1, "method": "cash"}),
        ("get", f"/payments/{payment.pk}", None),
        ("post", f"/payments/{payment.pk}/refunds", {"amount": 1, **reason}),
        ("get", f"/patients/{patient_b.pk}/account", None),
        ("get", f"/patients/{patient_b.pk}/packages", None),
        ("post", f"/patients/{patient_b.pk}/packages", {"package_id": sale.package_id}),
        ("get", f"/packages/{sale.pk}", None),
        ("post", f"/packages/{sale.pk}/freeze", reason),
        ("post", f"/packages/{sale.pk}/unfreeze", reason),
        ("post", f"/packages/{sale.pk}/transfer", {"patient_id": patient_b.pk, **reason}),
        ("post", f"/packages/{sale.pk}/refund", {"sessions": 1, **reason}),
        ("post", "/quotes", {"plan_id": plan.pk}),
        ("get", f"/quotes/{quote.pk}", None),
        ("get", f"/patients/{patient_b.pk}/quotes", None),
        ("post", f"/quotes/{quote.pk}/send", None),
        ("post", f"/quotes/{quote.pk}/accept", None),
        ("post", f"/quotes/{quote.pk}/invoice", None),
    ]
    before = AuditEvent.objects.count()
    for method, path, body in calls:
        if method == "get":
            r = admin.get(BASE + path)
        elif method == "delete":
            r = admin.delete(BASE + path, headers={"If-Match": "*"})
        else:
            r = _post(admin, path, body, "*")
        assert r.status_code == 404, (method, path, r.status_code, r.content)
        assert r["Content-Type"] == "application/problem+json"
    assert AuditEvent.objects.count() == before


def test_every_billing_operation_and_field_is_documented_with_an_example_body():
    from anagen.api import api

    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/billing/")
        for method, op in item.items()
    ]
    assert len(operations) >= 29
    undocumented: list[str] = []

    def fields(ref: str) -> None:
        name = ref.rsplit("/", 1)[1]
        for field, prop in components[name].get("properties", {}).items():
            if not prop.get("description"):
                undocumented.append(f"{name}.{field}")
            for sub in [prop.get("items", {}), *prop.get("anyOf", [])]:
                if "$ref" in sub and sub["$ref"].rsplit("/", 1)[1] != name:
                    fields(sub["$ref"])

    for path, method, op in operations:
        if not op.get("description") or not op.get("summary"):
            undocumented.append(f"{method} {path}")
        for status, response in op["responses"].items():
            assert response.get("description"), (path, status)
            if status.startswith("4"):
                assert "application/problem+json" in response["content"], (path, status)
        body = op.get("requestBody")
        if body:
            ref = body["content"]["application/json"]["schema"]["$ref"]
            assert components[ref.rsplit("/", 1)[1]].get("examples"), (method, path)
            fields(ref)
        for response in op["responses"].values():
            content = response.get("content", {}).get("application/json", {}).get("schema", {})
            ref = content.get("$ref") or content.get("items", {}).get("$ref")
            if ref and not ref.endswith("/Problem"):
                fields(ref)
        for param in op.get("parameters", []):
            if (
                param["in"] == "query"
                and not param.get("description")
                and not param["schema"].get("description")
            ):
                undocumented.append(f"{path}?{param['name']}")
    assert undocumented == []
