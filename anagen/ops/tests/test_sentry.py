"""Sentry starts only when SENTRY_DSN is set, with the Django integration and no PII."""

from __future__ import annotations

import sentry_sdk

from anagen.ops.sentry import init_sentry


def test_without_a_dsn_nothing_starts():
    assert init_sentry({}) is False
    assert init_sentry({"SENTRY_DSN": "  "}) is False
    # and the settings (loaded without SENTRY_DSN) started nothing
    from django.conf import settings

    assert settings.SENTRY_ENABLED is False
    assert not sentry_sdk.get_client().is_active()


def test_with_a_dsn_it_starts_without_personal_data():
    try:
        # A local DSN: nothing is sent (no event is captured), nothing leaves the machine.
        assert init_sentry({"SENTRY_DSN": "http://public@127.0.0.1:9/1"}, "test") is True
        client = sentry_sdk.get_client()
        assert client.is_active()
        assert client.should_send_default_pii() is False
        assert client.options["include_local_variables"] is False
        assert client.options["max_request_body_size"] == "never"
        assert client.options["environment"] == "test"
        assert "django" in client.integrations
    finally:
        sentry_sdk.get_client().close(timeout=0)
        sentry_sdk.get_global_scope().set_client(None)
