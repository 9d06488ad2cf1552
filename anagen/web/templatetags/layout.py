"""The signed-in page header, rendered once and reused (issue 15: the fixed cost of every page).

`{% signed_in_header %}` (base.html) shows the menu, the clinic (name, logo, switcher), the
person and their role. Those depend on a handful of values only, so the rendered HTML is kept
in the cache of rendered page parts (settings CACHES["rendered"], per process) under a key made
of exactly those values: the person (id and name), the
membership and its role, the permissions, the clinic (id, name, logo version), the person's
other clinics, the current menu item, the language and the URL prefix. Nothing needs to be
forgotten when something changes: a renamed clinic, a new logo or another role makes another
key on the very next page (the actor of each request is rebuilt from what
anagen/accounts/signed_in.py remembers, which forgets on every save). The CSRF token differs on
every page: the HTML is stored with a marker in its place, filled in for each request.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django import template
from django.core.cache import caches
from django.urls import get_script_prefix
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# What `{% csrf_token %}` writes while the header is rendered for the cache: letters and digits
# only, so no escaping can change it, and nothing a page could otherwise contain.
CSRF_MARK = "CSRFMARKc6d1f0a9e4b34b8f8e1aa7d0c2f95e11"

_rendered = caches["rendered"]


def forget_all() -> None:
    """Drop every rendered page part of this process, headers included (tests)."""
    _rendered.clear()


def nav_item(request: Any) -> str:
    """Which main-menu item the page belongs to (marked `aria-current`), or ""."""
    match = getattr(request, "resolver_match", None)
    name = (getattr(match, "url_name", None) or "") if match is not None else ""
    if name in ("home", "calendar", "clinic-settings"):
        return name
    if name[:7] == "patient":
        return "patients"
    return ""


def header_key(actor: Any, memberships: list[Any], item: str) -> tuple[Any, ...]:
    """Everything the header shows, as a hashable key."""
    membership = actor.membership
    clinic = membership.clinic
    user = actor.user
    return (
        user.pk,
        str(user),
        membership.pk,
        membership.role,
        membership.get_role_display(),
        actor.perm_set,
        clinic.pk,
        clinic.name,
        bool(clinic.logo),
        clinic.logo_version,
        tuple((m.clinic_id, m.clinic.name) for m in memberships),
        item,
        translation.get_language(),
        get_script_prefix(),
    )


@register.simple_tag(takes_context=True)
def signed_in_header(context: template.Context) -> SafeString:
    actor = context.get("actor")
    if actor is None:
        return mark_safe("")
    memberships = list(context.get("my_memberships") or [])
    item = nav_item(context.get("request"))
    token = context.get("csrf_token")
    if not token or str(token) == "NOTPROVIDED":
        # No token to fill in (`{% csrf_token %}` then writes nothing): rendered as it is.
        return _render(context, actor, memberships, item, token)
    digest = hashlib.sha256(repr(header_key(actor, memberships, item)).encode()).hexdigest()
    key = f"header:{digest}"
    html = _rendered.get(key)
    if html is None:
        html = _render(context, actor, memberships, item, CSRF_MARK)
        _rendered.set(key, html)
    # The page's own token where the marker stands, escaped as `{% csrf_token %}` does.
    return mark_safe(html.replace(CSRF_MARK, conditional_escape(str(token))))  # noqa: S308


def _render(
    context: template.Context, actor: Any, memberships: list[Any], item: str, token: Any
) -> SafeString:
    header = context.template.engine.get_template("_header.html")  # type: ignore[union-attr]
    with context.push(actor=actor, my_memberships=memberships, nav_item=item, csrf_token=token):
        return mark_safe(header.render(context))  # noqa: S308 - a template's output
