"""Issue 15: the per-patient outcome summary analytics read, kept by the measurement services.

Hand-computed: baseline repeats 150 and 154 hairs/cm² (mean 152) and a follow-up of 175 six
months on: +23.0 hairs/cm², +15.13 % (23 / 152); the density rule's MDC is the larger of the
repeats' SEM (RMS of the one difference 4 over √2 = 2.83) and the phototrichogram CV × 152, and
+23 clears 15 % (22.8) and that MDC, so the patient responds.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from anagen.outcomes import selectors, services
from anagen.outcomes.models import OutcomeSummary
from anagen.outcomes.selectors.analytics import compute_outcomes
from anagen.outcomes.tests.helpers import record
from conftest import make_patient

pytestmark = pytest.mark.django_db
D0 = dt.date(2025, 3, 1)
D1 = dt.date(2025, 9, 1)
RULE = "density_increase_15pct"


def test_recording_keeps_the_summary_and_analytics_read_it(clinic_a):
    p = make_patient(clinic_a, given_name="Sum")
    record(clinic_a, p, D0, "baseline", 150)
    assert not OutcomeSummary.objects.filter(patient=p).exists()  # no follow-up yet
    record(clinic_a, p, dt.date(2025, 3, 8), "baseline", 154)
    record(clinic_a, p, D1, "follow_up", 175)
    row = OutcomeSummary.objects.get(patient=p, measure="density_per_cm2")
    assert (row.baseline, row.follow_up, row.baseline_on, row.follow_up_on) == (152, 175, D0, D1)
    assert (row.change_absolute, row.change_percent) == (23.0, 15.13)
    assert row.responders[RULE] is True and row.clinic_id == clinic_a.clinic.pk
    [o] = selectors.patient_outcomes(clinic=clinic_a.clinic, rule=RULE)
    assert (o.patient_id, o.baseline, o.follow_up, o.responder) == (p.pk, 152, 175, True)
    assert (o.change.absolute, o.change.percent) == (23.0, 15.13)
    assert o.patient.given_name == "Sum"
    # The summary says what computing from the measurements says.
    [computed] = compute_outcomes(clinic=clinic_a.clinic, measure="density_per_cm2")
    assert (computed.baseline, computed.follow_up, computed.change) == (152, 175, o.change)
    assert computed.responders[RULE] is True


def test_rebuild_after_bulk_changes_and_deleted_patients_leave(clinic_a):
    from anagen.patients.services import patient_soft_delete

    kept = make_patient(clinic_a, given_name="Kept")
    gone = make_patient(clinic_a, given_name="Gone")
    for p, follow_up in ((kept, 130), (gone, 120)):
        record(clinic_a, p, D0, "baseline", 100)
        record(clinic_a, p, D1, "follow_up", follow_up)
    before = sorted(
        OutcomeSummary.objects.values_list("patient_id", "measure", "baseline", "follow_up")
    )
    OutcomeSummary.objects.all().delete()  # as after a bulk copy that bypassed the services
    assert selectors.patient_outcomes(clinic=clinic_a.clinic) == []
    written = services.outcome_summaries_rebuild(clinic=clinic_a.clinic)
    after = sorted(
        OutcomeSummary.objects.values_list("patient_id", "measure", "baseline", "follow_up")
    )
    assert written == len(after) == 2 and after == before
    patient_soft_delete(actor=clinic_a.actor(clinic_a.admin), patient=gone, reason="duplicate")
    assert [o.patient_id for o in selectors.patient_outcomes(clinic=clinic_a.clinic)] == [kept.pk]
    OutcomeSummary.objects.all().delete()
    call_command("outcome_summaries", verbosity=0)
    # Kept for the deleted record too (a restore shows it again), left out of the figures.
    assert OutcomeSummary.objects.count() == 2
    assert [o.patient_id for o in selectors.patient_outcomes(clinic=clinic_a.clinic)] == [kept.pk]
