"""Error pages that say what happened in plain words, in the product's layout."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader

from anagen.ops.logging import current_request_id


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception) if exception and str(exception) else "You cannot do this here."
    return render(request, "403.html", {"reason": reason}, status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "400.html", status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    # A static page: the failure may be in the context processors or the database. It shows the
    # request id the logs carry, so a report can be matched to its log lines.
    request_id = getattr(request, "request_id", None) or current_request_id()
    return HttpResponseServerError(
        loader.get_template("500.html").render({"request_id": request_id})
    )
