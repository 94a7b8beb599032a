"""COCO mask helpers on top of pycocotools' RLE API.

Every mask in psalm-bench travels as a compressed COCO RLE
(``{"size": [h, w], "counts": bytes|str}``). Polygons and uncompressed RLE
(list counts) are accepted on input and converted here, once, the way
pycocotools' ``annToRLE`` does (polygons of one annotation merged).
"""

from __future__ import annotations

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
        return
    if isinstance(segmentation, list):
        if not segmentation:
            raise MaskFormatError("empty polygon list")
        for poly in segmentation:
            if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2:
                raise MaskFormatError("polygon needs an even number (>= 6) of coordinates")
        return
    to_rle(segmentation, height, width)  # uncompressed RLE or malformed: full check


def to_rle(segmentation: Any, height: int, width: int) -> RLE:
    """Convert a polygon list, uncompressed or compressed RLE to compressed RLE.

    Raises MaskFormatError when the segmentation is malformed or its size
    differs from (height, width).
    """
    if isinstance(segmentation, list):
        polygons = [p for p in segmentation]
        if not polygons:
            raise MaskFormatError("empty polygon list")
        for poly in polygons:
            if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2:
                raise MaskFormatError("polygon needs an even number (>= 6) of coordinates")
            if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in poly):
                raise MaskFormatError("polygon coordinates must be finite numbers")
        return mask_api.merge(mask_api.frPyObjects(polygons, height, width))
    if not isinstance(segmentation, dict) or "counts" not in segmentation or "size" not in segmentation:
        raise MaskFormatError("segmentation must be a polygon list or an RLE with 'size' and 'counts'")
    size = segmentation["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        raise MaskFormatError("RLE 'size' must be [height, width]")
    if size[0] != height or size[1] != width:
        raise MaskFormatError(f"mask size {size[0]}x{size[1]} differs from image size {height}x{width}")
    counts = segmentation["counts"]
    if isinstance(counts, list):
        if not all(isinstance(c, int) and c >= 0 for c in counts):
            raise MaskFormatError("uncompressed RLE counts must be non-negative integers")
        if sum(counts) != height * width:
            raise MaskFormatError(f"RLE counts sum to {sum(counts)}, image has {height * width} pixels")
        return mask_api.frPyObjects(segmentation, height, width)
    if isinstance(counts, str):
        try:
            return {"size": [height, width], "counts": counts.encode("ascii")}
        except UnicodeEncodeError:
            raise MaskFormatError("RLE counts string has non-ASCII characters") from None
    if isinstance(counts, bytes):
        return {"size": [height, width], "counts": counts}
    raise MaskFormatError("RLE 'counts' must be a string or a list of integers")


def decode(rle: RLE) -> np.ndarray:
    """Binary HxW uint8 mask of one RLE."""
    return mask_api.decode(rle)


def decode_many(rles: list[RLE], height: int, width: int) -> np.ndarray:
    """HxWxN uint8 stack; an empty list gives an HxWx0 array."""
    if not rles:
        return np.zeros((height, width, 0), dtype=np.uint8)
    return mask_api.decode(rles)


def encode(mask: np.ndarray) -> RLE:
    """Compressed RLE of a binary HxW mask, counts as a str (JSON-ready)."""
    rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8, copy=False)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def area(rle: RLE) -> int:
    return int(mask_api.area(rle))


def check_rle_decodes(rle: RLE) -> None:
    """Compressed counts that do not cover exactly h*w pixels are malformed."""
    h, w = rle["size"]
    try:
        total = int(mask_api.area(rle))
    except Exception as exc:  # pycocotools raises plain Exceptions on bad strings
        raise MaskFormatError(f"RLE counts do not decode ({exc})") from None
    if total > h * w:
        raise MaskFormatError("RLE counts exceed the image size")


def intersection_union(a: RLE, b: RLE) -> tuple[int, int]:
    """Pixel counts |a & b| and |a | b| of two same-size RLEs, computed on the
    run lengths (no decoding)."""
    inter = int(mask_api.area(mask_api.merge([a, b], intersect=True)))
    union = int(mask_api.area(a)) + int(mask_api.area(b)) - inter
    return inter, union
