"""Issue 13: clinic admins read outcome analytics as aggregates only, every count under 5
suppressed ("fewer than 5"), on the page, its chart, its CSV and the API; the de-identified
per-patient export stays with the roles the permission table allows (ANALYTICS_PATIENT_ROWS)."""

from __future__ import annotations

import csv
import io

import pytest

from anagen.accounts.permissions import Perm, role_has
from anagen.outcomes import selectors
from anagen.outcomes.tests.test_analytics import _cohort

pytestmark = pytest.mark.django_db

API = "/api/v1/outcomes/analytics"


def _clinic(clinic_a):
    # 8 women (5 responders, 3 not), 7 men, 2 "other": the last is a small cell, and the men's
    # cohort (the next smallest) is withheld with it so that 17 - 8 does not give it away.
    _cohort(clinic_a, [(120, 150)] * 5 + [(110, 112)] * 3, sex="female")
    _cohort(clinic_a, [(100, 130)] * 6 + [(100, 101)], sex="male")
    _cohort(clinic_a, [(90, 130)] * 2, sex="other")


def _numbers(text: str) -> set[int]:
    out = set()
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if cell.isdigit():
                out.add(int(cell))
    return out


def test_only_clinical_roles_may_export_patient_rows(clinic_a):
    assert role_has("physician", Perm.ANALYTICS_PATIENT_ROWS)
    assert not role_has("clinic_admin", Perm.ANALYTICS_PATIENT_ROWS)
    assert selectors.may_see_patient_rows(clinic_a.actor(clinic_a.physician))
    assert not selectors.may_see_patient_rows(clinic_a.actor(clinic_a.admin))


def test_admin_csv_has_no_patient_rows_and_no_cell_under_5(clinic_a):
    _clinic(clinic_a)
    c = clinic_a.client(clinic_a.admin)
    r = c.get("/analytics/export.csv", {"group_by": "sex"})
    assert r.status_code == 200 and r["Cache-Control"] == "private, no-store"
    text = r.content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert "study_id" not in text and "days_from_baseline" not in text
    by_label = {r["cohort"]: r for r in rows}
    assert list(by_label) == ["Female", "Male", "Other"]
    female = by_label["Female"]
    assert female["patients"] == "8"
    # 5 of 8 responded: the 3 non-responders are a small cell, so the count is withheld.
    assert female["responders"] == "all but fewer than 5" and female["responders_judged"] == ""
    for hidden in ("Male", "Other"):
        assert by_label[hidden]["patients"] == "fewer than 5"
        assert by_label[hidden]["mean_baseline"] == "" and by_label[hidden]["responders"] == ""
    counts = {
        int(v)
        for row in rows
        for k, v in row.items()
        if k in ("patients", "responders", "responders_judged") and v.isdigit()
    }
    assert counts and min(counts) >= 5
    assert not {1, 2, 3, 7} & _numbers(text)
    # Ungrouped: one cohort of 17 is fine (13 responders, 4 not: withheld).
    [everyone] = list(csv.DictReader(io.StringIO(c.get("/analytics/export.csv").content.decode())))
    assert everyone["patients"] == "17" and everyone["responders"] == "all but fewer than 5"


def test_one_small_cell_takes_its_complement_with_it(clinic_a):
    # 6 men, 5 women, 2 "other": hiding "other" alone would leave 13 - 6 - 5 = 2.
    _cohort(clinic_a, [(100, 130)] * 6, sex="male")
    _cohort(clinic_a, [(100, 130)] * 5, sex="female")
    _cohort(clinic_a, [(100, 130)] * 2, sex="other")
    actor = clinic_a.actor(clinic_a.admin)
    outcomes = selectors.patient_outcomes(clinic=clinic_a.clinic, rule="density_increase_15pct")
    shown = selectors.cohorts_disclosed(
        actor=actor, cohorts=selectors.cohorts(outcomes, "sex"), n=len(outcomes)
    )
    assert [c.label for c in shown.cohorts] == ["Male"]
    assert sorted(shown.suppressed) == ["Female", "Other"]


def test_admin_page_chart_and_api_suppress_small_cells(clinic_a, monkeypatch):
    from anagen.outcomes import charts

    _clinic(clinic_a)
    c = clinic_a.client(clinic_a.admin)
    body = c.get("/analytics/", {"group_by": "sex"}).content.decode()
    assert 'id="suppression"' in body and "Cohort CSV" in body
    other_row = body[body.index('<tr class="suppressed"><td>Other</td>') :]
    other_row = other_row.split("</tr>")[0]
    assert "<td>fewer than 5</td>" in other_row and "90" not in other_row
    assert "<td>2</td>" not in body and "<td>7</td>" not in body
    drawn: list[list[str]] = []
    real = charts.cohorts_svg

    def spy(cs, title):
        drawn.append([x.label for x in cs])
        return real(cs, title)

    monkeypatch.setattr(charts, "cohorts_svg", spy)
    assert c.get("/analytics/chart.svg", {"group_by": "sex"}).status_code == 200
    assert drawn == [["Female"]]
    api = {row["label"]: row for row in c.get(API, {"group_by": "sex"}).json()}
    other = api["Other"]
    assert other["suppressed"] is True and other["n"] is None and other["mean_baseline"] is None
    assert other["n_text"] == "fewer than 5" and api["Male"]["suppressed"] is True
    assert api["Female"]["n"] == 8 and api["Female"]["responders"] is None
    assert api["Female"]["responders_note"] == "all but fewer than 5"


def test_physician_still_gets_the_deidentified_export_and_every_cell(clinic_a):
    _clinic(clinic_a)
    c = clinic_a.client(clinic_a.physician)
    text = c.get("/analytics/export.csv", {"group_by": "sex"}).content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 17 and all(len(r["study_id"]) == 8 for r in rows)
    api = {row["label"]: row for row in c.get(API, {"group_by": "sex"}).json()}
    assert api["Other"]["n"] == 2 and api["Other"]["suppressed"] is False
    body = c.get("/analytics/", {"group_by": "sex"}).content.decode()
    assert 'id="suppression"' not in body and "De-identified CSV" in body
