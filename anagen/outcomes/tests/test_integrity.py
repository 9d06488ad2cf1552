"""The database refuses outcome rows the services would never write (check constraints)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from anagen.outcomes.models import (
    Measurement,
    MeasurementSet,
    MeasurementSite,
    Rating,
    RatingPair,
    RatingPanel,
    ReportJob,
)

pytestmark = pytest.mark.django_db


def _set(staff, patient, **fields: Any) -> MeasurementSet:
    values: dict[str, Any] = {
        "patient": patient,
        "measured_on": dt.date(2025, 6, 1),
        "visit_label": "baseline",
        "method": "phototrichogram",
        "recorded_by": staff.nurse,
        **fields,
    }
    return MeasurementSet.objects.create(**values)


def _refused(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


@pytest.mark.parametrize(
    "fields",
    [
        {"salt": Decimal("100.1")},
        {"salt": Decimal("-0.1")},
        {"pull_test_pulled": 40, "pull_test_shed": 41},  # more shed than pulled
        {"pull_test_pulled": 40},  # a pull test is both numbers
        {"pull_test_shed": 3},
        {"wash_test_count": -1},
        {"global_photo_rating": 4},
        {"satisfaction": 0},
        {"satisfaction": 6},
        {"visit_label": "sometime"},
        {"method": "guesswork"},
    ],
)
def test_visit_values_out_of_range_are_refused(clinic_a, patient_a, fields) -> None:
    _refused(lambda: _set(clinic_a, patient_a, **fields))


def test_visit_values_at_the_limits_are_kept(clinic_a, patient_a) -> None:
    _set(
        clinic_a,
        patient_a,
        salt=Decimal("100.0"),
        pull_test_pulled=40,
        pull_test_shed=40,
        wash_test_count=0,
        global_photo_rating=-3,
        satisfaction=5,
    )
    _set(clinic_a, patient_a, salt=Decimal("0.0"), pull_test_pulled=0, pull_test_shed=0)
    assert MeasurementSet.objects.count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"hair_count": -1, "area_cm2": Decimal("1")},
        {"hair_count": 120},  # a count without its target area
        {"area_cm2": Decimal("0")},
        {"area_value_entered": Decimal("0")},
        {"density_per_cm2": Decimal("-1")},
        {"density_value_entered": Decimal("-0.5")},
        {"mean_diameter_um": Decimal("0")},
        {"mean_diameter_um": Decimal("300.1")},
        {"cumulative_thickness_mm_per_cm2": Decimal("-0.01")},
        {"terminal_pct": Decimal("100.1")},
        {"vellus_pct": Decimal("-1")},
        {"anagen_pct": Decimal("101")},
        {"telogen_pct": Decimal("-0.1")},
    ],
)
def test_site_values_out_of_range_are_refused(clinic_a, patient_a, fields) -> None:
    mset = _set(clinic_a, patient_a)
    site = MeasurementSite.objects.create(
        patient=patient_a, name="Vertex", location="vertex", created_by=clinic_a.nurse
    )
    _refused(lambda: Measurement.objects.create(measurement_set=mset, site=site, **fields))


def test_ratings_pairs_and_jobs(clinic_a, patient_a, settings, tmp_path) -> None:
    from anagen.outcomes import services
    from anagen.outcomes.tests.helpers import jpeg, photo_consent

    settings.MEDIA_ROOT = tmp_path
    photo_consent(clinic_a, patient_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    photos = []
    for on in (dt.date(2025, 6, 1), dt.date(2025, 12, 1)):
        ps = services.photo_set_create(actor=nurse, patient=patient_a, taken_on=on)
        photos.append(services.photo_add(actor=nurse, photo_set=ps, view="vertex", content=jpeg()))
    panel = RatingPanel.objects.create(
        clinic=clinic_a.clinic, name="p", created_by=clinic_a.physician
    )

    def pair(code: str, before, after) -> RatingPair:  # type: ignore[no-untyped-def]
        return RatingPair.objects.create(
            panel=panel,
            patient=patient_a,
            before=before,
            after=after,
            before_on_left=True,
            code=code,
            position=0,
        )

    _refused(lambda: pair("same", photos[0], photos[0]))
    ok = pair("ok", photos[0], photos[1])
    _refused(lambda: Rating.objects.create(pair=ok, rater=clinic_a.nurse, score=4, change=4))
    _refused(lambda: Rating.objects.create(pair=ok, rater=clinic_a.nurse, score=2, change=1))
    Rating.objects.create(pair=ok, rater=clinic_a.nurse, score=2, change=-2)
    _refused(
        lambda: ReportJob.objects.create(
            clinic=clinic_a.clinic, requested_by=clinic_a.nurse, total=1, done_count=2
        )
    )
    _refused(
        lambda: ReportJob.objects.create(
            clinic=clinic_a.clinic, requested_by=clinic_a.nurse, status="exploded"
        )
    )
