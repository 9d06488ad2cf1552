"""Every page and API operation that names a patient answers 404 for another clinic's patient.

The URL patterns and the OpenAPI schema are walked, so a page or endpoint added later is covered
without editing this test.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create


def _patterns(resolvers=None, prefix=""):
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            if "api/v1" in str(entry.pattern):
                continue  # the API is walked through its schema below
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def _fill(pattern: str, patient_id: int) -> str:
    path = pattern.replace("<int:patient_id>", str(patient_id))
    path = re.sub(r"<int:\w+>", "1", path)
    path = re.sub(r"<(?:str|slug):\w+>", "x", path)
    return "/" + path.lstrip("^").rstrip("$")


PATIENT_PAGES = sorted(p for p in _patterns() if "<int:patient_id>" in p)


def test_the_walk_finds_the_patient_pages_of_every_app():
    apps = {p.split("/")[2] for p in PATIENT_PAGES if p.count("/") > 2}
    assert len(PATIENT_PAGES) > 20, PATIENT_PAGES
    assert {"intake", "plan", "sessions", "photos"} <= apps | {
        seg for p in PATIENT_PAGES for seg in p.split("/")
    }


@pytest.mark.parametrize("pattern", PATIENT_PAGES)
def test_page_is_404_for_another_clinics_patient(clinic_a, clinic_b, patient_b, pattern):
    client = clinic_a.client(clinic_a.physician)
    url = _fill(pattern, patient_b.pk)
    response = client.get(url)
    if response.status_code == 405:  # POST-only view
        response = client.post(url)
    assert response.status_code == 404, (url, response.status_code)
    assert b"Beatriz" not in response.content


def _api_operations():
    schema = Client().get("/api/v1/openapi.json").json()
    for path, methods in schema["paths"].items():
        if "{patient_id}" in path:
            for method in methods:
                yield method, path


@pytest.fixture
def token_a(clinic_a):
    _, raw = api_token_create(membership=Membership.objects.get(user=clinic_a.physician), name="t")
    return raw


@pytest.fixture
def desk_token_a(clinic_a):
    """Money operations are the front desk's: a physician is refused them before any lookup."""
    membership = Membership.objects.get(user=clinic_a.front_desk)
    return api_token_create(membership=membership, name="desk")[1]


def test_api_walk_finds_patient_operations_of_every_router(db):
    routers = {path.split("/")[3] for _, path in _api_operations()}
    assert {"patients", "care", "outcomes"} <= routers, routers


@pytest.mark.django_db
def test_api_operations_are_404_for_another_clinics_patient(
    clinic_a, clinic_b, patient_b, token_a, desk_token_a
):
    client = Client()
    checked = 0
    for method, path in _api_operations():
        url = re.sub(r"\{\w+\}", "1", path.replace("{patient_id}", str(patient_b.pk)))
        for token in (token_a, desk_token_a):
            headers = {"Authorization": f"Bearer {token}"}
            if method == "get":
                response = client.get(url, headers=headers)
            else:
                response = getattr(client, method)(
                    url, data="{}", content_type="application/json", headers=headers
                )
            if response.status_code != 403:  # a role allowed the operation looked it up
                break
        # 422 means the body was refused before any lookup: it says nothing about the patient.
        assert response.status_code in (404, 422), (method, url, response.status_code)
        if method == "get":
            assert response.status_code == 404, (method, url)
        assert "Beatriz" not in response.content.decode()
        checked += 1
    assert checked > 5
