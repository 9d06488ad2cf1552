"""The lightest request there is: is my session still alive?

Answers 204 with `X-Signed-In: 1` for a signed-in member of a clinic and `0` otherwise, reading
nothing but the session and membership. Pages may poll it to warn before a session ends; the
page benchmark uses it as the floor every other page is compared with.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET


@require_GET
def session_ping(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(status=204)
    signed_in = getattr(request, "actor", None) is not None
    response["X-Signed-In"] = "1" if signed_in else "0"
    return response
