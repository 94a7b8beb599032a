"""The site's inline SVG charts: bars per class, points over model size or date.
Every chart has a title and a description for screen readers; labels from
users are escaped here, and a chart reaches the templates as ``Markup``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

from psalm_bench.leaderboard.site_data import _clip, esc, fmt_size, fmt_value, source_class


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
    return Markup("".join(out))





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
    return Markup("".join(out))
