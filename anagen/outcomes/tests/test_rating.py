"""Blinded rating panels: randomised unlabelled pairs, scores mapped back, results attached."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from anagen.outcomes import selectors, services
from anagen.outcomes.models import RatingPair
from anagen.outcomes.tests.helpers import jpeg, photo_consent
from conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _photos(staff, patient):
    photo_consent(staff, patient)
    nurse = staff.actor(staff.nurse)
    for on in (dt.date(2025, 1, 1), dt.date(2025, 7, 1)):
        ps = services.photo_set_create(actor=nurse, patient=patient, taken_on=on)
        services.photo_add(actor=nurse, photo_set=ps, view="vertex", content=jpeg())


def test_panel_rating_flow(clinic_a, clinic_b, patient_a):
    _photos(clinic_a, patient_a)
    other = make_patient(clinic_a, given_name="Ana")
    _photos(clinic_a, other)
    doc = clinic_a.actor(clinic_a.physician)
    with pytest.raises(PermissionDenied):
        services.rating_panel_create(
            actor=clinic_a.actor(clinic_a.nurse),
            name="x",
            view="vertex",
            rater_ids=[clinic_a.nurse.pk],
        )
    with pytest.raises(ValidationError):
        services.rating_panel_create(
            actor=doc, name="x", view="vertex", rater_ids=[clinic_b.nurse.pk]
        )
    panel = services.rating_panel_create(
        actor=doc,
        name="Spring panel",
        view="vertex",
        rater_ids=[clinic_a.nurse.pk, clinic_a.physician.pk],
        seed=3,
    )
    assert panel.pairs.count() == 2
    c = clinic_a.client(clinic_a.nurse)
    page = c.get(f"/ratings/{panel.pk}/").content.decode()
    for p in (patient_a, other):  # unlabelled: no names, record numbers or dates
        assert p.family_name not in page and p.record_number not in page
    assert "2025-01-01" not in page
    pair = selectors.pairs_to_rate(actor=clinic_a.actor(clinic_a.nurse), panel=panel)[0]
    img = c.get(f"/ratings/{panel.pk}/{pair.code}/left.jpg")
    assert img.status_code == 200
    r = c.post(f"/ratings/{panel.pk}/", {"pair": pair.code, "score": "2"})
    assert r.status_code == 302
    rating = pair.ratings.get()
    assert rating.change == (2 if pair.before_on_left else -2)
    assert c.post(f"/ratings/{panel.pk}/", {"pair": pair.code, "score": "9"}).status_code == 400
    with pytest.raises(ValidationError):
        services.rating_submit(actor=clinic_a.actor(clinic_a.nurse), pair=pair, score=1)
    blinded = selectors.blinded_results(pair.patient)
    assert blinded is not None and blinded.mean_change == rating.change
    progress = (
        clinic_a.client(clinic_a.physician)
        .get(f"/patients/{pair.patient.pk}/outcomes/progress/")
        .content.decode()
    )
    assert 'id="blinded"' in progress
    # Outsiders: other clinic 404, non-rater refused.
    assert clinic_b.client(clinic_b.physician).get(f"/ratings/{panel.pk}/").status_code == 404
    non_rater = make_patient  # noqa: F841 - readability
    with pytest.raises(PermissionDenied):
        services.rating_submit(actor=clinic_b.actor(clinic_b.nurse), pair=pair, score=1)
    assert RatingPair.objects.filter(panel=panel).count() == 2
    results = clinic_a.client(clinic_a.physician).get(f"/ratings/{panel.pk}/results/")
    assert pair.patient.full_name in results.content.decode()
