"""On PostgreSQL an audit event is appended to its chain in one statement (issue 15).

The database numbers, links and hashes the event from the locked chain head; the result must
be byte for byte what `chain.append` computes, so `anagen audit verify` and the tamper tests
hold whichever path wrote a row. A chain without a head, or whose next link is the legacy
bridge, is appended the long way.
"""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from anagen.audit import chain
from anagen.audit.chain import chain_key, verify_all
from anagen.audit.models import AuditAction, AuditChainHead, AuditEvent
from anagen.audit.services import audit_record

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the one-statement append is PostgreSQL's; run with DATABASE_URL=postgres://…",
)


def _intact() -> None:
    broken = [r for r in verify_all() if r.brk is not None]
    assert broken == []


@postgres_only
@pytest.mark.django_db
def test_an_audited_read_is_one_statement_and_verifies(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.physician)
    audit_record(action=AuditAction.CHART_READ, actor=actor, patient=patient_a)  # head exists
    with CaptureQueriesContext(connection) as ctx:
        event = audit_record(
            action=AuditAction.CHART_READ,
            actor=actor,
            patient=patient_a,
            obj=patient_a,
            changes={"why": "ünïcode ✓", "x": [1.5, None, {"b": 2, "a": 1}], "q": 'a\nb"c'},
            ip_address="::ffff:10.0.0.1",
        )
    assert len(ctx) == 1, [q["sql"] for q in ctx.captured_queries]
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.seq, stored.prev_hash, stored.hash) == (event.seq, event.prev_hash, event.hash)
    assert stored.hash == chain.event_hash(stored, stored.prev_hash)
    assert stored.changes == {"why": "ünïcode ✓", "x": [1.5, None, {"b": 2, "a": 1}], "q": 'a\nb"c'}
    head = AuditChainHead.objects.get(key=chain_key(clinic_a.clinic.pk))
    assert (head.length, head.last_hash, head.last_event_id) == (event.seq, event.hash, event.pk)
    _intact()


@postgres_only
@pytest.mark.django_db
def test_inside_the_callers_transaction_no_savepoint_is_made(clinic_a):
    actor = clinic_a.actor(clinic_a.nurse)
    audit_record(action=AuditAction.STAFF_CREATE, actor=actor)
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        audit_record(action=AuditAction.STAFF_CREATE, actor=actor, changes={"i": 1})
        audit_record(action=AuditAction.STAFF_CREATE, actor=actor)  # no values
    assert len(ctx) == 2
    _intact()


@postgres_only
@pytest.mark.django_db
def test_a_chain_without_a_head_or_at_the_legacy_bridge_goes_the_long_way(clinic_a):
    AuditChainHead.objects.filter(key="no-clinic").delete()
    event = AuditEvent(action=AuditAction.LOGIN_FAILURE, username="nobody")
    event.changes = {}
    assert chain.append_in_one_statement(event) is False
    audit_record(action=AuditAction.LOGIN_FAILURE, username="nobody")  # creates the head
    assert AuditChainHead.objects.get(key="no-clinic").length == 1
    # The first event after sealed format-1 events links to the bridge: not in one statement.
    head = AuditChainHead.objects.get(key="no-clinic")
    head.legacy_length = head.length
    head.save(update_fields=["legacy_length"])
    event = AuditEvent(action=AuditAction.LOGIN_FAILURE, username="nobody")
    event.changes = {"a": 1}
    count = AuditEvent.objects.count()
    assert chain.append_in_one_statement(event) is False
    assert AuditEvent.objects.count() == count
    written = audit_record(action=AuditAction.LOGIN_FAILURE, username="nobody")
    assert written.prev_hash == chain.bridge(head.last_hash, head.legacy_seal)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_one_statement_appends_keep_the_chain_intact(clinic_a):
    """Writers in and outside transactions of their own, at once: every event numbered once,
    linked to the one before it, and the head at the end."""
    actor = clinic_a.actor(clinic_a.nurse)
    audit_record(action=AuditAction.STAFF_CREATE, actor=actor)
    threads_n, per_thread = 8, 12
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                if (n + i) % 2:
                    with transaction.atomic():
                        audit_record(action=AuditAction.STAFF_CREATE, actor=actor, changes={"i": i})
                else:
                    audit_record(action=AuditAction.STAFF_CREATE, actor=actor)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = list(AuditEvent.objects.filter(clinic_id=clinic_a.clinic.pk).order_by("id"))
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    results = {r.key: r for r in verify_all()}
    assert all(r.brk is None for r in results.values()), results
    assert results[chain_key(clinic_a.clinic.pk)].length == len(rows)
