"""Classification bands read from data: a value falls in exactly one band of a well-formed set.

A band's bounds are any of ``above`` (>), ``from`` (>=), ``up_to`` (<=) and ``below`` (<); a missing
bound is open. Data files list bands so that they are total and non-overlapping (a test checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Band:
    grade: str
    label: str = ""
    above: float | None = None
    from_: float | None = None
    up_to: float | None = None
    below: float | None = None

    def contains(self, value: float) -> bool:
        return not (
            (self.above is not None and not value > self.above)
            or (self.from_ is not None and not value >= self.from_)
            or (self.up_to is not None and not value <= self.up_to)
            or (self.below is not None and not value < self.below)
        )

    @classmethod
    def from_data(cls, entry: Mapping[str, Any]) -> Band:
        return cls(
            grade=str(entry["grade"]),
            label=str(entry.get("label", "")),
            above=entry.get("above"),
            from_=entry.get("from"),
            up_to=entry.get("up_to"),
            below=entry.get("below"),
        )


def bands_from_data(entries: Iterable[Mapping[str, Any]]) -> tuple[Band, ...]:
    return tuple(Band.from_data(e) for e in entries)


def grade(value: float, bands: Iterable[Band]) -> Band:
    """The one band containing ``value``; a gap in the data is a programming error."""
    matches = [band for band in bands if band.contains(value)]
    if len(matches) != 1:
        raise RuntimeError(f"value {value} falls in {len(matches)} bands; check the data file")
    return matches[0]
