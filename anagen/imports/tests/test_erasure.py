"""Erasure (GDPR art. 17): restricted at once, kept until the retention end date, then purged.

The purge leaves no row, no history row and no file of the patient (every model that hangs off
the patient, found by the model graph walk), keeps the audit trail and its hash chain intact,
and audits itself with counts only.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from anagen.accounts.access import patient_for, patients_for
from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.audit.chain import verify_all
from anagen.audit.models import AuditEvent
from anagen.care.selectors import assessments_for
from anagen.care.tests.helpers import assess, consent, record_intake
from anagen.imports import erasure
from anagen.imports.models import ErasureRequest, ErasureStatus, PatientExport
from anagen.outcomes import services as outcomes
from anagen.outcomes.tests.helpers import jpeg, photo_consent, record
from anagen.patients.models import Patient
from anagen.scale.graph import history_model_of

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.TASKS = IMMEDIATE
    settings.MEDIA_ROOT = tmp_path


def _rule(staff, years: int = 10) -> None:
    erasure.retention_rule_set(
        actor=staff.actor(staff.admin), years=years, basis="Germany: § 630f(3) BGB"
    )


def _full_record(staff, patient, django_capture_on_commit_callbacks) -> None:
    record_intake(staff, patient, allergies=[{"substance": "Lidocaine", "reaction": "rash"}])
    assess(staff, patient)
    consent(staff, patient)
    photo_consent(staff, patient)
    nurse = staff.actor(staff.nurse)
    ps = outcomes.photo_set_create(actor=nurse, patient=patient, taken_on=dt.date(2026, 1, 5))
    outcomes.photo_add(actor=nurse, photo_set=ps, view="vertex", content=jpeg())
    record(staff, patient, dt.date(2026, 1, 5), "baseline", density=120.0)
    with django_capture_on_commit_callbacks(execute=True):
        staff.client(staff.physician).post(f"/patients/{patient.pk}/export/")
    assert PatientExport.objects.get(patient=patient).file


def test_no_erasure_without_a_retention_rule_and_no_default(clinic_a, patient_a):
    with pytest.raises(ValidationError, match="retention period"):
        erasure.erasure_request(
            actor=clinic_a.actor(clinic_a.physician),
            patient=patient_a,
            received_on=dt.date(2026, 11, 30),
        )
    page = clinic_a.client(clinic_a.physician).get(f"/patients/{patient_a.pk}/erasure/")
    assert page.status_code == 200 and "set how long this clinic" in page.content.decode()
    rules = erasure.known_rules()
    assert any(r.years == 10 and "630f" in r.source for r in rules)  # versioned, with its source


def test_the_retention_page_saves_a_known_rule(clinic_a):
    c = clinic_a.client(clinic_a.admin)
    assert c.get("/settings/retention/").status_code == 200
    assert c.post("/settings/retention/", {"rule": "", "years": ""}).status_code == 400
    assert c.post("/settings/retention/", {"rule": "DE"}).status_code == 302
    rule = erasure.retention_rule_get(actor=clinic_a.actor(clinic_a.admin))
    assert rule is not None and rule.years == 10 and "630f" in rule.basis
    assert clinic_a.client(clinic_a.nurse).get("/settings/retention/").status_code == 403


def test_restriction_is_immediate_on_pages_and_api(clinic_a, clinic_b, patient_a):
    _rule(clinic_a)
    assess(clinic_a, patient_a)
    c = clinic_a.client(clinic_a.physician)
    assert c.get(f"/patients/{patient_a.pk}/").status_code == 200
    r = c.post(f"/patients/{patient_a.pk}/erasure/", {"received_on": "2026-11-02", "confirm": "on"})
    assert r.status_code == 302
    req = ErasureRequest.objects.get(patient_id=patient_a.pk)
    assert req.status == ErasureStatus.RESTRICTED and req.retention_years == 10
    assert req.keep_until == erasure.add_years(req.last_visit_on, 10)

    for user in (clinic_a.physician, clinic_a.nurse, clinic_a.front_desk, clinic_a.admin):
        page = clinic_a.client(user).get(f"/patients/{patient_a.pk}/")
        assert page.status_code == 403
        text = page.content.decode()
        assert "restricted" in text and "a Physician" in text  # by whom
        assert "Álvarez" not in text
    assert c.get(f"/patients/{patient_a.pk}/export/").status_code == 403
    assert f'href="/patients/{patient_a.pk}/"' not in c.get("/patients/?q=Álvarez").content.decode()
    actor = clinic_a.actor(clinic_a.nurse)
    assert not patients_for(actor).filter(pk=patient_a.pk).exists()
    # Everything under the patient is hidden too (selectors scope by live patients) …
    assert not assessments_for(actor).filter(patient_id=patient_a.pk).exists()
    # … and it cannot be brought back from the deleted-records list.
    deleted = clinic_a.client(clinic_a.admin).get("/patients/deleted/")
    assert deleted.status_code == 200 and "Álvarez" not in deleted.content.decode()
    with pytest.raises(PermissionDenied, match="restricted"):
        patient_for(actor, patient_a.pk)
    # The erasure page still says what happened (and shows no name).
    page = c.get(f"/patients/{patient_a.pk}/erasure/")
    assert page.status_code == 200 and "restricted" in page.content.decode()
    assert "Álvarez" not in page.content.decode()

    _, raw = api_token_create(
        membership=Membership.objects.get(user=clinic_a.physician, clinic=clinic_a.clinic), name="t"
    )
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    refused = api.get(f"/api/v1/patients/{patient_a.pk}")
    assert refused.status_code == 403 and "restricted" in refused.json()["detail"]
    assert api.get("/api/v1/patients", {"q": "Álvarez"}).json()["count"] == 0
    # Another clinic still learns nothing: a 404.
    other = clinic_b.client(clinic_b.physician)
    assert other.get(f"/patients/{patient_a.pk}/").status_code == 404
    assert other.get(f"/patients/{patient_a.pk}/erasure/").status_code == 404


def _leftovers(owned: erasure.Owned, patient_id: int) -> list[str]:
    """Every row anywhere (history tables included) that is, or points at, one of the rows the
    patient owned before the purge."""
    found = []
    targets = {m: ids for m, ids in owned.ids.items() if ids}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.label in erasure.KEPT:
            continue
        if model in targets and model._base_manager.filter(pk__in=targets[model]).exists():
            found.append(model._meta.label)
        for f in model._meta.concrete_fields:
            if not f.is_relation or f.related_model not in targets:
                continue
            if model._base_manager.filter(
                **{f"{f.attname}__in": targets[f.related_model]}
            ).exists():
                found.append(f"{model._meta.label}.{f.name}")
    for model, ids in targets.items():
        shadow = history_model_of(model)
        pk = model._meta.pk.attname
        if shadow is not None and shadow._base_manager.filter(**{f"{pk}__in": ids}).exists():
            found.append(shadow._meta.label)
    return found


def test_purge_refused_before_the_end_date_then_leaves_nothing(
    clinic_a, patient_a, patient_b, tmp_path, django_capture_on_commit_callbacks
):
    _full_record(clinic_a, patient_a, django_capture_on_commit_callbacks)
    # Some history to erase: an edit of the demographics.
    Patient.history.filter(id=patient_a.pk).exists()
    _rule(clinic_a)
    admin = clinic_a.actor(clinic_a.admin)
    req = erasure.erasure_request(actor=admin, patient=patient_a, received_on=dt.date(2026, 11, 2))
    owned = erasure.owned_by(patient_a.pk)
    assert len([m for m, ids in owned.ids.items() if ids]) >= 8 and owned.files
    assert Patient.history.filter(id=patient_a.pk).exists()

    with pytest.raises(ValidationError, match="kept until"):
        erasure.erasure_purge(request=req, today=req.keep_until)
    assert erasure.erasure_run(today=req.keep_until) == []
    assert Patient.all_objects.filter(pk=patient_a.pk).exists()

    after = req.keep_until + dt.timedelta(days=1)
    call_command("erasure", "run", "--today", after.isoformat())
    req.refresh_from_db()
    assert req.status == ErasureStatus.PURGED and req.purged_counts["patients.patient"] == 1
    assert _leftovers(owned, patient_a.pk) == []
    files = [p for p in Path(tmp_path).rglob("*") if p.is_file()]
    assert files == []
    # The other patient is untouched.
    assert Patient.objects.filter(pk=patient_b.pk).exists()

    # The audit trail stays, still verifies, and the purge is in it with counts only.
    assert AuditEvent.objects.filter(patient_id=patient_a.pk).count() > 5
    assert all(result.brk is None for result in verify_all())
    purge = AuditEvent.objects.get(action="erasure.purge")
    assert purge.patient_id == patient_a.pk and purge.clinic_id == clinic_a.clinic.pk
    assert set(purge.changes) == {"keep_until", "rows", "files", "bulk_exports"}
    assert "Álvarez" not in str(purge.changes)
    # The audit rows stay, their values (names, notes …) went with the record.
    leaking = {
        e.action
        for e in AuditEvent.objects.filter(patient_id=patient_a.pk)
        if "Álvarez" in json.dumps(e.changes, ensure_ascii=False)
    }
    assert leaking == set()
    # Running again purges nothing twice.
    assert erasure.erasure_run(today=after) == []
    with pytest.raises(ValidationError, match="already erased"):
        erasure.erasure_purge(request=req, today=after)


def test_only_the_permitted_roles_and_the_right_clinic(clinic_a, clinic_b, patient_a):
    _rule(clinic_a)
    for user in (clinic_a.nurse, clinic_a.front_desk):
        assert clinic_a.client(user).get(f"/patients/{patient_a.pk}/erasure/").status_code == 403
    with pytest.raises(PermissionDenied):
        erasure.erasure_request(
            actor=clinic_a.actor(clinic_a.nurse),
            patient=patient_a,
            received_on=dt.date(2026, 11, 2),
        )
    c = clinic_a.client(clinic_a.physician)
    bad = c.post(f"/patients/{patient_a.pk}/erasure/", {"received_on": "2026-11-02"})
    assert bad.status_code == 400  # no confirmation ticked
    assert not ErasureRequest.objects.exists()


def test_bad_command_input_is_exit_2():
    with pytest.raises(CommandError) as exc:
        call_command("erasure", "run", "--today", "soon")
    assert exc.value.returncode == 2


def test_the_uploaded_file_that_brought_the_patient_in_loses_its_text(
    clinic_a, django_capture_on_commit_callbacks
):
    from anagen.imports.models import ImportedRecord, PatientImport
    from anagen.imports.tests.test_patient_import import rows, run, to_csv

    job = run(clinic_a, to_csv(rows(3)), django_capture_on_commit_callbacks)
    imported = ImportedRecord.objects.get(source=job, external_id="EXT-00002").patient
    _rule(clinic_a)
    req = erasure.erasure_request(
        actor=clinic_a.actor(clinic_a.admin), patient=imported, received_on=dt.date(2026, 11, 2)
    )
    erasure.erasure_purge(request=req, today=req.keep_until + dt.timedelta(days=1))
    job = PatientImport.objects.get(pk=job.pk)
    assert "Given2" not in job.content and job.created_count == 3
    assert ImportedRecord.objects.filter(source=job).count() == 2  # the others stay linked


def test_one_record_that_cannot_be_purged_does_not_stop_the_others(
    clinic_a, patient_a, patient_b, monkeypatch
):
    from conftest import make_patient

    other = make_patient(clinic_a, given_name="Bea", family_name="Costa")
    _rule(clinic_a)
    admin = clinic_a.actor(clinic_a.admin)
    first = erasure.erasure_request(
        actor=admin, patient=patient_a, received_on=dt.date(2026, 11, 2)
    )
    erasure.erasure_request(actor=admin, patient=other, received_on=dt.date(2026, 11, 2))
    real = erasure.erasure_purge

    def flaky(*, request, today, via="cli"):
        if request.pk == first.pk:
            raise RuntimeError("disk on fire")
        return real(request=request, today=today, via=via)

    monkeypatch.setattr(erasure, "erasure_purge", flaky)
    with pytest.raises(CommandError) as exc:
        call_command(
            "erasure", "run", "--today", (first.keep_until + dt.timedelta(days=1)).isoformat()
        )
    assert exc.value.returncode == 1
    assert not Patient.all_objects.filter(pk=other.pk).exists()
    assert Patient.all_objects.filter(pk=patient_a.pk).exists()
