"""Clinic analytics: cohorts reproduce hand-computed figures; de-identified export; access."""

import csv
import datetime as dt
import io

import pytest

from anagen.outcomes import selectors
from anagen.outcomes.tests.helpers import record
from conftest import make_patient

pytestmark = pytest.mark.django_db
D0 = dt.date(2025, 3, 1)
D1 = dt.date(2025, 9, 1)


def _cohort(clinic_a, pairs, **patient_kw):
    patients = []
    for i, (before, after) in enumerate(pairs):
        p = make_patient(clinic_a, given_name=f"P{i}", **patient_kw)
        record(clinic_a, p, D0, "baseline", before)
        record(clinic_a, p, D1, "follow_up", after, global_photo_rating=1 if after > before else 0)
        patients.append(p)
    return patients


def test_cohort_figures_match_facts_t1_group_means(clinic_a):
    # Two patients whose means are Georgescu 2022's group means: 141.9 → 177.5 (+25.09 %).
    _cohort(clinic_a, [(131.9, 170.0), (151.9, 185.0)])
    outcomes = selectors.patient_outcomes(clinic=clinic_a.clinic, rule="density_increase_15pct")
    [c] = selectors.cohorts(outcomes, None)
    assert c.n == 2
    assert c.mean_baseline == pytest.approx(141.9) and c.mean_follow_up == pytest.approx(177.5)
    assert c.change_of_means.absolute == 35.6 and c.change_of_means.percent == 25.09
    # Per-patient changes +38.1 and +33.1: mean 35.6, SD 3.5355, t(1) = 12.706
    assert c.absolute.mean == pytest.approx(35.6)
    assert c.absolute.low == pytest.approx(35.6 - 12.706 * 3.535534 / 2**0.5, abs=1e-3)
    # Per-patient % (kernel, 2 decimals): 28.89 and 21.79 → mean 25.34
    assert c.percent.mean == pytest.approx((28.89 + 21.79) / 2)
    assert c.responders is not None and (c.responders.k, c.responders.n) == (2, 2)


def test_grouping_filters_and_responder_rules(clinic_a):
    _cohort(clinic_a, [(100, 130), (100, 105)], sex="male")
    _cohort(clinic_a, [(120, 150)], sex="female")
    outcomes = selectors.patient_outcomes(clinic=clinic_a.clinic, rule="density_increase_15pct")
    by_sex = {c.code: c for c in selectors.cohorts(outcomes, "sex")}
    assert by_sex["male"].n == 2 and by_sex["female"].n == 1
    assert (by_sex["male"].label, by_sex["female"].label) == ("Male", "Female")
    male = by_sex["male"].responders
    assert male is not None and (male.k, male.n) == (1, 2)
    only_f = selectors.cohorts(outcomes, "age_band", {"sex": "female"})
    assert [c.n for c in only_f] == [1]
    photo_rule = selectors.patient_outcomes(clinic=clinic_a.clinic, rule="global_photo_plus2")
    assert not any(o.responder for o in photo_rule)  # ratings were +1 at most


def test_analytics_page_chart_export_and_access(clinic_a, clinic_b):
    patients = _cohort(clinic_a, [(131.9, 170.0), (151.9, 185.0)])
    c = clinic_a.client(clinic_a.physician)
    page = c.get("/analytics/", {"group_by": "sex", "rule": "density_increase_15pct"})
    body = page.content.decode()
    assert page.status_code == 200 and "141.9 → 177.5" in body and "+25.09 %" in body
    assert c.get("/analytics/chart.svg").content.startswith(b"<?xml")
    export = c.get("/analytics/export.csv", {"group_by": "sex"})
    text = export.content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2 and rows[0]["days_from_baseline"] == "184"
    for p in patients:
        for secret in (p.family_name, p.given_name, p.record_number, str(p.birth_date)):
            assert secret not in text
    assert {r["age_band"] for r in rows} == {"40–49"}
    # Clinic admin may see aggregates; nurse and front desk may not; other clinic sees none.
    assert clinic_a.client(clinic_a.admin).get("/analytics/").status_code == 200
    assert clinic_a.client(clinic_a.nurse).get("/analytics/").status_code == 403
    assert clinic_a.client(clinic_a.front_desk).get("/analytics/export.csv").status_code == 403
    other = clinic_b.client(clinic_b.physician).get("/analytics/").content.decode()
    assert "No patient has a baseline" in other
    # Unknown choices are a form error, not a 500.
    assert c.get("/analytics/", {"group_by": "shoe_size"}).status_code == 400


def test_analytics_show_labels_not_codes(clinic_a):
    from anagen.care.models import Assessment

    patients = _cohort(clinic_a, [(100, 130), (110, 120)], sex="female")
    Assessment_fields = {f.name for f in Assessment._meta.get_fields()}
    assert "diagnosis_code" in Assessment_fields
    outcomes = selectors.patient_outcomes(clinic=clinic_a.clinic, rule="density_increase_15pct")
    assert {o.groups["diagnosis"] for o in outcomes} == {"not_assessed"}
    assert outcomes[0].group_labels()["diagnosis"] == "Not assessed"
    c = clinic_a.client(clinic_a.physician)
    for group_by in ("sex", "diagnosis", "protocol", "spin", "dose_band", "age_band"):
        body = c.get("/analytics/", {"group_by": group_by}).content.decode()
        for code in ("not_assessed", "no_plan", "not_recorded", "female<", "_"):
            cells = [line for line in body.splitlines() if line.startswith("<td>")]
            assert not any(code in cell for cell in cells), (group_by, code, cells)
    body = c.get("/analytics/", {"group_by": "sex"}).content.decode()
    assert "<td>Female</td>" in body
    # Filter choices carry the code as value and the label as text.
    assert '<option value="female">Female</option>' in body
    # The responder rule's source reads as a reference, not a file name.
    assert "Kieling L et al. (2024)" in body and ".md" not in body
    text = c.get("/analytics/export.csv", {"group_by": "sex"}).content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {(r["sex"], r["sex_code"]) for r in rows} == {("Female", "female")}
    assert {(r["diagnosis"], r["diagnosis_code"]) for r in rows} == {
        ("Not assessed", "not_assessed")
    }
    assert {r["method"] for r in rows} == {"Phototrichogram"}
    assert {r["measure"] for r in rows} == {"Density"}
    # Export time: the clinic's clock in the human format ("Mon 30 Nov 2026, 14:05").
    import re

    assert re.fullmatch(r"\w{3} \d{1,2} \w{3} \d{4}, \d{2}:\d{2}", rows[0]["exported_at"])
    assert len(patients) == 2


def test_analytics_permission_from_the_table(clinic_a):
    from django.core.exceptions import PermissionDenied

    from anagen.accounts.permissions import Perm, role_has

    for user in (clinic_a.physician, clinic_a.nurse, clinic_a.front_desk, clinic_a.admin):
        actor = clinic_a.actor(user)
        allowed = role_has(actor.membership.role, Perm.ANALYTICS_VIEW)
        if allowed:
            selectors.require_analytics(actor)
        else:
            with pytest.raises(PermissionDenied):
                selectors.require_analytics(actor)
        status = clinic_a.client(user).get("/analytics/").status_code
        assert status == (200 if allowed else 403)


def test_responders_are_judged_at_the_rules_follow_up_and_beyond_the_mdc(clinic_a):
    # Density rule: at least +15 % and beyond the MDC, at 6 months (5-7 months accepted).
    on_time = make_patient(clinic_a, given_name="OnTime")
    record(clinic_a, on_time, D0, "baseline", 150)
    record(clinic_a, on_time, dt.date(2025, 9, 1), "follow_up", 175)  # +16.7 %, +25 > 20.79
    record(clinic_a, on_time, dt.date(2026, 3, 1), "follow_up", 150)  # latest, but at 12 months
    early = make_patient(clinic_a, given_name="Early")
    record(clinic_a, early, D0, "baseline", 150)
    record(clinic_a, early, dt.date(2025, 5, 1), "follow_up", 200)  # 2 months: not judged
    manual = make_patient(clinic_a, given_name="Manual")
    record(clinic_a, manual, D0, "baseline", 150, method="manual_count")
    # +16.7 % clears 15 % but not a manual count's MDC (CV 8 %: 2.772 × 12 = 33.26).
    record(clinic_a, manual, D1, "follow_up", 175, method="manual_count")
    outcomes = {
        o.patient.given_name: o
        for o in selectors.patient_outcomes(clinic=clinic_a.clinic, rule="density_increase_15pct")
    }
    assert outcomes["OnTime"].responder is True
    assert outcomes["OnTime"].follow_up == 150  # the cohort change still uses the latest
    assert outcomes["Early"].responder is None
    assert outcomes["Manual"].responder is False


def test_analytics_say_the_comparison_is_uncontrolled_and_state_the_interval(clinic_a):
    _cohort(clinic_a, [(131.9, 170.0), (151.9, 185.0)])
    c = clinic_a.client(clinic_a.physician)
    body = c.get("/analytics/").content.decode()
    assert 'id="uncontrolled"' in body and "no control group" in body
    assert "judged at 6 months after the baseline" in body
    assert "Hausauer AK, Jones DH (2018)" in body
    rows = list(csv.DictReader(io.StringIO(c.get("/analytics/export.csv").content.decode())))
    assert rows[0]["comparison"].startswith("uncontrolled before/after")
    assert "judged at 6 months" in rows[0]["responder_rule"]
