"""COCO-Interactive: a point, scribble, box and mask prompt for every COCO instance.

``build_interactive`` reads a COCO instances JSON and writes the file the PSALM
authors' code reads (FORMATS.md, "COCO-Interactive"): a JSON list with one
record per image, ``{"image", "image_info", "new_img_id", "anns"}``, each
annotation carrying ``point_visual_prompt_mask``, ``scribble_visual_prompt_mask``,
``box_visual_prompt_mask`` and ``mask_visual_prompt_mask`` as compressed RLE.

How the prompts are drawn (PSALM paper, appendix 8)
---------------------------------------------------
- point: sampled in the disk centred on the object, radius half the short side
  of its box, kept only where it falls on the object;
- scribble: the box's height and width jittered by factors in [0.5, 1.2],
  re-drawn until the IoU with the true box is above 0.5; along one of the
  jittered box's diagonals, a sine curve with amplitude in [10, 20] px,
  frequency in [0.2, 1] periods over the diagonal and phase in [0, 2 pi];
- box: the true box scaled by a factor in [0.9, 1.1];
- mask: the true mask blurred with a Gaussian of sigma 2, then binarised.

``mode="released"`` (the default) follows the authors' released generator
(``datasets/bulid_COCO_Interactivate.py``), which differs from the paper's text:

1. Point, box and scribble are made per 8-connected component of the
   instance mask with more than 5 pixels (``MIN_COMPONENT_AREA``), not once
   per instance; an instance whose components are all that small gets empty
   point, box and scribble prompts. Components are taken in raster order of
   their first pixel (scikit-image's ``label`` order).
2. The blurred mask is binarised at the *mean of the blurred map over the
   whole image* (about area / (H x W)), not at 0.5: the mask prompt is the
   instance dilated by a few pixels, thin parts of big objects excepted.
3. The stored point prompt is one pixel per component (the model's loader
   draws a 10 px disk around it).
4. The stored scribble is one pixel per step of the diagonal's Bresenham line
   (scikit-image's ``line``), each step moved by the sine along the rows only:
   one pixel wide, with gaps where the sine is steep (the loader draws 5 px).

``mode="paper"`` reads the paper instead: one prompt per instance (its whole
mask: tight box, centroid), threshold 0.5, the point stored as a disk of
radius 10 px and the scribble as the same curve drawn connected, 5 px wide.

Details of the released generator that both modes keep:
- point: centre = the centroid; each try draws an angle a and two radii, the
  offset is (U(0, r) cos a, U(0, r) sin a) (inside the disk, but not uniform
  in it; ``mode="paper"`` samples uniformly: r sqrt(u)); the released mode
  truncates to int and clips to the component's box. At most 1000 tries; in
  released mode a component with no hit gets no point; in paper mode the
  object pixel nearest the centroid is taken instead (so no instance is
  left without a point).
- scribble: the jittered box is centred on the centroid, truncated to int and
  clipped to the image; its IoU with the true box counts boxes inclusively
  (+1 px per side). The released generator accepts IoU >= 0.5 (paper mode:
  > 0.5), checks at most 1000 draws and otherwise leaves the component without
  a scribble. The start is one of the four corners (uniform), the end the
  opposite corner. Released: the curve's pixels are clipped onto the image
  (``np.clip``, so a curve leaving the image runs along its border); paper:
  the part outside the image is cut off.
- box: the component's box (max exclusive) grown by (factor - 1) x height /
  width, truncated toward zero and clipped to the image.
- mask: scipy's Gaussian (radius 4 sigma = 8 px, ``reflect`` at the image
  border), over the whole instance mask (not per component) in both modes.

Randomness, determinism and speed
---------------------------------
The authors use Python's unseeded ``random``; here every prompt is a pure
function of (seed, annotation id, mask): one numpy Generator per annotation,
``np.random.default_rng([seed, ann_id])`` (ids taken modulo 2**64), in which
component ``j`` owns the block of ``BLOCK`` draws at ``j * BLOCK``: point tries
at offset 0 (three draws per try: angle, row radius, column radius; paper
mode: angle, radius), box factor at ``BOX_AT``, scribble jitter pairs (height,
width factor) at ``JITTER_AT``, then corner, amplitude, frequency, phase at
``CURVE_AT``. Rejection loops draw in batches and skip unused draws, so the
output is byte-identical for any worker count, order or resume.
(``prompt_stream`` gives the Generator of one block, for reference
implementations.) Within one machine the output is byte-identical; across
machines it is too, unless numpy's sine or cosine, or a float64 sum, rounds
differently in the last bit exactly at a pixel or threshold boundary.

Everything pixel-sized is done on the instance's crop, in column-major
(RLE) order: the mask is decoded from its RLE straight into its bounding box,
components are labelled with OpenCV, the Gaussian runs on the box padded by
8 px (in float32; pixels within 1e-5 of the threshold, relative, are
recomputed in float64, so the result is scipy's), the released threshold
(the mean of the blurred full image) comes from the crop and precomputed
border weights, and the prompts are run-length encoded from their crops,
pixels or boxes. ``benchmarks/reference_interactive.py`` does the same steps
the released generator's way; ``tests/test_build_interactive.py`` checks
both give the same prompts.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import orjson
from pycocotools import mask as mask_api
from psalm_bench.progress import tqdm  # a bar on a terminal, lines in a log

from psalm_bench.errors import InputError
from psalm_bench.formats.coco import parse_images
from psalm_bench.formats.interactive import PROMPTS
from psalm_bench.jsonio import load_json, sha256_of
from psalm_bench.masks import first_bad_counts
from psalm_bench.parallel import worker_pool
from psalm_bench.paths import output_file

MODES = ("released", "paper")
FORMATS = ("psalm", "hf")
PROMPT_KEYS = tuple(f"{p}_visual_prompt_mask" for p in PROMPTS)
SKIP_REASONS = ("unknown_image", "bad_polygon", "rle_size_mismatch", "bad_rle", "zero_area", "duplicate_id", "malformed", "bad_area", "bad_bbox")

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

OUTPUT_VERSION = 1


# --------------------------------------------------------------------- results


@dataclass(frozen=True)
class Crop:
    """A binary mask stored as the crop ``m`` placed at column ``x0``, row ``y0``."""

    x0: int
    y0: int
    m: np.ndarray  # uint8 0/1

    def full(self, height: int, width: int) -> np.ndarray:
        out = np.zeros((height, width), np.uint8)
        h, w = self.m.shape
        out[self.y0:self.y0 + h, self.x0:self.x0 + w] = self.m
        return out

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.m))

    @functools.cached_property
    def line_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixels of the mask in each row, and in each column, of the crop."""
        mt = np.ascontiguousarray(self.m.T)
        return (cv2.reduce(mt, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64),
                cv2.reduce(mt, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64))


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


@dataclass
class BuildSummary:
    """What ``build_interactive`` wrote."""

    out: Path
    format: str
    mode: str
    seed: int
    images: int = 0                 # image records written
    instances: int = 0              # annotations written
    skipped: dict[str, int] = field(default_factory=lambda: {r: 0 for r in SKIP_REASONS})
    images_without_instances: int = 0
    empty_prompts: dict[str, int] = field(default_factory=lambda: {p: 0 for p in PROMPTS})
    resumed_at: int = 0             # input images already done when the run started
    previews: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def lines(self) -> list[str]:
        """A short human-readable report (what the CLI prints)."""
        text = [f"wrote {self.out}: {self.images} images, {self.instances} instances ({self.mode} prompts, seed {self.seed}, {self.seconds:.1f} s)"]
        if self.resumed_at:
            text.append(f"resumed after {self.resumed_at} input images")
        if self.skipped_total:
            reasons = ", ".join(f"{k} {v}" for k, v in self.skipped.items() if v)
            text.append(f"skipped {self.skipped_total} annotations: {reasons}")
        if self.images_without_instances:
            text.append(f"{self.images_without_instances} images have no usable annotation (left out)")
        empty = {k: v for k, v in self.empty_prompts.items() if v}
        if empty:
            text.append("instances with an empty prompt (PSALM's evaluation skips them): " + ", ".join(f"{k} {v}" for k, v in empty.items()))
        if self.previews:
            text.append(f"{len(self.previews)} previews in {self.previews[0].parent}")
        return text


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


# ------------------------------------------------------------------- decoding


class _Skip(Exception):
    """An annotation that is left out; ``args[0]`` is the reason (SKIP_REASONS)."""


def _counts_from_string(s: bytes) -> np.ndarray:
    """Run lengths of a compressed COCO RLE string (the inverse of pycocotools'
    ``rleToString``): 5-bit groups, 0x20 = more, sign in 0x10 of the last group,
    counts from the third on stored as differences to the one two before."""
    if len(s) <= _SHORT_STRING:
        return np.array(_counts_from_short_string(s), np.int64)
    b = np.frombuffer(s, np.uint8).astype(np.int64) - 48
    if b.size == 0 or (b < 0).any() or (b > 63).any():
        raise _Skip("bad_rle")
    last = (b & 0x20) == 0
    if not last[-1]:
        raise _Skip("bad_rle")
    ends = np.flatnonzero(last)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    group = np.repeat(np.arange(ends.size), ends - starts + 1)
    k = np.arange(b.size) - starts[group]
    if k.max() > 10:
        raise _Skip("bad_rle")
    x = np.bincount(group, weights=(b & 0x1F).astype(np.float64) * np.exp2(5.0 * k), minlength=ends.size).astype(np.int64)
    negative = (b[ends] & 0x10) != 0
    x[negative] -= np.left_shift(1, 5 * (k[ends[negative]] + 1))
    if x.size > 3:
        x[3::2] = np.cumsum(x[3::2]) + x[1]
    if x.size > 4:
        x[4::2] = np.cumsum(x[4::2]) + x[2]
    return x


_SHORT_STRING = 160  # below this a plain loop beats numpy's per-call cost


def _counts_from_short_string(s: bytes) -> list[int]:
    counts: list[int] = []
    x = k = 0
    for ch in s:
        c = ch - 48
        if not 0 <= c < 64:
            raise _Skip("bad_rle")
        x |= (c & 0x1F) << (5 * k)
        k += 1
        if not c & 0x20:
            if c & 0x10:
                x -= 1 << (5 * k)
            if len(counts) > 2:
                x += counts[-2]
            counts.append(x)
            x = k = 0
    if k or not counts:
        raise _Skip("bad_rle")
    return counts


def _crop_from_counts(counts: np.ndarray, height: int, width: int) -> Crop:
    """The tight crop of the mask these column-major run lengths describe."""
    if counts.size and (counts < 0).any():
        raise _Skip("bad_rle")
    ends = np.cumsum(counts)
    if ends.size and ends[-1] > height * width:
        raise _Skip("bad_rle")
    s = (ends - counts)[1::2]
    e = ends[1::2]
    keep = e > s
    s, e = s[keep], e[keep]
    if s.size == 0:
        raise _Skip("zero_area")
    col_s, col_e = s // height, (e - 1) // height
    c_lo, c_hi = int(col_s.min()), int(col_e.max())
    w = c_hi - c_lo + 1
    if (col_s == col_e).all():
        row_s = s - col_s * height
        r_lo, r_hi = int(row_s.min()), int(((e - 1) - col_e * height).max())
        h = r_hi - r_lo + 1
        ls = (col_s - c_lo) * h + row_s - r_lo
    else:  # a run crosses a column end: the crop spans all rows
        r_lo, h = 0, height
        ls = s - c_lo * height
    # column-major crop as alternating runs: gap, ones, gap, ones, ..., tail
    ones = e - s
    lengths = np.empty(2 * ls.size + 1, np.int64)
    lengths[1:-1:2] = ones
    lengths[0] = ls[0]
    lengths[2:-1:2] = ls[1:] - (ls[:-1] + ones[:-1])
    lengths[-1] = h * w - (ls[-1] + ones[-1])
    pattern = _ZERO_ONE[: lengths.size] if lengths.size <= _ZERO_ONE.size else (np.arange(lengths.size) & 1).astype(np.uint8)
    flat = np.repeat(pattern, lengths)
    return Crop(c_lo, r_lo, flat.reshape(w, h).T)  # a view: column-major, like RLE


_ZERO_ONE = np.tile(np.array([0, 1], np.uint8), 1 << 16)


def _is_number(v: Any) -> bool:
    return (type(v) is float and math.isfinite(v)) or type(v) is int


def instance_mask(segmentation: Any, height: int, width: int) -> Crop:
    """Tight crop of an annotation's mask, decoded as pycocotools does
    (polygons merged). Raises ``_Skip(reason)`` for a bad segmentation."""
    if isinstance(segmentation, list):
        if not segmentation:
            raise _Skip("bad_polygon")
        far = 16 * max(height, width)
        for poly in segmentation:
            if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2:
                raise _Skip("bad_polygon")
            try:
                finite = math.isfinite(sum(poly))  # NaN and infinities survive the sum
            except TypeError:
                finite = False
            if not finite or not all(type(v) in (int, float) for v in poly):
                raise _Skip("bad_polygon")
            if min(poly) < -far or max(poly) > far:  # pycocotools would walk the whole way there
                raise _Skip("bad_polygon")
        rles = mask_api.frPyObjects(segmentation, height, width)
        rle = rles[0] if len(rles) == 1 else mask_api.merge(rles)
        return _crop_from_counts(_counts_from_string(rle["counts"]), height, width)
    if not isinstance(segmentation, dict):
        raise _Skip("malformed")
    size, counts = segmentation.get("size"), segmentation.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(type(v) is int for v in size)):
        raise _Skip("bad_rle")
    if size != [height, width]:
        raise _Skip("rle_size_mismatch")
    if isinstance(counts, list):
        if not all(type(c) is int and c >= 0 for c in counts) or sum(counts) != height * width:
            raise _Skip("bad_rle")
        return _crop_from_counts(np.asarray(counts, np.int64), height, width)
    if isinstance(counts, str):
        try:
            counts = counts.encode("ascii")
        except UnicodeEncodeError:
            raise _Skip("bad_rle") from None
    if isinstance(counts, bytes):
        if first_bad_counts([{"size": size, "counts": counts}]) is not None:  # exactly as rleFrString reads it
            raise _Skip("bad_rle")
        return _crop_from_counts(_counts_from_string(counts), height, width)
    raise _Skip("bad_rle")


def _compress(counts: np.ndarray, height: int, width: int) -> dict[str, Any]:
    return _compress_many([counts], height, width)[0]


def _compress_many(counts: list[np.ndarray], height: int, width: int) -> list[dict[str, Any]]:
    """Compressed RLEs (counts as str) of uncompressed counts, in one pycocotools call."""
    size = [height, width]
    rles = mask_api.frPyObjects([{"counts": c.astype(np.uint32), "size": size} for c in counts], height, width)
    return [{"size": [height, width], "counts": r["counts"].decode("ascii")} for r in rles]


def _end(counts: np.ndarray) -> np.ndarray:
    """COCO RLE has no trailing zero-length run."""
    return counts[:-1] if counts.size > 1 and counts[-1] == 0 else counts


def crop_counts(crop: Crop, height: int, width: int) -> np.ndarray:
    """Uncompressed COCO RLE counts of a crop placed in a height x width image,
    without a full-size mask. Like ``coco_workload.rle_counts``, but it finds
    the runs in one flat pass over the column-major crop (the layout the
    decoder and the mask prompt already give), several times faster."""
    mt = crop.m.T  # contiguous when the crop is a column-major view
    w, h = mt.shape
    if h == 0 or w == 0:
        return np.array([height * width])
    pad = np.zeros((w, h + 2), np.uint8)  # a zero above and below every column
    pad[:, 1:-1] = mt
    flat = pad.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    col, row = np.divmod(change, h + 2)
    pos = (crop.x0 + col) * height + crop.y0 + row - 1
    if h == height and pos.size > 1:  # a run through a column's end goes on in the next one
        joined = np.flatnonzero(pos[1:] == pos[:-1])
        if joined.size:
            keep = np.ones(pos.size, bool)
            keep[joined] = keep[joined + 1] = False
            pos = pos[keep]
    if pos.size == 0:
        return np.array([height * width])
    counts = np.empty(pos.size + 1, np.int64)
    counts[0] = pos[0]
    counts[1:-1] = pos[1:] - pos[:-1]
    counts[-1] = height * width - pos[-1]
    return _end(counts)


def encode_crop(crop: Crop, height: int, width: int) -> dict[str, Any]:
    """Compressed RLE (counts as str) of a crop placed in a height x width image."""
    return _compress(crop_counts(crop, height, width), height, width)


def pixel_counts(rows: np.ndarray, cols: np.ndarray, height: int, width: int) -> np.ndarray:
    """Uncompressed RLE counts of a few pixels (a point, a one-pixel scribble)."""
    if rows.size <= 4:  # points: a few pixels
        counts, end = [], 0
        for p in sorted(set(c * height + r for r, c in zip(rows.tolist(), cols.tolist()))):
            if counts and p == end:
                counts[-1] += 1
            else:
                counts += [p - end, 1]
            end = p + 1
        counts.append(height * width - end)
        return _end(np.array(counts))
    pos = np.sort(cols.astype(np.int64) * height + rows)
    step = pos[1:] - pos[:-1]
    if not step.all():  # a pixel drawn twice
        pos = pos[np.concatenate(([True], step != 0))]
        step = pos[1:] - pos[:-1]
    breaks = np.flatnonzero(step != 1) + 1
    starts = pos[np.concatenate(([0], breaks))]
    ends = pos[np.concatenate((breaks - 1, [pos.size - 1]))] + 1
    counts = np.empty(2 * starts.size + 1, np.int64)
    counts[0] = starts[0]
    counts[1:-1:2] = ends - starts
    counts[2:-1:2] = starts[1:] - ends[:-1]
    counts[-1] = height * width - ends[-1]
    return _end(counts)


def box_counts(box: tuple[int, int, int, int], height: int, width: int) -> np.ndarray:
    """Uncompressed RLE counts of the filled box (min_row, min_col, max_row, max_col), max exclusive."""
    r0, c0, r1, c1 = box
    if r1 <= r0 or c1 <= c0:
        return np.array([height * width])
    if r1 - r0 == height:
        return _end(np.array([c0 * height, (c1 - c0) * height, (width - c1) * height]))
    n = c1 - c0
    counts = np.empty(2 * n + 1, np.int64)
    counts[1::2] = r1 - r0
    counts[2::2] = height - (r1 - r0)
    counts[0] = c0 * height + r0
    counts[-1] = height * width - ((c1 - 1) * height + r1)
    return _end(counts)


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


# --------------------------------------------------------------- per image


def _ann_record(ann: dict[str, Any], height: int, width: int, seed: int, mode: str, empty: Counter) -> dict[str, Any]:
    ann_id = ann.get("id")
    if type(ann_id) is not int:
        raise _Skip("malformed")
    if "segmentation" not in ann:
        raise _Skip("malformed")
    # copied into the output as they are: a NaN or infinity would be written as null
    if "area" in ann and not _is_number(ann["area"]):
        raise _Skip("bad_area")
    bbox = ann.get("bbox", [0, 0, 0, 0])
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox) and bbox[2] >= 0 and bbox[3] >= 0):
        raise _Skip("bad_bbox")
    mask = instance_mask(ann["segmentation"], height, width)
    prompts = make_prompts(mask, height, width, seed=seed, ann_id=ann_id, mode=mode)
    out = dict(ann)
    counts = [prompts.counts(name) for name in PROMPTS]
    for name, key, c, rle in zip(PROMPTS, PROMPT_KEYS, counts, _compress_many(counts, height, width)):
        if c.size == 1:
            empty[name] += 1
        out[key] = rle
    return out


def _image_anns(image: dict[str, Any], anns: Sequence[dict[str, Any]], seed: int, mode: str) -> tuple[bytes, int, Counter, Counter]:
    """The ``anns`` of one image record, serialised: (bytes, count, skipped, empty)."""
    height, width = image["height"], image["width"]
    skipped: Counter = Counter()
    empty: Counter = Counter()
    parts = []
    for ann in anns:
        try:
            parts.append(orjson.dumps(_ann_record(ann, height, width, seed, mode, empty)))
        except _Skip as skip:
            skipped[skip.args[0]] += 1
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits
            skipped["malformed"] += 1
    return b"[" + b",".join(parts) + b"]", len(parts), skipped, empty


def _work(seed: int, mode: str, tasks: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> list[tuple[bytes, int, Counter, Counter]]:
    return [_image_anns(image, anns, seed, mode) for image, anns in tasks]


def _one_thread() -> None:
    """OpenCV's own threads only add overhead on crops this small; the pool is the parallelism."""
    cv2.setNumThreads(1)


# ------------------------------------------------------------------- building


def _sidecars(out: Path) -> tuple[Path, Path]:
    """The growing JSON and the progress file beside ``out``."""
    return out.with_name(out.name + ".partial"), out.with_name(out.name + ".progress")


def _checkpoint(progress: Path, state: dict[str, Any]) -> None:
    tmp = progress.with_name(progress.name + ".tmp")
    tmp.write_bytes(orjson.dumps(state))
    os.replace(tmp, progress)


def _read_input(instances: Path) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]], Counter]:
    """Images (raw records) and their annotations in file order; skipped counts
    of annotations that belong to no image."""
    data = load_json(instances)
    if not isinstance(data, dict):
        raise InputError("expected a COCO instances object with 'images' and 'annotations'", file=instances)
    for key in ("images", "annotations"):
        if key not in data:
            raise InputError(f"missing '{key}'", file=instances)
    parse_images(data["images"], instances)  # InputError names a bad image record
    raw_anns = data["annotations"]
    if not isinstance(raw_anns, list):
        raise InputError("'annotations' must be a list", file=instances)
    images = data["images"]
    slot = {img["id"]: i for i, img in enumerate(images)}
    per_image: list[list[dict[str, Any]]] = [[] for _ in images]
    skipped: Counter = Counter()
    seen: set[Any] = set()
    for ann in raw_anns:
        if not isinstance(ann, dict):
            skipped["malformed"] += 1
            continue
        image_id = ann.get("image_id")
        index = slot.get(image_id) if type(image_id) is int else None
        if index is None:
            skipped["unknown_image"] += 1
            continue
        ann_id = ann.get("id")
        if type(ann_id) is int:
            if ann_id in seen:
                skipped["duplicate_id"] += 1
                continue
            seen.add(ann_id)
        per_image[index].append(ann)
    return images, per_image, skipped


def _record_head(image: dict[str, Any], new_img_id: int) -> bytes:
    return (b'{"image":' + orjson.dumps(str(image.get("file_name", ""))) + b',"image_info":' + orjson.dumps(image)
            + b',"new_img_id":' + str(new_img_id).encode() + b',"anns":')


def _chunks(start: int, n: int, size: int) -> Iterator[range]:
    for lo in range(start, n, size):
        yield range(lo, min(n, lo + size))


def build_interactive(
    instances: Path,
    out: Path,
    *,
    seed: int = 0,
    workers: int = 1,
    format: str = "psalm",
    preview: int = 0,
    preview_dir: Path | None = None,
    images: Path | None = None,
    resume: bool = False,
    mode: str = "released",
    progress: bool = True,
    executor: Executor | None = None,
) -> BuildSummary:
    """Write COCO-Interactive for a COCO instances JSON; see the module docstring.

    ``format="psalm"`` writes the JSON list PSALM reads; ``"hf"`` a Hugging Face
    ``datasets`` folder (``datasets.load_from_disk``) with a dataset card.
    Records are streamed to ``OUT.partial`` with a small ``OUT.progress`` file;
    ``resume=True`` continues from them, and the result is byte-identical to an
    uninterrupted run. ``preview=N`` renders the first N image records to PNGs
    in ``preview_dir`` (default ``OUT_preview``), over the image file when it
    is found in ``images`` or beside the instances JSON. ``executor`` replaces
    the local pool (e.g. ``psalm_bench.ray_engine.RayExecutor``); ``workers``
    then sizes the window of chunks in flight.
    """
    started = time.perf_counter()
    instances, out = Path(instances), Path(out)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if type(seed) is not int or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if format == "psalm" and out.is_dir():
        raise InputError("is a directory; give the JSON file to write", file=out)
    if format == "psalm":
        output_file(out)  # a FIFO or device would be replaced by the final rename
    if format == "hf":
        _require_datasets()
        if out.exists() and not (out.is_dir() and (out / "state.json").is_file()):
            raise InputError("exists and is not a datasets folder; give a new folder for --format hf", file=out)

    images_list, per_image, pre_skipped = _read_input(instances)
    summary = BuildSummary(out=out, format=format, mode=mode, seed=seed)
    signature = {"version": OUTPUT_VERSION, "input_sha256": sha256_of(instances), "seed": seed, "mode": mode}
    partial, progress_file = _sidecars(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    state = {"signature": signature, "images_done": 0, "bytes": 0, "new_img_id": 0, "instances": 0,
             "skipped": {}, "images_without_instances": 0, "empty_prompts": {}}
    resumed = False
    if resume and progress_file.is_file() and partial.is_file():
        try:
            saved = orjson.loads(progress_file.read_bytes())
        except orjson.JSONDecodeError:
            saved = None
        if saved is not None and saved.get("signature") != signature:
            raise InputError("was written for another input, seed or mode; delete it or run without --resume", file=progress_file)
        if saved is not None and partial.stat().st_size >= saved["bytes"]:
            state, resumed = saved, True
    handle = open(partial, "r+b" if resumed else "wb")
    try:
        if resumed:
            handle.truncate(state["bytes"])
            handle.seek(state["bytes"])
        else:
            handle.write(b"[\n")
            state["bytes"] = handle.tell()
            _checkpoint(progress_file, state)
        summary.resumed_at = state["images_done"]
        skipped, empty = Counter(state["skipped"]), Counter(state["empty_prompts"])
        n = len(images_list)
        workers = max(1, min(int(workers), n or 1) if executor is not None else min(int(workers), os.cpu_count() or 1, n or 1))
        size = max(1, min(32, (n - state["images_done"]) // (workers * 8) or 1))
        bar = tqdm(total=n, initial=state["images_done"], desc="build-interactive", unit="img",
                   disable=not progress, leave=False, dynamic_ncols=True)
        pool = executor if executor is not None else worker_pool(workers, _one_thread) if workers > 1 else None
        cv_threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            def results() -> Iterator[tuple[range, list[tuple[bytes, int, Counter, Counter]]]]:
                chunks = _chunks(state["images_done"], n, size)
                if pool is None:
                    for chunk in chunks:
                        yield chunk, _work(seed, mode, [(images_list[i], per_image[i]) for i in chunk])
                    return
                pending: list[tuple[range, Any]] = []
                for chunk in chunks:  # a bounded window of chunks in flight, results in order
                    pending.append((chunk, pool.submit(_work, seed, mode, [(images_list[i], per_image[i]) for i in chunk])))
                    if len(pending) >= 2 * workers:
                        chunk0, future = pending.pop(0)
                        yield chunk0, future.result()
                for chunk0, future in pending:
                    yield chunk0, future.result()

            for chunk, chunk_results in results():
                for i, (anns_bytes, count, sk, em) in zip(chunk, chunk_results):
                    skipped.update(sk)
                    empty.update(em)
                    if count == 0:
                        state["images_without_instances"] += 1
                        continue
                    if state["new_img_id"]:
                        handle.write(b",\n")
                    handle.write(_record_head(images_list[i], state["new_img_id"]) + anns_bytes + b"}")
                    state["new_img_id"] += 1
                    state["instances"] += count
                handle.flush()
                state.update(images_done=chunk[-1] + 1, bytes=handle.tell(), skipped=dict(skipped), empty_prompts=dict(empty))
                _checkpoint(progress_file, state)
                bar.update(len(chunk))
        finally:
            cv2.setNumThreads(cv_threads)
            bar.close()
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        handle.write(b"\n]\n")
    finally:
        handle.close()

    summary.images, summary.instances = state["new_img_id"], state["instances"]
    summary.images_without_instances = state["images_without_instances"]
    total_skipped = Counter(pre_skipped) + skipped
    summary.skipped = {r: total_skipped.get(r, 0) for r in SKIP_REASONS}
    summary.empty_prompts = {p: empty.get(p, 0) for p in PROMPTS}
    if preview:
        target = preview_dir if preview_dir is not None else out.with_name(out.stem + "_preview")
        summary.previews = write_previews(partial, target, preview, instances=instances, images=images, mode=mode)
    if format == "psalm":
        os.replace(partial, out)
    elif not summary.images:  # datasets can neither generate nor reload an empty dataset
        partial.unlink()
        progress_file.unlink(missing_ok=True)
        raise InputError(f"no image has a usable annotation ({summary.skipped_total} skipped): nothing to write", file=instances)
    else:
        _write_hf(partial, out, summary, signature, instances.name, progress)
        partial.unlink()
    progress_file.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - started
    return summary


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Stream the image records of a file written by ``build_interactive``
    (one record per line), without loading the whole list."""
    with open(path, "rb") as handle:
        for line in handle:
            line = line.rstrip(b"\n")
            if line in (b"[", b"]", b""):
                continue
            yield orjson.loads(line[:-1] if line.endswith(b",") else line)


# -------------------------------------------------------------- Hugging Face


def _hf_features():
    import datasets

    rle = {"size": datasets.List(datasets.Value("int32")), "counts": datasets.Value("string")}
    ann = {
        "id": datasets.Value("int64"),
        "category_id": datasets.Value("int64"),
        "iscrowd": datasets.Value("int64"),
        "area": datasets.Value("float64"),
        "bbox": datasets.List(datasets.Value("float64")),
        "segmentation": datasets.Value("string"),
        "annotation": datasets.Value("string"),
        **{key: rle for key in PROMPT_KEYS},
    }
    return datasets.Features({
        "image": datasets.Value("string"),
        "new_img_id": datasets.Value("int64"),
        "image_id": datasets.Value("int64"),
        "height": datasets.Value("int32"),
        "width": datasets.Value("int32"),
        "image_info": datasets.Value("string"),
        "anns": datasets.List(ann),
    })


def _int_or_none(v: Any) -> int | None:
    return v if type(v) is int and -(1 << 63) <= v < (1 << 63) else None


def _hf_row(record: dict[str, Any]) -> dict[str, Any]:
    info = record["image_info"]
    anns = []
    for ann in record["anns"]:
        base = {k: v for k, v in ann.items() if k not in PROMPT_KEYS}
        bbox = ann.get("bbox")
        area = ann.get("area")
        anns.append({
            "id": ann["id"],
            "category_id": _int_or_none(ann.get("category_id")),
            "iscrowd": _int_or_none(ann.get("iscrowd")),
            "area": float(area) if _is_number(area) else None,
            "bbox": [float(v) for v in bbox] if isinstance(bbox, list) and all(_is_number(v) for v in bbox) else None,
            "segmentation": orjson.dumps(ann.get("segmentation")).decode(),
            "annotation": orjson.dumps(base).decode(),
            **{key: ann[key] for key in PROMPT_KEYS},
        })
    return {"image": record["image"], "new_img_id": record["new_img_id"], "image_id": info["id"],
            "height": info["height"], "width": info["width"], "image_info": orjson.dumps(info).decode(), "anns": anns}


def _hf_rows(path: str) -> Iterator[dict[str, Any]]:
    for record in iter_records(Path(path)):
        yield _hf_row(record)


def _dataset_card(summary: BuildSummary, signature: dict[str, Any], source: str) -> str:
    from psalm_bench import __version__

    skipped = ", ".join(f"{k}: {v}" for k, v in summary.skipped.items() if v) or "none"
    return f"""---
pretty_name: COCO-Interactive ({summary.mode} prompts, seed {summary.seed})
license: cc-by-4.0
task_categories:
- image-segmentation
tags:
- interactive-segmentation
- visual-prompts
- coco
- psalm
---

# COCO-Interactive

Visual prompts (point, scribble, box, mask) for every instance of `{source}`,
the benchmark of PSALM (Zhang et al., "PSALM: Pixelwise SegmentAtion with Large
Multi-Modal Model", ECCV 2024), written by `psalm-bench build-interactive`
(psalm-bench {__version__}).

- prompts: `{summary.mode}` (`released` = the authors' released generator,
  `paper` = the paper's appendix 8; see `psalm_bench.generators.interactive`)
- seed: {summary.seed}; every prompt is a pure function of (seed, annotation id, mask)
- source sha256: `{signature["input_sha256"]}`
- {summary.images} images, {summary.instances} instances; skipped annotations: {skipped}

## Load

```python
import datasets
from pycocotools import mask
ds = datasets.load_from_disk("PATH")
prompt = ds[0]["anns"][0]["point_visual_prompt_mask"]
point = mask.decode({{"size": prompt["size"], "counts": prompt["counts"].encode()}})  # H x W uint8
```

## Columns

One row per image, in the order of the JSON file PSALM reads
(`psalm-bench build-interactive --format psalm`):

- `image` (file name), `new_img_id` (running index), `image_id`, `height`, `width`;
  `image_info`: the COCO image record as JSON text;
- `anns`: list of instances: `id`, `category_id`, `iscrowd`, `area`, `bbox`
  (COCO xywh), `segmentation` (COCO polygons or RLE, as JSON text),
  `annotation` (the whole COCO annotation as JSON text) and the four prompts
  `point_visual_prompt_mask`, `scribble_visual_prompt_mask`,
  `box_visual_prompt_mask`, `mask_visual_prompt_mask`: COCO compressed RLE
  (`size` = [height, width], `counts` string).

## License

The annotations derive from COCO (CC BY 4.0); images are not included.
"""


def _require_datasets():
    try:
        import datasets
    except ImportError:
        raise InputError("--format hf needs the 'datasets' package (pip install datasets)") from None
    return datasets


def _write_hf(partial: Path, out: Path, summary: BuildSummary, signature: dict[str, Any], source: str, progress: bool) -> None:
    datasets = _require_datasets()
    work = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    bars = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        ds = datasets.Dataset.from_generator(_hf_rows, gen_kwargs={"path": str(partial)}, features=_hf_features(),
                                             cache_dir=str(work / "cache"))
        staged = work / "dataset"
        ds.save_to_disk(str(staged))
        (staged / "README.md").write_text(_dataset_card(summary, signature, source))
        del ds
        if out.exists():
            shutil.rmtree(out)
        os.replace(staged, out)
    finally:
        if bars:
            datasets.enable_progress_bars()
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------ previews

_PALETTE = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
            (204, 121, 167), (255, 255, 255), (120, 220, 120), (255, 120, 120), (160, 120, 255), (60, 200, 200))
_PANEL_MIN_WIDTH = 360


def _find_image(file_name: str, instances: Path, images: Path | None) -> np.ndarray | None:
    for folder in ([images] if images is not None else []) + [instances.parent]:
        path = Path(folder) / file_name
        if file_name and path.is_file():
            return cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None


def _outline(canvas: np.ndarray, m: np.ndarray, colour: tuple[int, int, int], thickness: int) -> None:
    contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(canvas, contours, -1, colour, thickness, lineType=cv2.LINE_AA)


def render_preview(record: dict[str, Any], image: np.ndarray | None = None, mode: str = "released") -> np.ndarray:
    """A 2 x 2 sheet (BGR) of one image record: per prompt type, every instance's
    outline (thin) and its prompt (filled, in the same colour), as in the PSALM
    paper's Figure 4. Released-mode points and scribbles (one pixel wide) are
    thickened to be seen."""
    info = record["image_info"]
    height, width = info["height"], info["width"]
    if image is None or image.shape[:2] != (height, width):
        base, note = np.full((height, width, 3), 96, np.uint8), "no image file: grey canvas"
    else:
        base, note = image, ""
    scale = max(1, math.ceil(_PANEL_MIN_WIDTH / width))
    big = cv2.resize(base, (width * scale, height * scale), interpolation=cv2.INTER_NEAREST) if scale > 1 else base.copy()
    big = (big * 0.55).astype(np.uint8)

    def up(m: np.ndarray) -> np.ndarray:
        return cv2.resize(m, (width * scale, height * scale), interpolation=cv2.INTER_NEAREST) if scale > 1 else m

    instance_masks = []
    for ann in record["anns"]:
        try:
            instance_masks.append(up(instance_mask(ann["segmentation"], height, width).full(height, width)))
        except _Skip:
            instance_masks.append(np.zeros(big.shape[:2], np.uint8))
    panels = []
    grow = {"point": 4 * scale + 2, "scribble": scale + 1} if mode == "released" else {}  # one-pixel prompts, made visible
    for name, key in zip(PROMPTS, PROMPT_KEYS):
        canvas = big.copy()
        for i, ann in enumerate(record["anns"]):
            colour = _PALETTE[i % len(_PALETTE)]
            prompt = up(mask_api.decode({"size": ann[key]["size"], "counts": ann[key]["counts"].encode()}))
            if name in grow and prompt.any():
                k = 2 * grow[name] + 1
                prompt = cv2.dilate(prompt, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
            _outline(canvas, instance_masks[i], colour, 1)
            if prompt.any():
                fill = prompt.astype(bool)
                alpha = 0.35 if name in ("box", "mask") else 0.9
                canvas[fill] = (canvas[fill] * (1 - alpha) + np.array(colour) * alpha).astype(np.uint8)
                _outline(canvas, prompt, colour, 2 if name in ("box", "mask") else 1)
        cv2.rectangle(canvas, (0, 0), (8 + 11 * len(name), 22), (0, 0, 0), -1)
        cv2.putText(canvas, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(canvas)
    sep = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    top, bottom = np.hstack([panels[0], sep, panels[1]]), np.hstack([panels[2], sep, panels[3]])
    grid = np.vstack([top, np.full((4, top.shape[1], 3), 255, np.uint8), bottom])
    header = np.full((26, grid.shape[1], 3), 32, np.uint8)
    title = f"{record['image']}  image {info['id']}  new_img_id {record['new_img_id']}  {len(record['anns'])} instances  {mode}"
    if note:
        title += f"  ({note})"
    cv2.putText(header, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([header, grid])


def write_previews(path: Path, folder: Path, n: int, *, instances: Path, images: Path | None = None, mode: str = "released") -> list[Path]:
    """PNG sheets of the first ``n`` image records of a COCO-Interactive file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for record in iter_records(Path(path)):
        if len(written) >= n:
            break
        image = _find_image(record["image"], Path(instances), images)
        target = folder / f"{record['new_img_id']:06d}_{Path(record['image']).stem or record['image_info']['id']}.png"
        cv2.imwrite(str(target), render_preview(record, image, mode))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - the CLI wiring lives in psalm_bench.cli
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--format", choices=FORMATS, default="psalm")
    ap.add_argument("--mode", choices=MODES, default="released")
    ap.add_argument("--preview", type=int, default=0)
    ap.add_argument("--preview-dir", type=Path)
    ap.add_argument("--images", type=Path)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    try:
        summary = build_interactive(args.instances, args.out, seed=args.seed, workers=args.workers, format=args.format,
                                    preview=args.preview, preview_dir=args.preview_dir, images=args.images,
                                    resume=args.resume, mode=args.mode, progress=sys.stderr.isatty())
    except InputError as exc:
        print(f"psalm-bench: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print("\n".join(summary.lines()))


if __name__ == "__main__":  # pragma: no cover
    main()
