"""The audit page's filter selects are written in Python (issue 15): the same markup as
Django's select template, options escaped, the chosen one selected."""

import re

import pytest
from django import forms

from anagen.audit.views import QuickSelect

CHOICES = [
    ("", "Any <action>"),
    ("Kinds", [("patient", "Anything about patient"), ("consent", 'Say "yes" & sign')]),
    ("Staff", [(3, "Dr Ng")]),
]


def _same(html: str) -> list[str]:
    # Attribute order inside a tag is not meaning: compare each tag's sorted attributes.
    return [
        " ".join(sorted(re.findall(r'[\w-]+(?:="[^"]*")?', tag))) for tag in re.split(r"[<>]", html)
    ]


@pytest.mark.parametrize("value", ["", "consent", 3, "3", None])
@pytest.mark.parametrize("attrs", [{"id": "id_f"}, {"id": "id_f", "aria-invalid": "true"}])
def test_quick_select_writes_what_django_s_select_writes(value, attrs):
    django_html = forms.Select(choices=CHOICES).render("f", value, attrs)
    ours = QuickSelect(choices=CHOICES).render("f", value, attrs)
    assert _same(ours) == _same(django_html.replace("\n", ""))
    assert "&lt;action&gt;" in ours and "&quot;yes&quot; &amp; sign" in ours


@pytest.mark.django_db
def test_the_audit_page_keeps_the_chosen_action_selected(clinic_a):
    page = clinic_a.client(clinic_a.admin).get("/audit/", {"action": "patient"})
    assert page.status_code == 200
    assert b'<option value="patient" selected>' in page.content
