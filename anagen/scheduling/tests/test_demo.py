"""The demo seeding is idempotent, deterministic and never double-books.

Its speed is a figure of benchmarks/demo_load.py, not an assert here.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from anagen.demo import seed_demo
from anagen.scheduling.demo import seed_scheduling_demo
from anagen.scheduling.models import Appointment, Recall, Resource, ResourceBooking, TreatmentPlan

pytestmark = pytest.mark.django_db


def test_demo_seeds_series_once_without_overlaps():
    today = dt.date.today()
    seed_demo(today)
    seed_scheduling_demo(today)
    counts = (
        TreatmentPlan.objects.count(),
        Appointment.objects.count(),
        ResourceBooking.objects.count(),
    )
    assert counts[0] == 80 and counts[1] >= 200
    assert Resource.objects.filter(kind="centrifuge").count() == 2
    assert Appointment.objects.filter(status="completed").exists()
    assert Appointment.objects.filter(status="booked").exists()
    assert Recall.objects.exists()
    # Every state a page can show: each clinic has a cancelled visit (with its reason) and
    # the demo has no-shows.
    for slug in ("north", "river"):
        cancelled = Appointment.objects.filter(clinic__slug=slug, status="cancelled")
        assert cancelled.exists()  # more where care's demo cancels a blocked patient's series
    assert Appointment.objects.filter(status="no_show").exists()
    seed_scheduling_demo(today)
    assert (
        TreatmentPlan.objects.count(),
        Appointment.objects.count(),
        ResourceBooking.objects.count(),
    ) == counts
    rows = list(ResourceBooking.objects.filter(active=True).order_by("resource_id", "starts_at"))
    for a, b in itertools.pairwise(rows):
        if a.resource_id == b.resource_id:
            assert a.ends_at <= b.starts_at
