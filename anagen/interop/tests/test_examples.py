"""`example(...)` puts a body's OpenAPI example on its schema and keeps what the base class
documents (BodyIn: the pattern of a decimal sent as its digits in a string)."""

from __future__ import annotations

from decimal import Decimal

from ninja import Field, Schema

from anagen.interop.examples import example
from anagen.interop.schemas import DECIMAL_TEXT, BodyIn


class _DoseIn(BodyIn):
    volume_ml: Decimal | None = Field(None, description="Volume.")
    note: str = ""

    model_config = example(volume_ml="2.5", note="Slow.")


class _PlainIn(Schema):
    name: str

    model_config = example(name="Kit")


def test_example_is_on_the_schema_and_the_base_hook_still_runs():
    schema = _DoseIn.model_json_schema()
    assert schema["examples"] == [{"volume_ml": "2.5", "note": "Slow."}]
    text = next(b for b in schema["properties"]["volume_ml"]["anyOf"] if b["type"] == "string")
    assert text["pattern"] == DECIMAL_TEXT


def test_example_on_a_schema_without_a_hook():
    assert _PlainIn.model_json_schema()["examples"] == [{"name": "Kit"}]
