"""The demo seed: signed sessions with kernel labels and lots, an expired lot, fast, idempotent."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from anagen.demo import seed_demo
from anagen.procedures import selectors
from anagen.procedures.demo import seed_procedures_demo
from anagen.procedures.models import Lot, MesotherapyFormulation, TreatmentSession

pytestmark = pytest.mark.django_db


def test_seed_procedures_demo_is_consistent_fast_and_idempotent():
    today = timezone.localdate()
    seed_demo(today)
    try:
        from anagen.scheduling.demo import seed_scheduling_demo

        seed_scheduling_demo(today)
    except ImportError:  # pragma: no cover
        pass
    started = time.perf_counter()
    seed_procedures_demo(today)
    assert time.perf_counter() - started < 10
    sessions = TreatmentSession.objects.all()
    count = sessions.count()
    assert count >= 20
    assert Lot.objects.filter(expires_on__lt=today).exists()
    assert MesotherapyFormulation.objects.count() == 4
    for s in sessions.select_related("preparation", "screening")[:20]:
        assert s.is_signed and s.started_at.date() < today
        assert "fold" in s.preparation.computed
        assert selectors.delivery_totals(s).ok
        assert all(lu.lot.expires_on >= s.started_at.date() for lu in s.lot_uses.all())
    seed_procedures_demo(today)
    assert TreatmentSession.objects.count() == count
