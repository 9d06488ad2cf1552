"""The demo seed: signed sessions with kernel labels and lots, an expired lot, a preparation with
kernel warnings, an amended signed record; idempotent (speed: benchmarks/demo_load.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from anagen.demo import seed_demo
from anagen.procedures import selectors
from anagen.procedures.demo import CLINIC_SLUGS, seed_procedures_demo
from anagen.procedures.models import (
    Amendment,
    Lot,
    LotUse,
    MesotherapyFormulation,
    Preparation,
    TreatmentSession,
)

pytestmark = pytest.mark.django_db


def test_seed_procedures_demo_is_consistent_and_idempotent():
    today = timezone.localdate()
    seed_demo(today)
    try:
        from anagen.scheduling.demo import seed_scheduling_demo

        seed_scheduling_demo(today)
    except ImportError:  # pragma: no cover
        pass
    seed_procedures_demo(today)
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
    # Objects in every state a page must show: kernel warnings, an amended signed record, and
    # lots whose recall lists exposed patients.
    warned = [p for p in Preparation.objects.all() if p.computed.get("warnings")]
    assert {w["code"] for p in warned for w in p.computed["warnings"]} >= {
        "bovine_thrombin",
        "min_fold",
        "edta_anticoagulant",
    }
    amended = Amendment.objects.select_related("session").first()
    assert amended is not None and amended.reason and amended.session.is_signed
    assert LotUse.objects.exists()
    recalled = Lot.objects.filter(recalled_at__isnull=False)
    assert recalled.count() == len(CLINIC_SLUGS)  # one per clinic, used in sessions
    assert all(lot.uses.exists() and lot.recall_reason for lot in recalled)
    seed_procedures_demo(today)
    assert TreatmentSession.objects.count() == count
    assert Amendment.objects.count() == len(CLINIC_SLUGS)  # idempotent: one per clinic
    assert Lot.objects.filter(recalled_at__isnull=False).count() == len(CLINIC_SLUGS)
