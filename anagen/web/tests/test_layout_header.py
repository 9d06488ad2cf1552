"""The signed-in page header is rendered once and reused (issue 15: the fixed cost of every
page), and never shows yesterday's clinic, logo, role or clinics: what it shows is its key."""

from __future__ import annotations

import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from anagen.accounts.models import Clinic, Membership, Role
from anagen.accounts.services import (
    clinic_logo_set,
    clinic_settings_update,
    membership_change_role,
)
from anagen.web.templatetags import layout

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_headers():
    layout.forget_all()
    yield
    layout.forget_all()


def _page(client, name: str = "account-security") -> tuple[str, list[str]]:
    response = client.get(reverse(name))
    assert response.status_code == 200
    return response.content.decode(), [t.name for t in response.templates]


def _header(page: str) -> str:
    return page.split('<header class="top">', 1)[1].split("</header>", 1)[0]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 30), (20, 90, 120)).save(out, format="PNG")
    return out.getvalue()


def test_the_header_is_rendered_once_then_reused_with_the_pages_own_csrf_token(clinic_a):
    client = clinic_a.client(clinic_a.physician)
    first, templates = _page(client)
    assert "_header.html" in templates
    second, templates = _page(client)
    assert "_header.html" not in templates  # from the cache
    assert _header(second) == _header(first).replace(
        _token(first), _token(second)
    )  # the same header …
    token = _token(second)
    assert token and layout.CSRF_MARK not in second
    # … with this page's token in the sign-out form, which therefore works.
    client.enforce_csrf_checks = True
    client.handler.enforce_csrf_checks = True
    response = client.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert client.get("/session/ping")["X-Signed-In"] == "0"


def _token(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', _header(page))
    assert found is not None
    return found.group(1)


def test_a_page_after_the_first_reads_no_membership_for_its_header(clinic_a):
    client = clinic_a.client(clinic_a.physician)
    _page(client)
    with CaptureQueriesContext(connection) as ctx:
        _page(client)
    # The clinics to switch between (memberships with their clinic and organisation).
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not [q for q in sql if "accounts_membership" in q and "accounts_organisation" in q]


def test_the_current_menu_item_is_marked_per_page(clinic_a):
    client = clinic_a.client(clinic_a.physician)
    home_header = _header(client.get(reverse("patient-list")).content.decode())
    assert re.search(r'href="/patients/"\s+aria-current="page"', home_header)
    other = _header(_page(client)[0])
    assert 'aria-current="page"' not in other


def test_a_renamed_clinic_shows_on_the_next_page(clinic_a):
    client = clinic_a.client(clinic_a.physician)
    assert "Clinic A" in _header(_page(client)[0])
    admin = clinic_a.actor(clinic_a.admin)
    clinic = clinic_a.clinic
    clinic_settings_update(
        actor=admin,
        name="Harley Street Hair",
        timezone=clinic.timezone,
        default_phone_region=clinic.default_phone_region,
        consent_drawn_signature=clinic.consent_drawn_signature,
        mfa_required_for_all=clinic.mfa_required_for_all,
    )
    header = _header(_page(client)[0])
    assert "Harley Street Hair" in header and "Clinic A" not in header


def test_a_new_or_removed_logo_shows_on_the_next_page(clinic_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = clinic_a.client(clinic_a.nurse)
    assert "clinic-logo" not in _header(_page(client)[0])
    admin = clinic_a.actor(clinic_a.admin)
    clinic_logo_set(actor=admin, content=_png())
    version = Clinic.objects.get(pk=clinic_a.clinic.pk).logo_version
    assert f'src="/clinic/logo/?v={version}"' in _header(_page(client)[0])
    clinic_logo_set(actor=clinic_a.actor(clinic_a.admin), content=None)
    assert "clinic-logo" not in _header(_page(client)[0])


def test_a_role_change_changes_the_role_and_the_menu_on_the_next_page(clinic_a):
    client = clinic_a.client(clinic_a.front_desk)
    header = _header(_page(client)[0])
    assert "· Front desk</span>" in header and "Rating panels" not in header
    membership = Membership.objects.get(user=clinic_a.front_desk, clinic=clinic_a.clinic)
    membership_change_role(
        actor=clinic_a.actor(clinic_a.admin), membership=membership, role=Role.PHYSICIAN
    )
    header = _header(_page(client)[0])
    assert "· Physician</span>" in header and "Rating panels" in header
    assert "· Front desk</span>" not in header


def test_a_second_clinic_brings_the_clinic_switch(clinic_a, clinic_b):
    client = clinic_a.client(clinic_a.nurse)
    assert 'id="clinic-switch"' not in _header(_page(client)[0])
    Membership.objects.create(user=clinic_a.nurse, clinic=clinic_b.clinic, role=Role.NURSE)
    header = _header(_page(client)[0])
    assert 'id="clinic-switch"' in header and "Clinic B" in header
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', header)
    assert token is not None and token.group(1) != layout.CSRF_MARK
