"""COCO mask helpers on top of pycocotools' RLE API.

Every mask in psalm-bench travels as a compressed COCO RLE
(``{"size": [h, w], "counts": bytes|str}``). Polygons and uncompressed RLE
(list counts) are accepted on input and converted here, once, the way
pycocotools' ``annToRLE`` does (polygons of one annotation merged).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np
from pycocotools import mask as mask_api

RLE = dict[str, Any]


class MaskFormatError(ValueError):
    """A segmentation that is not a polygon list or an RLE of the right size."""


def check_segmentation(segmentation: Any, height: int, width: int) -> None:
    """Raise MaskFormatError unless ``segmentation`` is a well-formed polygon
    list or RLE of an image of this size. Cheaper than converting it."""
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), (str, bytes)):
        size = segmentation.get("size")
        if not (isinstance(size, list) and len(size) == 2):
            raise MaskFormatError("RLE 'size' must be [height, width]")
        if size[0] != height or size[1] != width:
            raise MaskFormatError(f"mask size {size[0]}x{size[1]} differs from image size {height}x{width}")
        check_rle(segmentation)
        return
    if isinstance(segmentation, list):
        if not segmentation:
            raise MaskFormatError("empty polygon list")
        for poly in segmentation:
            if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2:
                raise MaskFormatError("polygon needs an even number (>= 6) of coordinates")
        return
    to_rle(segmentation, height, width)  # uncompressed RLE or malformed: full check


RASTERIZERS = ("pycocotools", "cv2")


def polygons_to_rle(polygons: Any, height: int, width: int, rasterizer: str = "pycocotools") -> RLE:
    """One annotation's polygons as one compressed RLE: the one polygon rasteriser.

    ``pycocotools``: ``frPyObjects`` + ``merge``, as COCO's ``annToRLE`` (and
    every COCOeval) does. ``cv2``: PSALM's scripts' ``cv2.fillPoly`` of each
    polygon on its vertices truncated to int32 (the ``psalm`` protocols).
    Raises MaskFormatError on a malformed list (checked in one pass)."""
    if not isinstance(polygons, list) or not polygons:
        raise MaskFormatError("empty polygon list")
    if not all(isinstance(p, list) and len(p) >= 6 and not len(p) % 2 for p in polygons):
        raise MaskFormatError("polygon needs an even number (>= 6) of coordinates")
    try:
        finite = all(map(math.isfinite, chain.from_iterable(polygons)))
    except (TypeError, OverflowError):
        finite = False
    if not finite:
        raise MaskFormatError("polygon coordinates must be finite numbers")
    if rasterizer == "cv2":
        import cv2

        canvas = np.zeros((height, width), dtype=np.uint8)
        for poly in polygons:
            cv2.fillPoly(canvas, [np.asarray(poly, dtype=np.float64).astype(np.int32).reshape(-1, 2)], 1)
        return mask_api.encode(np.asfortranarray(canvas))
    if rasterizer != "pycocotools":
        raise ValueError(f"rasterizer must be one of {RASTERIZERS}, got {rasterizer!r}")
    rles = mask_api.frPyObjects(polygons, height, width)
    return rles[0] if len(rles) == 1 else mask_api.merge(rles)


def to_rle(segmentation: Any, height: int, width: int) -> RLE:
    """Convert a polygon list, uncompressed or compressed RLE to compressed RLE.

    Raises MaskFormatError when the segmentation is malformed or its size
    differs from (height, width).
    """
    if isinstance(segmentation, list):
        return polygons_to_rle(segmentation, height, width)
    if not isinstance(segmentation, dict) or "counts" not in segmentation or "size" not in segmentation:
        raise MaskFormatError("segmentation must be a polygon list or an RLE with 'size' and 'counts'")
    size = segmentation["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        raise MaskFormatError("RLE 'size' must be [height, width]")
    if size[0] != height or size[1] != width:
        raise MaskFormatError(f"mask size {size[0]}x{size[1]} differs from image size {height}x{width}")
    counts = segmentation["counts"]
    if isinstance(counts, list):
        problem = _list_counts_problem(counts, height * width)
        if problem is not None:
            raise MaskFormatError(problem)
        return mask_api.frPyObjects(segmentation, height, width)
    if isinstance(counts, str):
        if not counts.isascii():
            raise MaskFormatError("RLE counts string has a character outside the COCO alphabet (non-ASCII)")
        counts = counts.encode("ascii")
    if isinstance(counts, bytes):
        rle = {"size": [height, width], "counts": counts}
        check_rle(rle)
        return rle
    raise MaskFormatError("RLE 'counts' must be a string or a list of integers")


def decode(rle: RLE) -> np.ndarray:
    """Binary HxW uint8 mask of one RLE."""
    return mask_api.decode(rle)


_SHORT_STRING = 160  # below this a plain loop beats numpy's per-call cost


def rle_runs(counts: bytes | str) -> np.ndarray:
    """The run lengths (int64, column-major, zeros first) of a compressed COCO
    counts string, the inverse of pycocotools' ``rleToString``, without
    decoding the mask: 5-bit groups offset by 48, 0x20 = more, the sign in
    0x10 of a number's last group, runs from the fourth on stored as
    differences to the one two before. Raises MaskFormatError on a string that
    cannot be one; an untrusted string is checked exactly first
    (:func:`first_bad_counts`)."""
    if isinstance(counts, str):
        if not counts.isascii():
            raise MaskFormatError("RLE counts string has a character outside the COCO alphabet (non-ASCII)")
        counts = counts.encode("ascii")
    if len(counts) <= _SHORT_STRING:
        return np.array(_short_runs(counts), np.int64)
    b = np.frombuffer(counts, np.uint8).astype(np.int64) - 48
    if (b < 0).any() or (b > 63).any():
        raise MaskFormatError("RLE counts string has a character outside the COCO alphabet")
    last = (b & 0x20) == 0
    if not last[-1]:
        raise MaskFormatError("RLE counts string ends inside a number (truncated)")
    ends = np.flatnonzero(last)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    group = np.repeat(np.arange(ends.size), ends - starts + 1)
    k = np.arange(b.size) - starts[group]
    if k.max() > 10:
        raise MaskFormatError("RLE counts string holds a number too large for a run length (overlong)")
    x = np.bincount(group, weights=(b & 0x1F).astype(np.float64) * np.exp2(5.0 * k), minlength=ends.size).astype(np.int64)
    negative = (b[ends] & 0x10) != 0
    x[negative] -= np.left_shift(1, 5 * (k[ends[negative]] + 1))
    if x.size > 3:
        x[3::2] = np.cumsum(x[3::2]) + x[1]
    if x.size > 4:
        x[4::2] = np.cumsum(x[4::2]) + x[2]
    return x


def _short_runs(s: bytes) -> list[int]:
    counts: list[int] = []
    x = k = 0
    for ch in s:
        c = ch - 48
        if not 0 <= c < 64:
            raise MaskFormatError("RLE counts string has a character outside the COCO alphabet")
        x |= (c & 0x1F) << (5 * k)
        k += 1
        if not c & 0x20:
            if c & 0x10:
                x -= 1 << (5 * k)
            if len(counts) > 2:
                x += counts[-2]
            counts.append(x)
            x = k = 0
    if k:
        raise MaskFormatError("RLE counts string ends inside a number (truncated)")
    if not counts:
        raise MaskFormatError("RLE counts string is empty")
    return counts


def encode(mask: np.ndarray) -> RLE:
    """Compressed RLE of a binary HxW mask, counts as a str (JSON-ready)."""
    rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8, copy=False)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def area(rle: RLE) -> int:
    return int(mask_api.area(rle))


def intersection_union(a: RLE, b: RLE, use_native: bool = True) -> tuple[int, int]:
    """Pixel counts |a & b| and |a | b| of two same-size RLEs, computed on the
    run lengths (no decoding): one C sweep over the two compressed strings
    where it can, else pycocotools' merge and area (five string parses)."""
    native = _native_inter_union() if use_native else None
    if native is not None:
        ca, cb = a.get("counts"), b.get("counts")
        if isinstance(ca, str) and ca.isascii():
            ca = ca.encode("ascii")
        if isinstance(cb, str) and cb.isascii():
            cb = cb.encode("ascii")
        if isinstance(ca, bytes) and isinstance(cb, bytes) and list(a["size"]) == list(b["size"]):
            got = native(ca, cb)
            if got is not None:
                inter, area_a, area_b = got
                return inter, area_a + area_b - inter
    inter = int(mask_api.area(mask_api.merge([a, b], intersect=True)))
    union = int(mask_api.area(a)) + int(mask_api.area(b)) - inter
    return inter, union


def _native_inter_union() -> Any:
    """The C run sweep (psalm_bench._native.rle_inter_union), or None without it."""
    try:
        from psalm_bench import _native
    except ImportError:
        return None
    return getattr(_native, "rle_inter_union", None)


# ---------------------------------------------------------------------------
# Compressed RLE counts: checked for all masks of a file at once


def first_bad_counts(rles: Sequence[RLE], use_native: bool = True) -> tuple[int, str] | None:
    """The one exact check of untrusted RLE counts, run before pycocotools (or
    any COCOeval engine) sees them. Returns (index, problem) of the first bad
    RLE, or None.

    pycocotools trusts counts strings: a truncated one makes ``rleFrString``
    read past the string's end, an overlong number shifts past its integer,
    and runs that do not cover h*w pixels are scored as garbage. So every
    string is decoded here exactly as ``rleFrString`` does, in one vectorised
    pass: characters '0'..'o' (5 bits each, offset 48), bit 0x20 continues a
    number, bit 0x10 of its last character is the sign, and from the fourth
    run on each value is a delta to the run two places back. A number may
    have at most 7 characters, the 7th holding 0 or 1 (beyond that the C code
    overflows its int); runs must be non-negative and sum to exactly h*w.
    List counts must be non-negative integers below 2**32 summing to h*w.
    The C checker and the numpy pass (``use_native=False``) give the same
    verdicts and messages.
    """
    problems: dict[int, str] = {}
    string_index: list[int] = []
    strings: list[bytes] = []
    sizes: list[Any] = []
    for index, rle in enumerate(rles):
        size = rle.get("size") if isinstance(rle, dict) else None
        if not (type(size) is list and len(size) == 2 and all(type(v) is int and v >= 0 for v in size)):
            problems[index] = "RLE 'size' must be [height, width] of non-negative integers"
            break
        counts = rle.get("counts")
        if isinstance(counts, str):
            if not counts.isascii():
                problems[index] = "RLE counts string has a character outside the COCO alphabet (non-ASCII)"
                break
            counts = counts.encode("ascii")
        if isinstance(counts, bytes):
            string_index.append(index)
            strings.append(counts)
            sizes.append(size)
        elif isinstance(counts, list):
            problem = _list_counts_problem(counts, size[0] * size[1])
            if problem is not None:
                problems[index] = problem
                break
        else:
            problems[index] = "RLE 'counts' must be a string or a list of integers"
            break
    native = _native_rle_check() if use_native else None
    if native is not None:
        for k, counts in enumerate(strings):
            code, total = native(counts, sizes[k][0], sizes[k][1])
            if code:
                index = string_index[k]
                problems.setdefault(index, _problem(code, total, sizes[k][0] * sizes[k][1]))
                break
        strings = []  # checked
    # in batches of ~64K characters: the work arrays stay small and are reused
    start = 0
    while start < len(strings):
        stop, chars = start, 0
        while stop < len(strings) and (chars < _BATCH_CHARS or stop == start):
            chars += len(strings[stop])
            stop += 1
        bad = _first_bad_counts_batch(strings[start:stop], sizes[start:stop])
        if bad is not None:
            problems.setdefault(string_index[start + bad[0]], bad[1])
            break
        start = stop
    if not problems:
        return None
    index = min(problems)
    return index, problems[index]


_PROBLEMS = {
    1: "RLE counts string is empty",
    2: "RLE counts string has a character outside the COCO alphabet",
    3: "RLE counts string ends inside a number (truncated)",
    4: "RLE counts string holds a number too large for a run length (overlong)",
    5: "RLE counts string decodes to a negative run length",
    7: "RLE counts string holds more runs than the mask has pixels",
}


def _problem(code: int, total: int, pixels: int) -> str:
    if code == 6:
        return f"RLE counts cover {total} pixels, the mask has {pixels}"
    return _PROBLEMS[code]


def _native_rle_check() -> Any:
    """The C checker (psalm_bench._native.rle_check), or None without it."""
    try:
        from psalm_bench import _native
    except ImportError:
        return None
    return getattr(_native, "rle_check", None)


def _list_counts_problem(counts: list[Any], pixels: int) -> str | None:
    if not all(type(c) is int and 0 <= c < 1 << 32 for c in counts):
        return "uncompressed RLE counts must be non-negative integers below 2**32"
    total = sum(counts)
    if total != pixels:
        return f"RLE counts sum to {total}, the mask has {pixels} pixels"
    return None


def check_rle(rle: RLE) -> None:
    """Raise MaskFormatError unless one RLE's counts are exact (first_bad_counts)."""
    bad = first_bad_counts([rle])
    if bad is not None:
        raise MaskFormatError(bad[1])


_BATCH_CHARS = 1 << 16


def _first_bad_counts_batch(strings: list[bytes], sizes: list[Any]) -> tuple[int, str] | None:
    n = len(strings)
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=n)
    pixels = np.fromiter((int(h) * int(w) for h, w in sizes), dtype=np.int64, count=n)
    problems: dict[int, str] = {}
    for index in np.flatnonzero((lengths == 0) & (pixels > 0)):
        problems[int(index)] = "RLE counts string is empty"
    raw = np.frombuffer(b"".join(strings), dtype=np.uint8)
    if raw.size == 0:
        return (min(problems), problems[min(problems)]) if problems else None
    char_start = np.cumsum(lengths) - lengths  # first character of each string
    bad_char = (raw < 48) | (raw > 111)
    if bad_char.any():
        owner = int(np.searchsorted(char_start, np.argmax(bad_char), side="right")) - 1
        problems[owner] = "RLE counts string has a character outside the COCO alphabet"
        raw = np.where(bad_char, 48, raw)
    chunk = raw - np.uint8(48)
    ends = (chunk & 0x20) == 0
    nonempty = np.flatnonzero(lengths > 0)
    string_last = char_start[nonempty] + lengths[nonempty] - 1
    for index in nonempty[~ends[string_last]]:
        problems.setdefault(int(index), "RLE counts string ends inside a number (truncated)")
    ends[string_last] = True  # close each string's last number
    last = np.flatnonzero(ends)  # last character of each number
    first = np.empty_like(last)
    first[0] = 0
    first[1:] = last[:-1] + 1
    width = last - first + 1
    overlong = (width > 7) | ((width == 7) & ((chunk[last] & 0x1F) > 1))
    if overlong.any():
        owner = int(np.searchsorted(char_start, first[np.argmax(overlong)], side="right")) - 1
        problems.setdefault(owner, "RLE counts string holds a number too large for a run length (overlong)")
        width = np.minimum(width, 7)
    # the last character of a number carries its sign (bit 0x10): its 5 bits
    # are a signed top digit; the characters before it add unsigned digits
    values = ((chunk[last] & 0x1F) ^ 0x10).astype(np.int64) - 0x10
    longer = np.flatnonzero(width > 1)  # most runs fit one character
    if longer.size:
        top = values[longer] << (5 * (width[longer] - 1))
        for k in range(int(width.max()) - 1):
            longer_k = width[longer] > k + 1
            top[longer_k] += (chunk[first[longer[longer_k]] + k] & 0x1F).astype(np.int64) << (5 * k)
        values[longer] = top
    # runs per string, and each run's position in its string
    run_owner = np.repeat(np.arange(n, dtype=np.int64), lengths)[first]
    n_runs = np.bincount(run_owner, minlength=n)
    first_run = np.cumsum(n_runs) - n_runs
    position = np.arange(values.size) - first_run[run_owner]
    has_runs = n_runs > 0
    # decoded[i] = values[i] + decoded[i-2] for i > 2: running sums over the
    # odd runs, and over the even runs from the third on, restarting per string
    odd = (position & 1).astype(bool)
    even = ~odd & (position >= 2)
    runs = values.copy()
    for chain_runs in (odd, even):
        part = values * chain_runs
        running = np.cumsum(part)
        before = np.zeros(n, dtype=np.int64)  # running sum before each string
        before[has_runs] = running[first_run[has_runs]] - part[first_run[has_runs]]
        np.copyto(runs, running - before[run_owner], where=chain_runs)
    if (runs < 0).any():
        problems.setdefault(int(run_owner[np.argmax(runs < 0)]), "RLE counts string decodes to a negative run length")
    totals = np.zeros(n, dtype=np.int64)
    totals[has_runs] = np.add.reduceat(np.maximum(runs, 0), first_run[has_runs])
    for index in np.flatnonzero((totals != pixels) & has_runs):
        problems.setdefault(int(index), f"RLE counts cover {int(totals[index])} pixels, the mask has {int(pixels[index])}")
    for index in np.flatnonzero(n_runs > pixels + 1):
        problems.setdefault(int(index), "RLE counts string holds more runs than the mask has pixels")
    if not problems:
        return None
    index = min(problems)
    return index, problems[index]


def pairwise_intersections(preds: list[RLE], gts: list[RLE]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersection matrix (pred x gt) of two lists of RLEs, and the areas of each side."""
    pa = np.array([mask_api.area(p) for p in preds], dtype=np.float64) if preds else np.zeros(0)
    ga = np.array([mask_api.area(g) for g in gts], dtype=np.float64) if gts else np.zeros(0)
    inter = np.zeros((len(preds), len(gts)), dtype=np.float64)
    for i, p in enumerate(preds):
        for j, g in enumerate(gts):
            inter[i, j] = mask_api.area(mask_api.merge([p, g], intersect=True))
    return inter, pa, ga
