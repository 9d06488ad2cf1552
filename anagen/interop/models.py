"""What the API layer stores for itself: the answers to requests sent with an Idempotency-Key."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """One API create sent with an `Idempotency-Key`, and the answer it got.

    `status` is empty while the first request is still running; a second request with the
    same key then gets a 409 instead of doing the work twice. Rows expire after
    `anagen.interop.idempotency.TTL`.
    """

    owner = models.CharField(max_length=80)  # "token:<sha256 of the token>" or "member:<id>"
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="interop_idempotency_once")
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
