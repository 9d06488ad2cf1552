"""Progress: change from the patient's own baseline via the kernel, MDC, chart."""

import datetime as dt

import pytest

from anagen.clinical import mdc95
from anagen.outcomes import selectors
from anagen.outcomes.tests.helpers import record

pytestmark = pytest.mark.django_db
D0 = dt.date(2025, 6, 1)


def _density(series):
    return next(s for s in series if s.measure.id == "density_per_cm2")


def test_change_from_baseline_matches_facts_t1(clinic_a, patient_a):
    # clinical-facts 10 T1: 141.9 → 177.5 hairs/cm² is +35.6 and +25.09 %
    record(clinic_a, patient_a, D0, "baseline", 141.9)
    record(clinic_a, patient_a, D0 + dt.timedelta(days=180), "follow_up", 177.5)
    s = _density(selectors.series_for(actor=clinic_a.actor(clinic_a.physician), patient=patient_a))
    assert s.baseline == 141.9
    assert s.latest.change.absolute == 35.6
    assert s.latest.change.percent == 25.09
    # One baseline: MDC from the method's default CV (phototrichogram 5 %): 2.77 × 7.095
    assert s.mdc == pytest.approx(mdc95(0.05 * 141.9))
    assert s.latest.detectable is True


def test_mdc_from_baseline_repeats_flags_small_changes(clinic_a, patient_a):
    record(clinic_a, patient_a, D0, "baseline", 140)
    record(clinic_a, patient_a, D0 + dt.timedelta(days=1), "baseline", 150)
    record(clinic_a, patient_a, D0 + dt.timedelta(days=90), "follow_up", 160)
    record(clinic_a, patient_a, D0 + dt.timedelta(days=180), "follow_up", 185)
    s = _density(selectors.series_for(actor=clinic_a.actor(clinic_a.physician), patient=patient_a))
    # Baseline = mean 145; own SEM = SD of differences / √2 = 10 / √2 → MDC 19.6; the method's
    # default (phototrichogram CV 5 % of 145 = SEM 7.25) gives 20.10, and the MDC never falls
    # below it (clinical-facts 13): 2.7719 × 7.25 = 20.096.
    assert s.baseline == 145 and s.baseline_repeats == 2
    assert s.mdc == pytest.approx(mdc95(0.05 * 145)) and s.mdc == pytest.approx(20.096, abs=1e-3)
    assert "never falls below the method's error" in s.mdc_source
    first, second = s.follow_ups
    assert first.change.absolute == 15 and first.detectable is False
    assert second.change.absolute == 40 and second.detectable is True


def test_identical_baselines_do_not_make_no_change_a_change(clinic_a, patient_a):
    # Before: two identical baselines gave MDC 0, so "no change" read "beyond measurement error".
    record(clinic_a, patient_a, D0, "baseline", 150)
    record(clinic_a, patient_a, D0 + dt.timedelta(days=1), "baseline", 150)
    record(clinic_a, patient_a, D0 + dt.timedelta(days=180), "follow_up", 150)
    s = _density(selectors.series_for(actor=clinic_a.actor(clinic_a.physician), patient=patient_a))
    assert s.mdc == pytest.approx(20.789, abs=1e-3)  # 2.772 × 7.5
    assert s.latest.change.absolute == 0 and s.latest.detectable is False
    body = (
        clinic_a.client(clinic_a.physician)
        .get(f"/patients/{patient_a.pk}/outcomes/progress/")
        .content.decode()
    )
    assert "within measurement error</span>" in body
    assert "beyond measurement error</span>" not in body
    assert "without a control group" in body


def test_one_close_pair_is_floored_and_equal_to_the_mdc_is_within(clinic_a, patient_a):
    # One pair 150/151 alone gives MDC 1.96; floored at the method's error: 2.772 × 7.525 = 20.86.
    record(clinic_a, patient_a, D0, "baseline", 150)
    record(clinic_a, patient_a, D0 + dt.timedelta(days=1), "baseline", 151)
    record(clinic_a, patient_a, D0 + dt.timedelta(days=90), "follow_up", 160)
    s = _density(selectors.series_for(actor=clinic_a.actor(clinic_a.physician), patient=patient_a))
    assert s.mdc == pytest.approx(20.858, abs=1e-3)
    assert s.latest.detectable is False


def test_methods_are_never_mixed(clinic_a, patient_a):
    record(clinic_a, patient_a, D0, "baseline", 140, method="phototrichogram")
    record(clinic_a, patient_a, D0 + dt.timedelta(days=90), "follow_up", 200, method="manual_count")
    series = selectors.series_for(actor=clinic_a.actor(clinic_a.physician), patient=patient_a)
    densities = [s for s in series if s.measure.id == "density_per_cm2"]
    assert len(densities) == 2
    assert all(s.latest is None for s in densities)


def test_progress_page_and_chart(clinic_a, clinic_b, patient_a):
    record(clinic_a, patient_a, D0, "baseline", 141.9)
    record(
        clinic_a, patient_a, D0 + dt.timedelta(days=180), "follow_up", 177.5, global_photo_rating=1
    )
    c = clinic_a.client(clinic_a.physician)
    page = c.get(f"/patients/{patient_a.pk}/outcomes/progress/")
    body = page.content.decode()
    assert "+25.09 %" in body and "+35.60" in body and "beyond measurement error" in body
    s = _density(selectors.series_for(actor=clinic_a.actor(clinic_a.physician), patient=patient_a))
    chart = c.get(f"/patients/{patient_a.pk}/outcomes/chart.svg", {"series": s.key})
    assert chart.status_code == 200 and chart["Content-Type"] == "image/svg+xml"
    assert b"<svg" in chart.content
    assert c.get(f"/patients/{patient_a.pk}/outcomes/chart.svg", {"series": "x"}).status_code == 404
    other = clinic_b.client(clinic_b.physician)
    assert (
        other.get(f"/patients/{patient_a.pk}/outcomes/chart.svg", {"series": s.key}).status_code
        == 404
    )


def test_session_dates_from_completed_appointments(clinic_a, patient_a):
    assert selectors.session_dates(patient_a) == []
