"""The site's inline SVG charts: bars per class, points over model size or date.
Every chart has a title and a description for screen readers. This module
computes the geometry; the elements are written by the macros of
``site_assets/templates/charts.svg`` (autoescaped, so every label from users is
escaped there), and a chart reaches the pages as ``Markup``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from markupsafe import Markup

from psalm_bench.leaderboard.site_data import _clip, fmt_size, fmt_value, source_class


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


def _draw(macro: str, chart: dict[str, Any]) -> Markup:
    """A chart from its macro in ``site_assets/templates/charts.svg`` (autoescaped)."""
    from psalm_bench.leaderboard.site_templates import environment

    return Markup(getattr(environment().get_template("charts.svg").module, macro)(chart))


def bar_chart(items: Sequence[tuple[str, float]], *, chart_id: str, title: str, desc: str, unit: str = "") -> Markup:
    """Horizontal bars, one per (label, value), in the given order; percent axis when values fit 0-100."""
    if not items:
        return Markup("")
    values = [v for _, v in items]
    top_value = 100.0 if all(0 <= v <= 100 for v in values) else max(max(values), 1e-9)
    ticks = nice_ticks(0.0, top_value, 4)
    axis_max = ticks[-1]
    label_chars = min(28, max(len(label) for label, _ in items))
    label_w = 12 + 6.6 * label_chars
    width, bar_h, gap, top = 720, 14, 4, 22
    plot_w = width - label_w - 48
    height = top + len(items) * (bar_h + gap) + 8
    bars = []
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = max(0.0, plot_w * max(value, 0.0) / axis_max)
        bars.append({"title": f"{label}: {fmt_value(value, 2)}", "label": _clip(label, 28), "y": y, "text_y": y + bar_h - 3,
                     "w": f"{w:.1f}", "val_x": f"{label_w + w + 4:.1f}", "value": fmt_value(value)})
    return _draw("bar", {
        "id": chart_id, "width": width, "height": height, "title": title, "desc": desc, "grid_top": top - 4, "grid_bottom": height - 6,
        "tick_y": top - 8, "label_x": f"{label_w - 6:.1f}", "bar_x": f"{label_w:.1f}", "bar_h": bar_h, "bars": bars,
        "ticks": [{"x": f"{label_w + plot_w * t / axis_max:.1f}", "text": fmt_value(float(t), 0) + unit} for t in ticks],
    })


def _marker(source: str, x: float, y: float) -> dict[str, str]:
    """Measured: a filled circle; published: a diamond; reported: a square (shape, not only colour)."""
    kind = source_class(source)
    if kind == "measured":
        return {"kind": kind, "x": f"{x:.1f}", "y": f"{y:.1f}"}
    if kind == "published":
        return {"kind": kind, "d": f"M{x:.1f} {y - 6:.1f}L{x + 6:.1f} {y:.1f}L{x:.1f} {y + 6:.1f}L{x - 6:.1f} {y:.1f}Z"}
    return {"kind": kind, "x": f"{x - 4.5:.1f}", "y": f"{y - 4.5:.1f}"}


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
) -> Markup:
    """Points (measured: circles, reported: diamonds), labelled when few; x_scale linear, log or date (days)."""
    if not points:
        return Markup("")
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

    label_points = len(points) <= 16
    # Markers and labels so far: a label that would cover one is left to the tooltip.
    placed = [(px(xv) - 6, py(p.y) - 6, px(xv) + 6, py(p.y) + 6) for p, xv in zip(points, xs)]
    drawn = []
    for p, xv in zip(points, xs):
        cx, cy = px(xv), py(p.y)
        x_text = fmt_size(p.x) if x_scale == "log" else (date.fromordinal(int(p.x)).isoformat() if x_scale == "date" else fmt_value(p.x))
        label = None
        if label_points:
            text = _clip(p.label, 24)
            anchor = "end" if cx > left + pw * 0.8 else "start"
            tx = cx - 8 if anchor == "end" else cx + 8
            span = _text_width(text)
            for ty in (cy - 6, cy + 14):
                box = (tx - span if anchor == "end" else tx, ty - 11, tx if anchor == "end" else tx + span, ty + 4)
                if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                    placed.append(box)
                    label = {"x": f"{tx:.1f}", "y": f"{ty:.1f}", "anchor": anchor, "text": text}
                    break
        drawn.append({"title": f"{p.label} ({p.source}): {fmt_value(p.y, 2)} at {x_text}", "marker": _marker(p.source, cx, cy), "label": label})
    kinds = sorted({p.source for p in points}, key=lambda s: (s != "measured", s))
    legend = [{"marker": _marker(kind, left + 12 + i * 110, 12), "x": left + 12 + i * 110 + 10, "y": 12 + 4, "kind": kind}
              for i, kind in enumerate(kinds)]
    return _draw("scatter", {
        "id": chart_id, "width": width, "height": height, "title": title, "desc": desc, "left": left, "top": top,
        "right_x": left + pw, "bottom_y": top + ph, "ytick_x": left - 6, "xtick_y": top + ph + 18,
        "xlabel_x": f"{left + pw / 2:.1f}", "xlabel_y": height - 8, "mid_y": f"{top + ph / 2:.1f}", "x_label": x_label, "y_label": y_label,
        "yticks": [{"y": f"{py(t):.1f}", "text_y": f"{py(t) + 4:.1f}", "text": fmt_value(float(t), 0 if float(t).is_integer() else 1)}
                   for t in yticks],
        "xticks": [{"x": f"{px(t):.1f}", "text": xtick_label(t)} for t in xticks],
        "points": drawn, "legend": legend,
    })
