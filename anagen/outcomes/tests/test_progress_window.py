"""The progress page, its chart and the API read a window of the history (issue 15): the
baseline visits, each series's first visit and the latest LATEST_VISITS sets. Baselines, MDCs
and changes are those of the whole history; the queries do not grow with it."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from anagen.outcomes import selectors, services
from anagen.outcomes.selectors.progress import LATEST_VISITS
from conftest import make_patient

D0 = dt.date(2020, 1, 6)


def _visit(staff, patient, n: int, label: str) -> None:
    sites = [services.SiteValues(site_name="Vertex tattoo dot", density=140.0 + n)]
    if n >= 5:  # a second site marked at the sixth visit, never at a baseline visit
        sites.append(services.SiteValues(site_name="Temple", location="temple", density=90.0 + n))
    services.measurement_set_record(
        actor=staff.actor(staff.nurse),
        patient=patient,
        values=services.VisitValues(
            measured_on=D0 + dt.timedelta(days=30 * n),
            visit_label=label,
            method="phototrichogram",
            salt=(40.0 - n / 2) if n >= 3 else None,  # SALT first taken at the fourth visit
            sites=sites,
        ),
    )


def _history(staff, patient, visits: int) -> None:
    for n in range(visits):
        _visit(staff, patient, n, "baseline" if n < 2 else "follow_up")


def _by_key(series):
    return {s.key: s for s in series}


def test_the_window_keeps_the_whole_history_s_baselines_and_changes(clinic_a):
    patient = make_patient(clinic_a)
    visits = LATEST_VISITS + 16
    _history(clinic_a, patient, visits)
    actor = clinic_a.actor(clinic_a.physician)
    full = _by_key(selectors.series_for(actor=actor, patient=patient, latest=None))
    window = _by_key(selectors.series_for(actor=actor, patient=patient))
    assert window.keys() == full.keys() and len(full) == 3  # vertex, temple, SALT
    latest_days = {D0 + dt.timedelta(days=30 * n) for n in range(visits - LATEST_VISITS, visits)}
    for key, whole in full.items():
        part = window[key]
        assert (part.baseline, part.baseline_repeats, part.mdc) == (
            whole.baseline,
            whole.baseline_repeats,
            whole.mdc,
        )
        by_day = {p.on: p for p in whole.points}
        assert len(part.points) < len(whole.points)
        assert part.points[0].on == whole.points[0].on  # the series's first visit is kept
        assert {p.on for p in part.points} >= latest_days
        for p in part.points:
            same = by_day[p.on]
            assert (p.value, p.change, p.detectable) == (same.value, same.change, same.detectable)
    temple = next(s for s in full.values() if s.site is not None and s.site.name == "Temple")
    assert temple.baseline == 95.0  # no baseline visit at that site: measured from its first
    assert full["salt:0:phototrichogram"].baseline == 38.5  # SALT's first, at the fourth visit


def test_the_progress_reads_cost_the_same_for_three_visits_and_forty(clinic_a, patient_a):
    long_patient = make_patient(clinic_a, given_name="Long", family_name="History")
    _history(clinic_a, patient_a, 6)
    _history(clinic_a, long_patient, LATEST_VISITS + 16)
    actor = clinic_a.actor(clinic_a.physician)
    counts = []
    for patient in (patient_a, long_patient):
        with CaptureQueriesContext(connection) as ctx:
            selectors.series_for(actor=actor, patient=patient)
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_the_page_says_what_it_shows(clinic_a, patient_a):
    _history(clinic_a, patient_a, LATEST_VISITS + 2)
    page = clinic_a.client(clinic_a.physician).get(f"/patients/{patient_a.pk}/outcomes/progress/")
    text = page.content.decode()
    assert page.status_code == 200
    assert f"the latest {LATEST_VISITS} of {LATEST_VISITS + 2} measured visits" in text
