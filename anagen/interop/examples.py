"""A request body's OpenAPI example, declared on the body's schema class.

    class RecallIn(BodyIn):
        reason: str = Field(...)

        model_config = example(reason="Supplier notice 2026-114: sterility.")

A plain `model_config = {"json_schema_extra": {"examples": [...]}}` would replace the hook the
base class documents its fields with (`BodyIn`: the pattern of a decimal sent as a string);
`example` keeps that hook and adds the example after it. Bodies without an example of their own
get one from `anagen.interop.glossary.REQUEST_EXAMPLES`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict


def _inherited_extra(cls: type) -> Any:
    """The `json_schema_extra` the nearest base class declares (None if none does)."""
    for base in cls.__mro__[1:]:
        config = getattr(base, "model_config", None)
        if isinstance(config, dict) and "json_schema_extra" in config:
            return config["json_schema_extra"]
    return None


def example(**values: Any) -> ConfigDict:
    """`model_config` for a body schema whose OpenAPI example is `values`."""

    def extra(schema: dict[str, Any], cls: type) -> None:
        inherited = _inherited_extra(cls)
        if callable(inherited):
            inherited(schema, cls)
        elif isinstance(inherited, dict):
            schema.update(inherited)
        schema["examples"] = [values]

    return ConfigDict(json_schema_extra=extra)  # type: ignore[typeddict-item]
