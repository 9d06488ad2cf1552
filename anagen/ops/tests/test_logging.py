"""JSON log lines carry the request id; the response header and the 500 page show it."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.test import Client
from django.urls import path

from anagen.ops.logging import JsonFormatter, RequestIdFilter, accepted_request_id

pytestmark = pytest.mark.django_db


def _console() -> logging.Handler:
    """The handler the settings' LOGGING put on the root logger."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return handler
    raise AssertionError("LOGGING has no JSON handler on the root logger")


@pytest.fixture
def log_lines():
    handler = _console()
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        handler.setStream(old)


def _boom(request):
    logging.getLogger("anagen.test").warning("about to fail", extra={"patient_count": 3})
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom)]
handler500 = "anagen.web.errors.server_error"


def test_a_request_logs_json_lines_with_its_id_and_the_header_matches(client, log_lines):
    response = client.get("/healthz", headers={"X-Request-ID": "req-0123456789abcdef"})
    assert response["X-Request-ID"] == "req-0123456789abcdef"
    lines = log_lines()
    access = [e for e in lines if e["logger"] == "anagen.access"]
    assert access and access[-1]["request_id"] == "req-0123456789abcdef"
    assert access[-1]["status"] == 200 and access[-1]["path"] == "/healthz"
    assert {"time", "level", "message"} <= set(access[-1])


def test_a_malformed_request_id_is_replaced_by_a_new_one(client):
    response = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32
    assert accepted_request_id("<script>") != "<script>"


@pytest.mark.urls("anagen.ops.tests.test_logging")
def test_the_500_page_and_every_log_line_of_the_request_carry_the_id(log_lines):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", headers={"X-Request-ID": "incident-42-abcdef"})
    assert response.status_code == 500
    assert "Quote this reference: <code>incident-42-abcdef</code>" in response.content.decode()
    lines = log_lines()
    ours = [e for e in lines if e["request_id"] == "incident-42-abcdef"]
    loggers = {e["logger"] for e in ours}
    assert {"anagen.test", "django.request", "anagen.access"} <= loggers
    warning = next(e for e in ours if e["logger"] == "anagen.test")
    assert warning["patient_count"] == 3
    error = next(e for e in ours if e["logger"] == "django.request")
    assert "RuntimeError: boom" in error["exception"]
    assert all(e["request_id"] == "incident-42-abcdef" for e in lines if e["logger"] != "-")


def test_outside_a_request_the_id_is_a_dash():
    record = logging.makeLogRecord({"msg": "hello %s", "args": ("there",), "name": "x"})
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "-" and entry["message"] == "hello there"
