"""The audit trail's hash chain: one chain per clinic, one for events without a clinic.

Each row stores its place in the chain (`seq`, 1, 2, 3 …), the previous row's hash and its own
hash: SHA-256 over a canonical serialisation of its fields and the previous hash. Editing a
row breaks its hash; deleting or reordering rows breaks the links and the numbering; removing
rows at the end (or emptying the table) no longer matches the chain head, which records the
chain's length and last hash. Whoever can rewrite every row AND the head can forge a chain, so
keep the heads' hashes outside the database (`anagen audit verify` prints them) if that matters.

Values and erasure (chain format 2): what an event changed lives apart, in AuditChangeValues,
which an erasure purge may delete. The event's hash covers `changes_digest`, SHA-256 over a
random per-row salt (kept with the values, so it goes with them) and the canonical JSON of the
values. An event whose values are present verifies by recomputing the digest (editing a kept
value is detected); one whose values were purged verifies by its stored digest, and only if an
`erasure.purge` event for its patient follows in the chain (values deleted otherwise are
reported). Events written before format 2 (format 1: the hash covers the values themselves)
keep their hashes and links; the upgrade migration sealed them together ("legacy seal": a
hash over each one's metadata and hash, in order, kept in the chain head and folded into the
link of the first format-2 event), so a format-1 event whose values were purged still cannot
be edited unnoticed.

Appending is serialised per chain: on PostgreSQL by locking the chain head row until the
transaction commits; on SQLite every transaction already holds the one database write lock
(BEGIN IMMEDIATE) and `serialised` queues the threads of one process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from anagen.audit.models import AuditChainHead, AuditChangeValues, AuditEvent

NO_CLINIC = "no-clinic"
GENESIS = "0" * 64
CHAIN_VERSION = 2
# The fields a format-1 hash covers, in order. A new field is added at the end (and hashed only
# when set), so rows hashed before it keep verifying.
HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "username",
    "clinic_id",
    "action",
    "patient_id",
    "object_type",
    "object_id",
    "changes",
    "ip_address",
    "via",
)
# Format 2: the values' salted digest instead of the values, and the format itself.
HASHED_FIELDS_V2 = (
    *("changes_digest" if name == "changes" else name for name in HASHED_FIELDS),
    "chain_version",
)
# What the legacy seal covers of a format-1 event besides its hash: everything but the values.
SEALED_FIELDS = tuple(name for name in HASHED_FIELDS if name != "changes")


def chain_key(clinic_id: int | None) -> str:
    return f"clinic:{clinic_id}" if clinic_id is not None else NO_CLINIC


def _canonical_value(name: str, value: Any) -> Any:
    if name == "at" and value is not None:
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if name == "ip_address" and value:
        return str(ipaddress.ip_address(value))
    if (
        name in ("actor_id", "clinic_id", "patient_id", "seq", "chain_version")
        and value is not None
    ):
        return int(value)
    return value


def _dumps(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def version_of(event: Any) -> int:
    return int(getattr(event, "chain_version", None) or 1)


def canonical(event: Any, changes: Any = None) -> bytes:
    """The bytes a row's hash covers (without the previous hash).

    Format 1 covers the values (`changes`, or the event's own); format 2 their digest.
    """
    if version_of(event) >= 2:
        data = {name: _canonical_value(name, getattr(event, name)) for name in HASHED_FIELDS_V2}
    else:
        data = {
            name: _canonical_value(name, getattr(event, name))
            for name in HASHED_FIELDS
            if name != "changes"
        }
        data["changes"] = event.stored_changes if changes is None else changes
    return _dumps(data)


def event_hash(event: Any, prev_hash: str, changes: Any = None) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(event, changes)).hexdigest()


def values_digest(salt: str, changes: dict[str, Any]) -> str:
    """The salted digest of an event's values that its (format 2) hash covers."""
    return hashlib.sha256(
        b"audit-values\n" + salt.encode("ascii") + b"\n" + _dumps(changes)
    ).hexdigest()


def written_without_changes(event: Any) -> bool:
    """A format-1 event (whose values row is absent) was written with no values at all."""
    return bool(event.hash) and event_hash(event, event.prev_hash, changes={}) == event.hash


def seal_step(seal: str, event: Any) -> str:
    """The legacy seal after one more format-1 event: its metadata and its hash."""
    data = {name: _canonical_value(name, getattr(event, name)) for name in SEALED_FIELDS}
    body = seal.encode("ascii") + b"\n" + event.hash.encode("ascii") + b"\n" + _dumps(data)
    return hashlib.sha256(body).hexdigest()


def bridge(last_hash: str, seal: str) -> str:
    """The previous-hash link of the first format-2 event after the sealed format-1 events."""
    body = b"legacy\n" + last_hash.encode("ascii") + b"\n" + seal.encode("ascii")
    return hashlib.sha256(body).hexdigest()


def link_for(head: Any) -> str:
    """The previous hash the next event of this chain links to."""
    last = head.last_hash or GENESIS
    if head.legacy_length and head.length == head.legacy_length:
        return bridge(last, head.legacy_seal)
    return last


def normalised_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """What the database will give back (a JSON round trip), so the hash verifies later."""
    return json.loads(json.dumps(changes, sort_keys=True))  # type: ignore[no-any-return]


def _locked_head(clinic_id: int | None) -> AuditChainHead:
    key = chain_key(clinic_id)
    heads = AuditChainHead.objects.select_for_update()
    try:
        return heads.get(key=key)
    except AuditChainHead.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return AuditChainHead.objects.create(key=key, clinic_id=clinic_id)
    except IntegrityError:  # another transaction created it first: wait for its lock
        return heads.get(key=key)


def append(event: AuditEvent) -> AuditEvent:
    """Number, link, hash and insert an unsaved event at the end of its chain, its values
    (if any) in their own row.

    Must run inside a transaction (the head stays locked until it commits).
    """
    head = _locked_head(event.clinic_id)
    if event.at is None:
        event.at = timezone.now()
    changes = normalised_changes(event.__dict__.get("_changes") or {})
    salt = secrets.token_hex(16) if changes else ""
    event.chain_version = CHAIN_VERSION
    event.changes_digest = values_digest(salt, changes) if changes else ""
    event.seq = head.length + 1
    event.prev_hash = link_for(head)
    event.hash = event_hash(event, event.prev_hash)
    event.save(force_insert=True)
    if changes:
        AuditChangeValues.objects.create(
            event=event, patient_id=event.patient_id, salt=salt, changes=changes
        )
    event.changes = changes
    head.length = event.seq
    head.last_hash = event.hash
    head.last_event_id = event.pk
    head.save(update_fields=["length", "last_hash", "last_event_id"])
    return event


# --- one statement on PostgreSQL (issue 15: an audited page's fixed cost) ---------------------
#
# `append` costs a round trip each for the head lock, the event, its values and the head update
# (plus BEGIN/COMMIT or a savepoint). On PostgreSQL the same work is one statement: the head
# row is locked (FOR UPDATE reads its latest committed version), the event is numbered and
# linked from it and hashed by the database with the same SHA-256 over the same bytes (the
# canonical serialisation is made here with the number left out, and the database puts the
# number in), its values inserted and the head moved, all in the one transaction the statement
# is. A chain whose head does not exist yet, or whose next event is the first after the sealed
# format-1 events (its link is the legacy bridge), takes `append` instead.

_SEQ_MARK = 987_654_321_987_654_321  # stands for the number while the canonical bytes are made


def _canonical_around_seq(event: AuditEvent) -> tuple[str, str]:
    """The canonical bytes of the event's hash as (before the number, after the number)."""
    event.seq = _SEQ_MARK
    body = canonical(event).decode("ascii")
    marker = f'"seq":{_SEQ_MARK}'
    if body.count(marker) != 1:  # pragma: no cover - the serialisation is ours
        raise ValueError("cannot place the event's number in its canonical form")
    before, after = body.split(marker)
    return before + '"seq":', after


def append_in_one_statement(event: AuditEvent) -> bool:
    """`append` as one PostgreSQL statement; False (nothing written) when the chain needs
    `append` (no head yet, or the legacy bridge is next)."""
    if connection.vendor != "postgresql":
        return False
    if event.at is None:
        event.at = timezone.now()
    changes = normalised_changes(event.__dict__.get("_changes") or {})
    salt = secrets.token_hex(16) if changes else ""
    event.chain_version = CHAIN_VERSION
    event.changes_digest = values_digest(salt, changes) if changes else ""
    before, after = _canonical_around_seq(event)
    event.seq = None
    computed = ("seq", "prev_hash", "hash")
    fields = [
        f
        for f in AuditEvent._meta.concrete_fields
        if not f.primary_key and f.attname not in computed
    ]
    qn = connection.ops.quote_name
    values = ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields)
    params: list[Any] = [GENESIS, chain_key(event.clinic_id)]
    params += [f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields]
    params += ["\n" + before, after]
    values_field = AuditChangeValues._meta.get_field("changes")
    params += [
        event.patient_id,
        salt,
        values_field.get_db_prep_save(changes, connection),
        bool(changes),
    ]
    head_table = qn(AuditChainHead._meta.db_table)
    # Only the models' own table and column names are formatted in; every value is a parameter.
    sql = f"""
        WITH head AS (
            SELECT id, length, CASE WHEN last_hash = '' THEN %s ELSE last_hash END AS prev
            FROM {head_table}
            WHERE key = %s AND NOT (legacy_length > 0 AND length = legacy_length)
            FOR UPDATE
        ), event AS (
            INSERT INTO {qn(AuditEvent._meta.db_table)}
                ({", ".join(qn(str(f.column)) for f in fields)}, seq, prev_hash, hash)
            SELECT {values}, head.length + 1, head.prev,
                encode(sha256(convert_to(
                    head.prev || %s || (head.length + 1)::text || %s, 'UTF8')), 'hex')
            FROM head
            RETURNING id, seq, prev_hash, hash
        ), event_values AS (
            INSERT INTO {qn(AuditChangeValues._meta.db_table)} (event_id, patient_id, salt, changes)
            SELECT event.id, %s::bigint, %s, %s::jsonb FROM event WHERE %s
        ), moved AS (
            UPDATE {head_table} SET
                length = event.seq, last_hash = event.hash, last_event_id = event.id
            FROM head, event WHERE {head_table}.id = head.id
        )
        SELECT id, seq, prev_hash, hash FROM event
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    event.pk, event.seq, event.prev_hash, event.hash = row
    event._state.adding = False
    event._state.db = connection.alias
    if event_hash(event, event.prev_hash) != event.hash:  # pragma: no cover - same bytes
        raise RuntimeError("the database hashed the audit event differently")
    event.changes = changes
    return True


def append_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """``append`` for many unsaved events of one chain (a batch write): the head is locked
    once, the events are numbered, linked and hashed in order exactly as one ``append`` after
    another would, then inserted in bulk (ids ascend in that order) with their values.

    Must run inside a transaction."""
    if not events:
        return events
    keys = {chain_key(e.clinic_id) for e in events}
    if len(keys) != 1:
        raise ValueError("append_many takes events of one chain")
    head = _locked_head(events[0].clinic_id)
    prev = link_for(head)
    seq = head.length
    values: list[tuple[AuditEvent, str, dict[str, Any]]] = []
    for event in events:
        if event.at is None:
            event.at = timezone.now()
        changes = normalised_changes(event.__dict__.get("_changes") or {})
        salt = secrets.token_hex(16) if changes else ""
        event.chain_version = CHAIN_VERSION
        event.changes_digest = values_digest(salt, changes) if changes else ""
        seq += 1
        event.seq = seq
        event.prev_hash = prev
        event.hash = event_hash(event, prev)
        prev = event.hash
        values.append((event, salt, changes))
    if connection.features.can_return_rows_from_bulk_insert:
        AuditEvent.objects.bulk_create(events, batch_size=2000)
    else:  # pragma: no cover - every supported database returns the ids
        for event in events:
            event.save(force_insert=True)
    AuditChangeValues.objects.bulk_create(
        (
            AuditChangeValues(event=e, patient_id=e.patient_id, salt=salt, changes=changes)
            for e, salt, changes in values
            if changes
        ),
        batch_size=2000,
    )
    for event, _salt, changes in values:
        event.changes = changes
    last = events[-1]
    head.length = seq
    head.last_hash = last.hash
    head.last_event_id = last.pk
    head.save(update_fields=["length", "last_hash", "last_event_id"])
    return events


def purge_patient_values(*, patient_id: int, keep_event_id: int | None = None) -> int:
    """Delete the values of every audit event about the patient (an erasure purge); the
    events stay and keep verifying by their digests. `keep_event_id`: the purge's own event."""
    rows = AuditChangeValues.objects.filter(patient_id=patient_id)
    if keep_event_id is not None:
        rows = rows.exclude(event_id=keep_event_id)
    deleted, _ = rows.delete()
    return deleted


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    key: str
    clinic_id: int | None
    event_id: int | None
    seq: int | None
    problem: str


@dataclass(frozen=True)
class ChainResult:
    key: str
    clinic_id: int | None
    length: int
    last_hash: str
    brk: Break | None


def _rows(clinic_id: int | None) -> Iterator[AuditEvent]:
    qs = AuditEvent.objects.select_related("change_values").order_by("id")
    qs = qs.filter(clinic__isnull=True) if clinic_id is None else qs.filter(clinic_id=clinic_id)
    return qs.iterator(chunk_size=2000)


def _values_of(event: AuditEvent) -> AuditChangeValues | None:
    try:
        return event.change_values
    except AuditChangeValues.DoesNotExist:
        return None


def _content_problem(event: AuditEvent, prev: str) -> tuple[str | None, bool]:
    """What is wrong with one event's content, if anything; and whether its values are gone."""
    values = _values_of(event)
    version = version_of(event)
    if version == 1:
        if values is not None:
            if event_hash(event, prev, changes=values.changes) != event.hash:
                return "the event's content was changed after it was written", False
            return None, False
        if written_without_changes(event):
            return None, False
        return None, True  # values gone: its seal stands for it; a purge must account for it
    if version != CHAIN_VERSION:
        return f"the event has an unknown chain format ({version})", False
    if event_hash(event, prev) != event.hash:
        return "the event's content was changed after it was written", False
    if values is None:
        return None, bool(event.changes_digest)
    if not event.changes_digest:
        return "values were added to an event that recorded none", False
    if values_digest(values.salt, values.changes) != event.changes_digest:
        return "the event's recorded values were changed after it was written", False
    if values.patient_id != event.patient_id:
        return "the event's values were moved to another patient", False
    return None, False


def verify_chain(clinic_id: int | None) -> ChainResult:
    """Walk one chain in row order; the first broken link, if any."""
    key = chain_key(clinic_id)
    head = AuditChainHead.objects.filter(key=key).first()
    legacy = head.legacy_length if head is not None else 0

    def broken(event: AuditEvent | None, problem: str) -> ChainResult:
        return ChainResult(
            key,
            clinic_id,
            count,
            prev,
            Break(
                key, clinic_id, event.pk if event else None, event.seq if event else None, problem
            ),
        )

    count = 0
    prev = GENESIS
    seal = GENESIS
    purged: set[int] = set()  # patients an erasure purge names in this chain
    gone: list[AuditEvent] = []  # events whose values are gone
    erased_also: set[int] = set()  # events about no one patient a purge erased the values of
    last: AuditEvent | None = None
    for event in _rows(clinic_id):
        expected_seq = count + 1
        if event.seq is None or not event.hash:
            return broken(event, "the event was never sealed into the chain (no hash)")
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                return broken(
                    event,
                    f"events are missing before this one (expected position {expected_seq}, "
                    f"found {event.seq})",
                )
            return broken(
                event,
                f"events are out of order (expected position {expected_seq}, found {event.seq})",
            )
        if legacy and count == legacy:
            # The first event after the sealed format-1 events.
            if head is not None and seal != head.legacy_seal:
                return broken(last, "the events written before the upgrade were changed")
            link = bridge(prev, seal)
        else:
            link = prev
        if event.prev_hash != link:
            return broken(event, "the link to the previous event does not match")
        if version_of(event) == 1 and count >= legacy:
            return broken(event, "an event in the old format follows the upgraded chain")
        problem, values_gone = _content_problem(event, link)
        if problem:
            return broken(event, problem)
        if values_gone:
            gone.append(event)
        if version_of(event) == 1:
            seal = seal_step(seal, event)
        if event.action == "erasure.purge" and event.patient_id is not None:
            purged.add(event.patient_id)
            listed = event.changes.get("list_events_erased") or []
            erased_also.update(int(i) for i in listed if isinstance(i, int))
        prev = event.hash
        last = event
        count += 1
    for event in gone:
        if event.pk not in erased_also and (
            event.patient_id is None or event.patient_id not in purged
        ):
            return broken(
                event, "the event's recorded values were deleted, but no erasure purge says so"
            )
    if legacy and count == legacy and head is not None and seal != head.legacy_seal:
        return broken(last, "the events written before the upgrade were changed")
    if head is None:
        if count:
            return broken(None, "the chain head is missing")
        return ChainResult(key, clinic_id, 0, GENESIS, None)
    if head.length != count or (head.last_hash or GENESIS) != prev:
        missing = head.length - count
        problem = (
            f"{missing} event(s) at the end of the chain are missing "
            f"(the chain head records {head.length}, the table holds {count})"
            if missing > 0
            else f"the chain holds {count} events but its head records {head.length}"
            if missing < 0
            else "the last event does not match the chain head"
        )
        brk = Break(key, clinic_id, head.last_event_id, head.length, problem)
        return ChainResult(key, clinic_id, count, prev, brk)
    return ChainResult(key, clinic_id, count, prev, None)


def chain_clinic_ids() -> list[int | None]:
    """Every chain there is: clinics with a head or with events, and the no-clinic chain."""
    ids: set[int | None] = {None}
    heads = AuditChainHead.objects.filter(clinic__isnull=False)
    ids.update(heads.values_list("clinic_id", flat=True))
    ids.update(
        AuditEvent.objects.filter(clinic__isnull=False)
        .order_by()
        .values_list("clinic_id", flat=True)
        .distinct()
    )
    return sorted(ids, key=lambda i: (i is not None, i or 0))


def verify_all(clinic_ids: list[int | None] | None = None) -> list[ChainResult]:
    return [verify_chain(c) for c in (chain_clinic_ids() if clinic_ids is None else clinic_ids)]


def reseal_all(event_model: Any = AuditEvent, head_model: Any = AuditChainHead) -> int:
    """Number, link and hash every existing row in order (the migration's backfill).

    For rows written before the chain existed; the migration 0010 passes its historical models
    (format 1: the values are a column of the event then). On today's models each row is
    hashed in its own format.
    """
    head_model.objects.all().delete()
    with_values = any(f.name == "changes" for f in event_model._meta.concrete_fields)
    heads: dict[str, Any] = {}
    done = 0
    for event in event_model.objects.order_by("id").iterator(chunk_size=2000):
        key = chain_key(event.clinic_id)
        head = heads.get(key)
        if head is None:
            head = heads[key] = head_model(key=key, clinic_id=event.clinic_id)
        update: dict[str, Any] = {}
        if with_values:
            event.changes = update["changes"] = normalised_changes(event.changes)
        event.seq = head.length + 1
        event.prev_hash = head.last_hash or GENESIS
        # A historical model (a migration) has the values as a column, not `stored_changes`.
        values = event.changes if with_values else None
        event.hash = event_hash(event, event.prev_hash, values)
        event_model.objects.filter(pk=event.pk).update(
            seq=event.seq, prev_hash=event.prev_hash, hash=event.hash, **update
        )
        head.length = event.seq
        head.last_hash = event.hash
        head.last_event_id = event.pk
        done += 1
    head_model.objects.bulk_create(heads.values())
    return done


def seal_legacy(event_model: Any, head_model: Any) -> int:
    """Seal every chain's format-1 events (the upgrade migration): the head records how many
    there are and the seal over their metadata and hashes. Links and hashes stay as they are."""
    sealed = 0
    for head in head_model.objects.all():
        qs = event_model.objects.order_by("id")
        qs = (
            qs.filter(clinic_id=head.clinic_id)
            if head.clinic_id
            else qs.filter(clinic__isnull=True)
        )
        seal, count = GENESIS, 0
        for event in qs.iterator(chunk_size=2000):
            seal = seal_step(seal, event)
            count += 1
        head.legacy_length, head.legacy_seal = count, seal if count else ""
        head.save(update_fields=["legacy_length", "legacy_seal"])
        sealed += count
    return sealed
