"""Page-level safety nets."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse


class OutOfRangeIdMiddleware:
    """An id in a URL or query beyond the database's 64-bit integer range names nothing.

    SQLite raises OverflowError for such numbers; answer 404 like any other missing row
    instead of a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, OverflowError):
            raise Http404("No such record.")
