"""Audit values live apart from the hash chain, so an erasure purge can delete them.

The chain hashes a salted digest of each event's values (format 2); the values sit in
AuditChangeValues, which a purge deletes for the erased patient (and for searches that named
them). Afterwards no personal value of the patient is left in any audit table, the chain still
verifies, the page says "erased", and editing a value that was kept is still detected. Events
written before the values moved (format 1) keep their hashes and stay verifiable after a purge
through the seal the upgrade migration wrote.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.audit import chain
from anagen.audit.chain import GENESIS, verify_all, verify_chain
from anagen.audit.models import AuditAction, AuditChainHead, AuditChangeValues, AuditEvent
from anagen.audit.services import audit_record, audit_values_erase
from anagen.audit.tests.test_chain import _events, _sql, _tampering, postgres_only
from anagen.billing.tests.helpers import issued, prices
from anagen.care import services as care
from anagen.care.tests.helpers import assess
from anagen.imports import erasure
from anagen.imports.models import ImportedRecord
from anagen.imports.tests.test_patient_import import rows, run, to_csv
from anagen.patients.models import Patient
from anagen.patients.services import patient_update
from anagen.scheduling.services.booking import appointment_book, appointment_update_notes
from anagen.scheduling.tests.conftest import at, make_kit, next_monday

pytestmark = pytest.mark.django_db
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}

FAMILY = "Wąsowicz-Quintero"
GIVEN = "Zofia"
EMAIL = "zofia.wq@example.net"
PHONE = "+447700900777"
NOTES = ("Parks by the bakery ZQ-NOTE-1", "Prefers mornings ZQ-NOTE-2", "ZQ-ASSESS-NOTE-3")


@pytest.fixture(autouse=True)
def _tasks(settings, tmp_path):
    settings.TASKS = IMMEDIATE
    settings.MEDIA_ROOT = tmp_path
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def _broken() -> list[Any]:
    return [r for r in verify_all() if r.brk is not None]


def _audit_text() -> str:
    """Every row of every audit table, as stored (SQLite keeps JSON \\u-escaped)."""
    parts = []
    with connection.cursor() as cursor:
        for model in apps.get_app_config("audit").get_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - model tables
            parts += [" | ".join(str(v) for v in row) for row in cursor.fetchall()]
    return "\n".join(parts)


def _hits(text: str, needles: list[str]) -> list[str]:
    low = text.casefold()
    found = []
    for needle in needles:
        forms = {needle, json.dumps(needle)[1:-1], json.dumps(needle, ensure_ascii=False)[1:-1]}
        if any(form.casefold() in low for form in forms):
            found.append(needle)
    return found


def test_values_live_apart_and_the_chain_covers_their_salted_digest(clinic_a, patient_a):
    event = audit_record(
        action=AuditAction.STAFF_CREATE,
        actor=clinic_a.actor(clinic_a.admin),
        patient=patient_a,
        changes={"phone": "07700 900123"},
    )
    values = AuditChangeValues.objects.get(event=event)
    assert values.patient_id == patient_a.pk and len(values.salt) == 32
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.chain_version == chain.CHAIN_VERSION
    assert stored.changes_digest == chain.values_digest(values.salt, values.changes)
    assert "07700" not in chain.canonical(stored).decode()  # the hash covers the digest only
    assert stored.changes == {"phone": "07700 900123"} and not stored.changes_erased
    # Another row with the same values gets another salt, so another digest.
    again = audit_record(
        action=AuditAction.STAFF_CREATE,
        actor=clinic_a.actor(clinic_a.admin),
        patient=patient_a,
        changes={"phone": "07700 900123"},
    )
    assert AuditEvent.objects.get(pk=again.pk).changes_digest != stored.changes_digest
    # Nothing changed: no values row, an empty digest.
    read = audit_record(action=AuditAction.CHART_READ, actor=clinic_a.actor(clinic_a.nurse))
    assert read.changes_digest == "" and not AuditChangeValues.objects.filter(event=read).exists()
    assert AuditEvent.objects.get(pk=read.pk).changes == {}
    assert _broken() == []


def _patient_through_every_action(clinic_a, kit, capture) -> Patient:
    """A patient whose name, e-mail, phone and notes went through every action that records
    personal values: CSV import (patient.create, patient_import.commit), patient.update,
    appointment notes, assessment create/update, the invoice e-mail, a search by name."""
    job = run(clinic_a, to_csv(rows(3)), capture)
    patient = ImportedRecord.objects.get(source=job, external_id="EXT-00002").patient
    patient = patient_update(
        actor=clinic_a.actor(clinic_a.front_desk),
        patient=patient,
        data={
            "given_name": GIVEN,
            "family_name": FAMILY,
            "email": EMAIL,
            "phone": "07700 900777",
            "email_reminders": True,
        },
    )
    assert patient.phone == PHONE
    desk = clinic_a.actor(clinic_a.front_desk)
    appt = appointment_book(
        actor=desk,
        patient=patient,
        kind="consultation",
        procedure="",
        starts_at=at(next_monday(), 10),
        practitioner_id=kit.physician.pk,
        room_id=kit.room1.pk,
        notes=NOTES[0],
    )
    appointment_update_notes(actor=desk, appointment=appt, notes=NOTES[1])
    draft = assess(clinic_a, patient, sign=False, notes="first look")
    care.assessment_update(
        actor=clinic_a.actor(clinic_a.physician),
        assessment=draft,
        data=care.AssessmentData(
            visit_on=draft.visit_on,
            diagnosis_code="androgenetic_alopecia",
            scale_id="norwood_hamilton",
            scale_value="III vertex",
            follicles_present=True,
            notes=NOTES[2],
        ),
    )
    prices(clinic_a)
    with capture(execute=True):
        issued(clinic_a, patient, "consultation")
    page = clinic_a.client(clinic_a.front_desk).get("/patients/", {"q": FAMILY})
    assert page.status_code == 200
    actions = set(AuditEvent.objects.filter(patient_id=patient.pk).values_list("action", flat=True))
    assert {
        "patient.create",
        "patient.update",
        "appointment.update",
        "assessment.create",
        "assessment.update",
        "billing.invoice.email",
    } <= actions
    assert AuditEvent.objects.filter(action="patient_import.commit").exists()
    searched = AuditEvent.objects.filter(action="patient_list.read").last()
    assert searched is not None and FAMILY in json.dumps(searched.changes, ensure_ascii=False)
    return patient


def test_after_a_purge_no_personal_value_is_left_in_the_audit_tables(
    clinic_a, patient_b, django_capture_on_commit_callbacks
):
    kit = make_kit(clinic_a)
    patient = _patient_through_every_action(clinic_a, kit, django_capture_on_commit_callbacks)
    needles = [FAMILY, EMAIL, PHONE, "07700 900777", "7700900777", *NOTES]
    needles += ["Given2", "Family2", "p2@example.com", "07700 900002", "7700900002"]
    assert set(_hits(_audit_text(), needles)) >= {FAMILY, EMAIL, *NOTES, "Family2"}
    kept = audit_record(
        action=AuditAction.STAFF_CREATE,
        actor=clinic_a.actor(clinic_a.admin),
        changes={"name": "A colleague"},
    )

    erasure.retention_rule_set(actor=clinic_a.actor(clinic_a.admin), years=10, basis="Policy")
    req = erasure.erasure_request(
        actor=clinic_a.actor(clinic_a.admin), patient=patient, received_on=dt.date(2026, 11, 2)
    )
    counts = erasure.erasure_purge(request=req, today=req.keep_until + dt.timedelta(days=1))
    assert counts["audit_values"] >= 8

    assert _hits(_audit_text(), needles) == []
    events = AuditEvent.objects.filter(patient_id=patient.pk)
    assert events.count() > 8  # who, when, what and which record stay
    erased = [e for e in events if e.changes_erased]
    assert {e.action for e in erased} >= {"patient.update", "appointment.update"}
    purge = AuditEvent.objects.get(action="erasure.purge")
    assert purge.changes is not None and purge.changes["rows"] > 0
    assert purge.changes["list_events_erased"]  # the search by name
    call_command("audit", "verify")  # exit 0 (SystemExit otherwise)
    assert _broken() == []

    # The page and the API say "erased" instead of failing.
    html = clinic_a.client(clinic_a.admin).get("/audit/", {"patient": patient.pk})
    assert html.status_code == 200 and "Erased with the patient" in html.content.decode()
    _, raw = api_token_create(
        membership=Membership.objects.get(user=clinic_a.admin, clinic=clinic_a.clinic), name="t"
    )
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    body = api.get("/api/v1/audit/events", {"patient_id": patient.pk}).json()
    assert any(r["changes_erased"] and r["changes"] is None for r in body["results"])

    # Editing a value that was kept is still detected; so is deleting one outside a purge.
    with _tampering():
        _sql(
            "UPDATE audit_auditchangevalues SET changes = %s WHERE event_id = %s",
            ['{"name": "Someone else"}', kept.pk],
        )
        brk = verify_chain(clinic_a.clinic.pk).brk
        assert brk is not None and brk.event_id == kept.pk and "values were changed" in brk.problem
    with _tampering():
        _sql("DELETE FROM audit_auditchangevalues WHERE event_id = %s", [kept.pk])
        brk = verify_chain(clinic_a.clinic.pk).brk
        assert brk is not None and brk.event_id == kept.pk and "no erasure purge" in brk.problem
    # Editing an erased event's own row still breaks its hash.
    with _tampering():
        _sql("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["chart.read", erased[0].pk])
        assert verify_chain(clinic_a.clinic.pk).brk is not None
    assert _broken() == []


# --- format 1: events written before the values moved ---------------------------------------


def _as_format_1() -> None:
    """Rewrite every event as the upgrade migration finds it (format 1: hashed over its values,
    values rows without salt), then seal, as migration 0017 does. Triggers off (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("SET LOCAL session_replication_role = replica")
    AuditChangeValues.objects.update(salt="")
    for head in AuditChainHead.objects.all():
        qs = AuditEvent.objects.select_related("change_values").order_by("id")
        qs = qs.filter(clinic_id=head.clinic_id) if head.clinic_id else qs.filter(clinic=None)
        prev = GENESIS
        for event in qs:
            values = getattr(event, "change_values", None)
            event.chain_version, event.changes_digest = 1, ""
            event.hash = chain.event_hash(event, prev, changes=values.changes if values else {})
            AuditEvent.objects.filter(pk=event.pk).update(
                chain_version=1, changes_digest="", prev_hash=prev, hash=event.hash
            )
            prev = event.hash
        head.last_hash = prev
        head.save(update_fields=["last_hash"])
    chain.seal_legacy(AuditEvent, AuditChainHead)


def test_events_written_before_the_upgrade_verify_and_can_be_erased(clinic_a, clinic_b, patient_a):
    _events(clinic_a, clinic_b, patient_a, n=4)
    with transaction.atomic():
        _as_format_1()
    head = AuditChainHead.objects.get(clinic=clinic_a.clinic)
    assert head.legacy_length == head.length >= 5 and head.legacy_seal
    assert _broken() == []
    legacy = list(AuditEvent.objects.filter(clinic=clinic_a.clinic).order_by("id"))
    assert {e.chain_version for e in legacy} == {1}
    assert legacy[-1].changes == {"i": 3, "why": "ünïcode", "x": [1.5, None, {"a": 1, "b": 2}]}

    # New events continue the chain in format 2, linked through the seal.
    actor = clinic_a.actor(clinic_a.admin)
    first = audit_record(action=AuditAction.STAFF_CREATE, actor=actor, changes={"i": 99})
    assert first.prev_hash == chain.bridge(head.last_hash, head.legacy_seal)
    assert _broken() == []

    # A kept format-1 value is still covered by its old hash.
    victim = next(e for e in legacy if e.action == "chart.read")
    with _tampering():
        _sql(
            "UPDATE audit_auditchangevalues SET changes = %s WHERE event_id = %s",
            ['{"i": 1000}', victim.pk],
        )
        brk = verify_chain(clinic_a.clinic.pk).brk
        assert brk is not None and brk.event_id == victim.pk

    # Erase the patient's values: the format-1 events verify through the seal.
    purge = audit_record(
        action=AuditAction.ERASURE_PURGE, clinic=clinic_a.clinic, patient=patient_a,
        username="erasure job", changes={"rows": 1},
    )  # fmt: skip
    assert audit_values_erase(patient_id=patient_a.pk, purge_event=purge) >= 4
    assert AuditEvent.objects.get(pk=victim.pk).changes_erased
    assert AuditEvent.objects.get(pk=legacy[0].pk).changes_erased  # patient.create
    call_command("audit", "verify")
    assert _broken() == []
    # … and editing an erased format-1 event, or the seal, is detected.
    with _tampering():
        _sql("UPDATE audit_auditevent SET username = %s WHERE id = %s", ["mallory", victim.pk])
        assert verify_chain(clinic_a.clinic.pk).brk is not None
    with _tampering():
        AuditChainHead.objects.filter(pk=head.pk).update(legacy_seal="f" * 64)
        brk = verify_chain(clinic_a.clinic.pk).brk
        assert brk is not None and "before the upgrade" in brk.problem
    with _tampering():
        _sql("UPDATE audit_auditevent SET chain_version = 1 WHERE id = %s", [first.pk])
        assert verify_chain(clinic_a.clinic.pk).brk is not None
    assert _broken() == []


@postgres_only
def test_postgresql_lets_values_be_erased_but_never_changed(clinic_a, patient_a):
    event = audit_record(
        action=AuditAction.STAFF_CREATE,
        actor=clinic_a.actor(clinic_a.admin),
        patient=patient_a,
        changes={"a": 1},
    )
    with pytest.raises(DatabaseError, match="only erased"), transaction.atomic():
        AuditChangeValues.objects.filter(event=event).update(changes={"a": 2})
    assert AuditChangeValues.objects.filter(event=event).delete()[0] == 1
