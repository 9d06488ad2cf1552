"""Server-side SVG charts (matplotlib, Agg): the same picture on pages, in PDFs and in tests.

matplotlib's SVG carries ``style`` attributes, so pages show it as ``<img src=…svg>`` from a view
(CSP governs the page's DOM, not an image document).

Each chart is drawn once per version of its data: the SVG is stored under a key that is the hash
of everything drawn (content-addressed, in MEDIA_ROOT/private/charts), so a page or report asks
again for the same data and gets the stored picture instead of another matplotlib run (issue 15).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import urlencode
from matplotlib.figure import Figure

from anagen.outcomes.selectors import Cohort, Series

_INK = "#1d2b36"
_ACCENT = "#0f766e"
_MUTED = "#8a97a3"
# Bump when the drawing code changes: old pictures then stop matching any key.
DRAWING_VERSION = 1


def chart_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "private" / "charts"


def chart_key(kind: str, data: Any) -> str:
    """The content address of a chart: a hash of its kind, the drawing version and its data."""
    text = json.dumps([kind, DRAWING_VERSION, data], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _cached(kind: str, data: Any, draw: Callable[[], str]) -> str:
    """The stored SVG for this data, drawn (and stored atomically) on first use."""
    key = chart_key(kind, data)
    path = chart_dir() / key[:2] / f"{key}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    svg = draw()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(svg)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full disk costs a redraw next time, never the page
    return svg


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    return out.getvalue()


def series_data(series: Series, sessions: Sequence[dt.date] = ()) -> dict[str, Any]:
    """Everything a progress chart draws: its content address is the hash of this."""
    return {
        "title": series.title,
        "label": series.measure.label,
        "unit": series.measure.unit,
        "baseline": series.baseline,
        "mdc": series.mdc,
        "points": [(p.on.isoformat(), p.value) for p in series.points],
        "sessions": [d.isoformat() for d in sessions],
    }


# A progress page links each chart by its content address, signed for the patient and series,
# so the chart's request reads the stored picture without recomputing the series (issue 15).
_SIGN_SALT = "anagen.outcomes.charts.series"
_KEY = re.compile(r"[0-9a-f]{64}")


def _signature(patient_id: int, series_key: str, key: str) -> str:
    return salted_hmac(
        _SIGN_SALT, f"{patient_id}|{series_key}|{key}", algorithm="sha256"
    ).hexdigest()[:32]


def series_chart_query(patient_id: int, series: Series, sessions: Sequence[dt.date]) -> str:
    """The query string of a staff progress chart: the series, its content address and a
    signature binding both to the patient (a link works only for the patient it was made for)."""
    key = chart_key("series", series_data(series, sessions))
    return urlencode(
        {"series": series.key, "v": key, "sig": _signature(patient_id, series.key, key)}
    )


def signed_series_svg(patient_id: int, series_key: str, key: str, signature: str) -> str | None:
    """The stored picture a progress page linked to, or None (no or a wrong signature, or the
    picture is not stored: the caller then draws it from the data)."""
    if not _KEY.fullmatch(key) or not constant_time_compare(
        _signature(patient_id, series_key, key), signature
    ):
        return None
    try:
        return (chart_dir() / key[:2] / f"{key}.svg").read_text(encoding="utf-8")
    except OSError:
        return None


# Words for the patient's report: no MDC95, no method names.
PLAIN_WORDS = {
    "band": "normal measuring difference",
    "baseline": "at the start",
    "session": "treatment session",
}


def series_svg(series: Series, sessions: Sequence[dt.date] = (), *, plain_title: str = "") -> str:
    """One measure over time: points, the baseline line with its ±MDC band, sessions as lines.

    With ``plain_title`` (the patient's report) the chart speaks everyday words."""
    data = series_data(series, sessions)
    if plain_title:  # staff charts keep their stored keys
        data = {**data, "plain_title": plain_title}
    return _cached("series", data, lambda: _draw_series(series, sessions, plain_title))


def _draw_series(series: Series, sessions: Sequence[dt.date], plain_title: str = "") -> str:
    words = (
        PLAIN_WORDS
        if plain_title
        else {"band": "baseline ± MDC95", "baseline": "baseline", "session": "session"}
    )
    fig = Figure(figsize=(6.4, 2.8), dpi=100)
    ax = fig.add_subplot()
    xs: list[Any] = [p.on for p in series.points]
    ys = [p.value for p in series.points]
    if series.baseline is not None and xs:
        if series.mdc is not None:
            ax.axhspan(
                series.baseline - series.mdc,
                series.baseline + series.mdc,
                color=_MUTED,
                alpha=0.18,
                label=words["band"],
            )
        ax.axhline(
            series.baseline, color=_MUTED, linewidth=1, linestyle="--", label=words["baseline"]
        )
    marks: list[Any] = [d for d in sessions if xs and xs[0] - dt.timedelta(days=60) <= d]
    for i, day in enumerate(marks):
        ax.axvline(
            day,
            color="#c2410c",
            linewidth=0.8,
            alpha=0.6,
            label=words["session"] if i == 0 else None,
        )
    ax.plot(
        xs, ys, marker="o", color=_ACCENT, linewidth=1.8, label=plain_title or series.measure.label
    )
    ax.set_title(plain_title or series.title, fontsize=10, color=_INK, loc="left")
    ax.set_ylabel(series.measure.unit, fontsize=9)
    ax.tick_params(labelsize=8)
    fig.autofmt_xdate()
    ax.legend(fontsize=7, loc="best", frameon=False)
    ax.grid(alpha=0.25)
    return _svg(fig)


def cohorts_svg(cohorts: Sequence[Cohort], title: str) -> str:
    """Mean percent change per cohort with its 95 % CI."""
    data = {
        "title": title,
        "bars": [(c.label, c.n, c.percent.mean, c.percent.low, c.percent.high) for c in cohorts],
    }
    return _cached("cohorts", data, lambda: _draw_cohorts(cohorts, title))


def _draw_cohorts(cohorts: Sequence[Cohort], title: str) -> str:
    fig = Figure(figsize=(6.4, max(1.6, 0.5 * len(cohorts) + 1)), dpi=100)
    ax = fig.add_subplot()
    labels = [f"{c.label} (n={c.n})" for c in cohorts]
    means = [c.percent.mean for c in cohorts]
    errs_low = [c.percent.mean - c.percent.low if c.percent.low is not None else 0 for c in cohorts]
    errs_high = [
        c.percent.high - c.percent.mean if c.percent.high is not None else 0 for c in cohorts
    ]
    ax.barh(labels, means, xerr=[errs_low, errs_high], color=_ACCENT, alpha=0.8, capsize=3)
    ax.axvline(0, color=_INK, linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("mean % change from baseline (95 % CI)", fontsize=9)
    ax.set_title(title, fontsize=10, loc="left")
    ax.tick_params(labelsize=8)
    ax.grid(axis="x", alpha=0.25)
    return _svg(fig)
