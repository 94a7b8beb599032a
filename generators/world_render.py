"""Drawing the benchmark world: shapes, colours, textures, stuff, the camera.

Pure drawing primitives shared by scenes (:mod:`world_scene`) and videos
(:mod:`world_video`); every random choice comes from the Generator passed in.
A shape's mask is pycocotools' rasterisation of its polygon (coordinates
rounded to 2 decimals, as COCO writes them), so a polygon annotation and the
mask it means are the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from psalm_bench import masks
from psalm_bench.errors import InputError

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (205, 35, 40),
    "orange": (240, 130, 25),
    "yellow": (240, 215, 45),
    "green": (45, 155, 60),
    "blue": (40, 85, 210),
    "purple": (125, 55, 175),
    "pink": (240, 125, 180),
    "white": (238, 238, 235),
}


# ----------------------------------------------------------------- shapes



def _ring_points(n: int, rx: float = 1.0, ry: float = 1.0, start: float = 0.0, stop: float = 2 * math.pi, endpoint: bool = False) -> np.ndarray:
    t = np.linspace(start, stop, n, endpoint=endpoint)
    return np.stack([rx * np.cos(t), ry * np.sin(t)], axis=1)


def _regular(n: int, phase: float = -math.pi / 2) -> np.ndarray:
    return _ring_points(n, start=phase, stop=phase + 2 * math.pi)


def _normalise(points: np.ndarray) -> np.ndarray:
    """Centre on the bounding box and scale so the farthest vertex is at 1."""
    points = points - (points.min(axis=0) + points.max(axis=0)) / 2
    return points / np.sqrt((points**2).sum(axis=1)).max()


RING_HOLE = 0.55


@lru_cache(maxsize=None)
def unit_shape(name: str) -> np.ndarray:
    """The outline of a category in unit coordinates (y down, circumradius 1).
    A ring's hole is a circle of radius RING_HOLE cut out of this disc."""
    if name in ("circle", "ring"):
        pts = _ring_points(48)
    elif name == "oval":
        pts = _ring_points(48, 1.0, 0.6)
    elif name == "square":
        pts = _regular(4, math.pi / 4)
    elif name == "triangle":
        pts = _regular(3)
    elif name == "pentagon":
        pts = _regular(5)
    elif name == "hexagon":
        pts = _regular(6, 0.0)
    elif name == "diamond":
        pts = np.array([[0, -1], [0.62, 0], [0, 1], [-0.62, 0]], dtype=float)
    elif name == "star":
        angles = -math.pi / 2 + np.arange(10) * math.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        pts = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    elif name == "cross":
        a, b = 0.33, 1.0
        pts = np.array([[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a], [a, b], [-a, b], [-a, a], [-b, a], [-b, -a], [-a, -a]], dtype=float)
    elif name == "heart":
        t = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        pts = np.stack([x, y], axis=1)
    elif name == "crescent":
        d, r2 = 0.45, 0.8
        xi = (1 + d * d - r2 * r2) / (2 * d)
        a = math.atan2(math.sqrt(1 - xi * xi), xi)
        outer = _ring_points(28, start=a, stop=2 * math.pi - a, endpoint=True)
        b = math.atan2(math.sqrt(1 - xi * xi), xi - d)
        inner = _ring_points(22, r2, r2, start=2 * math.pi - b, stop=b, endpoint=False)[1:] + [d, 0]
        pts = np.concatenate([outer, inner])
    elif name == "arrow":
        pts = np.array([[-1, -0.22], [0.2, -0.22], [0.2, -0.6], [1, 0], [0.2, 0.6], [0.2, 0.22], [-1, 0.22]], dtype=float)
    else:
        raise InputError(f"no shape for category {name!r}")
    return _normalise(pts)


def shape_polygon(name: str, cx: float, cy: float, radius: float, angle: float) -> np.ndarray:
    """The outline placed in the image, rounded to 2 decimals like COCO's."""
    c, s = math.cos(angle), math.sin(angle)
    pts = unit_shape(name) @ np.array([[c, s], [-s, c]]) * radius + (cx, cy)
    return np.round(pts, 2)


def rasterize(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """pycocotools' rasterisation of one polygon, the mask a polygon annotation means
    (masks.polygons_to_rle, the one rasteriser the readers and evaluators use)."""
    return masks.decode(masks.polygons_to_rle([points.ravel().tolist()], height, width)).astype(bool)


def shape_mask(name: str, points: np.ndarray, cx: float, cy: float, radius: float, height: int, width: int) -> np.ndarray:
    mask = rasterize(points, height, width)
    if name == "ring":
        hole = shape_polygon("circle", cx, cy, radius * RING_HOLE, 0.0)
        mask &= ~rasterize(hole, height, width)
    return mask


@dataclass
class Look:
    """How an object is painted, drawn once so a video can repaint it."""

    rgb: np.ndarray
    accent: np.ndarray
    texture: str
    period: float
    texture_angle: float
    phase: float


def _jitter_colour(rng: np.random.Generator, rgb: tuple[int, int, int], amount: float = 14.0) -> np.ndarray:
    base = np.array(rgb, dtype=np.float32)
    return np.clip(base * rng.uniform(0.9, 1.06) + rng.normal(0, amount / 3, 3), 0, 255).astype(np.float32)


def sample_look(rng: np.random.Generator, colour: str, texture: str, radius: float) -> Look:
    rgb = _jitter_colour(rng, COLOURS[colour])
    dark = rgb.mean() > 150
    accent = rgb * 0.5 if dark else rgb * 0.45 + 255 * 0.55
    period = float(rng.uniform(0.22, 0.34) * max(radius, 14.0)) if texture == "striped" else float(rng.uniform(0.3, 0.42) * max(radius, 16.0))
    return Look(rgb, accent.astype(np.float32), texture, max(period, 4.0), float(rng.uniform(0, math.pi)), float(rng.uniform(0, 1)))


def paint(canvas: np.ndarray, mask: np.ndarray, look: Look, cx: float, cy: float, radius: float, angle: float, light: np.ndarray) -> None:
    """Paint a shape into ``canvas`` (float32 HxWx3) on its bounding box only:
    texture in the object's own frame (so it moves with it), shading from
    the scene's light direction."""
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if ys.size == 0:
        return
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    crop = mask[y0:y1, x0:x1]
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = gx - cx, gy - cy
    colour = np.broadcast_to(look.rgb, crop.shape + (3,)).copy()
    if look.texture != "solid":
        a = angle + look.texture_angle
        u = (dx * math.cos(a) + dy * math.sin(a)) / look.period + look.phase
        if look.texture == "striped":
            on = (u % 1.0) < 0.5
        else:
            v = (-dx * math.sin(a) + dy * math.cos(a)) / look.period + look.phase
            on = ((u % 1.0) - 0.5) ** 2 + ((v % 1.0) - 0.5) ** 2 < 0.3**2
        colour[on] = look.accent
    shade = 1.0 + 0.22 * (dx * light[0] + dy * light[1]) / max(radius, 1.0)
    region = canvas[y0:y1, x0:x1]
    region[crop] = colour[crop] * np.clip(shade, 0.7, 1.25)[crop, None]


# ----------------------------------------------------------------- stuff


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Zero-mean, roughly unit-variance noise with features ~ size/cells."""
    ch = max(2, round(cells * height / max(height, width)))
    cw = max(2, round(cells * width / max(height, width)))
    low = rng.standard_normal((ch + 2, cw + 2), dtype=np.float32)
    big = cv2.resize(low, (width + 2 * (width // cw), height + 2 * (height // ch)), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(big[height // ch: height // ch + height, width // cw: width // cw + width])


def _rgb(base: np.ndarray, shade: np.ndarray) -> np.ndarray:
    return base[None, None, :] * shade[:, :, None]


def _tone(rng: np.random.Generator, rgb: tuple[int, int, int]) -> np.ndarray:
    return _jitter_colour(rng, rgb, 10.0)


def stuff_texture(name: str, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """The look of one stuff category over a whole canvas (float32 HxWx3);
    each category has its own pattern so it can be told apart from its colour
    and its texture."""
    gy = np.arange(height, dtype=np.float32)[:, None]  # broadcast grids: full arrays only where needed
    gx = np.arange(width, dtype=np.float32)[None, :]
    if name == "sky":
        top, low = _tone(rng, (70, 125, 205)), _tone(rng, (175, 205, 235))
        t = (gy / height)[:, :, None]
        img = top * (1 - t) + low * t
        cloud = np.clip(smooth_noise(rng, height, width, 5) - 0.3, 0, None)[:, :, None]
        return img * (1 - np.minimum(cloud, 1) * 0.6) + 245 * np.minimum(cloud, 1) * 0.6
    if name == "grass":
        base = _tone(rng, (70, 135, 45))
        blades = cv2.resize(rng.standard_normal((max(2, height // 6), width), dtype=np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        shade = 1 + 0.12 * smooth_noise(rng, height, width, 8) + 0.1 * blades
        return _rgb(base, shade)
    if name == "water":
        base = _tone(rng, (35, 95, 165))
        period = rng.uniform(7, 12)
        wave = np.sin(2 * math.pi * (gy / period + 0.25 * np.sin(gx / rng.uniform(14, 26) + rng.uniform(0, 6.3))))
        glint = np.clip(wave - 0.75, 0, None) * 2.2
        img = _rgb(base, 1 + 0.08 * wave + 0.1 * smooth_noise(rng, height, width, 4))
        return img + 120 * glint[:, :, None]
    if name == "sand":
        base = _tone(rng, (215, 190, 140))
        a = rng.uniform(0, math.pi)
        ripple = np.sin((gx * math.cos(a) + gy * math.sin(a)) / rng.uniform(3.5, 5.5))
        return _rgb(base, 1 + 0.04 * ripple + 0.05 * rng.standard_normal((height, width), dtype=np.float32) + 0.05 * smooth_noise(rng, height, width, 6))
    if name == "wall":
        brick, mortar = _tone(rng, (165, 75, 55)), _tone(rng, (195, 190, 180))
        bh, bw = rng.uniform(11, 16), rng.uniform(26, 36)
        row = np.floor(gy / bh)
        shifted = gx + (row % 2) * bw / 2
        col = np.floor(shifted / bw)
        tone = 1 + 0.1 * np.sin(row * 12.9898 + col * 78.233) + 0.04 * rng.standard_normal((height, width), dtype=np.float32)
        is_mortar = ((gy % bh) < 2) | ((shifted % bw) < 2)
        return np.where(is_mortar[:, :, None], mortar[None, None, :], _rgb(brick, tone))
    if name == "floor":
        wood = _tone(rng, (150, 100, 60))
        ph = rng.uniform(14, 20)
        plank = np.floor(gy / ph)
        grain = np.sin(gx / rng.uniform(2.5, 4) + 3 * np.sin(gy / 5 + plank)) * 0.06
        tone = 1 + 0.12 * np.sin(plank * 37.719) + grain
        tone = np.where((gy % ph) < 1.5, 0.55, tone)
        return _rgb(wood, tone)
    if name == "road":
        asphalt = _tone(rng, (85, 85, 90))
        img = _rgb(asphalt, 1 + 0.1 * rng.standard_normal((height, width), dtype=np.float32) + 0.06 * smooth_noise(rng, height, width, 6))
        y_line = rng.uniform(0.55, 0.85) * height
        dash = (np.abs(gy - y_line) < 2) & ((gx % 36) < 20)
        img[dash] = _tone(rng, (235, 215, 90))
        return img
    if name == "snow":
        base = _tone(rng, (240, 243, 250))
        shade = 1 - 0.06 * np.abs(smooth_noise(rng, height, width, 5)) - 0.02 * rng.standard_normal((height, width), dtype=np.float32)
        img = _rgb(base, shade)
        img[..., 0] -= 8 * np.clip(smooth_noise(rng, height, width, 3), 0, None)
        return img
    if name == "carpet":
        c1, c2 = _tone(rng, (145, 40, 55)), _tone(rng, (205, 165, 85))
        p = rng.uniform(14, 22)
        u, v = (gx + gy) / p, (gx - gy) / p
        motif = (np.abs((u % 1) - 0.5) + np.abs((v % 1) - 0.5)) < 0.3
        img = np.where(motif[:, :, None], c2[None, None, :], c1[None, None, :])
        return img * (1 + 0.06 * rng.standard_normal((height, width, 1), dtype=np.float32))
    raise InputError(f"no texture for stuff category {name!r}")


_GROUND = ("grass", "sand", "water", "road")


def _wavy(rng: np.random.Generator, width: int, y0: float, amplitude: float) -> np.ndarray:
    x = np.arange(width, dtype=np.float32)
    return (y0 + amplitude * np.sin(x / rng.uniform(20, 60) + rng.uniform(0, 6.3))
            + amplitude * 0.4 * np.sin(x / rng.uniform(6, 15) + rng.uniform(0, 6.3)))


def stuff_layout(rng: np.random.Generator, height: int, width: int, novel: str | None) -> tuple[np.ndarray, list[str]]:
    """A background layout: region map (HxW uint8, index into the names) and
    the distinct stuff names. ``novel``: a held-out stuff category to use."""
    gy, gx = np.mgrid[0:height, 0:width]
    for _ in range(20):
        kind = rng.choice(["outdoor", "indoor", "ground"], p=[0.45, 0.3, 0.25])
        if novel == "carpet":
            kind = rng.choice(["indoor", "rug"])
        elif novel == "snow":
            kind = rng.choice(["outdoor", "ground"])
        regions = np.zeros((height, width), dtype=np.uint8)
        if kind in ("outdoor", "indoor", "rug"):
            horizon = _wavy(rng, width, rng.uniform(0.25, 0.55) * height, rng.uniform(0, 0.04) * height if kind == "outdoor" else 0.0)
            regions[gy >= horizon[None, :]] = 1
            if kind == "outdoor":
                grounds = list(rng.permutation(_GROUND))
                if novel == "snow":
                    grounds.insert(0, "snow")
                names = ["sky", str(grounds[0])]
                if rng.random() < 0.45:
                    names.append(str(grounds[1]))
                    if rng.random() < 0.5:  # a band nearer the viewer
                        second = _wavy(rng, width, rng.uniform(0.68, 0.85) * height, rng.uniform(0.01, 0.04) * height)
                        regions[gy >= second[None, :]] = 2
                    else:  # a slanted boundary through the ground
                        x_cut = rng.uniform(0.3, 0.7) * width + (gy - height) * rng.uniform(-0.8, 0.8)
                        regions[(regions == 1) & (gx >= x_cut)] = 2
            else:
                names = ["wall", "carpet" if (novel == "carpet" and kind == "indoor") else "floor"]
                if kind == "rug":
                    cy, cx = rng.uniform(0.72, 0.85) * height, rng.uniform(0.3, 0.7) * width
                    ry, rx = rng.uniform(0.1, 0.16) * height, rng.uniform(0.25, 0.4) * width
                    regions[(regions == 1) & (((gy - cy) / ry) ** 2 + ((gx - cx) / rx) ** 2 < 1)] = 2
                    names.append("carpet")
        else:
            grounds = list(rng.permutation(_GROUND + ("floor",)))
            if novel == "snow":
                grounds.insert(int(rng.integers(0, 2)), "snow")
            names = [str(grounds[0]), str(grounds[1])]
            cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
            theta = np.arctan2(gy - cy, gx - cx)
            wobble = 1 + 0.15 * np.sin(3 * theta + rng.uniform(0, 6.3)) + 0.08 * np.sin(5 * theta + rng.uniform(0, 6.3))
            ry, rx = rng.uniform(0.2, 0.38) * height, rng.uniform(0.2, 0.38) * width
            regions[np.sqrt(((gy - cy) / ry) ** 2 + ((gx - cx) / rx) ** 2) < wobble] = 1
        areas = np.bincount(regions.ravel(), minlength=len(names))
        if len(areas) == len(names) and areas.min() >= 0.04 * height * width:
            return regions, names
    return np.zeros((height, width), dtype=np.uint8), [novel or "grass"]


# ----------------------------------------------------------------- the camera


def light_direction(rng: np.random.Generator) -> np.ndarray:
    a = rng.uniform(0, 2 * math.pi)
    return np.array([math.cos(a), math.sin(a)], dtype=np.float32)


def finish_image(rng: np.random.Generator, canvas: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Camera effects: a light gradient, lens softness, sensor noise; uint8."""
    height, width = canvas.shape[:2]
    fx = np.arange(width, dtype=np.float32)[None, :] / width - 0.5
    fy = np.arange(height, dtype=np.float32)[:, None] / height - 0.5
    gain = (1 + 0.06 * (fx * light[0] + fy * light[1])) * (1 - 0.24 * (fx**2 + fy**2))
    img = cv2.GaussianBlur(canvas * gain[:, :, None], (0, 0), 0.6)
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(2.5)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


__all__ = [
    "COLOURS", "Look", "RING_HOLE", "finish_image", "light_direction", "paint", "rasterize", "sample_look", "shape_mask", "shape_polygon",
    "smooth_noise", "stuff_layout", "stuff_texture", "unit_shape",
]
