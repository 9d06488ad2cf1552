"""Server-side SVG charts (matplotlib, Agg): the same picture on pages, in PDFs and in tests.

matplotlib's SVG carries ``style`` attributes, so pages show it as ``<img src=…svg>`` from a view
(CSP governs the page's DOM, not an image document).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from anagen.outcomes.selectors import Cohort, Series

_INK = "#1d2b36"
_ACCENT = "#0f766e"
_MUTED = "#8a97a3"


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    return out.getvalue()


def series_svg(series: Series, sessions: Sequence[dt.date] = ()) -> str:
    """One measure over time: points, the baseline line with its ±MDC band, sessions as lines."""
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
                label="baseline ± MDC95",
            )
        ax.axhline(series.baseline, color=_MUTED, linewidth=1, linestyle="--", label="baseline")
    marks: list[Any] = [d for d in sessions if xs and xs[0] - dt.timedelta(days=60) <= d]
    for i, day in enumerate(marks):
        ax.axvline(
            day, color="#c2410c", linewidth=0.8, alpha=0.6, label="session" if i == 0 else None
        )
    ax.plot(xs, ys, marker="o", color=_ACCENT, linewidth=1.8, label=series.measure.label)
    ax.set_title(series.title, fontsize=10, color=_INK, loc="left")
    ax.set_ylabel(series.measure.unit, fontsize=9)
    ax.tick_params(labelsize=8)
    fig.autofmt_xdate()
    ax.legend(fontsize=7, loc="best", frameon=False)
    ax.grid(alpha=0.25)
    return _svg(fig)


def cohorts_svg(cohorts: Sequence[Cohort], title: str) -> str:
    """Mean percent change per cohort with its 95 % CI."""
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
