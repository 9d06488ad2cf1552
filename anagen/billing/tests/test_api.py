"""The billing API: same rules and isolation as the pages."""

from __future__ import annotations

import pytest
from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.billing import services
from anagen.billing.tests.helpers import issued, package, prices


def _client(staff, user) -> Client:
    _, raw = api_token_create(membership=Membership.objects.get(user=user), name="t")
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def invoice_a(clinic_a, patient_a):
    prices(clinic_a)
    return issued(clinic_a, patient_a, "prp_scalp")


def test_front_desk_reads_an_invoice_and_takes_a_payment(clinic_a, patient_a, invoice_a):
    api = _client(clinic_a, clinic_a.front_desk)
    r = api.get(f"/api/v1/billing/invoices/{invoice_a.pk}")
    assert r.status_code == 200
    body = r.json()
    assert body["number"] == "INV-A-000001" and body["state"] == "Unpaid"
    assert body["lines"][0]["gross"] == "900.000" or float(body["lines"][0]["gross"]) == 900
    r = api.post(
        f"/api/v1/billing/invoices/{invoice_a.pk}/payments",
        {"amount": "1000", "method": "card"},
        content_type="application/json",
        headers={"If-Match": r["ETag"]},
    )
    assert r.status_code == 201 and float(r.json()["applied"]) == 900
    account = api.get(f"/api/v1/billing/patients/{patient_a.pk}/account").json()
    assert float(account["balance"]) == -100
    etag = api.get(f"/api/v1/billing/invoices/{invoice_a.pk}")["ETag"]
    r = api.post(
        f"/api/v1/billing/invoices/{invoice_a.pk}/payments",
        {"amount": "1.234", "method": "cash"},
        content_type="application/json",
        headers={"If-Match": etag},
    )
    assert r.status_code == 422 and "decimal places" in r.content.decode()
    r = api.post(
        f"/api/v1/billing/invoices/{invoice_a.pk}/payments",
        {"amount": "1", "method": "cash"},
        content_type="application/json",
    )
    assert r.status_code == 428
    r = api.post(
        f"/api/v1/billing/invoices/{invoice_a.pk}/payments",
        {"amount": "1", "method": "cash"},
        content_type="application/json",
        headers={"If-Match": '"stale"'},
    )
    assert r.status_code == 412 and r["Content-Type"] == "application/problem+json"
    assert api.get("/api/v1/billing/invoices").json()["count"] == 1
    assert api.get("/api/v1/billing/prices").status_code == 200


def test_clinicians_see_packages_not_the_ledger(clinic_a, patient_a, invoice_a):
    services.package_sell(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, package=package(clinic_a)
    )
    api = _client(clinic_a, clinic_a.physician)
    assert api.get(f"/api/v1/billing/patients/{patient_a.pk}/account").status_code == 403
    assert api.get(f"/api/v1/billing/invoices/{invoice_a.pk}").status_code == 403
    packages = api.get(f"/api/v1/billing/patients/{patient_a.pk}/packages").json()
    assert packages[0]["sessions_left"] == 3


def test_another_clinics_invoice_and_patient_are_404(clinic_a, clinic_b, patient_b):
    prices(clinic_b)
    invoice = issued(clinic_b, patient_b)
    api = _client(clinic_a, clinic_a.admin)
    assert api.get(f"/api/v1/billing/invoices/{invoice.pk}").status_code == 404
    r = api.post(
        f"/api/v1/billing/invoices/{invoice.pk}/payments",
        {"amount": "10", "method": "cash"},
        content_type="application/json",
    )
    assert r.status_code == 404
    assert api.get(f"/api/v1/billing/patients/{patient_b.pk}/account").status_code == 404
