"""The audit trail is hash-chained per clinic, append-only on PostgreSQL, and tampering shows.

Tampering is done with raw SQL that bypasses the app (and, on PostgreSQL, the append-only
trigger, disabled inside the test's transaction). Every kind of tampering (edit, delete,
reorder, truncate; and of the values kept apart: edit, delete without an erasure) is tried at
seeded random places and must be detected every time.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from anagen.accounts.models import Clinic
from anagen.audit.chain import GENESIS, chain_key, reseal_all, verify_all, verify_chain
from anagen.audit.models import AuditAction, AuditChainHead, AuditEvent
from anagen.audit.services import audit_record

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (append-only trigger); run with DATABASE_URL=postgres://…",
)


def _events(clinic_a, clinic_b, patient_a, n: int = 12) -> None:
    actor_a = clinic_a.actor(clinic_a.physician)
    actor_b = clinic_b.actor(clinic_b.physician)
    for i in range(n):
        audit_record(
            action=AuditAction.CHART_READ,
            actor=actor_a,
            patient=patient_a,
            obj=patient_a,
            changes={"i": i, "why": "ünïcode", "x": [1.5, None, {"b": 2, "a": 1}]},
            ip_address="::ffff:10.0.0.1" if i % 2 else "10.0.0.2",
        )
        audit_record(action=AuditAction.STAFF_CREATE, actor=actor_b, changes={"i": i})
        audit_record(action=AuditAction.LOGIN_FAILURE, username=f"nobody{i}")


def _broken():
    return [r for r in verify_all() if r.brk is not None]


@contextmanager
def _tampering() -> Iterator[None]:
    """Raw SQL on the audit table, undone afterwards (the trigger is off only inside)."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Only a superuser can: triggers off for this transaction (undone with it).
                with connection.cursor() as c:
                    c.execute("SET LOCAL session_replication_role = replica")
            yield
            raise _Undo
    except _Undo:
        pass


class _Undo(Exception):
    pass


def _sql(sql: str, params: list[Any]) -> None:
    with connection.cursor() as c:
        c.execute(sql, params)


def _chain_rows(clinic_id: int | None) -> list[AuditEvent]:
    qs = AuditEvent.objects.order_by("id")
    return list(qs.filter(clinic_id=clinic_id) if clinic_id else qs.filter(clinic__isnull=True))


@pytest.mark.django_db
def test_rows_are_numbered_and_linked_per_clinic(clinic_a, clinic_b, patient_a):
    _events(clinic_a, clinic_b, patient_a, n=3)
    rows = _chain_rows(clinic_a.clinic.pk)
    # patient_create wrote the first row of clinic A's chain.
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert len({r.hash for r in rows}) == len(rows)
    head = AuditChainHead.objects.get(key=chain_key(clinic_a.clinic.pk))
    assert (head.length, head.last_hash, head.last_event_id) == (
        len(rows),
        rows[-1].hash,
        rows[-1].pk,
    )
    assert AuditChainHead.objects.get(key="no-clinic").length == 3
    assert _broken() == []


@pytest.mark.django_db
def test_verify_command_exits_0_when_intact_1_on_a_break_2_on_bad_input(
    clinic_a, clinic_b, patient_a, capsys
):
    _events(clinic_a, clinic_b, patient_a, n=2)
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert "audit chain intact: 3 chain(s)" in out and "clinic a:" in out
    call_command("audit", "verify", "--clinic", "b")
    assert "intact: 1 chain(s)" in capsys.readouterr().out
    with pytest.raises(CommandError) as bad:
        call_command("audit", "verify", "--clinic", "nowhere")
    assert bad.value.returncode == 2 and "nowhere" in str(bad.value)
    victim = _chain_rows(clinic_a.clinic.pk)[2]
    with _tampering():
        _sql("UPDATE audit_auditevent SET username = %s WHERE id = %s", ["someone else", victim.pk])
        with pytest.raises(SystemExit) as exit_:
            call_command("audit", "verify")
        assert exit_.value.code == 1
        out = capsys.readouterr().out
        assert f"BROKEN  clinic a: first broken link at event {victim.pk} (position 3)" in out
        assert "changed after it was written" in out
        assert "OK      clinic b" in out


EDITS = [
    ("username", "mallory"),
    ("action", AuditAction.PATIENT_DELETE.value),
    ("object_id", "999"),
    ("changes_digest", "a" * 64),
    ("chain_version", 1),
    ("via", "cli"),
    ("ip_address", "10.9.9.9"),
    ("seq", 99),
    ("prev_hash", "f" * 64),
    ("hash", "e" * 64),
]
TRIALS = 12


def _kinds(rows_by_chain: dict[int | None, list[AuditEvent]], rng: random.Random):
    """(kind, chain, sql statements) for one seeded tampering of each kind."""
    rows_everywhere = [r for rows in rows_by_chain.values() for r in rows]
    chain = rng.choice(sorted(rows_by_chain, key=lambda c: c or 0))
    rows = rows_by_chain[chain]
    victim = rng.choice(rows)
    field, value = rng.choice(EDITS)
    edit = f"UPDATE audit_auditevent SET {field} = %s WHERE id = %s"  # noqa: S608 - EDITS
    yield "edit", chain, [(edit, [value, victim.pk])]
    stamp = victim.at.replace(microsecond=1)
    yield (
        "edit time",
        chain,
        [("UPDATE audit_auditevent SET at = %s WHERE id = %s", [stamp, victim.pk])],
    )
    yield "delete", chain, [("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])]
    a, b = rng.sample(rows, 2)
    while a.at == b.at:  # swapping equal stamps would change nothing
        a, b = rng.sample(rows, 2)
    yield (
        "reorder times",
        chain,
        [
            ("UPDATE audit_auditevent SET at = %s WHERE id = %s", [b.at, a.pk]),
            ("UPDATE audit_auditevent SET at = %s WHERE id = %s", [a.at, b.pk]),
        ],
    )
    yield (
        "reorder ids",
        chain,
        [
            ("UPDATE audit_auditevent SET id = %s WHERE id = %s", [-1, a.pk]),
            ("UPDATE audit_auditevent SET id = %s WHERE id = %s", [a.pk, b.pk]),
            ("UPDATE audit_auditevent SET id = %s WHERE id = %s", [b.pk, -1]),
        ],
    )
    k = rng.randint(1, len(rows))
    yield (
        "truncate tail",
        chain,
        [("DELETE FROM audit_auditevent WHERE id = %s", [r.pk]) for r in rows[len(rows) - k :]],
    )
    yield "empty table", chain, [("DELETE FROM audit_auditevent", [])]
    # The values, apart from the chained rows (an erasure may delete them, nobody may edit).
    held = rng.choice([r for r in rows_everywhere if r.changes])
    values_sql = "UPDATE audit_auditchangevalues SET changes = %s WHERE event_id = %s"
    yield (
        "edit values",
        held.clinic_id,
        [(values_sql, ['{"i": 1000, "why": "x"}', held.pk])],
    )
    yield (
        "delete values",
        held.clinic_id,
        [("DELETE FROM audit_auditchangevalues WHERE event_id = %s", [held.pk])],
    )


@pytest.mark.django_db
def test_seeded_tampering_is_always_detected(clinic_a, clinic_b, patient_a):
    _events(clinic_a, clinic_b, patient_a)
    rows_by_chain = {c: _chain_rows(c) for c in (clinic_a.clinic.pk, clinic_b.clinic.pk, None)}
    assert _broken() == []
    rng = random.Random(13)
    tried: dict[str, int] = {}
    missed: list[str] = []
    for _ in range(TRIALS):
        for kind, chain, statements in list(_kinds(rows_by_chain, rng)):
            with _tampering():
                for sql, params in statements:
                    _sql(sql, params)
                broken = verify_chain(chain)
                if broken.brk is None:
                    missed.append(f"{kind} {statements}")
            tried[kind] = tried.get(kind, 0) + 1
    assert missed == []
    assert sum(tried.values()) == TRIALS * 9
    assert _broken() == []  # everything was undone


@pytest.mark.django_db
def test_the_first_broken_link_is_named(clinic_a, clinic_b, patient_a):
    _events(clinic_a, clinic_b, patient_a, n=4)
    rows = _chain_rows(clinic_b.clinic.pk)
    with _tampering():
        _sql("DELETE FROM audit_auditevent WHERE id = %s", [rows[1].pk])
        brk = verify_chain(clinic_b.clinic.pk).brk
        assert brk is not None and brk.event_id == rows[2].pk and "missing" in brk.problem
    with _tampering():
        _sql("DELETE FROM audit_auditevent WHERE id = %s", [rows[-1].pk])
        brk = verify_chain(clinic_b.clinic.pk).brk
        assert brk is not None and "at the end of the chain are missing" in brk.problem


@pytest.mark.django_db
def test_backfill_seals_rows_written_before_the_chain(clinic_a, clinic_b, patient_a):
    _events(clinic_a, clinic_b, patient_a, n=3)
    with _tampering():
        _sql("UPDATE audit_auditevent SET seq = NULL, prev_hash = '', hash = ''", [])
        AuditChainHead.objects.all().delete()
        assert _broken()
        assert reseal_all() == AuditEvent.objects.count()
        assert _broken() == []
        assert [r.seq for r in _chain_rows(None)] == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_parallel_appends_keep_every_chain_intact(clinic_a, clinic_b):
    threads_n, per_thread = 6, 5
    errors: list[BaseException] = []
    actor = clinic_a.actor(clinic_a.nurse)

    def work() -> None:
        try:
            for i in range(per_thread):
                audit_record(action=AuditAction.STAFF_CREATE, actor=actor, changes={"i": i})
                audit_record(action=AuditAction.LOGIN_FAILURE, username="x")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    results = {r.key: r for r in verify_all()}
    assert all(r.brk is None for r in results.values()), results
    assert results[chain_key(clinic_a.clinic.pk)].length == threads_n * per_thread
    assert results["no-clinic"].length == threads_n * per_thread


@postgres_only
@pytest.mark.django_db
def test_postgresql_refuses_update_and_delete_of_audit_rows(clinic_a):
    event = audit_record(action=AuditAction.STAFF_CREATE, actor=clinic_a.actor(clinic_a.admin))
    for statement in (
        "UPDATE audit_auditevent SET username = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _sql(statement, [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(via="cli")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk, via="web").exists()
    assert Clinic.objects.filter(pk=clinic_a.clinic.pk).exists()
