"""The chart names the patient's preferred language in words, not as its BCP 47 tag."""

from __future__ import annotations

import pytest

from anagen.patients.templatetags.language_names import language_in_words


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        ("en", "English"),
        ("pt-BR", "Brazilian Portuguese"),
        ("fr-CA", "French"),
        ("tlh", "tlh"),
        ("", "—"),
        (None, "—"),
    ],
)
def test_language_in_words(tag, words):
    assert language_in_words(tag) == words


@pytest.mark.django_db
def test_chart_shows_the_language_in_words(clinic_a, patient_a):
    patient_a.preferred_language = "de"
    patient_a.save()
    page = clinic_a.client(clinic_a.physician).get(f"/patients/{patient_a.pk}/").content.decode()
    assert "<dt>Language</dt><dd>German</dd>" in page
