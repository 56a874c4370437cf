"""The monthly report's charts as PNG bytes: visits per day, coverage by tier, plan vs actual.

matplotlib's object-oriented API with the Agg canvas draws them (no pyplot: no global figure
registry to leak into, no GUI backend to pick). Chinese labels need a font that has the
glyphs: Noto Sans CJK SC, which scripts/setup.sh installs (Debian's fonts-noto-cjk) and
matplotlib finds by family name inside the .ttc collection, with DejaVu Sans after it for
anything else.

A month of 50 units draws 153 charts, so each is kept cheap: layout set by hand (no
tight_layout, which draws twice), bars drawn as one line collection rather than one rectangle
artist each, day labels every fifth day, rep names as plain texts rather than ticks, PNG at
zlib level 1. Measured on the project's 2-CPU machine: 50–60 ms for the daily and tier
charts, about 90 ms for a 40-rep plan chart – about 0.2 s per report, most of it matplotlib's
per-artist Python work.

One ``Charts`` object draws on one reused figure, so a run over all units keeps one canvas.
Drawing holds a module lock because matplotlib's settings (rcParams) are process-wide.
"""

from __future__ import annotations

import calendar
import io
import logging
import threading
import unicodedata
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .labels import Words
from .model import DayCount, PlanRow, TierCoverage

__all__ = ["CJK_FAMILY", "Charts", "cjk_font"]

log = logging.getLogger("visitflow.monthly")

CJK_FAMILY = "Noto Sans CJK SC"
WIDTH_IN = 6.3                 # 160 mm: the text width of a portrait A4 page with 25 mm margins
DPI = 150
PLAN_ROWS = 40                 # more reps than this: the first 40 (the figures' order)
ROW_IN = 0.2                   # height of one rep's row in the plan chart (14.4 pt)
_BLUE, _LIGHT, _ORANGE = "#2F5597", "#B4C7E7", "#ED7D31"
_lock = threading.Lock()


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Return the family name of the CJK font the charts use, or None (with a warning) when none is installed."""
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    for wanted in (CJK_FAMILY, "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback"):
        if wanted in names:
            return wanted
    found = sorted(name for name in names if "CJK" in name)
    if found:
        return found[0]
    log.warning("no CJK font found (install fonts-noto-cjk): Chinese chart labels will show as boxes")
    return None


def _settings() -> dict:
    family = [name for name in (cjk_font(), "DejaVu Sans") if name]
    return {
        "font.family": family,
        "font.size": 8,
        "axes.unicode_minus": False,      # the CJK fonts have no U+2212 minus
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "savefig.dpi": DPI,
        "figure.dpi": DPI,
    }


def _text_width(text: str) -> float:
    """Return a label's width in em: wide (CJK) characters count 1, others about half."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55 for ch in text)


class Charts:
    """Draw the report charts, in the language of the ``words`` given, on one reused figure."""

    def __init__(self):
        self._figure = Figure(figsize=(WIDTH_IN, 2.6), dpi=DPI)
        FigureCanvasAgg(self._figure)

    def _png(self) -> bytes:
        out = io.BytesIO()
        # zlib level 1: a third of the encoding time for a fifth more bytes (the .docx zips them again).
        self._figure.savefig(out, format="png", dpi=DPI, facecolor="white", pil_kwargs={"compress_level": 1})
        return out.getvalue()

    def visits_per_day(self, words: Words, year: int, month: int, days: Sequence[DayCount]) -> bytes | None:
        """Return the bar chart of visits on each day of the month (None when there were none)."""
        counts: dict[int, int] = {}
        for day, visits in days:
            if (day.year, day.month) == (year, month):
                counts[day.day] = counts.get(day.day, 0) + visits
        if not any(counts.values()):
            return None
        last = calendar.monthrange(year, month)[1]
        xs = list(range(1, last + 1))
        ys = [counts.get(x, 0) for x in xs]
        weekend = [date(year, month, x).weekday() >= 5 for x in xs]
        w = words
        with _lock, rc_context(_settings()):
            fig = self._figure
            fig.clear()
            fig.set_size_inches(WIDTH_IN, 2.6)
            ax = fig.add_subplot()
            left, right = 0.08, 0.99
            fig.subplots_adjust(left=left, right=right, bottom=0.17, top=0.88)
            # Bars as one line collection, three quarters of a day wide (in points), not one
            # rectangle artist per day. Saturdays and Sundays lighter: a low bar there is
            # expected, on a weekday it is not.
            day_pt = WIDTH_IN * (right - left) * 72 / (last + 0.4)
            ax.vlines(xs, 0, ys, linewidth=0.75 * day_pt, capstyle="butt",
                      colors=[_LIGHT if we else _BLUE for we in weekend])
            ax.set_ylim(0, max(ys) * 1.05)
            ax.set_title(w["chart_per_day"], loc="left")
            ax.set_xlabel(w["chart_day_axis"])
            ax.set_ylabel(w["chart_visits_axis"])
            ax.set_xlim(0.3, last + 0.7)
            # Labels on the 1st, every 5th and the last day: each tick is a costly object, and
            # the bars themselves show the days between.
            ax.set_xticks(sorted({1, *range(5, last, 5), last}))
            ax.tick_params(axis="x", labelsize=7, length=2)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
            ax.set_axisbelow(True)
            return self._png()

    def tier_coverage(self, words: Words, tiers: Sequence[TierCoverage]) -> bytes | None:
        """Return the bar chart of each tier's coverage and plan completion in % (None without customers)."""
        tiers = [t for t in tiers if t.customers or t.planned]
        if not tiers:
            return None
        w = words
        with _lock, rc_context(_settings()):
            fig = self._figure
            fig.clear()
            fig.set_size_inches(WIDTH_IN, 2.6)
            ax = fig.add_subplot()
            fig.subplots_adjust(left=0.08, right=0.99, bottom=0.12, top=0.86)
            xs = list(range(len(tiers)))
            for offset, color, label, values in (
                    (-0.2, _BLUE, w["chart_coverage"], [t.coverage_pct for t in tiers]),
                    (0.2, _ORANGE, w["chart_plan"], [t.plan_pct for t in tiers])):
                heights = [v or 0.0 for v in values]
                bars = ax.bar([x + offset for x in xs], heights, width=0.38, color=color, label=label)
                ax.bar_label(bars, labels=["—" if v is None else f"{v:.0f}%" for v in values], fontsize=7, padding=1)
            ax.set_xticks(xs, [w["chart_tier_name"].format(tier=t.tier) for t in tiers])
            ax.set_ylim(0, 112)
            ax.set_yticks([0, 25, 50, 75, 100])
            ax.set_ylabel(w["chart_pct_axis"])
            # Title on the left, legend on the right of the same line: neither covers the other.
            ax.set_title(w["chart_tiers"], loc="left")
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False, fontsize=7)
            ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
            ax.set_axisbelow(True)
            return self._png()

    def plan_vs_actual(self, words: Words, rows: Sequence[PlanRow]) -> bytes | None:
        """Return the horizontal bars of planned and done visits per rep (None without a plan)."""
        rows = [r for r in rows if r.planned or r.done]
        if not rows:
            return None
        w = words
        title = w["chart_plan_vs_actual"]
        if len(rows) > PLAN_ROWS:
            rows = rows[:PLAN_ROWS]
            title = w["chart_plan_vs_actual_top"].format(n=PLAN_ROWS)
        height = 0.9 + ROW_IN * len(rows)
        label_em = max(_text_width(r.name) for r in rows)
        left = min(0.3, (0.15 + label_em * 8 / 72) / WIDTH_IN)   # 8 pt labels, 72 pt per inch
        with _lock, rc_context(_settings()):
            fig = self._figure
            fig.clear()
            fig.set_size_inches(WIDTH_IN, height)
            ax = fig.add_subplot()
            fig.subplots_adjust(left=left, right=0.97, bottom=0.45 / height, top=1 - 0.55 / height)
            ys = list(range(len(rows)))
            # Bars as two line collections (a row is ROW_IN tall: 10 and 5 points thick), not
            # eighty rectangle artists.
            ax.hlines(ys, 0, [r.planned for r in rows], linewidth=10, capstyle="butt", color=_LIGHT,
                      label=w["chart_planned"])
            ax.hlines(ys, 0, [r.done for r in rows], linewidth=5, capstyle="butt", color=_BLUE,
                      label=w["chart_done"])
            # Names as plain texts beside the axis, not as tick labels: a tick is several
            # artists, and forty of them were a third of this chart's time.
            ax.set_yticks([])
            beside = ax.get_yaxis_transform()
            for y, row in zip(ys, rows):
                ax.text(-0.01, y, row.name, transform=beside, ha="right", va="center")
            ax.set_ylim(len(rows) - 0.4, -0.6)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlim(0, max(max(r.planned, r.done) for r in rows) * 1.12 + 0.5)
            ax.set_title(title, loc="left")
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False, fontsize=7)
            ax.grid(axis="x", color="#DDDDDD", linewidth=0.6)
            ax.set_axisbelow(True)
            return self._png()
