"""Shared FHIR test set-up: the demo clinic (built once for the package), tokens, a client."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client

from anagen.accounts.models import Clinic, Membership
from anagen.accounts.services import api_token_create
from anagen.demo import seed_demo
from anagen.fhir import build

LOINC = "http://loinc.org"


def token_for(username: str, clinic: Clinic) -> str:
    membership = Membership.objects.get(user__username=username, clinic=clinic)
    _, raw = api_token_create(membership=membership, name="fhir test")
    return raw


class Fhir:
    def __init__(self, raw: str) -> None:
        self.client = Client()
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    def get(self, url: str, **extra: Any) -> Any:
        if url.startswith("http"):
            parts = urlsplit(url)
            url = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.client.get(url, **{**self.auth, **extra})

    def json(self, url: str, status: int = 200):
        response = self.get(url)
        assert response.status_code == status, (url, response.content[:500])
        assert response["Content-Type"].startswith("application/fhir+json")
        body = response.json()
        build.validated_model(body)  # every answer validates with the R4B models
        return body


def add_adverse_event(clinic: Clinic) -> None:
    """The demo records no adverse event: add one (with its lot) through the service."""
    from anagen.accounts.access import Actor
    from anagen.procedures.models import LotUse
    from anagen.procedures.services import adverse_event_record

    use = LotUse.objects.filter(session__clinic=clinic).select_related("session").first()
    assert use is not None
    membership = Membership.objects.get(user__username=f"{clinic.slug}.physician", clinic=clinic)
    adverse_event_record(
        actor=Actor(membership.user, membership),
        session=use.session,
        data={
            "term": "bruising",
            "ctcae_grade": 1,
            "relatedness": "probable",
            "action": "none",
            "outcome": "resolved",
            "onset_at": use.session.started_at,
            "lot": use.lot,
        },
    )


@pytest.fixture(scope="package")
def _demo_once(django_db_setup, django_db_blocker):
    """The demo is slow to build: build it once for these tests inside a transaction that is
    rolled back at the end of the package (each test still runs in its own savepoint)."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            seed_demo()
            add_adverse_event(Clinic.objects.get(slug="north"))
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def demo(_demo_once, db):
    return Clinic.objects.get(slug="north"), Clinic.objects.get(slug="river")


@pytest.fixture
def api(demo) -> Fhir:
    return Fhir(token_for("north.physician", demo[0]))
