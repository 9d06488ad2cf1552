"""`/healthz` answers 200 only when the database answers and no migration is pending."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import ConnectionHandler

from anagen.ops import health

pytestmark = pytest.mark.django_db


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"database", "migrations"}
    assert "no-store" in response["Cache-Control"]


def test_pending_migrations_answer_503(client):
    # As if the code had been deployed without `anagen migrate`: one migration not recorded.
    MigrationRecorder(connection).record_unapplied("interop", "0001_idempotency_key")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["migrations"]["detail"] == "1 migrations are not applied."


def test_unreachable_database_answers_503(client, monkeypatch):
    # A real connection failure: a PostgreSQL server on a port where nothing listens.
    unreachable = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "anagen",
                "USER": "anagen",
                "HOST": "127.0.0.1",
                "PORT": "9",
                "OPTIONS": {"connect_timeout": 2},
            }
        }
    )
    monkeypatch.setattr(health, "connections", unreachable)
    try:
        response = client.get("/healthz")
    finally:
        unreachable.close_all()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["failed"] == ["database", "migrations"]
    assert body["checks"]["database"] == {"ok": False, "detail": "The database does not answer."}
