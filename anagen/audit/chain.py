"""The audit trail's hash chain: one chain per clinic, one for events without a clinic.

Each row stores its place in the chain (`seq`, 1, 2, 3 …), the previous row's hash and its own
hash: SHA-256 over a canonical serialisation of its fields and the previous hash. Editing a
row breaks its hash; deleting or reordering rows breaks the links and the numbering; removing
rows at the end (or emptying the table) no longer matches the chain head, which records the
chain's length and last hash. Whoever can rewrite every row AND the head can forge a chain, so
keep the heads' hashes outside the database (`anagen audit verify` prints them) if that matters.

Appending is serialised per chain: on PostgreSQL by locking the chain head row until the
transaction commits; on SQLite every transaction already holds the one database write lock
(BEGIN IMMEDIATE) and `serialised` queues the threads of one process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from anagen.audit.models import AuditChainHead, AuditEvent

NO_CLINIC = "no-clinic"
GENESIS = "0" * 64
# The fields a hash covers, in order. A new field is added at the end (and hashed only when
# set), so rows hashed before it keep verifying.
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


def chain_key(clinic_id: int | None) -> str:
    return f"clinic:{clinic_id}" if clinic_id is not None else NO_CLINIC


def _canonical_value(name: str, value: Any) -> Any:
    if name == "at" and value is not None:
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if name == "ip_address" and value:
        return str(ipaddress.ip_address(value))
    if name in ("actor_id", "clinic_id", "patient_id", "seq") and value is not None:
        return int(value)
    return value


def canonical(event: Any) -> bytes:
    """The bytes a row's hash covers (without the previous hash)."""
    data = {name: _canonical_value(name, getattr(event, name)) for name in HASHED_FIELDS}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def event_hash(event: Any, prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(event)).hexdigest()


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
    """Number, link, hash and insert an unsaved event at the end of its chain.

    Must run inside a transaction (the head stays locked until it commits).
    """
    head = _locked_head(event.clinic_id)
    if event.at is None:
        event.at = timezone.now()
    event.changes = normalised_changes(event.changes or {})
    event.seq = head.length + 1
    event.prev_hash = head.last_hash or GENESIS
    event.hash = event_hash(event, event.prev_hash)
    event.save(force_insert=True)
    head.length = event.seq
    head.last_hash = event.hash
    head.last_event_id = event.pk
    head.save(update_fields=["length", "last_hash", "last_event_id"])
    return event


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
    qs = AuditEvent.objects.order_by("id")
    qs = qs.filter(clinic__isnull=True) if clinic_id is None else qs.filter(clinic_id=clinic_id)
    return qs.iterator(chunk_size=2000)


def verify_chain(clinic_id: int | None) -> ChainResult:
    """Walk one chain in row order; the first broken link, if any."""
    key = chain_key(clinic_id)
    head = AuditChainHead.objects.filter(key=key).first()

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
        if event.prev_hash != prev:
            return broken(event, "the link to the previous event does not match")
        if event_hash(event, prev) != event.hash:
            return broken(event, "the event's content was changed after it was written")
        prev = event.hash
        count += 1
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

    For rows written before the chain existed; the migration passes its historical models.
    """
    head_model.objects.all().delete()
    heads: dict[str, Any] = {}
    done = 0
    for event in event_model.objects.order_by("id").iterator(chunk_size=2000):
        key = chain_key(event.clinic_id)
        head = heads.get(key)
        if head is None:
            head = heads[key] = head_model(key=key, clinic_id=event.clinic_id)
        event.changes = normalised_changes(event.changes or {})
        event.seq = head.length + 1
        event.prev_hash = head.last_hash or GENESIS
        event.hash = event_hash(event, event.prev_hash)
        event_model.objects.filter(pk=event.pk).update(
            seq=event.seq, prev_hash=event.prev_hash, hash=event.hash, changes=event.changes
        )
        head.length = event.seq
        head.last_hash = event.hash
        head.last_event_id = event.pk
        done += 1
    head_model.objects.bulk_create(heads.values())
    return done
