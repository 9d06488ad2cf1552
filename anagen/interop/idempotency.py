"""`Idempotency-Key` on API creates: a retried POST replays its first answer, once.

A client that sends `Idempotency-Key: <key>` with a POST under /api/v1/ may send the same request
again (after a timeout, a crash, a lost answer) without creating the thing twice:

- same key, same caller (token or signed-in membership), same path and body: the stored answer
  (status, body, Content-Type, Location, ETag) is replayed with `Idempotent-Replayed: true`,
  and nothing is written again;
- same key with a different path or body: 422 problem;
- same key while the first request is still running: 409 problem (retry shortly); the unique
  constraint on (caller, key) makes this hold under any concurrency;
- a key lives `TTL` (24 hours); answers with status 5xx are not kept, so such a request can be
  retried with its key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.utils import timezone

from anagen.interop.models import IdempotencyKey
from anagen.interop.problems import problem

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
API_PREFIX = "/api/v1/"
TTL = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag")


def _owner(request: HttpRequest) -> str | None:
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()
    actor = getattr(request, "actor", None)
    if actor is not None:
        return f"member:{actor.membership.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def _fingerprint(request: HttpRequest, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.get_full_path()}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status or 200)
    for name, value in row.headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def _bad_key(detail: str) -> HttpResponse:
    return problem(422, errors=[{"field": f"header.{HEADER}", "message": detail}])


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        owner = _owner(request)
        if owner is None:  # the API answers 401 itself; nothing to remember
            return self.get_response(request)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
            return _bad_key(f"Use 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
        try:
            body = request.body
        except RawPostDataException:  # pragma: no cover - nothing reads the stream before us
            return self.get_response(request)
        fingerprint = _fingerprint(request, body)
        now = timezone.now()
        IdempotencyKey.objects.filter(created_at__lt=now - TTL).delete()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    owner=owner, key=key, fingerprint=fingerprint, created_at=now
                )
        except IntegrityError:
            return self._seen(owner, key, fingerprint)
        try:
            response = self.get_response(request)
        except BaseException:
            row.delete()
            raise
        if response.status_code >= 500 or response.streaming:
            row.delete()
            return response
        row.status = response.status_code
        row.headers = {h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)}
        row.body = response.content
        row.save(update_fields=["status", "headers", "body"])
        return response

    def _seen(self, owner: str, key: str, fingerprint: str) -> HttpResponse:
        row = IdempotencyKey.objects.filter(owner=owner, key=key).first()
        if row is None:  # it expired between our insert and this read
            return problem(409, detail="This Idempotency-Key is being reused: send it again.")
        if row.fingerprint != fingerprint:
            return _bad_key(
                "This key was already used for a different request: use a new key for new data."
            )
        if row.status is None:
            return problem(
                409, detail="A request with this Idempotency-Key is still running: retry shortly."
            )
        logger.info("Replayed the answer to Idempotency-Key %s", key)
        return _replay(row)
