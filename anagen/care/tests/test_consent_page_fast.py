"""The consents page in one query with its rows written in Python (issue 15): the same states
and the same bytes as ``consent_statuses``, ``consent_list(...)[:50]`` and the template's loops
(``care/_consent_rows.html``) gave, on random consents (signed, withdrawn, on an older text,
of every kind, more than fifty), for every role that sees the page; nothing is kept between
requests (a withdrawal shows at once)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random

import pytest
from django.db import connection
from django.db.models import Q
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.accounts.models import User
from anagen.accounts.permissions import Perm
from anagen.care import consent_list_html, selectors, services
from anagen.care.models import Consent, ConsentKind, ConsentTemplate
from anagen.care.tests.helpers import consent
from conftest import make_patient

BASE = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)


def _templates(staff, rng: random.Random) -> None:
    """Newer clinic texts for some kinds (some withdrawn from use), one of another clinic."""
    for kind in ConsentKind.values:
        selectors.consent_template_current(staff.clinic, kind)  # the shared default, v1
        for version in range(2, 2 + rng.choice([0, 0, 1, 2])):
            ConsentTemplate.objects.create(
                clinic=staff.clinic,
                kind=kind,
                version=version,
                title=f"{kind} v{version}",
                body="A consent text long enough to publish.",
                published_at=BASE,
                is_active=rng.random() < 0.8,
            )


def _consents(staff, patient, rng: random.Random, witnesses: list[User], n: int) -> None:
    templates = list(
        ConsentTemplate.objects.filter(Q(clinic__isnull=True) | Q(clinic=staff.clinic))
    )
    for _ in range(n):
        template = rng.choice(templates)
        withdrawn = rng.random() < 0.25
        witness = rng.choice(witnesses)
        Consent.objects.create(
            patient=patient,
            template=template,
            kind=template.kind,
            # ties in signed_at on purpose: the id decides
            signed_at=BASE + dt.timedelta(hours=rng.randint(0, 2000)),
            signed_by_patient_name=patient.full_name,
            witness=witness,
            snapshot_html="<p>text</p>",
            sha256=hashlib.sha256(b"<p>text</p>").hexdigest(),
            withdrawn_at=BASE + dt.timedelta(days=rng.randint(90, 120)) if withdrawn else None,
            withdrawn_reason="Patient asked by phone" if withdrawn else "",
            withdrawn_by=witness if withdrawn else None,
        )


def _witnesses(staff) -> list[User]:
    odd = User.objects.create_user(username="odd<&>", first_name="", last_name="")
    named = User.objects.create_user(username="x", first_name="Zoë <b>", last_name="O'Neil & co")
    return [staff.nurse, staff.physician, odd, named]


def _statuses(statuses) -> list:
    return [
        (
            s.kind, s.label, s.status, s.status_label,
            s.template.pk if s.template else None, s.template.version if s.template else None,
            s.consent.pk if s.consent else None, s.consent.signed_at if s.consent else None,
        )
        for s in statuses
    ]  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_consent_page_shows_what_the_separate_reads_and_the_template_showed(
    clinic_a, patient_a, seed
):
    rng = random.Random(seed)
    _templates(clinic_a, rng)
    witnesses = _witnesses(clinic_a)
    _consents(clinic_a, patient_a, rng, witnesses, (62, 30, 6, 1, 0, 75)[seed])
    other = make_patient(clinic_a, given_name="Ann", family_name="Other")
    _consents(clinic_a, other, random.Random(seed + 50), witnesses, 20)  # never on patient_a's page
    for user in (clinic_a.physician, clinic_a.nurse, clinic_a.front_desk):
        actor = clinic_a.actor(user)
        with timezone.override(rng.choice(["Europe/London", "America/New_York", "Asia/Tokyo"])):
            page = selectors.consent_page(actor=actor, patient=patient_a)
            statuses = selectors.consent_statuses(actor=actor, patient=patient_a)
            assert _statuses(page.statuses) == _statuses(statuses)
            history = (
                list(selectors.consent_list(actor=actor, patient=patient_a)[:50])
                if actor.can(Perm.CLINICAL_VIEW)
                else []
            )
            assert [(c.pk, c.withdrawn_at, c.signed_at) for c in page.history] == [
                (c.pk, c.withdrawn_at, c.signed_at) for c in history
            ]
            context = {"patient": patient_a, "actor": actor, "statuses": statuses}
            assert consent_list_html.status_rows(
                page.statuses, patient_a, actor
            ) == render_to_string(
                "care/_consent_rows.html", {**context, "part": "status"}
            ).removesuffix("\n")
            assert consent_list_html.history_items(page.history, patient_a) == render_to_string(
                "care/_consent_rows.html", {**context, "part": "history", "history": history}
            ).removesuffix("\n")


def test_consent_page_is_one_query_whatever_the_history(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.physician)
    _templates(clinic_a, random.Random(1))
    selectors.consent_page(actor=actor, patient=patient_a)  # the shared texts, once
    with CaptureQueriesContext(connection) as empty:
        selectors.consent_page(actor=actor, patient=patient_a)
    _consents(clinic_a, patient_a, random.Random(1), _witnesses(clinic_a), 60)
    with CaptureQueriesContext(connection) as full:
        selectors.consent_page(actor=actor, patient=patient_a)
    assert len(empty) == len(full) == 1


def test_a_withdrawal_and_a_new_text_show_at_once(clinic_a, patient_a):
    """Nothing on the page is kept: the status follows the records on the next view."""
    signed = consent(clinic_a, patient_a)
    url = reverse("care-consent-list", args=[patient_a.pk])
    for user in (clinic_a.physician, clinic_a.front_desk):
        body = clinic_a.client(user).get(url).content.decode()
        assert '<td class="consent-valid">Valid</td>' in body
    services.consent_withdraw(
        actor=clinic_a.actor(clinic_a.nurse), consent=signed, reason="Patient asked by phone"
    )
    for user in (clinic_a.physician, clinic_a.front_desk):
        body = clinic_a.client(user).get(url).content.decode()
        assert '<td class="consent-withdrawn">Withdrawn</td>' in body
        assert "consent-valid" not in body
    again = consent(clinic_a, patient_a)
    services.consent_template_publish(
        actor=clinic_a.actor(clinic_a.admin),
        kind="prp_scalp",
        title="PRP scalp, revised",
        body="A revised consent text, long enough to publish.",
    )
    body = clinic_a.client(clinic_a.physician).get(url).content.decode()
    assert "Needs re-consent (signed v1, current v2)" in body
    assert f"/consents/{again.pk}/" in body


def test_api_consent_pages_are_what_page_of_and_the_schema_gave(clinic_a, patient_a):
    """The API list's fixed query against page_of over consent_list read through ConsentOut
    (the validated path), on every page of a history longer than a page, past the end too."""
    import json

    from django.test import Client

    from anagen.accounts.models import Membership
    from anagen.accounts.services import api_token_create
    from anagen.care.api import ConsentOut
    from anagen.interop.paging import page_of
    from anagen.interop.render import FastJSONEncoder

    _templates(clinic_a, random.Random(4))
    _consents(clinic_a, patient_a, random.Random(4), _witnesses(clinic_a), 37)
    actor = clinic_a.actor(clinic_a.physician)
    _, token = api_token_create(
        membership=Membership.objects.get(user=clinic_a.physician, clinic=clinic_a.clinic),
        name="list",
    )
    client = Client(headers={"Authorization": f"Bearer {token}"})
    url = f"/api/v1/care/patients/{patient_a.pk}/consents"
    for page, size in ((1, 25), (2, 25), (3, 25), (1, 100), (4, 10), (2, 37), (9, 10)):
        old = page_of(selectors.consent_list(actor=actor, patient=patient_a), page, size)
        old["results"] = [ConsentOut.from_orm(c).model_dump() for c in old["results"]]
        response = client.get(url, {"page": page, "page_size": size})
        assert response.status_code == 200
        assert response.content.decode() == json.dumps(old, cls=FastJSONEncoder), (page, size)
