"""API request bodies are bounded: a body over the limit is a 413 problem document.

The limit is `ANAGEN_API_MAX_BODY` bytes (default: Django's DATA_UPLOAD_MAX_MEMORY_SIZE,
2.5 MB). The declared Content-Length is checked before anything reads the body, so an
oversized request costs nothing and answers the same in development and production (no HTML
400 page, no traceback).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from anagen.interop.problems import problem

API_PREFIX = "/api/"
TITLE = "Content too large"


def api_body_limit() -> int:
    limit = getattr(settings, "ANAGEN_API_MAX_BODY", None)
    if limit is None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
    return int(limit)


def too_large(limit: int, size: int) -> HttpResponse:
    detail = f"The request body is {size:,} bytes; the API accepts at most {limit:,} bytes."
    return problem(413, TITLE, detail=detail)


def _declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


class ApiBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            size = _declared_length(request)
            limit = api_body_limit()
            if size is not None and size > limit:
                return too_large(limit, size)
        return self.get_response(request)
