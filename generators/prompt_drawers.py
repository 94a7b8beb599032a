"""The prompt drawers of build-interactive: a point, scribble, box and mask prompt
of one instance as a pure function of (seed, annotation id, mask). How they are
drawn, and how the released generator differs from the paper, is told in
``psalm_bench.generators.interactive``'s docstring."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from psalm_bench.formats.interactive import PROMPTS
from psalm_bench.generators.interactive_rle import Crop, _compress, box_counts, crop_counts, pixel_counts

MODES = ("released", "paper")
PROMPT_KEYS = tuple(f"{p}_visual_prompt_mask" for p in PROMPTS)

MIN_COMPONENT_AREA = 5          # released: components with area > 5 get prompts
MAX_TRIES = 1000                # point tries / scribble IoU checks
SIGMA = 2.0
TRUNCATE = 4.0
RADIUS = int(TRUNCATE * SIGMA + 0.5)  # scipy.ndimage.gaussian_filter's kernel radius
POINT_DISK = 10                 # paper mode: stored point disk radius (px)
SCRIBBLE_WIDTH = 5              # paper mode: stored scribble width (px)
BOX_SCALE = (0.9, 1.1)
JITTER = (0.5, 1.2)
AMPLITUDE = (10.0, 20.0)
FREQUENCY = (0.2, 1.0)
PHASE = (0.0, 2 * np.pi)
TWO_PI = 2 * np.pi

# The layout of one component's draws in the annotation's stream.
POINT_AT, BOX_AT, JITTER_AT, CURVE_AT, BLOCK = 0, 3 * MAX_TRIES, 3 * MAX_TRIES + 1, 3 * MAX_TRIES + 1 + 2 * (MAX_TRIES + 1), 8192
_FIRST_BATCH = 16


@dataclass(frozen=True)
class Component:
    """A part of the instance that gets its own point, box and scribble.
    ``bbox`` is (min_row, min_col, max_row, max_col), max exclusive, in image
    pixels; ``centroid`` is (row, col)."""

    index: int
    area: int
    bbox: tuple[int, int, int, int]
    centroid: tuple[float, float]


@dataclass(frozen=True)
class PointDraw:
    center: tuple[float, float]
    radius: float
    row: int
    col: int
    tries: int              # 1-based try that hit; 0 = paper-mode fallback


@dataclass(frozen=True)
class BoxDraw:
    true_box: tuple[int, int, int, int]
    scale: float
    box: tuple[int, int, int, int]   # the prompt, max exclusive, clipped to the image


@dataclass(frozen=True)
class ScribbleDraw:
    true_box: tuple[int, int, int, int]
    h_factor: float
    w_factor: float
    box: tuple[int, int, int, int]   # the accepted jittered box
    iou: float
    draws: int                        # 1-based draw that was accepted
    start: tuple[int, int]
    end: tuple[int, int]
    amplitude: float
    frequency: float
    phase: float


@dataclass(frozen=True)
class InstancePrompts:
    """The four prompts of one instance, as crops, with the sampled parameters.
    ``points``, ``boxes`` and ``scribbles`` run parallel to ``components``;
    None where the released generator gives up (no point hit, no jittered box
    with enough IoU)."""

    height: int
    width: int
    components: tuple[Component, ...]
    points: tuple[PointDraw | None, ...]
    boxes: tuple[BoxDraw, ...]
    scribbles: tuple[ScribbleDraw | None, ...]
    mask_threshold: float
    box: Crop
    mask: Crop
    # paper mode: the drawn point disks and scribble curves; released mode: the
    # stored pixels (rows, cols) of points and scribbles (their crops are made on demand)
    drawn_point: Crop | None = field(default=None, repr=False, compare=False)
    drawn_scribble: Crop | None = field(default=None, repr=False, compare=False)
    point_pixels: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    scribble_pixels: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def point(self) -> Crop:
        return self.drawn_point if self.point_pixels is None else _pixels_crop(*self.point_pixels)

    @functools.cached_property
    def scribble(self) -> Crop:
        return self.drawn_scribble if self.scribble_pixels is None else _pixels_crop(*self.scribble_pixels)

    def crop(self, prompt: str) -> Crop:
        return getattr(self, prompt)

    def is_empty(self, prompt: str) -> bool:
        pixels = {"point": self.point_pixels, "scribble": self.scribble_pixels}.get(prompt)
        if pixels is not None:
            return pixels[0].size == 0
        m = self.crop(prompt).m
        return m.size == 0 or not m.any()

    def counts(self, prompt: str) -> np.ndarray:
        """The prompt as uncompressed COCO RLE counts of the full image."""
        pixels = {"point": self.point_pixels, "scribble": self.scribble_pixels}.get(prompt)
        if pixels is not None:
            return pixel_counts(pixels[0], pixels[1], self.height, self.width)
        if prompt == "box":
            boxes = {b.box for b in self.boxes if b.box[2] > b.box[0] and b.box[3] > b.box[1]}
            if len(boxes) <= 1:
                return box_counts(boxes.pop() if boxes else (0, 0, 0, 0), self.height, self.width)
        return crop_counts(self.crop(prompt), self.height, self.width)

    def rle(self, prompt: str) -> dict[str, Any]:
        """The prompt as compressed RLE of the full image (counts as str)."""
        return _compress(self.counts(prompt), self.height, self.width)


# ------------------------------------------------------------------ randomness


def _seed_word(value: int) -> int:
    return int(value) % (1 << 64)


def annotation_rng(seed: int, ann_id: int) -> np.random.Generator:
    """The annotation's Generator; every prompt of the annotation draws from it."""
    return np.random.default_rng([_seed_word(seed), _seed_word(ann_id)])


def prompt_stream(seed: int, ann_id: int, component: int, at: int) -> np.random.Generator:
    """The annotation's Generator advanced to ``component * BLOCK + at`` (``at``
    one of POINT_AT, BOX_AT, JITTER_AT, CURVE_AT)."""
    rng = annotation_rng(seed, ann_id)
    rng.bit_generator.advance(component * BLOCK + at)
    return rng


class _Stream:
    """Sequential reads at absolute offsets of one annotation's stream (forward only)."""

    __slots__ = ("seed", "ann_id", "rng", "pos")

    def __init__(self, seed: int, ann_id: int):
        self.seed, self.ann_id = seed, ann_id
        self.rng = annotation_rng(seed, ann_id)
        self.pos = 0

    def read(self, offset: int, n: int) -> np.ndarray:
        if offset < self.pos:
            self.rng, self.pos = annotation_rng(self.seed, self.ann_id), 0
        if offset > self.pos:
            self.rng.bit_generator.advance(offset - self.pos)
        self.pos = offset + n
        return self.rng.random(n)



# ------------------------------------------------------------- the prompts


def _gaussian_kernel() -> np.ndarray:
    x = np.arange(-RADIUS, RADIUS + 1, dtype=np.float64)
    k = np.exp(-0.5 / (SIGMA * SIGMA) * x * x)
    return k / k.sum()


_KERNEL = _gaussian_kernel()


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    """scipy.ndimage's ``reflect`` border (d c b a | a b c d | d c b a)."""
    index = np.mod(index, 2 * n)
    return np.where(index >= n, 2 * n - 1 - index, index)


@functools.lru_cache(maxsize=64)
def _border_weights(n: int) -> np.ndarray:
    """How much each pixel of a length-n axis adds up to over the blurred axis
    (column sums of the reflect-bordered 1-D Gaussian): 1 inside, not at the
    border. The mean of the blurred image is sum(mask * w_rows x w_cols) / (H W)."""
    w = np.zeros(n)
    base = np.arange(n)
    for j, kj in enumerate(_KERNEL):
        np.add.at(w, _reflect(base + j - RADIUS, n), kj)
    return w


_KERNEL32 = _KERNEL.astype(np.float32)
# The float32 blur sums non-negative terms, so its relative error is below
# 40 x 2**-24 (~2.4e-6); pixels this close to the threshold are recomputed in float64.
_REL_EPS = 1e-5


def _column_major(m: np.ndarray) -> np.ndarray:
    """The crop transposed and contiguous (rows = image columns): COCO RLE's
    order. Decoded masks already are (``m`` is then a view), so this is free."""
    return np.ascontiguousarray(m.T)


def _mask_prompt(mask: Crop, height: int, width: int, threshold: float) -> Crop:
    """Pixels where the Gaussian blur of the instance (scipy.ndimage.gaussian_filter
    of the full image: reflect border) exceeds ``threshold``; computed on the
    instance's box padded by RADIUS, where the blur is 0 beyond. Works on the
    transposed crop (the kernel is the same along both axes), so the result is
    already in RLE order."""
    mt = _column_major(mask.m)
    w, h = mt.shape
    R = RADIUS
    oy0, ox0 = max(0, mask.y0 - R), max(0, mask.x0 - R)
    oy1, ox1 = min(height, mask.y0 + h + R), min(width, mask.x0 + w + R)
    if min(height, width) > 2 * R:
        # the image around the crop, R beyond the output window; past the
        # image border, reflected (a's axis 0 runs along image columns)
        a = np.zeros((ox1 - ox0 + 2 * R, oy1 - oy0 + 2 * R), np.uint8)
        a[mask.x0 - ox0 + R:mask.x0 - ox0 + R + w, mask.y0 - oy0 + R:mask.y0 - oy0 + R + h] = mt
        for axis, before, after in ((0, R - ox0, ox1 + R - width), (1, R - oy0, oy1 + R - height)):
            view = a if axis == 0 else a.T
            if before > 0:
                view[:before] = view[before:2 * before][::-1]
            if after > 0:
                n = view.shape[0]
                view[n - after:] = view[n - 2 * after:n - after][::-1]
    else:  # an image smaller than the kernel: reflect index by index
        rows = _reflect(np.arange(oy0 - R, oy1 + R), height) - mask.y0
        cols = _reflect(np.arange(ox0 - R, ox1 + R), width) - mask.x0
        vr, vc = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
        a = np.zeros((cols.size, rows.size), np.uint8)
        a[np.ix_(vc, vr)] = mt[np.ix_(cols[vc], rows[vr])]
    blur = cv2.sepFilter2D(a, cv2.CV_32F, _KERNEL32, _KERNEL32, borderType=cv2.BORDER_CONSTANT)[R:-R, R:-R]
    out = blur > np.float32(threshold * (1 + _REL_EPS))
    maybe = blur > np.float32(threshold * (1 - _REL_EPS))
    if np.count_nonzero(maybe) != np.count_nonzero(out):
        i, j = np.nonzero(maybe & ~out)
        windows = np.lib.stride_tricks.sliding_window_view(a, (2 * R + 1, 2 * R + 1))[i, j].astype(np.float64)
        out[i, j] = np.einsum("i,nij,j->n", _KERNEL, windows, _KERNEL) > threshold
    return Crop(ox0, oy0, out.view(np.uint8).T)


def mask_threshold(mask: Crop, height: int, width: int, mode: str = "released") -> float:
    """0.5 (paper), or the mean of the blurred full image (released)."""
    if mode == "paper":
        return 0.5
    h, w = mask.m.shape
    wr = _border_weights(height)[mask.y0:mask.y0 + h]
    wc = _border_weights(width)[mask.x0:mask.x0 + w]
    if mask.x0 >= RADIUS and mask.x0 + w <= width - RADIUS:  # all columns weigh alike
        total = float(wr @ mask.line_counts[0]) * float(wc[0])
    elif mask.y0 >= RADIUS and mask.y0 + h <= height - RADIUS:
        total = float(mask.line_counts[1] @ wc) * float(wr[0])
    else:
        total = float(wr @ mask.m.astype(np.float64) @ wc)
    return total / (height * width)


def _whole(mask: Crop) -> Component:
    """The whole mask as one component (tight box, centroid)."""
    per_row, per_col = mask.line_counts
    rows, cols = np.flatnonzero(per_row), np.flatnonzero(per_col)
    area = int(per_row.sum())
    sum_r = int(per_row @ np.arange(per_row.size)) + area * mask.y0
    sum_c = int(per_col @ np.arange(per_col.size)) + area * mask.x0
    box = (mask.y0 + int(rows[0]), mask.x0 + int(cols[0]), mask.y0 + int(rows[-1]) + 1, mask.x0 + int(cols[-1]) + 1)
    return Component(0, area, box, (sum_r / area, sum_c / area))


def _components(mask: Crop, mode: str) -> list[Component]:
    mt = _column_major(mask.m)  # transposed: its "rows" are image columns
    if mode == "paper":
        return [_whole(mask)]
    n, labels = cv2.connectedComponents(mt, connectivity=8, ltype=cv2.CV_32S)
    if n == 2:  # one component (the common case): no need for OpenCV's costly stats
        whole = _whole(mask)
        return [whole] if whole.area > MIN_COMPONENT_AREA else []
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(mt, connectivity=8, ltype=cv2.CV_32S)
    found = []
    for label in range(1, n):
        area = int(stats[label, cv2.CC_STAT_AREA])
        if area <= MIN_COMPONENT_AREA:
            continue
        top = int(stats[label, cv2.CC_STAT_LEFT])  # the component's first image row
        first = int(np.argmax(labels[:, top] == label))  # its first pixel in that row
        found.append((top, first, label, area))
    found.sort()  # raster order of the first pixel, as scikit-image labels
    out = []
    for j, (_, _, label, area) in enumerate(found):
        top, left = int(stats[label, cv2.CC_STAT_LEFT]), int(stats[label, cv2.CC_STAT_TOP])
        h, w = int(stats[label, cv2.CC_STAT_WIDTH]), int(stats[label, cv2.CC_STAT_HEIGHT])
        # exact integer coordinate sums, so the centroid is rounded once, like numpy's mean
        sum_r = round(float(centroids[label, 0]) * area) + area * mask.y0
        sum_c = round(float(centroids[label, 1]) * area) + area * mask.x0
        out.append(Component(j, area, (mask.y0 + top, mask.x0 + left, mask.y0 + top + h, mask.x0 + left + w),
                             (sum_r / area, sum_c / area)))
    return out


def _batches() -> Iterator[tuple[int, int]]:
    """(tries done, tries in batch): a small first batch, then the rest."""
    yield 0, _FIRST_BATCH
    yield _FIRST_BATCH, MAX_TRIES - _FIRST_BATCH


def _sample_point(stream: _Stream, base: int, comp: Component, mask: Crop, mode: str) -> PointDraw | None:
    r0, c0, r1, c1 = comp.bbox
    radius = min(r1 - r0, c1 - c0) * 0.5
    cr, cc = comp.centroid
    m, y0, x0 = mask.m, mask.y0, mask.x0
    h, w = m.shape
    per_try = 3 if mode == "released" else 2
    for done, n in _batches():
        d = stream.read(base + POINT_AT + per_try * done, per_try * n).reshape(n, per_try)
        angle = TWO_PI * d[:, 0]
        cos, sin = np.cos(angle).tolist(), np.sin(angle).tolist()
        if mode == "released":
            for t, (_, u, v) in enumerate(d.tolist()):
                row = min(max(int(cr + (radius * u) * cos[t]), r0), r1 - 1)
                col = min(max(int(cc + (radius * v) * sin[t]), c0), c1 - 1)
                if 0 <= row - y0 < h and 0 <= col - x0 < w and m[row - y0, col - x0]:
                    return PointDraw((cr, cc), radius, row, col, done + t + 1)
        else:
            for t, rad in enumerate((radius * np.sqrt(d[:, 1])).tolist()):
                row, col = math.floor(cr + rad * cos[t] + 0.5), math.floor(cc + rad * sin[t] + 0.5)
                if 0 <= row - y0 < h and 0 <= col - x0 < w and m[row - y0, col - x0]:
                    return PointDraw((cr, cc), radius, row, col, done + t + 1)
    if mode == "released":
        return None
    ys, xs = np.nonzero(m)
    t = int(np.argmin((ys + y0 - cr) ** 2 + (xs + x0 - cc) ** 2))
    return PointDraw((cr, cc), radius, int(ys[t]) + y0, int(xs[t]) + x0, 0)


def _sample_box(stream: _Stream, base: int, comp: Component, height: int, width: int) -> BoxDraw:
    lo, hi = BOX_SCALE
    scale = lo + (hi - lo) * float(stream.read(base + BOX_AT, 1)[0])
    r0, c0, r1, c1 = comp.bbox
    dh, dw = (r1 - r0) * (scale - 1), (c1 - c0) * (scale - 1)
    box = (max(0, int(r0 - dh / 2)), max(0, int(c0 - dw / 2)), min(height, int(r1 + dh / 2)), min(width, int(c1 + dw / 2)))
    return BoxDraw(comp.bbox, scale, box)


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """IoU of two (min_row, min_col, max_row, max_col) boxes counted inclusively
    (+1 per side), as the released generator does."""
    inter = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1) * max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / float(area_a + area_b - inter)


def bresenham(r0: int, c0: int, r1: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of skimage.draw.line(r0, c0, r1, c1), in closed form."""
    dr, dc = abs(r1 - r0), abs(c1 - c0)
    sr = 1 if r1 - r0 > 0 else -1
    sc = 1 if c1 - c0 > 0 else -1
    steep = dr > dc
    major, minor = (dr, dc) if steep else (dc, dr)
    i = np.arange(major + 1, dtype=np.int64)
    k = (2 * minor * i + major) // (2 * major) if major else np.zeros(1, np.int64)
    if steep:
        rr, cc = r0 + sr * i, c0 + sc * k
    else:
        rr, cc = r0 + sr * k, c0 + sc * i
    rr[-1], cc[-1] = r1, c1
    return rr, cc


def _sample_scribble(stream: _Stream, base: int, comp: Component, height: int, width: int, mode: str) -> ScribbleDraw | None:
    true_box = comp.bbox
    r0, c0, r1, c1 = true_box
    h, w = r1 - r0, c1 - c0
    cr, cc = comp.centroid
    lo, span = JITTER[0], JITTER[1] - JITTER[0]
    strict = mode != "released"
    area = (r1 - r0 + 1) * (c1 - c0 + 1)
    found = None
    for done, n in _batches():
        d = stream.read(base + JITTER_AT + 2 * done, 2 * n)
        if done == 0:  # most boxes pass within a few draws: plain arithmetic
            values = d.tolist()
            for t in range(n):
                fh, fw = lo + span * values[2 * t], lo + span * values[2 * t + 1]
                nh, nw = h * fh, w * fw
                box = (max(int(cr - nh / 2), 0), max(int(cc - nw / 2), 0), min(int(cr + nh / 2), height), min(int(cc + nw / 2), width))
                inter = max(0, min(box[3], c1) - max(box[1], c0) + 1) * max(0, min(box[2], r1) - max(box[0], r0) + 1)
                iou = inter / float((box[2] - box[0] + 1) * (box[3] - box[1] + 1) + area - inter)
                if iou > 0.5 or (iou == 0.5 and not strict):
                    found = (fh, fw, box, iou, t + 1)
                    break
        else:  # the rest at once
            f = lo + span * d.reshape(n, 2)
            nh, nw = h * f[:, 0], w * f[:, 1]
            b = np.stack([np.maximum(np.trunc(cr - nh / 2), 0), np.maximum(np.trunc(cc - nw / 2), 0),
                          np.minimum(np.trunc(cr + nh / 2), height), np.minimum(np.trunc(cc + nw / 2), width)]).astype(np.int64)
            inter = (np.maximum(0, np.minimum(b[3], c1) - np.maximum(b[1], c0) + 1)
                     * np.maximum(0, np.minimum(b[2], r1) - np.maximum(b[0], r0) + 1))
            iou = inter / ((b[2] - b[0] + 1) * (b[3] - b[1] + 1) + area - inter).astype(np.float64)
            ok = iou > 0.5 if strict else iou >= 0.5
            if ok.any():
                t = int(np.argmax(ok))
                found = (float(f[t, 0]), float(f[t, 1]), tuple(int(v) for v in b[:, t]), float(iou[t]), done + t + 1)
        if found:
            break
    else:
        return None
    fh, fw, box, iou, draws = found
    corner, amp, freq, phase = stream.read(base + CURVE_AT, 4).tolist()
    corners = ((box[0], box[1]), (box[0], box[3]), (box[2], box[1]), (box[2], box[3]))
    start = corners[min(int(corner * 4), 3)]
    end = (box[0] + box[2] - start[0], box[1] + box[3] - start[1])
    return ScribbleDraw(true_box, fh, fw, box, iou, draws, start, end,
                        AMPLITUDE[0] + (AMPLITUDE[1] - AMPLITUDE[0]) * amp,
                        FREQUENCY[0] + (FREQUENCY[1] - FREQUENCY[0]) * freq,
                        PHASE[0] + (PHASE[1] - PHASE[0]) * phase)


def _unit_ramp(n: int) -> np.ndarray:
    """``np.linspace(0, 1, n)``, bit for bit, without its overhead."""
    y = np.arange(n, dtype=np.float64)
    if n > 1:
        y *= 1.0 / (n - 1)
        y[-1] = 1.0
    return y


def scribble_curve(s: ScribbleDraw) -> tuple[np.ndarray, np.ndarray]:
    """The curve's points: Bresenham columns (float32) and rows moved by the sine
    (float32, as the released generator computes them), before clipping."""
    rr, cc = bresenham(s.start[0], s.start[1], s.end[0], s.end[1])
    rows = rr.astype(np.float32)
    rows += s.amplitude * np.sin(2 * np.pi * s.frequency * _unit_ramp(rows.size) + s.phase)
    return rows, cc.astype(np.float32)


def _union(shape_boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (min(b[0] for b in shape_boxes), min(b[1] for b in shape_boxes),
            max(b[2] for b in shape_boxes), max(b[3] for b in shape_boxes))


_EMPTY = np.zeros((0, 0), np.uint8)


def _pixels_crop(rows: np.ndarray, cols: np.ndarray) -> Crop:
    if rows.size == 0:
        return Crop(0, 0, _EMPTY)
    y0, x0 = int(rows.min()), int(cols.min())
    m = np.zeros((int(rows.max()) - y0 + 1, int(cols.max()) - x0 + 1), np.uint8)
    m[rows - y0, cols - x0] = 1
    return Crop(x0, y0, m)


def _draw_scribbles(scribbles: list[ScribbleDraw], height: int, width: int, mode: str) -> tuple[Crop, tuple[np.ndarray, np.ndarray] | None]:
    if not scribbles:
        empty = np.zeros(0, np.int64)
        return Crop(0, 0, _EMPTY), (empty, empty)
    curves = [scribble_curve(s) for s in scribbles]
    if mode == "released":  # np.clip(x, 0, n - 1).astype(np.int32), as the released generator stores them
        rows = [np.minimum(np.maximum(r, 0), height - 1).astype(np.int32) for r, _ in curves]
        cols = [np.minimum(np.maximum(c, 0), width - 1).astype(np.int32) for _, c in curves]
        if len(curves) == 1:
            return None, (rows[0], cols[0])
        return None, (np.concatenate(rows), np.concatenate(cols))
    pad = SCRIBBLE_WIDTH
    rows_all = np.concatenate([r for r, _ in curves])
    cols_all = np.concatenate([c for _, c in curves])
    y0, x0 = max(0, int(np.floor(rows_all.min())) - pad), max(0, int(np.floor(cols_all.min())) - pad)
    y1, x1 = min(height, int(np.ceil(rows_all.max())) + pad + 1), min(width, int(np.ceil(cols_all.max())) + pad + 1)
    if y1 <= y0 or x1 <= x0:
        return Crop(0, 0, _EMPTY), None
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for rows, cols in curves:
        pts = np.stack([(cols.astype(np.float64) - x0) * 16, (rows.astype(np.float64) - y0) * 16], axis=1)
        cv2.polylines(canvas, [np.rint(pts).astype(np.int32)], False, 1, thickness=SCRIBBLE_WIDTH, lineType=cv2.LINE_8, shift=4)
    return Crop(x0, y0, canvas), None


def _draw_points(points: list[PointDraw], height: int, width: int, mode: str) -> tuple[Crop, tuple[np.ndarray, np.ndarray] | None]:
    rows = np.array([p.row for p in points], np.int64)
    cols = np.array([p.col for p in points], np.int64)
    if mode == "released":
        return None, (rows, cols)
    if not points:
        return Crop(0, 0, _EMPTY), None
    r = POINT_DISK
    y0, x0 = max(0, int(rows.min()) - r), max(0, int(cols.min()) - r)
    y1, x1 = min(height, int(rows.max()) + r + 1), min(width, int(cols.max()) + r + 1)
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for p in points:
        cv2.circle(canvas, (p.col - x0, p.row - y0), r, 1, thickness=-1, lineType=cv2.LINE_8)
    return Crop(x0, y0, canvas), None


def _draw_boxes(boxes: list[BoxDraw]) -> Crop:
    boxes = [b.box for b in boxes if b.box[2] > b.box[0] and b.box[3] > b.box[1]]
    if not boxes:
        return Crop(0, 0, _EMPTY)
    y0, x0, y1, x1 = _union(boxes)
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for r0, c0, r1, c1 in boxes:
        canvas[r0 - y0:r1 - y0, c0 - x0:c1 - x0] = 1
    return Crop(x0, y0, canvas)


def make_prompts(mask: Crop, height: int, width: int, *, seed: int, ann_id: int, mode: str = "released") -> InstancePrompts:
    """The four prompts of one instance: a pure function of (seed, ann_id, mask).
    ``mask`` is the instance's crop in a height x width image (any crop that
    holds the whole mask)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    stream = _Stream(seed, ann_id)
    comps = _components(mask, mode)
    points, boxes, scribbles = [], [], []
    for comp in comps:
        base = comp.index * BLOCK
        points.append(_sample_point(stream, base, comp, mask, mode))
        boxes.append(_sample_box(stream, base, comp, height, width))
        scribbles.append(_sample_scribble(stream, base, comp, height, width, mode))
    thr = mask_threshold(mask, height, width, mode)
    point, point_pixels = _draw_points([p for p in points if p is not None], height, width, mode)
    scribble, scribble_pixels = _draw_scribbles([s for s in scribbles if s is not None], height, width, mode)
    return InstancePrompts(
        height, width, tuple(comps), tuple(points), tuple(boxes), tuple(scribbles), thr,
        box=_draw_boxes(boxes), mask=_mask_prompt(mask, height, width, thr),
        drawn_point=point, drawn_scribble=scribble, point_pixels=point_pixels, scribble_pixels=scribble_pixels,
    )
