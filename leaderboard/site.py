"""The static leaderboard site, written from the results store.

``render_site(store, out)`` writes plain HTML files: an overview, one page per
task with sortable tables (one per benchmark / split), one page per model and
one drill-down page per result with its per-class / per-prompt / per-sequence
table read from the result JSON the row points to. ``publish_site`` adds what
a static host wants (``.nojekyll``, ``404.html``, ``robots.txt``,
``sitemap.xml``) and the board as JSON and CSV under ``data/``.

Why it looks like this:

- Static, relative links to explicit ``.html`` files, no CDN: the site works
  from ``file://``, from any static host, and offline. A Content-Security-Policy
  meta tag forbids anything but the site's own files.
- Charts are inline SVG drawn here, so a page is one request plus the shared
  CSS and JS, and every chart has a title and a description for screen readers;
  the tables stay the source of truth.
- Model names, metadata and class names come from users: every value passes
  through :func:`esc` on its way into markup, and only ``http(s)`` links
  become anchors.
- The site is built in a temporary folder next to ``out`` and swapped in at
  the end, so a failed render never leaves a half-written site, and pages of
  removed models do not linger (a host's ``CNAME`` is kept). A non-empty
  ``out`` that is not a site this module wrote is refused rather than
  overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from psalm_bench import __version__
from psalm_bench.errors import InputError
from psalm_bench.leaderboard.report import LOWER_IS_BETTER
from psalm_bench.leaderboard.store import OFFICIAL, ResultsStore, Row
from psalm_bench.tasks import TASKS

ASSETS = Path(__file__).resolve().with_name("site_assets")
ASSET_FILES = ("site.css", "site.js")
DEFAULT_TITLE = "psalm-bench leaderboard"
GENERATOR = f"psalm-bench {__version__}"

# The number a board is ranked by, where it is not the task's first headline metric.
PRIMARY_METRIC = {"interactive": "mIoU"}
# Per-class columns worth a bar chart, in order of preference (all in percent).
CHART_METRICS = ("IoU", "PQ", "AP", "J&F", "mIoU", "gIoU", "cIoU", "J", "F", "ACC")
BREAKDOWNS = {"per_class": "class", "per_prompt": "prompt", "per_sequence": "sequence"}
SIZE_KEYS = ("params", "parameters", "size", "model_size")
DATE_KEYS = ("date", "published", "year")
CITATION_KEYS = ("citation", "cite", "reference", "paper")
LINK_KEYS = ("link", "url", "paper_url", "arxiv", "code")
MAX_BARS = 80  # a bar chart beyond this shows the highest and lowest halves

_CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"


# ---------------------------------------------------------------------------
# Small helpers: escaping, names, numbers, dates


def esc(value: Any) -> str:
    """Text for HTML content and attribute values (quotes included)."""
    return html.escape(str(value), quote=True)


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe, readable piece of ``text`` (ASCII letters, digits, dashes)."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return s or "x"


def stable_name(*parts: str) -> str:
    """A readable slug plus a hash of the exact parts: unique, stable across renders."""
    digest = hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:8]
    return f"{slug('-'.join(parts), 60)}-{digest}"


def fmt_value(value: Any, digits: int = 1) -> str:
    """Tables round to one decimal (FORMATS.md); integers stay integers."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "–"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_SIZE = re.compile(r"^\s*~?\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmbt])?[a-z]*\s*$", re.I)
_SIZE_UNIT = {None: 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def parse_size(text: str | None) -> float | None:
    """``"7B"``, ``"1.3b"``, ``"350M"``, ``"2.7e9"`` -> parameter count; None if unreadable."""
    if not text:
        return None
    m = _SIZE.match(str(text))
    if not m:
        return None
    value = float(m.group(1)) * _SIZE_UNIT[(m.group(2) or "").lower() or None]
    return value if value > 0 and math.isfinite(value) else None


def fmt_size(count: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:g}{unit}" if count / scale >= 10 else f"{count / scale:.2g}{unit}"
    return f"{count:g}"


def parse_date(text: str | None) -> date | None:
    """``YYYY``, ``YYYY-MM`` or an ISO date/time prefix -> date; None otherwise."""
    m = re.match(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", str(text or ""))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        return None


def _first(row: Row, keys: Sequence[str], where: str = "params meta") -> str | None:
    for place in where.split():
        found = getattr(row, place)
        for key in keys:
            value = found.get(key)
            if value not in (None, ""):
                return str(value)
    return None


def row_size(row: Row) -> float | None:
    return parse_size(_first(row, SIZE_KEYS, "meta"))


def _date_text(row: Row) -> str | None:
    """The row's date as given: a published row's paper date (its citation's), else a date in its
    params/meta, else when it joined the board -- never for a published row, whose load day says nothing."""
    joined = None if row.source == "published" else row.added_at
    for text in (citation_of(row).get("date"), _first(row, DATE_KEYS), joined):
        if parse_date(text):
            return str(text).strip()
    return None


def row_date(row: Row) -> date | None:
    return parse_date(_date_text(row))


def date_label(row: Row) -> str | None:
    """The date at the precision given: '2024' stays a year, '2024-06' a month, a timestamp its day."""
    text = _date_text(row)
    m = re.match(r"^(\d{4})(-\d{1,2})?(-\d{1,2})?", text or "")
    return m.group(0) if m and parse_date(text) else None


def citation_of(row: Row) -> dict[str, Any]:
    """A published row's citation (title, authors, arxiv, table, ...); {} for other rows."""
    found = getattr(row, "citation", None)
    return dict(found) if isinstance(found, Mapping) else {}


def row_citation(row: Row) -> str | None:
    """One line naming where a paper's number is printed."""
    cite = citation_of(row)
    if cite.get("title"):
        return ", ".join(str(cite[k]) for k in ("title", "table") if cite.get(k))
    return _first(row, CITATION_KEYS)


def safe_url(text: str | None) -> str | None:
    """Only plain http(s) URLs become links; anything else stays text."""
    if text and re.match(r"^https?://[^\s<>\"']+$", text.strip(), re.I):
        return text.strip()
    return None


def arxiv_url(value: Any) -> str | None:
    text = str(value or "").strip()
    if re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?", text):
        return f"https://arxiv.org/abs/{text}"
    return safe_url(text)


def row_link(row: Row) -> str | None:
    cite = citation_of(row)
    for key in ("url", "link", "arxiv"):
        if url := arxiv_url(cite.get(key)):
            return url
    return safe_url(_first(row, LINK_KEYS))


def row_id(row: Row) -> tuple[str, ...]:
    """A row's identity: a model may have a measured and a published row on one board (and rows on the world's version of it)."""
    version = getattr(row, "version", OFFICIAL)
    return (row.model, row.task, row.benchmark, row.split, row.source) + (() if version == OFFICIAL else (version,))


def source_class(source: str) -> str:
    return source if source in ("measured", "reported", "published") else "reported"


# ---------------------------------------------------------------------------
# What the site shows: boards (task, benchmark, split) and models


@dataclass(frozen=True)
class Board:
    """One table: the rows of one (task, benchmark, version, split), best first.

    The synthetic world's version of a benchmark is another board: its numbers
    are never ranked beside the real dataset's."""

    task: str
    benchmark: str
    split: str
    metrics: list[str]
    primary: str
    rows: list[Row]
    version: str = OFFICIAL

    @property
    def anchor(self) -> str:
        return "board-" + (stable_name(self.benchmark, self.split) if self.version == OFFICIAL else stable_name(self.benchmark, self.version, self.split))

    @property
    def label(self) -> str:
        return f"{self.benchmark} / {self.split}" if self.version == OFFICIAL else f"{self.benchmark} ({self.version}) / {self.split}"

    @cached_property
    def _bests(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for metric in {m for r in self.rows for m in r.metrics}:
            values = [r.metrics[metric] for r in self.rows if _is_number(r.metrics.get(metric))]
            out[metric] = (min(values) if metric in LOWER_IS_BETTER else max(values)) if values else None
        return out

    def best(self, metric: str) -> float | None:
        """The best value of a metric on this board (computed once per board)."""
        return self._bests.get(metric)

    def leader(self) -> Row | None:
        best = self.best(self.primary)
        return next((r for r in self.rows if best is not None and r.metrics.get(self.primary) == best), None)


def headline_metrics(task: str, rows: Sequence[Row]) -> list[str]:
    if task in TASKS:
        return [m for group in TASKS[task].table_rows for m in group]
    names: list[str] = []
    for row in rows:
        names += [m for m in row.metrics if m not in names]
    return names


def _rank_key(metric: str) -> Callable[[Row], tuple]:
    lower = metric in LOWER_IS_BETTER

    def key(row: Row) -> tuple:
        value = row.metrics.get(metric)
        tie = (row.model.lower(), row.model, row.source != "measured", row.source)
        if not _is_number(value):
            return (1, 0.0, *tie)
        return (0, value if lower else -value, *tie)

    return key


def build_boards(rows: Sequence[Row]) -> dict[str, list[Board]]:
    """task -> its boards, in the store's order; rows ranked by the primary metric."""
    groups: dict[tuple[str, str, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.task, row.benchmark, row.split, getattr(row, "version", OFFICIAL)), []).append(row)
    boards: dict[str, list[Board]] = {}
    for (task, benchmark, split, version), members in groups.items():
        metrics = headline_metrics(task, members)
        primary = PRIMARY_METRIC.get(task, metrics[0] if metrics else "")
        if primary not in metrics:
            primary = metrics[0] if metrics else ""
        ranked = sorted(members, key=_rank_key(primary))
        boards.setdefault(task, []).append(Board(task, benchmark, split, metrics, primary, ranked, version))
    return boards


class Paths:
    """Where each page lives, relative to the site root (stable across renders)."""

    def task(self, task: str) -> str:
        return f"tasks/{slug(task)}.html" if task in TASKS else f"tasks/{stable_name(task)}.html"

    def model(self, model: str) -> str:
        return f"models/{stable_name(model)}.html"

    def result(self, row: Row) -> str:
        return f"results/{stable_name(*row_id(row))}.html"


PATHS = Paths()


# ---------------------------------------------------------------------------
# Inline SVG charts


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    source: str


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values that cover [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    step = _nice_step(hi - lo, count)
    start = math.floor(lo / step + 1e-9) * step
    ticks, v = [], start
    while v < hi + step * (1 - 1e-9):
        ticks.append(round(v, 10))
        v += step
    if ticks[-1] < hi - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def date_ticks(lo: int, hi: int, count: int = 6) -> tuple[list[float], str]:
    """Calendar ticks (first of a year or of a month) covering two ordinals, and their strftime format."""
    d0, d1 = date.fromordinal(lo), date.fromordinal(hi)
    span = (d1.year - d0.year) * 12 + d1.month - d0.month + 1
    if span > 24:
        years = next(s for s in (1, 2, 5, 10, 20, 50, 100) if span / 12 / s <= count)
        tick, step, fmt = date(d0.year - d0.year % years, 1, 1), years * 12, "%Y"
    else:
        months = next(s for s in (1, 2, 3, 6, 12) if span / s <= count)
        tick, step, fmt = date(d0.year, d0.month - (d0.month - 1) % months, 1), months, "%Y-%m"
    ticks = [tick]
    while ticks[-1] <= d1:
        ticks.append(_add_months(ticks[-1], step))
    return [float(t.toordinal()) for t in ticks], fmt


def _svg_open(chart_id: str, width: int, height: int, title: str, desc: str) -> str:
    return (
        f'<svg class="chart" id="{esc(chart_id)}" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{esc(chart_id)}-t {esc(chart_id)}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{esc(chart_id)}-t">{esc(title)}</title><desc id="{esc(chart_id)}-d">{esc(desc)}</desc>'
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(items: Sequence[tuple[str, float]], *, chart_id: str, title: str, desc: str, unit: str = "") -> str:
    """Horizontal bars, one per (label, value), in the given order; percent axis when values fit 0-100."""
    if not items:
        return ""
    values = [v for _, v in items]
    top_value = 100.0 if all(0 <= v <= 100 for v in values) else max(max(values), 1e-9)
    ticks = nice_ticks(0.0, top_value, 4)
    axis_max = ticks[-1]
    label_chars = min(28, max(len(label) for label, _ in items))
    label_w = 12 + 6.6 * label_chars
    width, bar_h, gap, top = 720, 14, 4, 22
    plot_w = width - label_w - 48
    height = top + len(items) * (bar_h + gap) + 8
    out = [_svg_open(chart_id, width, height, title, desc)]
    for t in ticks:
        x = label_w + plot_w * t / axis_max
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 6}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{top - 8}" text-anchor="middle">{esc(fmt_value(float(t), 0))}{esc(unit)}</text>')
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = max(0.0, plot_w * max(value, 0.0) / axis_max)
        out.append(
            f'<g><title>{esc(label)}: {esc(fmt_value(value, 2))}</title>'
            f'<text class="lbl" x="{label_w - 6:.1f}" y="{y + bar_h - 3}" text-anchor="end">{esc(_clip(label, 28))}</text>'
            f'<rect class="bar" x="{label_w:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}"/>'
            f'<text class="val" x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}">{esc(fmt_value(value))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)





def _marker(source: str, x: float, y: float) -> str:
    """Measured: a filled circle; published: a diamond; reported: a square (shape, not only colour)."""
    kind = source_class(source)
    if kind == "measured":
        return f'<circle class="pt pt-measured" cx="{x:.1f}" cy="{y:.1f}" r="5"/>'
    if kind == "published":
        return f'<path class="pt pt-published" d="M{x:.1f} {y - 6:.1f}L{x + 6:.1f} {y:.1f}L{x:.1f} {y + 6:.1f}L{x - 6:.1f} {y:.1f}Z"/>'
    return f'<rect class="pt pt-reported" x="{x - 4.5:.1f}" y="{y - 4.5:.1f}" width="9" height="9"/>'


def _text_width(text: str, size: float = 11.0) -> float:
    """A generous estimate of a label's width in px (the chart's 11 px sans-serif)."""
    return 0.62 * size * len(text)


def _log_ticks(lo_e: int, hi_e: int, width: float) -> list[float]:
    """Log-axis ticks at 1-2-5, else at each decade, else every k-th decade: the densest whose labels do not touch."""
    span = hi_e - lo_e
    for every, steps in ((1, (1, 2, 5)), (1, (1,)), (2, (1,)), (3, (1,)), (5, (1,)), (10, (1,))):
        ticks = [math.log10(m * 10**e) for e in range(lo_e, hi_e + 1) if (e - lo_e) % every == 0 for m in steps
                 if math.log10(m * 10**e) <= hi_e]
        gaps = [width * (b - a) / span for a, b in zip(ticks, ticks[1:])]
        widest = max(_text_width(fmt_size(10**t)) for t in ticks)
        if all(g >= widest + 8 for g in gaps):
            return ticks
    return [float(lo_e), float(hi_e)]


def scatter_chart(
    points: Sequence[Point], *, chart_id: str, title: str, desc: str, x_label: str, y_label: str, x_scale: str = "linear"
) -> str:
    """Points (measured: circles, reported: diamonds), labelled when few; x_scale linear, log or date (days)."""
    if not points:
        return ""
    width, height, left, right, top, bottom = 560, 320, 56, 24, 28, 48
    pw, ph = width - left - right, height - top - bottom

    def fx(v: float) -> float:
        return math.log10(v) if x_scale == "log" else v

    xs = [fx(p.x) for p in points]
    ys = [p.y for p in points]
    date_format = "%Y"
    if x_scale == "log":
        lo_e, hi_e = math.floor(min(xs)), math.ceil(max(xs))
        hi_e = hi_e if hi_e > lo_e else lo_e + 1
        x0, x1 = float(lo_e), float(hi_e)
        xticks = _log_ticks(lo_e, hi_e, pw)
    elif x_scale == "date":
        xticks, date_format = date_ticks(int(min(xs)), int(max(xs)))
        x0, x1 = xticks[0], xticks[-1]
    else:
        xticks = nice_ticks(min(xs), max(xs), 5)
        x0, x1 = xticks[0], xticks[-1]
    yticks = nice_ticks(min(ys), max(ys), 5)
    y0, y1 = yticks[0], yticks[-1]

    def px(v: float) -> float:
        return left + pw * (v - x0) / (x1 - x0)

    def py(v: float) -> float:
        return top + ph - ph * (v - y0) / (y1 - y0)

    def xtick_label(v: float) -> str:
        if x_scale == "log":
            return fmt_size(10**v)
        if x_scale == "date":
            return date.fromordinal(int(v)).strftime(date_format)
        return fmt_value(v, 1)

    out = [_svg_open(chart_id, width, height, title, desc)]
    for t in yticks:
        out.append(f'<line class="grid" x1="{left}" y1="{py(t):.1f}" x2="{left + pw}" y2="{py(t):.1f}"/>')
        out.append(f'<text class="tick" x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{esc(fmt_value(float(t), 0 if float(t).is_integer() else 1))}</text>')
    for t in xticks:
        out.append(f'<line class="grid" x1="{px(t):.1f}" y1="{top}" x2="{px(t):.1f}" y2="{top + ph}"/>')
        out.append(f'<text class="tick" x="{px(t):.1f}" y="{top + ph + 18}" text-anchor="middle">{esc(xtick_label(t))}</text>')
    out.append(f'<line class="axis" x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}"/>')
    out.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}"/>')
    out.append(f'<text class="axlabel" x="{left + pw / 2:.1f}" y="{height - 8}" text-anchor="middle">{esc(x_label)}</text>')
    out.append(f'<text class="axlabel" x="14" y="{top + ph / 2:.1f}" text-anchor="middle" transform="rotate(-90 14 {top + ph / 2:.1f})">{esc(y_label)}</text>')
    label_points = len(points) <= 16
    # Markers and labels so far: a label that would cover one is left to the tooltip.
    placed = [(px(xv) - 6, py(p.y) - 6, px(xv) + 6, py(p.y) + 6) for p, xv in zip(points, xs)]
    for p, xv in zip(points, xs):
        cx, cy = px(xv), py(p.y)
        x_text = fmt_size(p.x) if x_scale == "log" else (date.fromordinal(int(p.x)).isoformat() if x_scale == "date" else fmt_value(p.x))
        out.append(f"<g><title>{esc(p.label)} ({esc(p.source)}): {esc(fmt_value(p.y, 2))} at {esc(x_text)}</title>{_marker(p.source, cx, cy)}")
        if label_points:
            text = _clip(p.label, 24)
            anchor = "end" if cx > left + pw * 0.8 else "start"
            tx = cx - 8 if anchor == "end" else cx + 8
            span = _text_width(text)
            for ty in (cy - 6, cy + 14):
                box = (tx - span if anchor == "end" else tx, ty - 11, tx if anchor == "end" else tx + span, ty + 4)
                if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                    placed.append(box)
                    out.append(f'<text class="ptlabel" x="{tx:.1f}" y="{ty:.1f}" text-anchor="{anchor}">{esc(text)}</text>')
                    break
        out.append("</g>")
    kinds = sorted({p.source for p in points}, key=lambda s: (s != "measured", s))
    for i, kind in enumerate(kinds):
        lx, ly = left + 12 + i * 110, 12
        out.append(f'{_marker(kind, lx, ly)}<text class="legend" x="{lx + 10}" y="{ly + 4}">{esc(kind)}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------------
# HTML building blocks


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"  # text | number | none (not sortable)
    lower_is_better: bool = False
    title: str = ""


@dataclass(frozen=True)
class Cell:
    markup: str  # escaped HTML
    sort: str | None = None  # data-sort; "" marks a missing value (sorted last)
    css: str = ""
    row_header: bool = False


def text_cell(text: Any, *, href: str | None = None, row_header: bool = False, css: str = "") -> Cell:
    markup = esc(text) if href is None else f'<a href="{esc(href)}">{esc(text)}</a>'
    return Cell(markup, str(text), css, row_header)


def num_cell(value: Any, *, best: bool = False, digits: int = 1) -> Cell:
    if not _is_number(value):
        return Cell('<span class="na" title="not available">–</span>', "", "num")
    shown = esc(fmt_value(value, digits))
    return Cell(f"<strong>{shown}</strong>" if best else shown, repr(float(value)), "num best" if best else "num")


def table(caption: str, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, sorted_by: int | None = None,
          descending: bool = True, row_classes: Sequence[str] | None = None, sortable: bool = True, hint: bool = True) -> str:
    """A semantic table; ``sortable`` adds the data the site's JS sorts by (nulls last)."""
    out = [f'<div class="scroll"><table class="{"sortable" if sortable else "plain"}">']
    note = ' <span class="hint">Select a column header to sort.</span>' if sortable and hint else ""
    out.append(f"<caption>{caption}{note}</caption><thead><tr>")
    for i, col in enumerate(columns):
        attrs = ' scope="col"'
        if sortable and col.kind != "none":
            attrs += f' data-type="{col.kind}"'
            if col.lower_is_better:
                attrs += ' data-better="lower"'
        if sorted_by == i:
            attrs += f' aria-sort="{"descending" if descending else "ascending"}"'
        if col.kind == "number":
            attrs += ' class="num"'
        if col.title:
            attrs += f' title="{esc(col.title)}"'
        out.append(f"<th{attrs}>{esc(col.label).replace('_', '_<wbr>')}</th>")  # long metric names may wrap after '_'
    out.append("</tr></thead><tbody>")
    for r, cells in enumerate(rows):
        cls = row_classes[r] if row_classes else ""
        out.append(f'<tr class="{esc(cls)}">' if cls else "<tr>")
        for cell in cells:
            tag = "th" if cell.row_header else "td"
            attrs = ' scope="row"' if cell.row_header else ""
            if cell.css:
                attrs += f' class="{cell.css}"'
            if sortable and cell.sort is not None:
                attrs += f' data-sort="{esc(cell.sort)}"'
            out.append(f"<{tag}{attrs}>{cell.markup}</{tag}>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def short_citation(row: Row) -> str | None:
    """The citation as a table cell shows it on one line: the paper's short name and its table."""
    cite = citation_of(row)
    if cite.get("title"):
        name = str(cite["title"]).split(":")[0].strip()
        return ", ".join(x for x in (_clip(name, 40), str(cite.get("table") or "")) if x)
    return row_citation(row)


def source_badge(row: Row) -> str:
    markup = f'<span class="badge badge-{source_class(row.source)}">{esc(row.source)}</span>'
    cite = row_citation(row)
    if cite:
        markup += f' <cite title="{esc(_clip(cite, 300))}">{esc(short_citation(row) or cite)}</cite>'
    return markup


def _link_or_text(value: str) -> str:
    url = safe_url(value)
    return f'<a href="{esc(url)}" rel="nofollow noopener">{esc(url)}</a>' if url else esc(value)


def dl(items: Sequence[tuple[str, str]]) -> str:
    """A description list; values are escaped markup already."""
    return '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


@dataclass(frozen=True)
class Site:
    """What every page shares: the title, the task list for the nav, the footer."""

    title: str
    tasks: list[str]
    generated: str
    downloads: bool = False

    def page(self, path: str, heading: str, body: str, *, root: str | None = None, crumbs: Sequence[tuple[str, str]] = (),
             standalone: bool = False) -> str:
        """A whole HTML document; ``root`` is the prefix back to the site root ('' or '../' or a base URL).

        ``standalone`` inlines the CSS (allowed by its hash) and drops the JS: for a page a host
        serves at any address (404.html), where no relative path to the assets holds.
        """
        if root is None:
            root = "../" * path.count("/")
        if standalone:
            css = (ASSETS / "site.css").read_text(encoding="utf-8")
            digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
            csp = f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; form-action 'none'"
            head = f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n<style>{css}</style>\n'
        else:
            head = (f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
                    f'<link rel="stylesheet" href="{esc(root)}assets/site.css">\n'
                    f'<script src="{esc(root)}assets/site.js" defer></script>\n')
        nav = [f'<li><a href="{esc(root)}index.html"{_current(path, "index.html")}>Overview</a></li>']
        for task in self.tasks:
            target = PATHS.task(task)
            nav.append(f'<li><a href="{esc(root + target)}"{_current(path, target)}>{esc(task)}</a></li>')
        trail = ""
        if crumbs:
            parts = [f'<a href="{esc(root + href)}">{esc(text)}</a>' for text, href in crumbs]
            trail = f'<nav class="crumbs" aria-label="Breadcrumb">{" › ".join(parts)}</nav>'
        downloads = (
            f' Download the board: <a href="{esc(root)}data/leaderboard.json">JSON</a>, '
            f'<a href="{esc(root)}data/leaderboard.csv">CSV</a>.'
        ) if self.downloads else ""
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="{esc(GENERATOR)}">\n'
            f"{head}"
            f"<title>{esc(heading)} · {esc(self.title)}</title>\n"
            '<link rel="icon" href="data:,">\n'
            "</head>\n<body>\n"
            '<a class="skip" href="#main">Skip to content</a>\n'
            f'<header class="site"><a class="brand" href="{esc(root)}index.html">{esc(self.title)}</a>'
            f'<nav aria-label="Tasks"><ul>{"".join(nav)}</ul></nav></header>\n'
            f'<main id="main">{trail}<h1>{esc(heading)}</h1>\n{body}\n</main>\n'
            f'<footer>Generated by {esc(GENERATOR)} on {esc(self.generated)}. Static page: no external requests.{downloads}</footer>\n'
            '<p class="sr-only" aria-live="polite" id="sort-status"></p>\n'
            "</body>\n</html>\n"
        )


def _current(path: str, target: str) -> str:
    return ' aria-current="page"' if path == target else ""


# ---------------------------------------------------------------------------
# Pages


def _last_update(rows: Sequence[Row]) -> str:
    return max((r.added_at for r in rows), default="")


def _day(iso: str) -> str:
    return iso[:10] if iso else "–"


def overview_page(site: Site, rows: Sequence[Row], boards: dict[str, list[Board]]) -> str:
    if not rows:
        body = (
            '<section class="empty"><h2>No results yet</h2>'
            "<p>The leaderboard database holds no results. Score a model with "
            "<code>psalm-bench eval --task TASK --gt GT --pred PRED --json result.json</code>, add it with "
            "<code>psalm-bench leaderboard add result.json --model NAME</code>, then render the site again.</p></section>"
        )
        return site.page("index.html", "Leaderboard", body)
    models = sorted({r.model for r in rows}, key=str.lower)
    measured = sum(r.source == "measured" for r in rows)
    summary = (
        f'<p class="lead">{len(rows)} result{"s" * (len(rows) != 1)} of {len(models)} model{"s" * (len(models) != 1)} '
        f'on {len(boards)} task{"s" * (len(boards) != 1)} ({measured} measured by psalm-bench, {len(rows) - measured} from papers). '
        f'Last update: <time datetime="{esc(_last_update(rows))}">{esc(_day(_last_update(rows)))}</time>.</p>'
    )
    columns = [Column("Task"), Column("Benchmark"), Column("Split"), Column("Models", "number"), Column("Ranked by"),
               Column("Best", "number"), Column("Best model"), Column("Source"), Column("Updated")]
    table_rows, classes = [], []
    for task, task_boards in boards.items():
        for board in task_boards:
            leader = board.leader()
            table_rows.append([
                text_cell(task, href=PATHS.task(task) + "#" + board.anchor, row_header=True),
                text_cell(board.label.rsplit(" / ", 1)[0]), text_cell(board.split), num_cell(len(board.rows)), text_cell(board.primary),
                num_cell(board.best(board.primary)),
                text_cell(leader.model, href=PATHS.model(leader.model)) if leader else text_cell("–"),
                Cell(source_badge(leader), leader.source, "src") if leader else text_cell("–"),
                text_cell(_day(_last_update(board.rows))),
            ])
            classes.append("")
    tasks_table = table("Best result per task, benchmark and split.", columns, table_rows, row_classes=classes)
    mcols = [Column("Model"), Column("Params", "number", title="model size from the model's metadata (params)"),
             Column("Results", "number"), Column("Tasks"), Column("Source"), Column("Metadata", "none"), Column("Updated")]
    by_model: dict[str, list[Row]] = {}
    for r in rows:
        by_model.setdefault(r.model, []).append(r)
    mrows = []
    for model in models:
        mine = by_model[model]
        meta = mine[0].meta
        size = row_size(mine[0])
        other = "; ".join(f"{k}: {_clip(v, 60)}" for k, v in sorted(meta.items()) if k not in SIZE_KEYS)
        mrows.append([
            text_cell(model, href=PATHS.model(model), row_header=True),
            Cell(esc(_first(mine[0], SIZE_KEYS, "meta") or "–"), repr(size) if size else "", "num"),
            num_cell(len(mine)),
            text_cell(", ".join(sorted({r.task for r in mine}))),
            text_cell(", ".join(sorted({r.source for r in mine}))),
            Cell(esc(other) or "–"),
            text_cell(_day(_last_update(mine))),
        ])
    models_table = table("Models on the board.", mcols, mrows, sorted_by=0, descending=False)
    body = (
        f"{summary}\n<section aria-labelledby=\"h-tasks\"><h2 id=\"h-tasks\">Tasks</h2>{tasks_table}</section>\n"
        f"<section aria-labelledby=\"h-models\"><h2 id=\"h-models\">Models</h2>{models_table}</section>\n"
        f"{_legend()}"
    )
    return site.page("index.html", "Leaderboard", body)


def _legend() -> str:
    return (
        '<aside class="legend" aria-label="How to read the tables"><p>'
        '<span class="badge badge-measured">measured</span> scored by psalm-bench from the model\'s predictions; '
        '<span class="badge badge-published">published</span> and <span class="badge badge-reported">reported</span> '
        "numbers are printed in a paper, not scored here (citation beside them, row in italics). "
        "Numbers are percent, rounded to one decimal; the best value of each column is in bold; "
        "– marks a metric that is not defined or not reported.</p></aside>"
    )


def _trend_charts(board: Board, index: int) -> str:
    """The primary metric over model size and over date, where two or more rows have one."""
    figures = []
    metric = board.primary
    usable = [r for r in board.rows if _is_number(r.metrics.get(metric))]
    sized = [Point(r.model, s, r.metrics[metric], r.source) for r in usable if (s := row_size(r))]
    if len(sized) >= 2 and len({p.x for p in sized}) >= 2:
        scale = "log" if max(p.x for p in sized) / min(p.x for p in sized) > 20 else "linear"
        if scale == "linear":
            sized = [Point(p.label, p.x / 1e9, p.y, p.source) for p in sized]
        desc = f"{metric} of {len(sized)} models against their parameter count; best {board.best(metric):.1f}."
        svg = scatter_chart(sized, chart_id=f"size-{index}", title=f"{board.task} {board.label}: {metric} over model size",
                            desc=desc, x_label="parameters" + (" (log scale)" if scale == "log" else " (billions)"),
                            y_label=metric, x_scale=scale)
        figures.append(f"<figure>{svg}<figcaption>{esc(metric)} over model size (model metadata <code>params</code>).</figcaption></figure>")
    dated = [Point(r.model, float(d.toordinal()), r.metrics[metric], r.source) for r in usable if (d := row_date(r))]
    if len(dated) >= 2 and len({p.x for p in dated}) >= 2:
        desc = f"{metric} of {len(dated)} results against their date, from {date.fromordinal(int(min(p.x for p in dated)))} to {date.fromordinal(int(max(p.x for p in dated)))}."
        svg = scatter_chart(dated, chart_id=f"date-{index}", title=f"{board.task} {board.label}: {metric} over time",
                            desc=desc, x_label="date", y_label=metric, x_scale="date")
        figures.append(f"<figure>{svg}<figcaption>{esc(metric)} over date (a paper's date where given, else when the result was added).</figcaption></figure>")
    return f'<div class="figures">{"".join(figures)}</div>' if figures else ""


def board_table(board: Board) -> str:
    columns = [Column("Model"), Column("Source")]
    columns += [Column(m, "number", m in LOWER_IS_BETTER, "lower is better" if m in LOWER_IS_BETTER else "") for m in board.metrics]
    columns += [Column("Samples", "number"), Column("Params", "number"), Column("Date"), Column("Details", "none")]
    best = {m: board.best(m) for m in board.metrics}
    rows, classes = [], []
    for r in board.rows:
        size = row_size(r)
        d = row_date(r)
        name = Cell(f'<a href="../{esc(PATHS.model(r.model))}" title="{esc(r.model)}">{esc(r.model)}</a>', r.model, "", True)
        cells = [name, Cell(source_badge(r), r.source, "src")]
        cells += [num_cell(r.metrics.get(m), best=best[m] is not None and r.metrics.get(m) == best[m]) for m in board.metrics]
        cells += [
            num_cell(r.n_samples),
            Cell(esc(_first(r, SIZE_KEYS, "meta") or "–"), repr(size) if size else "", "num"),
            Cell(esc(date_label(r)) if d else "–", d.isoformat() if d else "", "date"),
            Cell(f'<a href="../{esc(PATHS.result(r))}" aria-label="details of {esc(r.model)}">details</a>'),
        ]
        rows.append(cells)
        classes.append(f"src-{source_class(r.source)}")
    primary = board.metrics.index(board.primary) + 2 if board.primary in board.metrics else None
    caption = f"{esc(board.task)} on {esc(board.label)}: {len(board.rows)} result{'s' * (len(board.rows) != 1)}, ranked by {esc(board.primary)}."
    return table(caption, columns, rows, sorted_by=primary, descending=board.primary not in LOWER_IS_BETTER, row_classes=classes)


def task_page(site: Site, task: str, boards: Sequence[Board]) -> str:
    summary = TASKS[task].summary if task in TASKS else ""
    toc = ""
    if len(boards) > 1:
        toc = '<nav aria-label="Benchmarks"><ul class="toc">' + "".join(
            f'<li><a href="#{esc(b.anchor)}">{esc(b.label)}</a></li>' for b in boards) + "</ul></nav>"
    sections = []
    for i, board in enumerate(boards):
        gt = next((r.gt_sha256 for r in board.rows if r.gt_sha256), None)
        counts = ", ".join(f"{n} {s}" for s in sorted({r.source for r in board.rows}) if (n := sum(r.source == s for r in board.rows)))
        where = f'Ground truth sha256 <code title="{esc(gt)}">{esc(gt[:12])}</code>; ' if gt else "No measured result yet; "
        sections.append(
            f'<section id="{esc(board.anchor)}" aria-labelledby="{esc(board.anchor)}-h"><h2 id="{esc(board.anchor)}-h">{esc(board.label)}</h2>'
            f'<p class="meta">{where}{esc(counts)}.</p>'
            f"{board_table(board)}{_trend_charts(board, i)}</section>"
        )
    body = (f'<p class="lead">{esc(summary)}</p>' if summary else "") + toc + "".join(sections) + _legend()
    return site.page(PATHS.task(task), task, body, crumbs=[("Overview", "index.html")])


def model_page(site: Site, model: str, rows: Sequence[Row], boards: dict[str, list[Board]]) -> str:
    meta = rows[0].meta
    facts = [(k, _link_or_text(v)) for k, v in sorted(meta.items())]
    facts_html = dl(facts) if facts else "<p>No metadata given for this model (<code>leaderboard add --meta KEY=VALUE</code>).</p>"
    rank: dict[tuple, tuple[int, int, str]] = {}
    for task_boards in boards.values():
        for b in task_boards:
            for i, r in enumerate(b.rows):
                if r.model == model:
                    rank[row_id(r)] = (i + 1, len(b.rows), b.primary)
    columns = [Column("Task"), Column("Benchmark"), Column("Split"), Column("Metric"), Column("Value", "number"),
               Column("Rank", "number"), Column("Source"), Column("Added"), Column("Details", "none")]
    trs, classes = [], []
    for r in rows:
        position, size, primary = rank[row_id(r)]
        trs.append([
            text_cell(r.task, href="../" + PATHS.task(r.task), row_header=True),
            text_cell(r.benchmark if r.version == OFFICIAL else f"{r.benchmark} ({r.version})"), text_cell(r.split), text_cell(primary),
            num_cell(r.metrics.get(primary)),
            Cell(f"{position} of {size}", str(position), "num"), Cell(source_badge(r), r.source, "src"),
            text_cell(_day(r.added_at)),
            Cell(f'<a href="../{esc(PATHS.result(r))}" aria-label="details of {esc(r.task)} {esc(r.benchmark)} {esc(r.split)}">details</a>'),
        ])
        classes.append(f"src-{source_class(r.source)}")
    body = (
        f'<section aria-labelledby="h-meta"><h2 id="h-meta">Metadata</h2>{facts_html}</section>'
        f'<section aria-labelledby="h-res"><h2 id="h-res">Results</h2>'
        f'{table(f"Results of {esc(model)}, each with the metric its board is ranked by.", columns, trs, row_classes=classes)}</section>'
    )
    return site.page(PATHS.model(model), model, body, crumbs=[("Overview", "index.html")])


@dataclass
class Breakdown:
    """The per-class / per-prompt / per-sequence table of a result file, or why there is none."""

    kind: str | None = None  # per_class | per_prompt | per_sequence
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None


def load_breakdown(row: Row) -> Breakdown:
    """Read the row's result file, checking it is still the file that was added."""
    import orjson

    if not row.result_path:
        why = "it is a number printed in a paper" if row.source != "measured" else "it was added from a dictionary, not a file"
        return Breakdown(problem=f"No result file is recorded for this result ({why}), so there is no per-class table.")
    path = Path(row.result_path)
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return Breakdown(problem=f"The result file {row.result_path} is no longer there (moved or deleted); "
                                 "add it again with `psalm-bench leaderboard add` to show its per-class table here.")
    except (OSError, orjson.JSONDecodeError) as exc:
        return Breakdown(problem=f"The result file {row.result_path} could not be read ({type(exc).__name__}); no per-class table.")
    if not isinstance(data, Mapping):
        return Breakdown(problem=f"The result file {row.result_path} is not a result JSON any more; no per-class table.")
    prov = data["provenance"] if isinstance(data.get("provenance"), Mapping) else {}
    if prov.get("gt_sha256") != row.gt_sha256 or (prov.get("pred_sha256") or "") != row.pred_sha256 or data.get("task") != row.task:
        return Breakdown(problem=f"The result file {row.result_path} has changed since it was added (other task, ground truth "
                                 "or predictions); its per-class table is not shown.")
    warnings = [str(w) for w in data.get("warnings") or [] if isinstance(w, (str, int, float))]
    for kind in BREAKDOWNS:
        table_data = data.get(kind)
        if isinstance(table_data, Mapping) and all(isinstance(v, Mapping) for v in table_data.values()):
            return Breakdown(kind, {str(k): dict(v) for k, v in table_data.items()}, warnings)
        if table_data is not None:
            return Breakdown(warnings=warnings, problem=f"The result file's {kind} has an unexpected shape; not shown.")
    return Breakdown(warnings=warnings, problem="The result file has no per-class, per-prompt or per-sequence table.")


def breakdown_section(row: Row, bd: Breakdown) -> str:
    if bd.kind is None:
        return f'<p class="notice" role="note">{esc(bd.problem)}</p>'
    label = BREAKDOWNS[bd.kind]
    columns_seen: list[str] = []
    for values in bd.rows.values():
        columns_seen += [k for k in values if k not in columns_seen]
    numeric = {c for c in columns_seen if all(v.get(c) is None or _is_number(v.get(c)) for v in bd.rows.values())}
    columns = [Column(label.capitalize())] + [Column(c, "number" if c in numeric else "text") for c in columns_seen]
    trs = []
    for name, values in bd.rows.items():
        cells = [text_cell(name, row_header=True)]
        for c in columns_seen:
            v = values.get(c)
            if c in numeric:
                cells.append(num_cell(v, digits=0 if isinstance(v, int) else 1))
            else:
                shown = v if isinstance(v, (str, bool)) or v is None else json.dumps(v, ensure_ascii=False)
                cells.append(text_cell(_clip(fmt_value(shown), 80)))
        trs.append(cells)
    chart = ""
    metric = next((m for m in CHART_METRICS if m in numeric and any(_is_number(v.get(m)) for v in bd.rows.values())), None)
    if metric:
        items = sorted(((n, float(v[metric])) for n, v in bd.rows.items() if _is_number(v.get(metric))), key=lambda t: -t[1])
        missing = len(bd.rows) - len(items)
        note = f" {missing} {label}{'es' if label == 'class' and missing != 1 else '' if missing == 1 else 's'} without a value left out." if missing else ""
        shown = items
        if len(items) > MAX_BARS:
            half = MAX_BARS // 2
            shown = items[:half] + items[-half:]
            note += f" Showing the {half} highest and {half} lowest of {len(items)}; the table has all."
        best, worst = items[0], items[-1]
        desc = (f"{metric} per {label} for {row.model}, {len(items)} bars sorted high to low; highest {best[0]} "
                f"{best[1]:.1f}, lowest {worst[0]} {worst[1]:.1f}.")
        svg = bar_chart(shown, chart_id="breakdown-chart", title=f"{metric} per {label}: {row.model} on {row.task}", desc=desc)
        chart = f"<figure>{svg}<figcaption>{esc(metric)} per {esc(label)}, highest first.{esc(note)}</figcaption></figure>"
    caption = f"{esc(bd.kind.replace('_', ' '))} of {esc(row.model)} ({len(bd.rows)} rows), from the result file."
    return f'<div class="breakdown">{chart}{table(caption, columns, trs)}</div>'


def samples_section(samples: Any) -> str:
    """The drill-down's link to the result's browse pages, or the one line saying why there are none."""
    if samples is None:
        return ""
    inner = (f'<p><a href="../{esc(samples.href)}">{esc(samples.text)}</a></p>' if samples.href
             else f'<p class="notice" role="note">{esc(samples.text)}</p>')
    return f'<section aria-labelledby="h-samples"><h2 id="h-samples">Worst samples</h2>{inner}</section>'


def _samples(row: Row, root: Path) -> Any:
    from psalm_bench.leaderboard.browse_site import samples_for_row

    stem = PATHS.result(row)[len("results/"):-len(".html")]
    return samples_for_row(row, root, f"results/{stem}-samples", (f"../{stem}.html", f"{row.model} on {row.task}: drill-down"))


def result_page(site: Site, row: Row, board: Board, samples: Any = None) -> str:
    path = PATHS.result(row)
    headline = [m for m in board.metrics if m in row.metrics] + [m for m in row.metrics if m not in board.metrics]
    best = {m: board.best(m) for m in board.metrics}
    mrows = [[text_cell(m, row_header=True), num_cell(row.metrics.get(m), best=best.get(m) is not None and row.metrics.get(m) == best.get(m), digits=2)]
             for m in headline]
    metrics_table = table(f"Metrics of {esc(row.model)} (percent; bold: best on this board).", [Column("Metric"), Column("Value", "number")],
                          mrows, sortable=False)
    link = row_link(row)
    facts = [
        ("Model", f'<a href="../{esc(PATHS.model(row.model))}">{esc(row.model)}</a>'),
        ("Board", f'<a href="../{esc(PATHS.task(row.task))}#{esc(board.anchor)}">{esc(row.task)} / {esc(board.label)}</a>'),
        ("Source", source_badge(row)),
    ]
    if link:
        facts.append(("Link", _link_or_text(link)))
    for key, value in citation_of(row).items():
        if key in ("title", "table") or value in (None, "", [], {}):
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        facts.append((f"Citation: {key}", _link_or_text(shown)))
    facts += [
        ("Samples", esc(fmt_value(row.n_samples))),
        ("Added", esc(row.added_at)),
        ("psalm-bench", esc(row.toolkit_version or "–")),
        ("Ground truth sha256", f"<code>{esc(row.gt_sha256)}</code>" if row.gt_sha256 else "– (not scored by psalm-bench)"),
        ("Predictions sha256", f"<code>{esc(row.pred_sha256 or '–')}</code>"),
        ("Records sha256", f"<code>{esc(row.records_sha256 or '–')}</code>"),
        ("Result file", f"<code>{esc(row.result_path)}</code>" if row.result_path else "–"),
        ("Parameters", f"<pre>{esc(json.dumps(row.params, indent=1, sort_keys=True, ensure_ascii=False))}</pre>" if row.params else "–"),
    ]
    bd = load_breakdown(row)
    warnings = "".join(f"<li>{esc(w)}</li>" for w in bd.warnings)
    body = (
        f'<section aria-labelledby="h-metrics"><h2 id="h-metrics">Metrics</h2>{metrics_table}</section>'
        f'<section aria-labelledby="h-prov"><h2 id="h-prov">Provenance</h2>{dl(facts)}</section>'
        + (f'<section aria-labelledby="h-warn"><h2 id="h-warn">Warnings</h2><ul>{warnings}</ul></section>' if warnings else "")
        + f'<section aria-labelledby="h-break"><h2 id="h-break">Breakdown</h2>{breakdown_section(row, bd)}</section>'
        + samples_section(samples)
    )
    heading = f"{row.model} — {row.task} / {board.label}"
    return site.page(path, heading, body, crumbs=[("Overview", "index.html"), (row.task, PATHS.task(row.task)), (row.model, PATHS.model(row.model))])


def not_found_page(site: Site, base_url: str | None) -> str:
    root = base_url.rstrip("/") + "/" if base_url else ""
    body = f'<p>There is no page at this address. Go to the <a href="{esc(root)}index.html">overview</a>.</p>'
    return site.page("404.html", "Page not found", body, root=root, standalone=True)


# ---------------------------------------------------------------------------
# Writing the site


@dataclass(frozen=True)
class SiteReport:
    """What a render wrote."""

    out: Path
    pages: int
    results: int
    models: int
    tasks: int
    seconds: float
    files: list[str] = field(default_factory=list)  # relative paths, sorted

    def describe(self) -> str:
        return (f"wrote {self.pages} page(s) for {self.results} result(s) of {self.models} model(s) on {self.tasks} task(s) "
                f"to {self.out} in {self.seconds:.2f} s; open {self.out / 'index.html'}")


def _write_pages(rows: Sequence[Row], root: Path, site: Site) -> list[str]:
    boards = build_boards(rows)
    pages: dict[str, str] = {"index.html": overview_page(site, rows, boards)}
    by_model: dict[str, list[Row]] = {}
    drawn: list[str] = []
    for task, task_boards in boards.items():
        pages[PATHS.task(task)] = task_page(site, task, task_boards)
        for board in task_boards:
            for row in board.rows:
                by_model.setdefault(row.model, []).append(row)
                samples = _samples(row, root)
                drawn += samples.files
                pages[PATHS.result(row)] = result_page(site, row, board, samples)
    for model, mine in by_model.items():
        pages[PATHS.model(model)] = model_page(site, model, mine, boards)
    for folder in ("assets", "tasks", "models", "results"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in ASSET_FILES:
        shutil.copyfile(ASSETS / name, root / "assets" / name)
    for rel, text in pages.items():
        (root / rel).write_text(text, encoding="utf-8", newline="\n")
    return sorted([*pages, *drawn])


def _is_our_site(folder: Path) -> bool:
    index = folder / "index.html"
    try:
        head = index.read_text(encoding="utf-8", errors="replace")[:2000]
    except OSError:
        return False
    return '<meta name="generator" content="psalm-bench' in head


def _prepare_out(out: Path) -> Path:
    """Check ``out`` may be (re)written; return a fresh temporary folder beside it."""
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder; choose a folder for the site", file=out)
    if out.is_dir() and any(out.iterdir()) and not _is_our_site(out):
        raise InputError("folder is not empty and holds no psalm-bench site; choose an empty or new folder", file=out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the site from a web server's user
        return tmp
    except OSError as exc:
        raise InputError(f"cannot write here ({exc.strerror})", file=out.parent) from None


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``tmp`` (old site removed only once the new one is in place)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{tmp.name.rsplit('.', 2)[-2]}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _site(rows: Sequence[Row], title: str, downloads: bool) -> Site:
    tasks = [t for t in TASKS if any(r.task == t for r in rows)]
    tasks += sorted({r.task for r in rows} - set(tasks))
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Site(title=title, tasks=tasks, generated=generated, downloads=downloads)


KEEP_FILES = ("CNAME",)  # a host's own files in an earlier render (GitHub Pages' custom domain) survive a re-render


def _build(rows: Sequence[Row], out: Path, title: str, extra: Callable[[Path, list[str]], list[str]] | None) -> SiteReport:
    start = time.perf_counter()
    out = Path(out)
    tmp = _prepare_out(out)
    try:
        files = _write_pages(rows, tmp, _site(rows, title, downloads=extra is not None))
        if extra is not None:
            files += extra(tmp, files)
        for name in KEEP_FILES:
            if (out / name).is_file() and not (tmp / name).exists():
                shutil.copy2(out / name, tmp / name)
                files.append(name)
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(set(files) | {f"assets/{n}" for n in ASSET_FILES})
    return SiteReport(
        out=out, pages=sum(f.endswith(".html") for f in files), results=len(rows), models=len({r.model for r in rows}),
        tasks=len({r.task for r in rows}), seconds=time.perf_counter() - start, files=files,
    )


def render_site(store: ResultsStore, out: str | Path, *, title: str = DEFAULT_TITLE) -> SiteReport:
    """Write the static site for everything the store holds into ``out``."""
    return _build(store.list(), Path(out), title, None)


def check_base_url(base_url: str | None) -> str | None:
    if base_url is None:
        return None
    if not re.match(r"^https?://[^\s<>\"'#?]+$", base_url.strip()):
        raise InputError(f"--base-url must be an http(s) URL without query or fragment, got {base_url!r}")
    return base_url.strip().rstrip("/")


def publish_site(store: ResultsStore, out: str | Path, *, base_url: str | None = None, title: str = DEFAULT_TITLE) -> SiteReport:
    """``render_site`` plus what a static host needs and the board as data files."""
    base = check_base_url(base_url)
    rows = store.list()

    def host_files(root: Path, pages: list[str]) -> list[str]:
        site = _site(rows, title, downloads=True)
        written = [".nojekyll", "404.html", "robots.txt", "data/leaderboard.json", "data/leaderboard.csv"]
        (root / ".nojekyll").write_text("", encoding="utf-8")
        (root / "404.html").write_text(not_found_page(site, base), encoding="utf-8", newline="\n")
        robots = "User-agent: *\nAllow: /\n" + (f"Sitemap: {base}/sitemap.xml\n" if base else "")
        (root / "robots.txt").write_text(robots, encoding="utf-8")
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / "leaderboard.json").write_text(board_json(rows), encoding="utf-8")
        store.export(root / "data" / "leaderboard.csv", "csv")
        if base:
            (root / "sitemap.xml").write_text(sitemap(base, pages, _last_update(rows)), encoding="utf-8")
            written.append("sitemap.xml")
        return written

    return _build(rows, Path(out), title, host_files)


def board_json(rows: Sequence[Row]) -> str:
    """The board for download: every row with its metrics, provenance and model metadata."""
    payload = {
        "generator": GENERATOR,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results": [
            {
                "model": r.model, "task": r.task, "benchmark": r.benchmark, "version": getattr(r, "version", OFFICIAL), "split": r.split,
                "source": r.source,
                "metrics": r.metrics, "n_samples": r.n_samples, "added_at": r.added_at, "toolkit_version": r.toolkit_version,
                "gt_sha256": r.gt_sha256, "pred_sha256": r.pred_sha256, "records_sha256": r.records_sha256,
                "params": r.params, "citation": getattr(r, "citation", None), "meta": r.meta,
            }
            for r in rows
        ],
    }
    return json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def sitemap(base: str, pages: Sequence[str], lastmod: str) -> str:
    day = _day(lastmod) if lastmod else datetime.now(timezone.utc).date().isoformat()
    urls = "".join(
        f"<url><loc>{esc(base + '/' + quote(p))}</loc><lastmod>{esc(day)}</lastmod></url>\n"
        for p in sorted(pages) if p.endswith(".html") and p != "404.html"
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + urls + "</urlset>\n")
