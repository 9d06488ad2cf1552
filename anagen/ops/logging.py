"""JSON log lines, each carrying the id of the request it belongs to.

`RequestIdMiddleware` (anagen.ops.middleware) puts the id of the current request in a context
variable; `RequestIdFilter` copies it onto every log record (`-` outside a request) and
`JsonFormatter` writes one JSON object a line: time (UTC), level, logger, message, request id,
the exception's traceback when there is one, and any extra fields a caller passed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

NO_REQUEST = "-"
request_id_var: ContextVar[str] = ContextVar("anagen_request_id", default=NO_REQUEST)

# What a proxy may hand us as X-Request-ID: letters, digits and a few separators, 8-128 long.
WELL_FORMED = re.compile(r"^[A-Za-z0-9._:@+=-]{8,128}$")

# The attributes every LogRecord has: anything else was passed as `extra=` and is logged too.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


def current_request_id() -> str:
    return request_id_var.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str:
    """The caller's X-Request-ID when it is well-formed, else a new one."""
    if value and WELL_FORMED.match(value):
        return value
    return new_request_id()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _plain(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)
