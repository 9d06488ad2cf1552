"""The API's JSON renderer: django-ninja's, with the common values encoded on a fast path.

A list of appointments or plans holds hundreds of dates and instants; ninja's encoder asks
several `isinstance` questions of each (a pydantic model? a URL? an address? an enum?) before
Django's encoder formats it. Here a value that is exactly a `datetime` or a `date` is formatted
at once, with Django's own rules (ECMA-262: milliseconds, "Z" for UTC), so the bytes are the
same; anything else goes the usual way.

Lists (issue 15): validating every row of a page through its response schema (ninja wraps each
object in a getter and asks pydantic to validate it field by field) cost most of a list's time.
`row_reader(Schema)` reads a row's fields straight off the object instead, for schemas whose
fields are plain values (int, str, bool, Decimal, date, instant, or optional ones), which
validation hands through unchanged; `json_response` renders the page as ninja would. The bytes
are the same as the validated path (tests/test_render.py compares both on the demo clinic);
a schema with any other kind of field is refused when the reader is built, not served wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from ninja import Schema
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

CONTENT_TYPE = "application/json; charset=utf-8"  # ninja's, for a JSON renderer


def instant_text(o: dt.datetime) -> str:
    """DjangoJSONEncoder's text for a datetime (milliseconds, "Z" for UTC)."""
    r = o.isoformat()
    if o.microsecond:
        r = r[:23] + r[26:]
    if r.endswith("+00:00"):
        r = r.removesuffix("+00:00") + "Z"
    return r


class FastJSONEncoder(NinjaJSONEncoder):
    def default(self, o: Any) -> Any:
        kind = type(o)
        if kind is dt.datetime:
            return instant_text(o)
        if kind is dt.date:
            return o.isoformat()
        return super().default(o)


class FastJSONRenderer(JSONRenderer):
    encoder_class = FastJSONEncoder


# --- Rows read straight off the objects -----------------------------------------------------

_PLAIN = (bool, int, str, Decimal, dt.date, dt.datetime)
_INSTANT, _VALUE, _CALL, _RESOLVE, _RESOLVE_INSTANT = 0, 1, 2, 3, 4


def _plain_kind(annotation: Any) -> int | None:
    """_INSTANT or _VALUE for a plain (optional) value type, None for anything else."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
    else:
        args = [annotation]
    if len(args) != 1 or args[0] not in _PLAIN:
        return None
    return _INSTANT if args[0] is dt.datetime else _VALUE


def row_reader(
    schema: type[Schema], **nested: Callable[[Any], Any]
) -> Callable[[Any], dict[str, Any]]:
    """A function giving the dict the schema would dump for an object, without validating it.

    Each field is the object's attribute (or the schema's static `resolve_<field>`), in the
    schema's order; instants are written as text at once. A field that is not a plain value
    (a nested schema, a list, a literal …) must be given in `nested` as a function of the object;
    otherwise building the reader raises TypeError.
    """
    resolvers: Mapping[str, Any] = getattr(schema, "_ninja_resolvers", {})
    plan: list[tuple[str, int, Any]] = []
    for name, info in schema.model_fields.items():
        if info.alias or info.serialization_alias or info.validation_alias:
            raise TypeError(f"{schema.__name__}.{name}: aliases are not read straight off")
        if name in nested:
            plan.append((name, _CALL, nested[name]))
            continue
        kind = _plain_kind(info.annotation)
        if kind is None:
            raise TypeError(f"{schema.__name__}.{name} is not a plain value: give it in nested")
        if name in resolvers:
            resolver = resolvers[name]
            if not resolver._static or resolver._takes_context:
                raise TypeError(f"{schema.__name__}.{name}: only static resolvers are read")
            plan.append((name, _RESOLVE if kind == _VALUE else _RESOLVE_INSTANT, resolver._func))
        else:
            plan.append((name, kind, None))

    def read(obj: Any) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, kind, fn in plan:
            if kind == _VALUE:
                row[name] = getattr(obj, name)
            elif kind == _INSTANT:
                v = getattr(obj, name)
                row[name] = instant_text(v) if type(v) is dt.datetime else v
            elif kind in (_CALL, _RESOLVE):
                row[name] = fn(obj)
            else:  # a resolved instant
                v = fn(obj)
                row[name] = instant_text(v) if type(v) is dt.datetime else v
        return row

    return read


def json_response(data: Any, status: int = 200) -> HttpResponse:
    """`data` rendered as the API renders a response (same encoder, same content type)."""
    return HttpResponse(
        json.dumps(data, cls=FastJSONEncoder), status=status, content_type=CONTENT_TYPE
    )


def page_response(page: dict[str, Any], read: Callable[[Any], dict[str, Any]]) -> HttpResponse:
    """A `page_of` page ({count, page, pages, results}) with each result read by `read`."""
    return json_response({**page, "results": [read(obj) for obj in page["results"]]})
