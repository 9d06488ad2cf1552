"""The session page draws its section forms in Python (`{% section_fields %}`, in
anagen/procedures/templatetags/procedures_tags.py) exactly as procedures/_fields.html does: the
page as served equals the page with every section drawn by the include, in each state of a
record, with a section open for amendment, and with a refused section's errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from anagen.procedures import services, views
from anagen.procedures.tests.helpers import full_prep
from anagen.procedures.tests.test_record_page_reads import _session_in

pytestmark = pytest.mark.django_db

PAGE = Path(views.__file__).parent / "templates" / "procedures" / "session_detail.html"


def _with_include() -> str:
    source = PAGE.read_text()
    old, n = re.subn(
        r"\{% section_fields (\w+) session\.is_signed %\}",
        r'{% include "procedures/_fields.html" with form=\1 %}',
        source,
    )
    assert n == 6
    return old


@pytest.fixture
def captured(monkeypatch):
    seen: list[tuple[Any, dict[str, Any]]] = []
    render = views.render

    def spy(request, template_name, context, status=200):
        seen.append((request, context))
        return render(request, template_name, context, status=status)

    monkeypatch.setattr(views, "render", spy)
    return seen


def _normalise(html: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", html)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "CSRF", html)


def _same(response, captured) -> None:
    request, context = captured[-1]
    old = engines["django"].from_string(_with_include()).render(context, request)
    assert _normalise(response.content.decode()) == _normalise(old)


@pytest.mark.parametrize("state", ["draft", "signed", "mesotherapy", "adverse_event"])
def test_sections_render_as_the_include_does(clinic_a, patient_a, captured, state):
    session = _session_in(state, clinic_a, patient_a)
    url = reverse("procedures-session-detail", args=[session.patient_id, session.pk])
    client = clinic_a.client(clinic_a.physician)
    for amend in ("", "preparation", "delivery", "lots"):
        response = client.get(url + (f"?amend={amend}" if amend else ""))
        assert response.status_code == 200
        _same(response, captured)
    for section, data in (
        ("lot", {"lot": "999999", "quantity": "0"}),
        ("adverse-event", {"term": "", "description": "<b>kept</b>"}),
        ("preparation", {"tubes": "99"}),
        ("meso", {"injection_points": "0"}),
    ):
        response = client.post(url, {"section": section, **data})
        assert response.status_code in (400, 409)
        _same(response, captured)


def test_a_signed_preparation_names_its_operator_without_reading_the_staff(clinic_a, patient_a):
    session = _session_in("signed", clinic_a, patient_a)
    services.preparation_record(
        actor=clinic_a.actor(clinic_a.physician),
        session=session,
        data={**full_prep(), "operator": clinic_a.nurse},
        reason="Operator named",
    )
    url = reverse("procedures-session-detail", args=[session.patient_id, session.pk])
    client = clinic_a.client(clinic_a.physician)
    client.get(url)
    with CaptureQueriesContext(connection) as q:
        html = client.get(url).content.decode()
    assert f"<dt>Operator</dt><dd>{clinic_a.nurse}</dd>" in html
    staff_lists = [x for x in q.captured_queries if 'INNER JOIN "accounts_membership"' in x["sql"]]
    assert staff_lists == []
    # opened for amendment, the preparation offers the clinic's staff again
    html = client.get(url + "?amend=preparation").content.decode()
    assert f'<option value="{clinic_a.physician.pk}"' in html
