"""A patient's preferred language in words ("English", "Brazilian Portuguese"), not its BCP 47
tag."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language_info

register = template.Library()


@register.filter
def language_in_words(tag: str | None) -> str:
    """The language's English name from Django's language table (a regional tag it does not list
    reads as its language: "fr-CA" is French); a tag the table does not know reads as itself."""
    tag = (tag or "").strip()
    if not tag:
        return "—"
    try:
        return str(get_language_info(tag.lower())["name"])
    except KeyError:
        return tag
