"""The intake form renders exactly as it did with Django's template widget rendering.

The page now draws its widgets through anagen.web.fast_widgets and its row tables in Python
(RowsFormSet). Each test renders the same view context twice: the page as served, and the page
as the old template (kept below, verbatim) renders it with Django's own template form renderer.
The two must be the same string (only the per-render CSRF mask differs), which is stronger than
comparing parsed attributes. Every field is also compared on its own, widget and label, and the
page must not fall back to the template engine for any widget.

OLD_TEMPLATE is the page before the change: a change to patients/intake_form.html outside the
row tables needs the same change here.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.forms.renderers import DjangoTemplates
from django.template import engines

from anagen.patients import views
from anagen.patients.models import Intake
from anagen.patients.services import IntakeData, intake_record
from anagen.web.fast_widgets import FastRenderer

# patients/intake_form.html before the fast renderer (Django's template loops over the rows).
OLD_TEMPLATE = """{% extends "base.html" %}
{% block title %}Intake · {{ patient.full_name }}{% endblock %}
{% block content %}
{% load static %}<script src="{% static 'anagen/formset.js' %}" nonce="{{ csp_nonce }}" defer></script>
<div class="page-head"><h1>Record intake <small>{{ patient.full_name }} · {{ patient.record_number }}</small></h1></div>
{% if latest %}<p class="muted">Pre-filled from version {{ latest.version }}; saving creates version {{ latest.version|add:1 }} and keeps the old one.</p>{% endif %}
{% if stale %}<div class="errors" role="alert" id="stale-edit"><p>{{ stale }}</p>{% if latest %}<p><a href="{% url 'intake-detail' patient.pk latest.version %}" target="_blank" rel="noopener">Open version {{ latest.version }}</a></p>{% endif %}</div>{% endif %}
<form method="post" novalidate>
  {% csrf_token %}
  <input type="hidden" name="record_version" value="{{ record_version }}">
  {% if form.errors or formsets.medications.non_form_errors %}<div class="errors" role="alert"><p>Please correct the errors below; nothing has been saved yet.</p></div>{% endif %}
  <section class="card">
    <h2>Medical history</h2>
    {% include "_form_fields.html" with form=form %}
  </section>
  {% for name, fs in formsets.items %}
  <section class="card">
    <h2>{% if name == "medications" %}Current medications{% elif name == "allergies" %}Allergies{% elif name == "labs" %}Recent labs{% elif name == "prior_procedures" %}Procedures at the treatment site (e.g. a corticosteroid injection), with the date{% else %}Prior hair-loss treatments{% endif %}</h2>
    {{ fs.management_form }}
    {% for e in fs.non_form_errors %}<p class="error" role="alert">{{ e }}</p>{% endfor %}
    <div class="table-scroll"><table class="rows" id="{{ name }}-rows">
      <thead><tr>{% for f in fs.empty_form.visible_fields %}<th scope="col">{{ f.label }}</th>{% endfor %}</tr></thead>
      <tbody>
      {% for row in fs.forms %}
      <tr>{% for f in row.visible_fields %}<td{% if f.errors %} class="has-error"{% endif %}><label class="sr" for="{{ f.id_for_label }}">{{ f.label }}, row {{ forloop.parentloop.counter }}</label>{{ f }}{% for e in f.errors %}<p class="error" role="alert">{{ e }}</p>{% endfor %}</td>{% endfor %}</tr>
      {% if row.non_field_errors %}<tr><td colspan="9">{% for e in row.non_field_errors %}<p class="error">{{ e }}</p>{% endfor %}</td></tr>{% endif %}
      {% endfor %}
      </tbody>
    </table></div>
    <template id="{{ name }}-template"><tr>{% for f in fs.empty_form.visible_fields %}<td><label class="sr" for="{{ f.id_for_label }}">{{ f.label }}, new row</label>{{ f }}</td>{% endfor %}</tr></template>
    <p><button type="button" class="small secondary" data-add-row="{{ name }}">Add a row</button> <span class="help">Leave a row empty to skip it.</span></p>
  </section>
  {% endfor %}
  <div class="actions"><button type="submit">Save intake</button> <a href="{% url 'patient-detail' patient.pk %}">Cancel</a></div>
</form>
{% endblock %}"""


def _normalise(html: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", html)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "CSRF", html)


def _tricky_intake() -> IntakeData:
    return IntakeData(
        conditions=["thyroid_disease", "iron_deficiency"],
        conditions_note='Says "mild" <b>thyroid</b> & iron',
        smoking="former",
        pregnant=False,
        breastfeeding=False,
        hair_loss_onset=dt.date(2024, 3, 1),
        hair_loss_pattern="male_pattern",
        family_history=True,
        family_history_note="Father's side",
        tight_hairstyles=True,
        recent_triggers="Stress\nmove",
        notes="",
        medications=[
            {
                "name": "Ibuprofen <200> & co",
                "category": "nsaid",
                "prescribed": False,
                "last_dose_on": dt.date(2026, 1, 10),
                "dose": '400 mg "as needed"',
            },
            {
                "name": "Finasteride",
                "category": "finasteride",
                "prescribed": True,
                "last_dose_on": None,
                "dose": "",
            },
        ],
        labs=[
            {
                "analyte": "ferritin",
                "value": Decimal("22.5"),
                "unit": "ng/mL",
                "taken_on": dt.date(2026, 1, 5),
            }
        ],
        allergies=[{"substance": "Lidocaine", "reaction": "Rash 'hives'"}],
        prior_treatments=[
            {"treatment": "minoxidil", "response": "partial", "started_on": None, "note": ""}
        ],
        prior_procedures=[
            {"kind": "corticosteroid_injection_at_site", "on": dt.date(2025, 6, 1), "note": ""}
        ],
    )


def _bad_post() -> dict[str, Any]:
    data: dict[str, Any] = {
        "conditions": ["thyroid_disease", "not_a_condition"],
        "smoking": "",
        "hair_loss_onset": "2999-01-01",
        "notes": "<script>kept</script>",
        "family_history_note": "x" * 201,
        "medications-TOTAL_FORMS": "2",
        "medications-INITIAL_FORMS": "0",
        "medications-0-name": "Warfarin",
        "medications-0-category": "",
        "medications-0-prescribed": "maybe",
        "medications-0-last_dose_on": "yesterday",
        "medications-1-name": "",
        "labs-TOTAL_FORMS": "1",
        "labs-INITIAL_FORMS": "0",
        "labs-0-analyte": "ferritin",
        "labs-0-value": "-3",
        "labs-0-unit": "g/dL",
        "labs-0-taken_on": "2999-01-01",
        "allergies-TOTAL_FORMS": "0",
        "allergies-INITIAL_FORMS": "0",
        "prior_procedures-TOTAL_FORMS": "1",
        "prior_procedures-INITIAL_FORMS": "0",
        "prior_procedures-0-kind": "corticosteroid_injection_at_site",
        "prior_procedures-0-on": "2999-01-01",
        "prior_treatments-TOTAL_FORMS": "31",
        "prior_treatments-INITIAL_FORMS": "0",
    }
    return data


@pytest.fixture
def captured(monkeypatch):
    """The request and context of each intake page the view renders."""
    seen: list[tuple[Any, dict[str, Any]]] = []
    render = views.render

    def spy(request, template_name, context, status=200):
        seen.append((request, context))
        return render(request, template_name, context, status=status)

    monkeypatch.setattr(views, "render", spy)
    return seen


@pytest.fixture
def template_fallbacks(monkeypatch):
    """Templates the form renderer had to hand to the template engine."""
    names: list[str] = []
    original = DjangoTemplates.render

    def spy(self, template_name, context, request=None):
        names.append(template_name)
        return original(self, template_name, context, request)

    monkeypatch.setattr(DjangoTemplates, "render", spy)
    return names


def _old_page(monkeypatch, request, context) -> str:
    """The page as the old template and Django's template widget rendering make it."""
    with monkeypatch.context() as m:
        m.setattr(FastRenderer, "render", DjangoTemplates.render)
        return engines["django"].from_string(OLD_TEMPLATE).render(context, request)


def _all_forms(context: dict[str, Any]) -> list[Any]:
    forms = [context["form"]]
    for formset in context["formsets"].values():
        forms += [formset.management_form, *formset.forms, formset.empty_form]
    return forms


def _compare_fields(monkeypatch, context: dict[str, Any]) -> int:
    compared = 0
    for form in _all_forms(context):
        for field in form:
            fast = (str(field), field.label_tag())
            with monkeypatch.context() as m:
                m.setattr(FastRenderer, "render", DjangoTemplates.render)
                slow = (str(field), field.label_tag())
            assert fast == slow, field.html_name
            compared += 1
    return compared


def _check(monkeypatch, captured, template_fallbacks, response) -> None:
    request, context = captured[-1]
    assert template_fallbacks == []  # every widget, label and management form took the fast path
    new = response.content.decode()
    assert _normalise(new) == _normalise(_old_page(monkeypatch, request, context))
    assert _compare_fields(monkeypatch, context) > 40


def test_empty_form_renders_as_before(
    clinic_a, patient_a, monkeypatch, captured, template_fallbacks
):
    response = clinic_a.client(clinic_a.nurse).get(f"/patients/{patient_a.pk}/intake/new/")
    assert response.status_code == 200
    _check(monkeypatch, captured, template_fallbacks, response)


def test_prefilled_form_renders_as_before(
    clinic_a, patient_a, monkeypatch, captured, template_fallbacks
):
    intake_record(actor=clinic_a.actor(clinic_a.nurse), patient=patient_a, data=_tricky_intake())
    response = clinic_a.client(clinic_a.nurse).get(f"/patients/{patient_a.pk}/intake/new/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="Ibuprofen &lt;200&gt; &amp; co"' in html
    assert "Pre-filled from version 1" in html
    _check(monkeypatch, captured, template_fallbacks, response)


def test_form_with_errors_renders_as_before(
    clinic_a, patient_a, monkeypatch, captured, template_fallbacks
):
    response = clinic_a.client(clinic_a.nurse).post(
        f"/patients/{patient_a.pk}/intake/new/", _bad_post()
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="has-error"' in html and "Onset cannot be in the future." in html
    assert "&lt;script&gt;kept&lt;/script&gt;" in html
    assert not Intake.objects.filter(patient=patient_a).exists()
    _check(monkeypatch, captured, template_fallbacks, response)
