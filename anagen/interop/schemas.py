"""Base classes for API input: values arrive as the JSON types the OpenAPI document names.

Left lax, validation would take `"1"` for 1, `0` for false and a number for a date (as a Unix
timestamp); the document says none of that, so a client learning the API from it would be
surprised. `BodyIn` holds request bodies to their documented JSON types (a decimal may also be
sent as its digits in a string, "12.50", as the document says); `QueryIn` holds query strings
that stand for dates and instants to ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

from ninja import Schema
from pydantic import ConfigDict, ValidationInfo, field_validator

_NUMERIC = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _kinds(annotation: Any) -> set[type]:
    """The scalar types a field accepts (None left out), or an empty set for anything else."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        found: set[type] = set()
        for arg in get_args(annotation):
            if arg is not type(None):
                found |= _kinds(arg)
        return found
    if origin is Literal:
        return {type(v) for v in get_args(annotation)}
    if isinstance(annotation, type) and annotation in (
        bool,
        int,
        float,
        Decimal,
        str,
        dt.date,
        dt.datetime,
    ):
        return {annotation}
    return set()


def _check_date_text(value: Any, kinds: set[type]) -> None:
    if kinds & {dt.date, dt.datetime} and (
        isinstance(value, int | float) or (isinstance(value, str) and _NUMERIC.match(value))
    ):
        raise ValueError("Send an ISO 8601 date (2026-11-30) or time (2026-11-30T14:05:00Z).")


DECIMAL_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def _decimal_text_documented(schema: dict[str, Any]) -> None:
    """A decimal is a JSON number or its digits as a string ("12.50"); say which strings."""
    for prop in schema.get("properties", {}).values():
        for branch in prop.get("anyOf", []):
            if branch.get("type") == "string" and not branch.keys() - {"type"}:
                branch["pattern"] = DECIMAL_TEXT


def _documented(schema: dict[str, Any], cls: type) -> None:
    _decimal_text_documented(schema)


class BodyIn(Schema):
    """A request body: booleans are booleans, integers integers, numbers numbers and dates
    ISO 8601 strings, as the document says."""

    model_config = ConfigDict(json_schema_extra=_documented)

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or info.field_name is None:
            return value
        kinds = _kinds(cls.model_fields[info.field_name].annotation)
        if not kinds:
            return value
        if kinds == {bool}:
            if not isinstance(value, bool):
                raise ValueError("Send true or false.")
        elif kinds <= {int, float, Decimal}:
            if isinstance(value, str) and Decimal in kinds:
                if not re.match(DECIMAL_TEXT, value):
                    raise ValueError("Send a number.")
            elif isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                raise ValueError("Send a number.")
            if kinds == {int} and isinstance(value, float):
                raise ValueError("Send a whole number.")
        elif kinds <= {dt.date, dt.datetime}:
            _check_date_text(value, kinds)
        return value


class QueryIn(Schema):
    """Query parameters: dates and instants are ISO 8601, never a bare number."""

    @field_validator("*", mode="before")
    @classmethod
    def _iso_dates(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.field_name is not None:
            _check_date_text(value, _kinds(cls.model_fields[info.field_name].annotation))
        return value
