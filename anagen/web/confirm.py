"""Confirmation before an action that cannot simply be undone (sign, lock, deactivate, cancel,
withdraw, remove).

The page's form carries `data-confirm="question"`: with JavaScript, anagen/static/anagen/confirm.js
asks the question in a dialog and adds `confirm=yes` to the POST. Without JavaScript (or when a
POST arrives without `confirm=yes` by any other way) the view answers with a confirmation step
page that repeats the POST with `confirm=yes`; nothing is changed until then.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRMED = "yes"


def unconfirmed(
    request: HttpRequest,
    *,
    question: str,
    action: str,
    back: str,
    detail: str = "",
    danger: bool = True,
) -> HttpResponse | None:
    """None when the POST is confirmed; otherwise the confirmation step page (nothing done)."""
    if request.POST.get("confirm") == CONFIRMED:
        return None
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", "confirm")
        for value in values
    ]
    return render(
        request,
        "web/confirm.html",
        {
            "question": question,
            "detail": detail,
            "action_label": action,
            "back": back,
            "fields": fields,
            "danger": danger,
            "post_to": request.get_full_path(),
        },
    )
