"""The one-query reads of the outcomes pages (issue 15) give what the generic reads they replaced
gave: a page of history with its count (``Paginator.get_page`` over the queryset), the photo
consent (``care.selectors.consent_valid_for``), the photo sets with their photos (the ORM with
``prefetch_related``), and the progress page's session dates and blinded rating
(``session_dates``, ``blinded_results``). Random data, every edge the pager has."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.paginator import Paginator
from django.test import RequestFactory
from django.utils import timezone

from anagen.care import services as care_services
from anagen.care.models import Consent
from anagen.care.selectors import consent_valid_for
from anagen.outcomes import selectors, services, views
from anagen.outcomes.models import Rating, RatingPair, RatingPanel
from anagen.outcomes.tests.helpers import jpeg, photo_consent
from anagen.procedures.models import TreatmentSession

pytestmark = pytest.mark.django_db
D0 = dt.date(2024, 3, 4)
PAGES = [None, "", "1", "2", "3", "4", "0", "-1", "abc", "99", " 2", "2.0", "+3", str(2**40)]


def _wanted(raw: str | None) -> int | None:
    request = RequestFactory().get("/", {} if raw is None else {"page": raw})
    return views._page_wanted(request)  # type: ignore[arg-type]


def _reference(qs, raw: str | None, per_page: int):
    paginator = Paginator(qs, per_page)
    page = paginator.get_page(raw or paginator.num_pages)
    return [x.pk for x in page.object_list], paginator.count, page.number


def test_history_pages_are_the_paginator_s(clinic_a, patient_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    photo_consent(clinic_a, patient_a)
    actor = clinic_a.actor(clinic_a.nurse)
    rng = random.Random(15)
    made = 0
    for target in (0, 1, 3, 4, 7):
        while made < target:
            # Random days, some shared (the id breaks the tie), some sets without photos.
            ps = services.photo_set_create(
                actor=actor,
                patient=patient_a,
                taken_on=D0 + dt.timedelta(days=rng.choice([0, 5, 5, 9, 30, 31])),
            )
            if rng.random() < 0.6:
                for view in rng.sample(["vertex", "frontal", "top"], rng.randint(1, 2)):
                    services.photo_add(actor=actor, photo_set=ps, view=view, content=jpeg())
            made += 1
        qs = selectors.photo_sets_paged(actor=actor, patient=patient_a)
        for per_page in (1, 3):
            for raw in PAGES:
                expected = _reference(qs, raw, per_page)
                rows, count, number = selectors.history_page(qs, _wanted(raw), per_page)
                assert ([r.pk for r in rows], count, number) == expected, (target, per_page, raw)
                sets, count, number = selectors.photo_sets_page(
                    actor=actor, patient=patient_a, page=_wanted(raw), per_page=per_page
                )
                assert ([s.pk for s in sets], count, number) == expected, (target, per_page, raw)
                # Each set's photos, in the ORM's order, with what the pages and API show.
                for fast, slow in zip(sets, Paginator(qs, per_page).get_page(number), strict=True):
                    assert (fast.taken_on, fast.notes, fast.patient_id) == (
                        slow.taken_on,
                        slow.notes,
                        slow.patient_id,
                    )
                    assert [_shown(p) for p in fast.photos] == [
                        _shown(p) for p in slow.photos.all()
                    ]
        every = list(qs)
        for start in range(0, 9):
            sliced = selectors.photo_sets_slice(
                actor=actor, patient=patient_a, start=start, limit=3
            )
            assert [s.pk for s in sliced] == [s.pk for s in every[start : start + 3]]


def _shown(p) -> tuple[object, ...]:
    """What the photo pages and the API show of a photo."""
    shown = [p.pk, p.view, p.get_view_display(), p.file_missing, p.sha256, p.width, p.height]
    return (*shown, p.uploaded_at)


def test_photo_thumbs_from_rows_are_the_model_s(clinic_a, patient_a, settings, tmp_path):
    from anagen.outcomes.tests.test_fast_rendering import THUMBS_LOOP, _render

    settings.MEDIA_ROOT = tmp_path
    photo_consent(clinic_a, patient_a)
    actor = clinic_a.actor(clinic_a.nurse)
    full = services.photo_set_create(actor=actor, patient=patient_a, taken_on=D0, notes="<b>")
    for view in ("vertex", "frontal", "close_up"):
        services.photo_add(actor=actor, photo_set=full, view=view, content=jpeg(exif=False))
    services.photo_set_create(actor=actor, patient=patient_a, taken_on=D0 + dt.timedelta(days=9))
    first = next(iter(selectors.photo_sets(actor=actor, patient=patient_a)[0].photos.all()))
    first.file.storage.delete(str(first.file.name))  # a missing file is said so
    slow = selectors.photo_sets(actor=actor, patient=patient_a)
    fast, _, _ = selectors.photo_sets_page(actor=actor, patient=patient_a, page=1, per_page=20)
    for row, ps in zip(fast, slow, strict=True):
        built = _render("{% photo_thumbs ps patient %}", ps=row, patient=patient_a)
        assert built == _render(THUMBS_LOOP, ps=ps, patient=patient_a)
    assert "File missing" in _render("{% photo_thumbs ps patient %}", ps=fast[0], patient=patient_a)


def test_photo_consent_is_consent_valid_for(clinic_a, patient_a):
    def same() -> bool:
        fast = selectors.photo_consent_valid(patient_a)
        assert fast == (consent_valid_for(patient_a, "photo_clinical") is not None)
        return fast

    assert same() is False  # never signed
    photo_consent(clinic_a, patient_a)
    assert same() is True
    care_services.consent_withdraw(
        actor=clinic_a.actor(clinic_a.nurse),
        consent=Consent.objects.filter(patient=patient_a, kind="photo_clinical").latest("id"),
        reason="Changed her mind",
    )
    assert same() is False  # the latest is withdrawn: an older one does not count
    photo_consent(clinic_a, patient_a)
    assert same() is True
    care_services.consent_template_publish(
        actor=clinic_a.actor(clinic_a.physician),
        kind="photo_clinical",
        title="Clinical photos",
        body="A new version of the text.",
    )
    assert same() is False  # signed on an older version: re-consent
    photo_consent(clinic_a, patient_a)
    assert same() is True
    assert selectors.photo_consent_valid(patient_a, "photo_publication") is False


def test_progress_extras_are_session_dates_and_blinded_results(clinic_a, patient_a):
    def same() -> None:
        assert selectors.progress_extras(patient_a) == (
            selectors.session_dates(patient_a),
            selectors.blinded_results(patient_a),
        )

    same()  # nothing yet: the appointments' fallback, no rating
    rng = random.Random(7)
    now = timezone.now()
    for _ in range(12):
        TreatmentSession.objects.create(
            clinic=clinic_a.clinic,
            patient=patient_a,
            procedure="prp_scalp",
            # Late evening UTC too: the clinic's day, not UTC's.
            started_at=now - dt.timedelta(days=rng.randint(0, 400), hours=rng.randint(0, 23)),
            started_by=clinic_a.nurse,
            status="in_progress",
        )
    same()
    assert selectors.progress_extras(patient_a, limit=3) == (
        selectors.session_dates(patient_a, limit=3),
        selectors.blinded_results(patient_a),
    )
    panel = RatingPanel.objects.create(
        clinic=clinic_a.clinic, name="Panel", view="vertex", created_by=clinic_a.physician
    )
    for raters in ((clinic_a.nurse,), (clinic_a.nurse, clinic_a.physician)):
        pair = _pair(panel, patient_a, clinic_a)
        for rater in raters:
            score = rng.randint(-3, 3)  # the pair shows "before" on the left: change = score
            Rating.objects.create(pair=pair, rater=rater, score=score, change=score)
        same()


def _pair(panel, patient, staff) -> RatingPair:
    from anagen.outcomes.models import Photo, PhotoSet

    sets = [
        PhotoSet.objects.create(
            patient=patient,
            taken_on=D0 + dt.timedelta(days=d),
            notes="",
            created_by=staff.nurse,
        )
        for d in (0, 90)
    ]
    photos = [
        Photo.objects.create(
            photo_set=s,
            view="vertex",
            file="x.jpg",
            thumbnail="t.jpg",
            sha256="0" * 64,
            width=1,
            height=1,
            uploaded_by=staff.nurse,
        )
        for s in sets
    ]
    return RatingPair.objects.create(
        panel=panel,
        patient=patient,
        before=photos[0],
        after=photos[1],
        position=RatingPair.objects.filter(panel=panel).count(),
        code=f"c{RatingPair.objects.count()}",
        before_on_left=True,
    )


def test_api_measurement_sets_are_the_models_in_set_out_shape(clinic_a, patient_a):
    from anagen.outcomes.api import _set_out
    from anagen.outcomes.tests.test_fast_rendering import _history

    _history(clinic_a, patient_a)  # every kind of value, inch² entries, a visit without sites
    actor = clinic_a.actor(clinic_a.physician)
    every = list(selectors.measurement_sets(actor=actor, patient=patient_a))
    for start in range(len(every) + 2):
        for limit in (1, 2, 5, 50):
            fast = selectors.measurement_sets_api(
                actor=actor, patient=patient_a, start=start, limit=limit
            )
            assert fast == [_set_out(s) for s in every[start : start + limit]], (start, limit)
            # Same types too (floats, ints, dates): the rendered JSON is byte for byte the same.
            assert repr(fast) == repr([_set_out(s) for s in every[start : start + limit]])
