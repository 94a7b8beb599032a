"""Pixels for the failure browser: mask overlays with outlines, prompt marks, PNG files.

Numpy only (plus Pillow, already a dependency, to read images and write
PNGs): a browse page must not need a plotting stack. Every colour is fixed,
so the same result gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

GT_COLOUR = (0, 200, 90)
PRED_COLOUR = (230, 40, 200)
PROMPT_COLOUR = (255, 210, 0)
THUMB_SIDE = 200
# Distinct colours for segment overlays (panoptic/instance/semantic classes).
PALETTE = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
    (0, 0, 128), (128, 128, 128),
], dtype=np.uint8)


@dataclass
class Layer:
    """One mask drawn on a picture: filled at ``alpha`` and outlined."""

    mask: np.ndarray
    colour: tuple[int, int, int]
    alpha: float = 0.35
    outline: bool = True


def load_image(path: Path | None, height: int, width: int) -> tuple[np.ndarray, bool]:
    """The sample's image as RGB, or a neutral grey canvas when it is not on disk (flagged)."""
    if path is not None and path.is_file():
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
        if rgb.shape[:2] == (height, width):
            return rgb.copy(), True
    return np.full((height, width, 3), 96, dtype=np.uint8), False


def outline_of(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it, thickened ``width - 1`` times."""
    mask = mask.astype(bool)
    padded = np.pad(mask, 1)
    inner = padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    edge = mask & ~inner
    for _ in range(width - 1):
        edge = dilate(edge)
    return edge


def dilate(mask: np.ndarray) -> np.ndarray:
    """One step of 4-neighbour dilation."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def compose(image: np.ndarray, layers: list[Layer]) -> np.ndarray:
    """Blend each layer's fill, then draw every outline on top, in order."""
    out = image.astype(np.float32)
    line = max(1, round(max(image.shape[:2]) / 320))
    for layer in layers:
        mask = layer.mask.astype(bool)
        if layer.alpha > 0 and mask.any():
            out[mask] = out[mask] * (1 - layer.alpha) + np.asarray(layer.colour, np.float32) * layer.alpha
    for layer in layers:
        if layer.outline:
            out[outline_of(layer.mask, line)] = layer.colour
    return np.clip(out, 0, 255).astype(np.uint8)


def compose_segments(image: np.ndarray, ids: np.ndarray, styles: dict[int, tuple[tuple[int, int, int], float]]) -> np.ndarray:
    """Blend and outline many disjoint segments of one id map in a few passes over the picture
    (``compose`` with one layer per segment costs a pass each: slow on COCO panoptic images)."""
    keys = np.array(sorted(styles), dtype=ids.dtype)
    colours = np.zeros((len(keys) + 1, 3), np.float32)  # the last entry: unstyled pixels, left as they are
    alphas = np.zeros(len(keys) + 1, np.float64)
    for i, segment in enumerate(keys.tolist()):
        colours[i], alphas[i] = styles[segment][0], styles[segment][1]
    at = np.minimum(np.searchsorted(keys, ids), max(0, len(keys) - 1))
    inverse = np.where(keys[at] == ids, at, len(keys)) if len(keys) else np.zeros(ids.shape, np.intp)
    # (1 - alpha) rounded to float32 from float64, as compose's float32 arithmetic does: the same bytes.
    keep, alpha = (1 - alphas).astype(np.float32)[inverse][..., None], alphas.astype(np.float32)[inverse][..., None]
    colour = colours[inverse]
    out = image.astype(np.float32) * keep + colour * alpha
    edge = np.zeros(ids.shape, bool)
    for k in range(1, max(1, round(max(ids.shape) / 320)) + 1):  # the same line width as compose's outlines
        differs = ids[k:] != ids[:-k]
        edge[k:] |= differs
        edge[:-k] |= differs
        differs = ids[:, k:] != ids[:, :-k]
        edge[:, k:] |= differs
        edge[:, :-k] |= differs
    edge[:1] = edge[-1:] = True
    edge[:, :1] = edge[:, -1:] = True
    edge &= alpha[..., 0] > 0
    out[edge] = colour[edge]
    return np.clip(out, 0, 255).astype(np.uint8)


def disk(height: int, width: int, y: float, x: float, radius: float) -> np.ndarray:
    yy, xx = np.ogrid[:height, :width]
    return (yy - y) ** 2 + (xx - x) ** 2 <= radius * radius


def box_mask(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """A filled rectangle ``(x0, y0, x1, y1)`` inclusive, clipped to the picture."""
    x0, y0, x1, y1 = box
    out = np.zeros((height, width), dtype=bool)
    out[max(0, y0):min(height, y1 + 1), max(0, x0):min(width, x1 + 1)] = True
    return out


def bbox_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def prompt_layers(kind: str, prompt: np.ndarray) -> list[Layer]:
    """How a visual prompt is drawn: a point as a disk, a scribble thickened,
    a box as its outline, a mask prompt as a dashed-free outline only."""
    h, w = prompt.shape
    if not prompt.any():
        return []
    if kind == "point":
        ys, xs = np.nonzero(prompt)
        radius = max(3.0, max(h, w) / 60)
        return [Layer(disk(h, w, float(ys.mean()), float(xs.mean()), radius), PROMPT_COLOUR, alpha=1.0, outline=False)]
    if kind == "scribble":
        thick = prompt.astype(bool)
        for _ in range(max(1, round(max(h, w) / 300))):
            thick = dilate(thick)
        return [Layer(thick, PROMPT_COLOUR, alpha=1.0, outline=False)]
    if kind == "box":
        box = bbox_of(prompt)
        assert box is not None
        return [Layer(box_mask(h, w, box), PROMPT_COLOUR, alpha=0.0)]
    return [Layer(prompt, PROMPT_COLOUR, alpha=0.0)]


def write_png(rgb: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format="PNG", optimize=False, compress_level=6)


def thumbnail(rgb: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """Fit in ``side`` x ``side`` keeping the aspect (nearest-free box filter)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale == 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


def strip(frames: list[np.ndarray], height: int = 120) -> np.ndarray:
    """Frames side by side at one height, 2 px dark gaps: a VOS object's timeline."""
    tiles = []
    for frame in frames:
        h, w = frame.shape[:2]
        size = (max(1, round(w * height / h)), height)
        tiles.append(np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BOX)))
        tiles.append(np.full((height, 2, 3), 20, dtype=np.uint8))
    return np.concatenate(tiles[:-1], axis=1) if tiles else np.zeros((height, 1, 3), np.uint8)


def hex_colour(colour: tuple[int, int, int] | np.ndarray) -> str:
    r, g, b = (int(c) for c in colour)
    return f"#{r:02x}{g:02x}{b:02x}"


def with_zoom(picture: np.ndarray, masks: list[np.ndarray], margin: float = 0.25) -> np.ndarray:
    """The picture and, beside it, the region the masks cover, enlarged to the
    picture's height: the worst samples are often small objects."""
    union = np.zeros(picture.shape[:2], bool)
    for mask in masks:
        union |= mask.astype(bool)
    box = bbox_of(union)
    h, w = picture.shape[:2]
    if box is None:
        return picture
    x0, y0, x1, y1 = box
    side = max(x1 - x0 + 1, y1 - y0 + 1)
    pad = max(4, round(side * margin))
    cx, cy, half = (x0 + x1) // 2, (y0 + y1) // 2, side // 2 + pad
    crop = picture[max(0, cy - half):min(h, cy + half + 1), max(0, cx - half):min(w, cx + half + 1)]
    if crop.shape[0] * 2 > h and crop.shape[1] * 2 > w:
        return picture  # already large: no zoom needed
    scale = h / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), h)
    zoom = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.NEAREST))
    return np.concatenate([picture, np.full((h, 4, 3), 255, np.uint8), zoom], axis=1)
