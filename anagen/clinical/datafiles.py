"""Loading of the versioned clinical data files under ``anagen/clinical/data/``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed JSON data file ``data/<name>.json`` (read once per process)."""
    text = resources.files("anagen.clinical").joinpath("data", f"{name}.json").read_text("utf-8")
    document = json.loads(text)
    if not isinstance(document, dict) or "version" not in document:
        raise RuntimeError(f"clinical data file {name}.json has no version")
    return document


def entries(name: str, section: str) -> dict[str, dict[str, Any]]:
    """One section of a data file: a mapping of code → entry (each with label and source)."""
    section_data = load(name)[section]
    if not isinstance(section_data, dict):
        raise RuntimeError(f"{name}.json: section {section} must be an object")
    return {code: entry for code, entry in section_data.items() if not code.startswith("_")}
