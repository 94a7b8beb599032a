"""Videos of the benchmark world, for zero-shot video object segmentation.

A video is a pure function of ``(seed, index)``: two to four shapes move over
a stuff background (bouncing off the frame edges, turning, breathing in
size) while the camera pans slowly, so objects pass in front of each other
and their masks change shape from frame to frame. Every object is mostly
visible in the first frame, where DAVIS takes the objects of a sequence from.
Object ids are 1..K in a palette PNG per frame, 0 the background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from psalm_bench.generators.world_render import (
    COLOURS, finish_image, light_direction, paint, sample_look, shape_mask, shape_polygon, stuff_layout, stuff_texture,
)
from psalm_bench.generators.world_scene import KNOWN_THINGS, SIZE_RANGE, SIZE_WORDS, TEXTURES, scene_rng

#: DAVIS 480p frames are 480x854; the world's are a quarter of the pixels
VIDEO_SHAPE = (240, 432)
_PAD = 24  # background margin the camera pans over


@dataclass(frozen=True)
class VideoObject:
    object_id: int
    category: str
    colour: str
    size: str
    texture: str


@dataclass
class Video:
    """``frames`` (T, H, W, 3) uint8 and ``labels`` (T, H, W) uint8 object ids."""

    name: str
    index: int
    frames: np.ndarray
    labels: np.ndarray
    objects: list[VideoObject]


def _bounce(start: float, velocity: float, lo: float, hi: float, n: int) -> np.ndarray:
    """Positions over n frames of a point moving at constant speed between
    two walls, reflected at each (a triangle wave)."""
    span = max(hi - lo, 1e-6)
    raw = (start - lo) + velocity * np.arange(n)
    folded = np.mod(raw, 2 * span)
    return lo + np.where(folded > span, 2 * span - folded, folded)


def generate_video(seed: int, index: int, n_frames: int = 20) -> Video:
    """One video of the world (see the module docstring)."""
    rng = scene_rng(seed, "video", index)
    height, width = VIDEO_SHAPE
    big_h, big_w = height + 2 * _PAD, width + 2 * _PAD
    layout, names = stuff_layout(rng, big_h, big_w, None)
    background = np.zeros((big_h, big_w, 3), dtype=np.float32)
    for k, name in enumerate(names):
        np.copyto(background, stuff_texture(name, rng, big_h, big_w), where=(layout == k)[:, :, None])
    camera = [np.linspace(rng.uniform(0, 2 * _PAD), rng.uniform(0, 2 * _PAD), n_frames) for _ in range(2)]
    light = light_direction(rng)

    k_objects = int(rng.integers(2, 5))
    specs = []
    for _ in range(k_objects):
        category = str(rng.choice(KNOWN_THINGS))
        size = str(rng.choice(SIZE_WORDS, p=(0.1, 0.45, 0.45)))
        colour = str(rng.choice(list(COLOURS)))
        texture = str(rng.choice(TEXTURES, p=(0.5, 0.25, 0.25)))
        lo, hi = SIZE_RANGE[size]
        radius = float(rng.uniform(lo, hi) * height * 1.25)  # DAVIS objects fill more of the frame
        speed = float(rng.uniform(1.5, 5.0))
        heading = float(rng.uniform(0, 2 * math.pi))
        spin = float(rng.uniform(-0.06, 0.06)) if category != "heart" else 0.0
        angle0 = float(rng.uniform(-0.3, 0.3)) if category == "heart" else float(rng.uniform(0, 2 * math.pi))
        breathe = (float(rng.uniform(0, 0.12)), float(rng.uniform(0.1, 0.4)), float(rng.uniform(0, 2 * math.pi)))
        specs.append((category, size, colour, texture, radius, speed, heading, spin, angle0, breathe, sample_look(rng, colour, texture, radius)))

    # starting points: redrawn until every object is mostly visible in frame 0
    # (DAVIS takes a sequence's objects from its first frame); an object still
    # hidden after that is left out
    reach = [s[4] * (1 + 2 * s[9][0]) for s in specs]  # the largest radius it breathes to
    for _ in range(40):
        starts = [(float(rng.uniform(r + 1, width - r - 2)), float(rng.uniform(r + 1, height - r - 2))) for r in reach]
        masks = [shape_mask(s[0], shape_polygon(s[0], x, y, s[4], s[8]), x, y, s[4], height, width) for s, (x, y) in zip(specs, starts)]
        top = np.zeros((height, width), dtype=np.int16)
        for k, m in enumerate(masks):
            top[m] = k + 1
        shown = [int((top == k + 1).sum()) >= max(100, 0.5 * int(m.sum())) for k, m in enumerate(masks)]
        if all(shown):
            break
    keep = [k for k in range(len(specs)) if shown[k]]
    specs, starts, reach = [specs[k] for k in keep], [starts[k] for k in keep], [reach[k] for k in keep]

    frames = np.empty((n_frames, height, width, 3), dtype=np.uint8)
    labels = np.zeros((n_frames, height, width), dtype=np.uint8)
    paths = []
    t = np.arange(n_frames)
    for spec, (x0, y0), r_max in zip(specs, starts, reach):
        radius, speed, heading, spin, angle0, breathe = spec[4:10]
        xs = _bounce(x0, speed * math.cos(heading), r_max + 1, width - r_max - 2, n_frames)
        ys = _bounce(y0, speed * math.sin(heading), r_max + 1, height - r_max - 2, n_frames)
        radii = radius * (1 + breathe[0] * (np.sin(breathe[1] * t + breathe[2]) - math.sin(breathe[2])))
        paths.append((xs, ys, radii, angle0 + spin * t))
    for f in range(n_frames):
        ox, oy = int(round(camera[0][f])), int(round(camera[1][f]))
        canvas = background[oy: oy + height, ox: ox + width].copy()
        for k, (spec, (xs, ys, radii, angles)) in enumerate(zip(specs, paths)):
            category, look = spec[0], spec[10]
            x, y, r, a = float(xs[f]), float(ys[f]), float(radii[f]), float(angles[f])
            mask = shape_mask(category, shape_polygon(category, x, y, r, a), x, y, r, height, width)
            paint(canvas, mask, look, x, y, r, a, light)
            labels[f][mask] = k + 1
        frames[f] = finish_image(rng, canvas, light)
    objects = [VideoObject(k + 1, s[0], s[2], s[1], s[3]) for k, s in enumerate(specs)]
    name = f"{objects[0].colour}-{objects[0].category}-{index:03d}"
    return Video(name, index, frames, labels, objects)


__all__ = ["VIDEO_SHAPE", "Video", "VideoObject", "generate_video"]
