"""The intake version page renders exactly as its template did before its version list and
summary were drawn in Python (anagen/patients/intake_pages.py, the cached summary of
anagen/patients/chart.py), and reads the same whatever the length of the history."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext

from anagen.patients import views
from anagen.patients.services import intake_record
from anagen.patients.tests.test_intake_render import _normalise, _tricky_intake

pytestmark = pytest.mark.django_db

# patients/intake_detail.html before the change (the loop and the include), verbatim.
OLD_TEMPLATE = """{% extends "base.html" %}
{% block title %}Intake v{{ intake.version }} · {{ patient.full_name }}{% endblock %}
{% block content %}
<div class="page-head"><h1>Intake version {{ intake.version }} <small>{{ patient.full_name }} · {{ patient.record_number }}</small></h1><div class="actions"><a class="button secondary" href="{% url 'care-intake-pdf' patient.pk intake.version %}" id="intake-pdf">Download PDF</a> <a href="{% url 'patient-detail' patient.pk %}">Back to chart</a></div></div>
<section class="card">
  <p class="muted">Recorded {{ intake.recorded_at|when }} by {{ intake.recorded_by }}. Intakes are never changed; record a new version instead.</p>
  {% include "patients/_intake_summary.html" %}
</section>
<section class="card"><h2>All versions</h2><ul>{% for v in versions %}<li>{% if v.version == intake.version %}<strong>Version {{ v.version }}</strong>{% else %}<a href="{% url 'intake-detail' patient.pk v.version %}">Version {{ v.version }}</a>{% endif %} — {{ v.recorded_at|when }}, {{ v.recorded_by }}</li>{% endfor %}</ul></section>
{% endblock %}
"""


@pytest.fixture
def captured(monkeypatch):
    seen: list[tuple[Any, dict[str, Any]]] = []
    render = views.render

    def spy(request, template_name, context, status=200):
        seen.append((request, context))
        return render(request, template_name, context, status=status)

    monkeypatch.setattr(views, "render", spy)
    return seen


def _without_nonce(html: str) -> str:
    return re.sub(r'nonce="[^"]+"', "NONCE", html)


def _record(clinic, patient, n: int) -> None:
    data = _tricky_intake()
    for _ in range(n):
        intake_record(actor=clinic.actor(clinic.nurse), patient=patient, data=data)


def test_version_page_renders_as_before(clinic_a, patient_a, captured):
    clinic_a.nurse.first_name, clinic_a.nurse.last_name = "Ann <b>", "O'Neil & co"
    clinic_a.nurse.save()
    _record(clinic_a, patient_a, 3)
    client = clinic_a.client(clinic_a.physician)
    for version in (1, 2, 3, 2):  # the second view of version 2 draws its summary from the cache
        response = client.get(f"/patients/{patient_a.pk}/intake/{version}/")
        assert response.status_code == 200
        request, context = captured[-1]
        old = engines["django"].from_string(OLD_TEMPLATE).render(context, request)
        new = response.content.decode()
        assert _normalise(new) == _normalise(old)
        assert f"<strong>Version {version}</strong>" in new
        assert "Ann &lt;b&gt; O&#x27;Neil &amp; co" in new
        assert "Lidocaine (Rash &#x27;hives&#x27;)" in new


def test_version_page_reads_do_not_grow_with_versions(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.physician)

    def count() -> int:
        url = f"/patients/{patient_a.pk}/intake/1/"
        client.get(url)  # warm: the summary is rendered once per version
        with CaptureQueriesContext(connection) as q:
            assert client.get(url).status_code == 200
        return len(q)

    _record(clinic_a, patient_a, 1)
    one = count()
    _record(clinic_a, patient_a, 4)
    assert count() == one


def test_the_form_is_drawn_from_the_latest_version_never_an_older_one(clinic_a, patient_a):
    """The form's fields and rows are drawn once per version: a new version is never shown
    with the rows of the one before."""
    client = clinic_a.client(clinic_a.nurse)
    url = f"/patients/{patient_a.pk}/intake/new/"
    blank = client.get(url).content.decode()
    assert "Pre-filled from version" not in blank
    _record(clinic_a, patient_a, 1)
    first = client.get(url).content.decode()
    assert "Pre-filled from version 1" in first and 'value="Lidocaine"' in first
    again = client.get(url).content.decode()  # drawn from the cache
    assert _without_nonce(_normalise(again)) == _without_nonce(_normalise(first))
    data = _tricky_intake()
    data.allergies = [{"substance": "Chlorhexidine", "reaction": ""}]
    intake_record(actor=clinic_a.actor(clinic_a.nurse), patient=patient_a, data=data)
    second = client.get(url).content.decode()
    assert "Pre-filled from version 2" in second
    assert 'value="Chlorhexidine"' in second and 'value="Lidocaine"' not in second


def test_the_form_reads_the_same_for_a_short_and_a_long_history(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.nurse)
    url = f"/patients/{patient_a.pk}/intake/new/"

    def count() -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as q:
            assert client.get(url).status_code == 200
        return len(q)

    _record(clinic_a, patient_a, 1)
    one = count()
    _record(clinic_a, patient_a, 3)
    assert count() == one
