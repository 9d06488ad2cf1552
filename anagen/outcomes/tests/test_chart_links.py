"""Progress charts linked by content address (issue 15): the progress page signs each chart's
link with the picture's key, so the chart request reads the stored SVG without recomputing the
series; a new measurement changes the link; a link works only for the patient it was made for.
"""

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from anagen.audit.models import AuditEvent
from anagen.outcomes import selectors
from anagen.outcomes.tests.helpers import record
from conftest import make_patient

pytestmark = pytest.mark.django_db
D0 = dt.date(2025, 6, 1)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _links(client, patient) -> list[str]:
    body = client.get(f"/patients/{patient.pk}/outcomes/progress/").content.decode()
    return [html.unescape(src) for src in re.findall(r'<img src="([^"]*chart\.svg[^"]*)"', body)]


def _history(clinic, patient, visits: int) -> None:
    record(clinic, patient, D0, "baseline", 140.0)
    for n in range(1, visits):
        record(clinic, patient, D0 + dt.timedelta(days=30 * n), "follow_up", 140.0 + n)


def test_the_signed_link_serves_the_stored_picture_with_the_same_few_queries(clinic_a, monkeypatch):
    short, long = make_patient(clinic_a), make_patient(clinic_a, given_name="Longer")
    _history(clinic_a, short, 2)
    _history(clinic_a, long, 14)
    c = clinic_a.client(clinic_a.physician)
    counts = []
    for patient in (short, long):
        link = _links(c, patient)[0]
        assert "&v=" in link and "&sig=" in link
        first = c.get(link)  # drawn and stored by the first read
        assert first.status_code == 200 and b"<svg" in first.content

        def _no_recompute(**kwargs):
            raise AssertionError("the signed link must not recompute the series")

        with monkeypatch.context() as m:
            m.setattr(selectors, "series_for", _no_recompute)
            before = AuditEvent.objects.filter(patient=patient).count()
            with CaptureQueriesContext(connection) as ctx:
                again = c.get(link)
        assert again.status_code == 200 and again.content == first.content
        assert AuditEvent.objects.filter(patient=patient).count() == before + 1  # still audited
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_a_new_measurement_changes_the_link_and_the_picture(clinic_a, patient_a):
    _history(clinic_a, patient_a, 2)
    c = clinic_a.client(clinic_a.physician)
    old = _links(c, patient_a)[0]
    old_svg = c.get(old).content
    record(clinic_a, patient_a, D0 + dt.timedelta(days=200), "follow_up", 190.0)
    new = _links(c, patient_a)[0]
    assert new != old
    assert c.get(new).content != old_svg


def test_a_link_works_only_for_its_patient_and_a_forged_one_is_recomputed(
    clinic_a, clinic_b, patient_a
):
    _history(clinic_a, patient_a, 3)
    other = make_patient(clinic_a, given_name="Other")
    c = clinic_a.client(clinic_a.physician)
    link = _links(c, patient_a)[0]
    assert c.get(link).status_code == 200
    # The same query on another patient of the clinic: the signature does not match, the
    # series is looked up for that patient (who has none) and the answer is 404.
    moved = link.replace(f"/patients/{patient_a.pk}/", f"/patients/{other.pk}/")
    assert c.get(moved).status_code == 404
    # A forged signature falls back to drawing from the patient's own data.
    forged = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 32, link)
    assert c.get(forged).status_code == 200
    # Another clinic never reaches the patient.
    assert clinic_b.client(clinic_b.physician).get(link).status_code == 404
