"""API request bodies are bounded: a body over the limit is a 413 problem document; and a
method an API path does not take is a 405 problem document (with its `Allow` header), not the
framework's empty plain-text answer.

The limit is `ANAGEN_API_MAX_BODY` bytes (default: Django's DATA_UPLOAD_MAX_MEMORY_SIZE,
2.5 MB). The declared Content-Length is checked before anything reads the body, so an
oversized request costs nothing and answers the same in development and production (no HTML
400 page, no traceback).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from anagen.interop.problems import PROBLEM_MEDIA_TYPE, problem

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


def method_not_allowed(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """The framework's 405 as a problem document, keeping the methods the path takes."""
    allow = response.get("Allow", "")
    detail = f"{request.method} is not an operation of this path."
    if allow:
        detail += f" It takes: {allow}."
    answer = problem(405, detail=detail)
    if allow:
        answer["Allow"] = allow
    return answer


class ApiBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        size = _declared_length(request)
        limit = api_body_limit()
        if size is not None and size > limit:
            return too_large(limit, size)
        response = self.get_response(request)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            PROBLEM_MEDIA_TYPE
        ):
            return method_not_allowed(request, response)
        return response
