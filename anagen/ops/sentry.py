"""Optional error reporting: when SENTRY_DSN is set, errors go to Sentry (or a compatible
service such as GlitchTip) without personal data (no user details, request bodies or local
variables), tagged with the request id the logs carry."""

from __future__ import annotations

import os
from typing import Any

from anagen.ops.logging import NO_REQUEST, current_request_id


def _tag_request_id(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    request_id = current_request_id()
    if request_id != NO_REQUEST:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def init_sentry(environ: dict[str, str] | None = None, environment: str = "") -> bool:
    """Start the Sentry SDK when SENTRY_DSN is set; True when it did."""
    env = os.environ if environ is None else environ
    dsn = env.get("SENTRY_DSN", "").strip()
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        # No personal data: send_default_pii stays at its default (off; this SDK version
        # deprecates passing it), no request bodies, no local variables in stack frames
        # (they would hold patient names).
        max_request_body_size="never",
        include_local_variables=False,
        environment=env.get("SENTRY_ENVIRONMENT", environment) or None,
        release=env.get("SENTRY_RELEASE") or None,
        traces_sample_rate=float(env.get("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
        before_send=_tag_request_id,  # type: ignore[arg-type]
    )
    return True
