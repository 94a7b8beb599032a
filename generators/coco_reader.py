"""The COCO instances input of build-interactive: the file's images and their
annotations in file order, and one annotation's segmentation as its tight crop,
decoded as pycocotools does. Bad annotations are skipped with a reason
(``SKIP_REASONS``), never raised to the user; a bad file is one InputError."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.formats.coco import parse_images, read_coco_json
from psalm_bench.generators.interactive_rle import Crop, _crop_from_counts, _Skip
from psalm_bench.masks import MaskFormatError, first_bad_counts, polygons_to_rle, rle_runs


def _runs(counts: bytes) -> np.ndarray:
    """masks.rle_runs, a broken string skipped as ``bad_rle``."""
    try:
        return rle_runs(counts)
    except MaskFormatError:
        raise _Skip("bad_rle") from None


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
        return _crop_from_counts(_runs(polygons_to_rle(segmentation, height, width)["counts"]), height, width)
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
        return _crop_from_counts(_runs(counts), height, width)
    raise _Skip("bad_rle")



def read_instances(instances: Path) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]], Counter]:
    """Images (raw records) and their annotations in file order; skipped counts
    of annotations that belong to no image."""
    data = read_coco_json(instances, ("images", "annotations"))  # the one parse (formats/coco.py)
    parse_images(data["images"], instances)  # InputError names a bad image record
    raw_anns = data["annotations"]
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

