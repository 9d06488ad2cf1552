"""The intake page's version list is drawn once and kept, addressed by everything it shows: a
new version, a renamed recorder or another version shown is never answered from an older list."""

from __future__ import annotations

import pytest

from anagen.patients.services import intake_record
from anagen.patients.tests.test_intake_render import _tricky_intake

pytestmark = pytest.mark.django_db


def _versions(html: str) -> str:
    return html.split("<h2>All versions</h2>", 1)[1].split("</section>", 1)[0]


def test_the_version_list_follows_every_change_it_shows(clinic_a, patient_a):
    nurse = clinic_a.nurse
    nurse.first_name, nurse.last_name = "Ann", "Old"
    nurse.save()
    for _ in range(2):
        intake_record(actor=clinic_a.actor(nurse), patient=patient_a, data=_tricky_intake())
    client = clinic_a.client(clinic_a.physician)
    url = f"/patients/{patient_a.pk}/intake/1/"
    first = _versions(client.get(url).content.decode())
    assert "Ann Old" in first and "<strong>Version 1</strong>" in first
    assert _versions(client.get(url).content.decode()) == first  # kept: the same list

    nurse.last_name = "New"  # the recorder renamed: shown at once
    nurse.save()
    renamed = _versions(client.get(url).content.decode())
    assert "Ann New" in renamed and "Ann Old" not in renamed

    intake_record(actor=clinic_a.actor(nurse), patient=patient_a, data=_tricky_intake())
    grown = _versions(client.get(url).content.decode())
    assert "Version 3</a>" in grown

    other = _versions(client.get(f"/patients/{patient_a.pk}/intake/2/").content.decode())
    assert "<strong>Version 2</strong>" in other and "<strong>Version 1</strong>" not in other
