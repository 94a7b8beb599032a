"""A small raster chart canvas for the browse plots: axes, ticks, lines, bars, heat-map
cells and text, drawn with Pillow (a core dependency) so plots need no plotting stack.

Colours, sizes and the font are fixed and PNGs are written without metadata, so
the same result gives the same bytes on the same Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

INK = (30, 30, 30)
GRID = (225, 225, 225)
BACKGROUND = (255, 255, 255)
# Ordered colours for series (colour-blind friendly first, then the browse palette's).
SERIES = [
    (0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233),
    (240, 228, 66), (0, 0, 0), (145, 30, 180), (128, 128, 0), (170, 110, 40), (0, 128, 128),
]

Colour = tuple[int, int, int]


@lru_cache(maxsize=8)
def font(size: int = 13) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font at ``size`` px (its bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def ramp(fraction: float, low: Colour = (0, 90, 180), high: Colour = (220, 60, 0)) -> Colour:
    """A colour between ``low`` and ``high`` (for ordered series such as IoU thresholds)."""
    f = min(1.0, max(0.0, fraction))
    return tuple(round(a + (b - a) * f) for a, b in zip(low, high))  # type: ignore[return-value]


def heat(fraction: float) -> Colour:
    """White (0) to dark blue (1), for confusion-matrix cells."""
    f = min(1.0, max(0.0, fraction)) ** 0.5  # a square root keeps small confusions visible
    return (round(255 - 247 * f), round(255 - 207 * f), round(255 - 148 * f))


class Canvas:
    """A white picture to draw charts on; :meth:`axes` places a plot area in it."""

    def __init__(self, width: int, height: int):
        self.image = Image.new("RGB", (width, height), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)

    def text(self, xy: tuple[float, float], text: str, size: int = 13, colour: Colour = INK, anchor: str = "la") -> None:
        self.draw.text((round(xy[0]), round(xy[1])), text, fill=colour, font=font(size), anchor=anchor)

    def text_width(self, text: str, size: int = 13) -> float:
        return float(self.draw.textlength(text, font=font(size)))

    def fit(self, text: str, width: float, size: int = 13) -> str:
        """``text`` shortened with an ellipsis to fit ``width`` px."""
        if self.text_width(text, size) <= width:
            return text
        while text and self.text_width(text + "\u2026", size) > width:
            text = text[:-1]
        return text + "\u2026"

    def rect(self, box: tuple[float, float, float, float], fill: Colour | None = None, outline: Colour | None = None) -> None:
        x0, y0, x1, y1 = (round(v) for v in box)
        self.draw.rectangle((x0, y0, x1, y1), fill=fill, outline=outline)

    def axes(self, box: tuple[int, int, int, int], x_range: tuple[float, float], y_range: tuple[float, float]) -> "Axes":
        return Axes(self, box, x_range, y_range)

    def legend(self, xy: tuple[int, int], entries: list[tuple[Colour, str]], size: int = 12, columns: int = 1, column_width: int = 160) -> None:
        x0, y0 = xy
        line = size + 5
        for i, (colour, label) in enumerate(entries):
            x = x0 + (i % columns) * column_width
            y = y0 + (i // columns) * line
            self.draw.rectangle((x, y + 3, x + 14, y + size - 1), fill=colour)
            self.text((x + 19, y), self.fit(label, column_width - 24, size), size)

    def array(self) -> np.ndarray:
        return np.asarray(self.image)

    def save(self, path: Path) -> Path:
        """PNG without metadata chunks: the bytes depend on the pixels only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.image.save(path, format="PNG", optimize=False, compress_level=9)
        return path


@dataclass
class Axes:
    """A plot area: data coordinates mapped linearly onto the pixel box (x0, y0, x1, y1)."""

    canvas: Canvas
    box: tuple[int, int, int, int]
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def px(self, x: float, y: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        (a, b), (c, d) = self.x_range, self.y_range
        return x0 + (x - a) / (b - a) * (x1 - x0), y1 - (y - c) / (d - c) * (y1 - y0)

    def frame(self, x_ticks: list[float], y_ticks: list[float], x_label: str = "", y_label: str = "", title: str = "",
              size: int = 12, tick_format: str = "{:g}") -> None:
        """Grid lines at the ticks, the box, tick labels, axis labels and a title."""
        c, (x0, y0, x1, y1) = self.canvas, self.box
        for t in x_ticks:
            x, _ = self.px(t, self.y_range[0])
            c.draw.line((round(x), y0, round(x), y1), fill=GRID)
            c.text((x, y1 + 3), tick_format.format(t), size, anchor="ma")
        for t in y_ticks:
            _, y = self.px(self.x_range[0], t)
            c.draw.line((x0, round(y), x1, round(y)), fill=GRID)
            c.text((x0 - 4, y), tick_format.format(t), size, anchor="rm")
        c.draw.rectangle((x0, y0, x1, y1), outline=INK)
        if x_label:
            c.text(((x0 + x1) / 2, y1 + size + 6), x_label, size, anchor="ma")
        if y_label:
            label = Image.new("RGB", (round(c.text_width(y_label, size)) + 2, size + 4), BACKGROUND)
            ImageDraw.Draw(label).text((1, 0), y_label, fill=INK, font=font(size))
            rotated = label.rotate(90, expand=True)
            c.image.paste(rotated, (max(0, x0 - 30 - size), round((y0 + y1 - rotated.height) / 2)))
        if title:
            c.text(((x0 + x1) / 2, y0 - 4), c.fit(title, x1 - x0 + 40, size + 1), size + 1, anchor="md")

    def line(self, xs: np.ndarray | list[float], ys: np.ndarray | list[float], colour: Colour, width: int = 2) -> None:
        points = [self.px(float(x), float(y)) for x, y in zip(xs, ys)]
        if len(points) == 1:
            self.canvas.draw.point(points, fill=colour)
        elif points:
            self.canvas.draw.line(points, fill=colour, width=width, joint="curve")

    def bar(self, x_left: float, x_right: float, height: float, colour: Colour) -> None:
        """A filled bar from the bottom of the axes up to ``height``, one pixel inside its bin."""
        left, top = self.px(x_left, height)
        right, _ = self.px(x_right, height)
        self.canvas.rect((left + 1, top, right - 1, self.box[3]), fill=colour)

    def vline(self, x: float, colour: Colour, width: int = 1) -> None:
        px, _ = self.px(x, self.y_range[0])
        self.canvas.draw.line((round(px), self.box[1], round(px), self.box[3]), fill=colour, width=width)
