"""Texts handed to patients: aftercare sheets and "what to expect" pages, per procedure.

The words live in versioned data files (``data/aftercare.json``, ``data/what_to_expect.json``),
each with its version and source line, so a clinic can adapt them without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anagen.clinical import datafiles


@dataclass(frozen=True)
class PatientText:
    procedure: str
    label: str
    title: str
    sections: dict[str, Any]
    version: str
    source: str


def _load(name: str, procedure: str) -> PatientText | None:
    document = datafiles.load(name)
    entry = datafiles.entries(name, "procedures").get(procedure)
    if entry is None:
        return None
    sections = {k: v for k, v in entry.items() if k not in {"label", "title"}}
    return PatientText(
        procedure=procedure,
        label=str(entry["label"]),
        title=str(entry["title"]),
        sections=sections,
        version=str(document["version"]),
        source=str(document["source"]),
    )


def aftercare(procedure: str) -> PatientText | None:
    """The aftercare sheet for one procedure, or None when there is none."""
    return _load("aftercare", procedure)


def what_to_expect(procedure: str) -> PatientText | None:
    """The what-to-expect page for one procedure, or None when there is none."""
    return _load("what_to_expect", procedure)


def procedures(name: str) -> list[tuple[str, str]]:
    """(code, label) of every procedure with a text in data file ``name``."""
    return [(code, str(e["label"])) for code, e in datafiles.entries(name, "procedures").items()]
