"""Outcomes ask the permission table, never role names; views reach the ORM through selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from anagen.accounts.permissions import Perm, role_has
from anagen.outcomes import selectors, services

pytestmark = pytest.mark.django_db
APP = Path(__file__).resolve().parents[1]


def test_raters_are_whoever_may_read_clinical_photos(clinic_a):
    actor = clinic_a.actor(clinic_a.physician)
    chosen = {user_id for user_id, _ in selectors.rater_choices(actor)}
    staff = (clinic_a.physician, clinic_a.nurse, clinic_a.front_desk, clinic_a.admin)
    expected = {
        u.pk for u in staff if role_has(clinic_a.actor(u).membership.role, services.RATER_PERM)
    }
    assert chosen == expected and clinic_a.physician.pk in chosen
    assert clinic_a.front_desk.pk not in chosen


def test_pages_follow_the_table(clinic_a, patient_a):
    for user in (clinic_a.physician, clinic_a.nurse, clinic_a.front_desk, clinic_a.admin):
        role = clinic_a.actor(user).membership.role
        c = clinic_a.client(user)
        record_page = c.get(f"/patients/{patient_a.pk}/outcomes/new/").status_code
        assert record_page == (200 if role_has(role, Perm.OUTCOMES_RECORD) else 403), role
        panels = c.get("/ratings/")
        if role_has(role, Perm.CLINICAL_VIEW):
            can_create = "New panel" in panels.content.decode()
            assert can_create == role_has(role, Perm.RATING_MANAGE), role
        else:
            assert panels.status_code == 403
        measurements = c.get(f"/patients/{patient_a.pk}/outcomes/").content.decode()
        if role_has(role, Perm.CLINICAL_VIEW):
            shows_record = "Record measurements" in measurements
            assert shows_record == role_has(role, Perm.OUTCOMES_RECORD), role


def test_views_use_no_orm_and_no_role_names():
    for name in ("views.py",):
        text = (APP / name).read_text(encoding="utf-8")
        assert ".objects" not in text
    for path in [*APP.glob("*.py"), *APP.glob("services/*.py"), *APP.glob("selectors/*.py")]:
        if path.name == "api.py":
            continue  # the API helper's file
        text = path.read_text(encoding="utf-8")
        assert "Role." not in text and ".role ==" not in text and ".role !=" not in text, path
    for path in (APP / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "role ==" not in text and "intake_record" not in text, path
