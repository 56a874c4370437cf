"""The monthly report's charts as PNG bytes: visits per day, coverage by tier, plan vs actual.

matplotlib's object-oriented API with the Agg canvas draws them (no pyplot: no global figure
registry to leak into, no GUI backend to pick). Chinese labels need a font that has the
glyphs: Noto Sans CJK SC, which scripts/setup.sh installs (Debian's fonts-noto-cjk) and
matplotlib finds by family name inside the .ttc collection, with DejaVu Sans after it for
anything else.

A month of 50 units draws 153 charts, so each is kept cheap: layout set by hand (no
tight_layout, which draws twice), bars drawn as one line collection rather than one rectangle
artist each, day labels every fifth day, rep names as plain texts rather than ticks, PNG at
zlib level 1 (encoded by Pillow as RGB). A ``Charts`` object keeps one figure per chart shape
(see the class): the axes, ticks, titles and legend are made once, and for the daily and tier
charts even drawn once – each chart draws only what changes on that background. Measured on
the project's 2-CPU machine (CPU time): 20 ms for the daily chart (was 55), 16 ms for the tier
chart (was 63), 75 ms for a 40-rep plan chart (was 103; its names and left margin change with
each unit, so it is drawn whole) – about 0.11 s per report, a third of it Pillow's PNG
encoding. The PNGs are pixel for pixel those the figure drawn afresh gives (150 dpi: 945
pixels across the 160 mm the document gives a chart; lower resolutions blur the 7-point
CJK labels).

Drawing holds a module lock because matplotlib's settings (rcParams) are process-wide.
"""

from __future__ import annotations

import calendar
import io
import logging
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from datetime import date
from functools import lru_cache

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

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


@lru_cache(maxsize=1)
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


class _Kept:
    """One figure kept for one chart shape, and the artists each chart of that shape updates.

    With ``dynamic`` artists, the rest of the figure (titles, labels, the fixed axis, the
    legend) is drawn once into a background; each chart restores it and draws only those
    artists on it, in the order given – the order of their z-order, as a full draw would.
    """

    def __init__(self, figure: Figure, ax, dynamic: Sequence = (), **parts):
        self.figure = figure
        self.canvas = figure.canvas
        self.ax = ax
        self.parts = parts
        self.dynamic = list(dynamic)
        self.background = None
        for artist in self.dynamic:
            artist.set_animated(True)

    def draw(self) -> None:
        """Draw the figure: all of it, or the dynamic artists on the kept background."""
        if not self.dynamic:
            self.canvas.draw()
            return
        if self.background is None:
            self.canvas.draw()        # animated artists are left out of a full draw
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        else:
            self.canvas.restore_region(self.background)
        renderer = self.canvas.get_renderer()
        for artist in self.dynamic:
            artist.draw(renderer)


class Charts:
    """Draw the report charts on figures kept per chart shape, in the language of the ``words`` given.

    A shape is a chart kind with what fixes its frame: the language and, per kind, the month's
    length, the tiers shown or the number of reps. Its figure, axes, titles, ticks and legend are
    made once; each chart only updates its bars, numbers and limits (a month of 50 units has
    153 charts of 3 shapes). At most ``KEEP`` figures are kept, the least recently used go.
    """

    KEEP = 8

    def __init__(self):
        self._kept: OrderedDict[tuple, _Kept] = OrderedDict()

    def _shape(self, key: tuple, build: Callable[[], _Kept]) -> _Kept:
        kept = self._kept.get(key)
        if kept is None:
            kept = self._kept[key] = build()
            if len(self._kept) > self.KEEP:
                self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(key)
        return kept

    @staticmethod
    def _png(kept: _Kept) -> bytes:
        """Return the figure as PNG bytes: drawn by Agg, encoded by Pillow as RGB (the page is opaque)."""
        kept.draw()
        width, height = kept.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), kept.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        # zlib level 1: a third of the encoding time for a fifth more bytes (the .docx zips them again).
        image.convert("RGB").save(out, format="PNG", compress_level=1)
        return out.getvalue()

    def visits_per_day(self, words: Words, year: int, month: int, days: Sequence[DayCount],
                       days_off: Collection[date] | None = None) -> bytes | None:
        """Return the bar chart of visits on each day of the month (None when there were none).

        ``days_off`` are shaded lighter: the report's days off by the statutory calendar (National
        Day, not the make-up Saturday worked for it); None shades Saturdays and Sundays.
        """
        counts: dict[int, int] = {}
        for day, visits in days:
            if (day.year, day.month) == (year, month):
                counts[day.day] = counts.get(day.day, 0) + visits
        if not any(counts.values()):
            return None
        last = calendar.monthrange(year, month)[1]
        xs = range(1, last + 1)
        ys = [counts.get(x, 0) for x in xs]
        # Days off lighter: a low bar there is expected, on a working day it is not. The same
        # calendar as the report discipline's, or the chart would contradict the table beside it.
        off = set(days_off) if days_off is not None else {date(year, month, x) for x in xs
                                                          if date(year, month, x).weekday() >= 5}
        colors = [_LIGHT if date(year, month, x) in off else _BLUE for x in xs]
        with _lock, rc_context(_settings()):
            kept = self._shape(("per_day", words.language, last), lambda: self._per_day_figure(words, last))
            bars = kept.parts["bars"]
            bars.set_segments([((x, 0), (x, y)) for x, y in zip(xs, ys)])
            bars.set_color(colors)
            kept.ax.set_ylim(0, max(ys) * 1.05)
            return self._png(kept)

    @staticmethod
    def _per_day_figure(w: Words, last: int) -> _Kept:
        fig = Figure(figsize=(WIDTH_IN, 2.6), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        left, right = 0.08, 0.99
        fig.subplots_adjust(left=left, right=right, bottom=0.17, top=0.88)
        # Bars as one line collection, three quarters of a day wide (in points), not one
        # rectangle artist per day.
        day_pt = WIDTH_IN * (right - left) * 72 / (last + 0.4)
        xs = range(1, last + 1)
        bars = ax.vlines(xs, 0, [0] * last, linewidth=0.75 * day_pt, capstyle="butt", colors=_BLUE)
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
        # Only the y axis (its ticks, numbers and grid follow the highest bar), the bars and
        # the spines over them change from chart to chart.
        return _Kept(fig, ax, [ax.yaxis, bars, ax.spines["left"], ax.spines["bottom"]], bars=bars)

    def tier_coverage(self, words: Words, tiers: Sequence[TierCoverage]) -> bytes | None:
        """Return the bar chart of each tier's coverage and plan completion in % (None without customers)."""
        tiers = [t for t in tiers if t.customers or t.planned]
        if not tiers:
            return None
        series = ([t.coverage_pct for t in tiers], [t.plan_pct for t in tiers])
        with _lock, rc_context(_settings()):
            names = tuple(words["chart_tier_name"].format(tier=t.tier) for t in tiers)
            kept = self._shape(("tiers", words.language, names), lambda: self._tiers_figure(words, names))
            for bars, labels, values in zip(kept.parts["bars"], kept.parts["labels"], series):
                for rect, label, value in zip(bars, labels, values):
                    height = value or 0.0
                    rect.set_height(height)
                    label.xy = (rect.get_x() + rect.get_width() / 2, height)
                    label.set_text("—" if value is None else f"{value:.0f}%")
            return self._png(kept)

    @staticmethod
    def _tiers_figure(w: Words, names: tuple[str, ...]) -> _Kept:
        fig = Figure(figsize=(WIDTH_IN, 2.6), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        fig.subplots_adjust(left=0.08, right=0.99, bottom=0.12, top=0.86)
        xs = range(len(names))
        bars, labels = [], []
        for offset, color, label in ((-0.2, _BLUE, w["chart_coverage"]), (0.2, _ORANGE, w["chart_plan"])):
            container = ax.bar([x + offset for x in xs], [0.0] * len(names), width=0.38, color=color, label=label)
            bars.append(list(container))
            # The value above each bar, as bar_label places it (1 point above its top).
            labels.append([ax.annotate("", (rect.get_x() + rect.get_width() / 2, 0), xytext=(0, 1),
                                       textcoords="offset points", ha="center", va="bottom", fontsize=7)
                           for rect in container])
        ax.set_xticks(list(xs), list(names))
        ax.set_ylim(0, 112)
        ax.set_yticks([0, 25, 50, 75, 100])
        ax.set_ylabel(w["chart_pct_axis"])
        # Title on the left, legend on the right of the same line: neither covers the other.
        ax.set_title(w["chart_tiers"], loc="left")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False, fontsize=7)
        ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
        ax.set_axisbelow(True)
        # Only the bars, the spines over them and the numbers above them change.
        rects = [rect for series in bars for rect in series]
        return _Kept(fig, ax, [*rects, ax.spines["left"], ax.spines["bottom"], *[t for ts in labels for t in ts]],
                     bars=bars, labels=labels)

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
            kept = self._shape(("plan", w.language, len(rows)), lambda: self._plan_figure(w, len(rows)))
            fig, ax = kept.figure, kept.ax
            fig.subplots_adjust(left=left, right=0.97, bottom=0.45 / height, top=1 - 0.55 / height)
            kept.parts["planned"].set_segments([((0, y), (r.planned, y)) for y, r in enumerate(rows)])
            kept.parts["done"].set_segments([((0, y), (r.done, y)) for y, r in enumerate(rows)])
            for text, row in zip(kept.parts["names"], rows):
                text.set_text(row.name)
            ax.set_xlim(0, max(max(r.planned, r.done) for r in rows) * 1.12 + 0.5)
            ax.set_title(title, loc="left")
            return self._png(kept)

    @staticmethod
    def _plan_figure(w: Words, count: int) -> _Kept:
        height = 0.9 + ROW_IN * count
        fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ys = range(count)
        # Bars as two line collections (a row is ROW_IN tall: 10 and 5 points thick), not
        # eighty rectangle artists.
        planned = ax.hlines(ys, 0, [0] * count, linewidth=10, capstyle="butt", color=_LIGHT, label=w["chart_planned"])
        done = ax.hlines(ys, 0, [0] * count, linewidth=5, capstyle="butt", color=_BLUE, label=w["chart_done"])
        # Names as plain texts beside the axis, not as tick labels: a tick is several
        # artists, and forty of them were a third of this chart's time.
        ax.set_yticks([])
        beside = ax.get_yaxis_transform()
        names = [ax.text(-0.01, y, "", transform=beside, ha="right", va="center") for y in ys]
        ax.set_ylim(count - 0.4, -0.6)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False, fontsize=7)
        ax.grid(axis="x", color="#DDDDDD", linewidth=0.6)
        ax.set_axisbelow(True)
        return _Kept(fig, ax, planned=planned, done=done, names=names)
