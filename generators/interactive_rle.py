"""The crops and RLE codec of build-interactive: a mask as its tight crop, decoded
straight from COCO RLE (compressed or not) and run-length encoded back without a
full-size mask. Everything is in column-major (RLE) order, so decoding and
encoding are flat passes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_api

SKIP_REASONS = ("unknown_image", "bad_polygon", "rle_size_mismatch", "bad_rle", "zero_area", "duplicate_id", "malformed", "bad_area", "bad_bbox")


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



class _Skip(Exception):
    """An annotation that is left out; ``args[0]`` is the reason (SKIP_REASONS)."""


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
    without a full-size mask. Like ``coco_scene.rle_counts``, but it finds
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
