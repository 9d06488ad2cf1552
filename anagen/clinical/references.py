"""Sources read as references: author, year, title (and where it was published).

Data files carry a ``reference`` object beside each rule's free-text ``source`` note; staff see
the reference, never a file name or a section number of the project's notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def format_reference(reference: Mapping[str, Any] | None) -> str:
    """``{"authors": "Weir JP", "year": 2005, "title": "…", "published": "J …"}`` →
    "Weir JP (2005). Quantifying …. J …". Missing parts are left out; None gives ""."""
    if not reference:
        return ""
    authors = str(reference.get("authors") or "").strip()
    year = reference.get("year")
    title = str(reference.get("title") or "").strip().rstrip(".")
    published = str(reference.get("published") or "").strip().rstrip(".")
    head = f"{authors} ({year})" if authors and year else authors or (f"({year})" if year else "")
    parts = [p for p in (head, title, published) if p]
    return ". ".join(parts) + "." if parts else ""
