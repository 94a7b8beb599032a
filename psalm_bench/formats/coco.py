"""COCO instances JSON (ground truth) and COCO results JSON (detections).

Validation is strict where a wrong record would silently change a number
(unknown image or category, a mask of the wrong size, a NaN score) and
otherwise follows pycocotools: polygons and uncompressed RLE are accepted and
converted to compressed RLE once, here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from psalm_bench.errors import InputError
from psalm_bench.jsonio import JsonArray, gc_paused, load_json, load_json_pieces, write_atomic
from psalm_bench.masks import MaskFormatError, check_segmentation, first_bad_counts, to_rle


@dataclass(frozen=True)
class ImageInfo:
    id: int
    height: int
    width: int
    file_name: str = ""


@dataclass(frozen=True)
class Category:
    id: int
    name: str


@dataclass
class CocoInstances:
    """Validated ground truth. ``annotations`` keep their COCO dict form
    (polygons, uncompressed or compressed RLE, checked against the image
    size) so they pass to a COCOeval engine unchanged."""

    path: Path | None
    images: dict[int, ImageInfo]
    categories: dict[int, Category]
    annotations: list[dict[str, Any]] = field(default_factory=list)
    # what COCOeval accepts but never scores, left out here too (one line each)
    warnings: list[str] = field(default_factory=list)
    # the JSON object as read: handed to the COCOeval engine, so that the file
    # is parsed once (its records are the ones validated above)
    source: dict[str, Any] | None = field(default=None, repr=False)

    def annotations_by_image(self) -> dict[int, list[dict[str, Any]]]:
        grouped: dict[int, list[dict[str, Any]]] = {image_id: [] for image_id in self.images}
        for ann in self.annotations:
            grouped[ann["image_id"]].append(ann)
        return grouped


def _require_int(value: Any, what: str, file: Path | None, record: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be an integer, got {value!r}", file=file, record=record)
    return value


def parse_images(raw: Any, file: Path | None, repeats: list[str] | None = None) -> dict[int, ImageInfo]:
    """Images by id. With ``repeats``, an image listed again with the same
    size and file name is kept once and named there (pycocotools' dict keeps
    one); listed again differently it is an error (pycocotools keeps the last)."""
    if not isinstance(raw, list):
        raise InputError("'images' must be a list", file=file)
    images: dict[int, ImageInfo] = {}
    for index, img in enumerate(raw):
        record = f"images[{index}]"
        if not isinstance(img, dict) or "id" not in img:
            raise InputError("image record needs an 'id'", file=file, record=record)
        image_id = _require_int(img["id"], "image id", file, record)
        record = f"image {image_id}"
        height = _require_int(img.get("height"), "height", file, record)
        width = _require_int(img.get("width"), "width", file, record)
        if height <= 0 or width <= 0:
            raise InputError(f"image size {height}x{width} is not positive", file=file, record=record)
        if image_id in images:
            if repeats is not None and images[image_id] == ImageInfo(image_id, height, width, str(img.get("file_name", ""))):
                repeats.append(record)
                continue
            raise InputError("image id listed twice" + (" with another size or file name" if repeats is not None else ""), file=file, record=record)
        images[image_id] = ImageInfo(image_id, height, width, str(img.get("file_name", "")))
    return images


def parse_categories(raw: Any, file: Path | None, repeats: list[str] | None = None) -> dict[int, Category]:
    """Categories by id. With ``repeats``, an id listed again is evaluated once
    under its last name, as pycocotools' dict keeps the last, and named there."""
    if not isinstance(raw, list) or not raw:
        raise InputError("'categories' must be a non-empty list", file=file)
    categories: dict[int, Category] = {}
    for index, cat in enumerate(raw):
        record = f"categories[{index}]"
        if not isinstance(cat, dict) or "id" not in cat:
            raise InputError("category record needs an 'id'", file=file, record=record)
        cat_id = _require_int(cat["id"], "category id", file, record)
        if cat_id in categories:
            if repeats is None:
                raise InputError(f"category id {cat_id} listed twice", file=file, record=record)
            repeats.append(f"category {cat_id}")
        categories[cat_id] = Category(cat_id, str(cat.get("name", cat_id)))
    return categories


def load_instances(path: str | Path, *, check_boxes: bool = True) -> CocoInstances:
    """Load and validate a COCO instances JSON (GT boxes only matter, and
    are only checked, for box AP)."""
    path = Path(path)
    with gc_paused():
        return instances_from_dict(read_coco_json(path), path, check_boxes=check_boxes)



def read_coco_json(path: str | Path, keys: tuple[str, ...] = ("images", "annotations", "categories")) -> dict[str, Any]:
    """The one parse of a COCO instances file: a JSON object holding ``keys``
    ('annotations' a list), else one InputError. Validating its records is
    the caller's policy (:func:`instances_from_dict` refuses a bad one,
    build-interactive skips and counts it)."""
    # the big arrays parsed record by record into the lists kept: no whole
    # document tree beside them (RefCOCO's 14 MB instances.json peaked 30 MB
    # above what it leaves)
    data = load_json_pieces(path, ("annotations", "images"))
    if isinstance(data, JsonArray):
        data = list(data)  # not an object: only its type is named below
    elif isinstance(data, dict):
        for key in ("annotations", "images"):
            if isinstance(data.get(key), JsonArray):
                data[key] = list(data[key])
    if not isinstance(data, dict):
        raise InputError(f"expected a COCO instances object with {', '.join(keys)}", file=path)
    for key in keys:
        if key not in data:
            raise InputError(f"missing '{key}'", file=path)
    if "annotations" in keys and not isinstance(data["annotations"], list):
        raise InputError("'annotations' must be a list", file=path)
    return data


def load_catalog(path: str | Path) -> dict[str, Any]:
    """The ``images`` (id, file_name) and ``categories`` (id, name) of a COCO
    instances or panoptic JSON, as a model needs them to predict: the JSON
    object, checked for those fields (one InputError naming the record)."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise InputError(f"expected a COCO JSON object with images and categories, got a JSON {type(data).__name__}", file=path)
    for key, fields in (("categories", ("id", "name")), ("images", ("id", "file_name"))):
        items = data.get(key)
        if not isinstance(items, list) or (key == "categories" and not items):
            raise InputError(f"{key!r} must be a non-empty list", file=path)
        for index, item in enumerate(items):
            if not isinstance(item, dict) or any(f not in item for f in fields):
                raise InputError(f"each entry needs {' and '.join(fields)}", file=path, record=f"{key}[{index}]")
    return data


def write_coco_json(path: str | Path, data: dict[str, Any]) -> Path:
    """A COCO instances (or panoptic) JSON object as compact JSON, atomically."""
    write_atomic(path, orjson.dumps(data))
    return Path(path)


def instances_from_dict(data: dict[str, Any], path: Path | None = None, *, check_boxes: bool = True) -> CocoInstances:
    repeats: list[str] = []
    images = parse_images(data["images"], path, repeats)
    categories = parse_categories(data["categories"], path, repeats)
    raw_anns = data["annotations"]
    if not isinstance(raw_anns, list):
        raise InputError("'annotations' must be a list", file=path)
    outside: list[int] = []  # annotations of an image or category the file does not list
    for index, ann in enumerate(raw_anns):
        # The common, well-formed record passes a few cheap tests inline; any
        # other goes through the full check, which names what is wrong.
        try:
            image = images[ann["image_id"]]
            segmentation = ann["segmentation"]
            area = ann["area"]
            well_formed = (
                type(ann["id"]) is int
                and ann["category_id"] in categories
                and ann.get("iscrowd", 0) in (0, 1)
                and (type(area) is float or type(area) is int)
                and 0 <= area < math.inf
                and not check_boxes
                and _plain_segmentation_fits(segmentation, image)
            )
        except (KeyError, TypeError):
            well_formed = False
        if not well_formed and _check_annotation(ann, index, images, categories, path, check_boxes):
            outside.append(index)
    _check_rle_strings(raw_anns, path)
    _check_unique_annotation_ids(raw_anns, path)
    warnings = []
    if repeats:
        shown = ", ".join(repeats[:5]) + (", ..." if len(repeats) > 5 else "")
        warnings.append(f"ground truth: {len(repeats)} image or category record(s) listed twice, used once as pycocotools keeps one ({shown})")
    if outside:
        # COCOeval evaluates the listed images and categories only
        # (getAnnIds(imgIds, catIds)): such an annotation is never scored
        left_out = set(outside)
        shown = ", ".join(str(raw_anns[i]["id"]) for i in outside[:5]) + (", ..." if len(outside) > 5 else "")
        warnings.append(f"ground truth: {len(outside)} annotation(s) of an image or category not listed in the file ignored, "
                        f"as COCOeval ignores them (annotation id {shown})")
        raw_anns = [ann for i, ann in enumerate(raw_anns) if i not in left_out]
    return CocoInstances(path, images, categories, raw_anns, warnings, data)


def _check_rle_strings(raw_anns: list[dict[str, Any]], path: Path | None) -> None:
    """Every compressed RLE counts string, checked exactly in one pass before
    pycocotools or the engine decodes it (masks.first_bad_counts)."""
    with_strings = [ann for ann in raw_anns if type(ann["segmentation"]) is dict and isinstance(ann["segmentation"].get("counts"), str)]
    bad = first_bad_counts([ann["segmentation"] for ann in with_strings])
    if bad is not None:
        ann = with_strings[bad[0]]
        raise InputError(bad[1], file=path, record=f"annotation {ann['id']} (image {ann['image_id']})")


def _plain_segmentation_fits(segmentation: Any, image: ImageInfo) -> bool:
    """Polygons of >= 3 points, or a compressed RLE of the image's size."""
    if type(segmentation) is list:
        return bool(segmentation) and all(type(p) is list and len(p) >= 6 and not len(p) % 2 for p in segmentation)
    if type(segmentation) is dict:
        size = segmentation.get("size")
        return type(segmentation.get("counts")) is str and size == [image.height, image.width]
    return False


def _check_annotation(ann: Any, index: int, images: dict[int, ImageInfo], categories: dict[int, Category], path: Path | None, check_boxes: bool) -> bool:
    """Raise an InputError naming what is wrong with one annotation, if
    anything; True when it is well formed but of an image or category the
    file does not list (COCOeval never scores it)."""
    if not isinstance(ann, dict):
        raise InputError("annotation must be an object", file=path, record=f"annotations[{index}]")
    ann_id = ann.get("id")
    record = f"annotation {ann_id}" if ann_id is not None else f"annotations[{index}]"
    _require_int(ann_id, "annotation id", path, record)
    image_id, category_id = ann.get("image_id"), ann.get("category_id")
    image = images.get(image_id)
    if image is None or category_id not in categories:
        for value, what in ((image_id, "image_id"), (category_id, "category_id")):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"{what} must be an integer, got {value!r}", file=path, record=record)
        if image is None:
            _check_annotation_fields(ann, None, path, record, check_boxes)
            return True
    _check_annotation_fields(ann, image, path, record, check_boxes)
    return category_id not in categories


def _check_annotation_fields(ann: dict[str, Any], image: ImageInfo | None, path: Path | None, record: str, check_boxes: bool) -> None:
    """iscrowd, area, bbox and the segmentation (against the image's size when known)."""
    iscrowd = ann.get("iscrowd", 0)
    if iscrowd not in (0, 1):
        raise InputError(f"iscrowd must be 0 or 1, got {iscrowd!r}", file=path, record=record)
    area = ann.get("area")
    if isinstance(area, bool) or not isinstance(area, (int, float)) or not math.isfinite(area) or area < 0:
        raise InputError(f"area must be a non-negative number, got {area!r}", file=path, record=record)
    if check_boxes:
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
            raise InputError("bbox must be [x, y, w, h]", file=path, record=record)
    if "segmentation" not in ann:
        raise InputError("missing 'segmentation'", file=path, record=record)
    if image is None:
        return  # never decoded: COCOeval does not score it
    try:
        check_segmentation(ann["segmentation"], image.height, image.width)
    except MaskFormatError as exc:
        raise InputError(str(exc), file=path, record=f"{record} (image {image.id})") from None


def _check_unique_annotation_ids(annotations: list[dict[str, Any]], path: Path | None) -> None:
    ids = [ann["id"] for ann in annotations]
    if len(set(ids)) != len(ids):
        seen: set[int] = set()
        for ann_id in ids:
            if ann_id in seen:
                raise InputError("annotation id listed twice", file=path, record=f"annotation {ann_id}")
            seen.add(ann_id)


def detection(image_id: int, category_id: int, segmentation: Any, score: float) -> dict[str, Any]:
    """One record of a COCO results JSON (segmentation: compressed RLE, str counts)."""
    return {"image_id": image_id, "category_id": category_id, "segmentation": segmentation, "score": score}


def write_results(path: str | Path, detections: list[dict[str, Any]]) -> Path:
    """A COCO results JSON (a list of :func:`detection` records), compact, atomically."""
    write_atomic(path, orjson.dumps(detections))
    return Path(path)


@dataclass
class Detections:
    """Validated COCO results: one dict per detection, JSON-ready."""

    path: Path | None
    detections: list[dict[str, Any]]
    # indices of detections whose category the ground truth lacks: dropped, as
    # COCOeval only evaluates the ground truth's categories
    unknown_category: list[int] = field(default_factory=list)

    def by_image(self) -> dict[int, list[dict[str, Any]]]:
        grouped: dict[int, list[dict[str, Any]]] = {}
        for det in self.detections:
            grouped.setdefault(det["image_id"], []).append(det)
        return grouped


def load_detections(path: str | Path, gt: CocoInstances, iou_type: str = "segm") -> Detections:
    """Load and validate a COCO results JSON against its ground truth."""
    path = Path(path)
    data = load_json(path)
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]  # a results file saved as a dataset object
    if not isinstance(data, list):
        raise InputError("expected a COCO results list of {image_id, category_id, segmentation, score}", file=path)
    dropped: list[int] = []
    return Detections(path, validate_detections(data, gt, iou_type, path, dropped), dropped)


def unknown_category_warning(dropped: list[int]) -> str:
    """One line for the detections dropped for a category the ground truth lacks."""
    shown = ", ".join(f"[{i}]" for i in dropped[:5]) + (", ..." if len(dropped) > 5 else "")
    return f"{len(dropped)} detection(s) of categories the ground truth lacks ignored, as COCOeval evaluates only the ground truth's categories ({shown})"


def validate_detections(raw: list[Any], gt: CocoInstances, iou_type: str, path: Path | None, dropped: list[int] | None = None) -> list[dict[str, Any]]:
    """The clean records of a COCO results list, or an InputError naming the
    first bad one. Scores may be any finite number (COCOeval only ranks
    them, infinities included); a detection of a category the ground truth lacks is left out and
    its index appended to ``dropped`` (an error when ``dropped`` is None)."""
    images = gt.images
    categories = gt.categories
    isfinite = math.isfinite
    clean: list[dict[str, Any]] = []
    compressed: list[int] = []  # detections whose counts strings are checked in one pass below
    for index, det in enumerate(raw):
        if not isinstance(det, dict):
            raise InputError("detection must be an object", file=path, record=f"[{index}]")
        image = images.get(det.get("image_id"))
        if image is None:
            raise InputError(f"image_id {det.get('image_id')!r} is not in the ground truth", file=path, record=f"[{index}]")
        category_id = det.get("category_id")
        unknown = category_id not in categories
        if unknown and (dropped is None or isinstance(category_id, bool) or not isinstance(category_id, int)):
            raise InputError(f"category_id {category_id!r} is not in the ground truth", file=path, record=f"[{index}] (image {image.id})")
        score = det.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or score != score:  # NaN ranks nowhere
            raise InputError(f"score must be a number, got {score!r}", file=path, record=f"[{index}] (image {image.id})")
        segmentation = det.get("segmentation")
        out = {"image_id": image.id, "category_id": category_id, "score": float(score)}
        if segmentation is not None:
            size = segmentation.get("size") if isinstance(segmentation, dict) else None
            counts = segmentation.get("counts") if isinstance(segmentation, dict) else None
            if isinstance(counts, str) and isinstance(size, list) and len(size) == 2:
                # the common case, checked inline: a compressed RLE string
                if size[0] != image.height or size[1] != image.width:
                    raise InputError(f"mask size {size[0]}x{size[1]} differs from image size {image.height}x{image.width}", file=path, record=f"[{index}] (image {image.id})")
                out["segmentation"] = segmentation
                compressed.append(index)
            else:
                try:
                    rle = to_rle(segmentation, image.height, image.width)
                except MaskFormatError as exc:
                    raise InputError(str(exc), file=path, record=f"[{index}] (image {image.id})") from None
                out["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        elif iou_type == "segm":
            raise InputError("missing 'segmentation' (needed for --iou-type segm)", file=path, record=f"[{index}] (image {image.id})")
        bbox = det.get("bbox")
        if bbox is not None or segmentation is None:
            # Passed through as given: pycocotools' loadRes prefers a given box
            # (and takes the detection's area from it), so we must too.
            if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) and isfinite(v) for v in bbox)):
                raise InputError("bbox must be [x, y, w, h] of finite numbers", file=path, record=f"[{index}] (image {image.id})")
            out["bbox"] = bbox
        if unknown:
            dropped.append(index)  # checked like the rest (hostile RLE included), then left out
            continue
        clean.append(out)
    bad = first_bad_counts([raw[index]["segmentation"] for index in compressed])
    if bad is not None:
        index = compressed[bad[0]]
        raise InputError(bad[1], file=path, record=f"[{index}] (image {raw[index]['image_id']})")
    return clean


_RLE_SIZE = re.compile(rb'"size"\s*:\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]')
_IMAGE_ID = re.compile(rb'"image_id"\s*:\s*(-?\d+)')


def _scan_ids_and_sizes(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Every "image_id" and every RLE "size" of a results file, in file order,
    read from the bytes (C scanner, or regular expressions without it)."""
    try:
        from psalm_bench import _native
    except ImportError:
        _native = None
    if _native is not None:
        try:
            ids = np.frombuffer(_native.scan_ints(data, "image_id", 1), dtype=np.int64)
            sizes = np.frombuffer(_native.scan_ints(data, "size", 2), dtype=np.int64).reshape(-1, 2)
        except ValueError:
            return None
        return ids, sizes
    ids = np.array(_IMAGE_ID.findall(data)).astype(np.int64)
    sizes = np.array(_RLE_SIZE.findall(data)).astype(np.int64).reshape(-1, 2)
    return ids, sizes


# the one escape COCO strings need: \\; possessive runs (3.11+) scan 5x faster than one
# alternation per character and never backtrack on an unterminated string
_COUNTS_STRING = re.compile(rb'"counts"\s*:\s*"((?:[^"\\]++|\\\\)*+)"')


def _counts_strings_exact(data: bytes, sizes: np.ndarray, n_detections: int, use_native: bool = True) -> bool:
    """Every detection's counts string, read from the bytes in file order and
    paired with its "size", passes masks.first_bad_counts. Counts that are
    lists or hold escapes other than \\\\ do not match here: the full validator looks."""
    if sizes.size and int(sizes.min()) < 0:
        return False
    _native = None
    if use_native:
        try:
            from psalm_bench import _native
        except ImportError:
            pass
    if _native is not None and hasattr(_native, "rle_scan_check"):
        # one C pass over the bytes: the same verdicts as rle_check, no Python object per mask
        n, bad, _, _ = _native.rle_scan_check(data, np.ascontiguousarray(sizes, dtype=np.int64).tobytes())
        return n == n_detections and bad < 0
    strings = _COUNTS_STRING.findall(data)
    if len(strings) != n_detections:
        return False
    rles = [{"size": [int(h), int(w)], "counts": counts.replace(b"\\\\", b"\\")} for (h, w), counts in zip(sizes.tolist(), strings)]
    return first_bad_counts(rles) is None


def rle_sizes_match_images(path: str | Path, gt: CocoInstances, n_detections: int) -> bool:
    """Cheap screen of a results file that a COCOeval engine has already parsed:
    does every detection carry an RLE whose size is its image's?

    The engine parses JSON far faster than Python can, but does not check mask
    sizes (pycocotools silently scores such masks as misses). Reading the
    sizes and image ids straight from the bytes costs a fraction of a parse.
    False means "look closer", not "bad": the caller then runs the full
    validator, which names the offending record.
    """
    data = Path(path).read_bytes()
    scanned = _scan_ids_and_sizes(data)
    if scanned is None:
        return False
    ids, size_array = scanned
    if ids.size != n_detections or size_array.shape[0] != n_detections:
        return False  # polygons, boxes only, or an unusual layout: validate fully
    heights_found, widths_found = size_array[:, 0], size_array[:, 1]
    if not _counts_strings_exact(data, size_array, n_detections):
        return False
    known_ids = np.array(sorted(gt.images), dtype=np.int64)
    heights = np.array([gt.images[i].height for i in known_ids.tolist()], dtype=np.int64)
    widths = np.array([gt.images[i].width for i in known_ids.tolist()], dtype=np.int64)
    position = np.clip(np.searchsorted(known_ids, ids), 0, known_ids.size - 1)
    if not (known_ids[position] == ids).all():
        return False
    return bool((heights[position] == heights_found).all() and (widths[position] == widths_found).all())


@dataclass
class ResultColumns:
    """A COCO mask results file as the columns a COCOeval engine takes
    (``hotcoco.COCO.load_res`` with an array), every record already checked
    as :func:`validate_detections` checks it. ``area`` and ``bbox`` are the
    masks' own, as pycocotools' loadRes computes them."""

    image_id: np.ndarray  # int64
    category_id: np.ndarray  # int64
    score: np.ndarray  # float64
    area: np.ndarray  # float64
    bbox: np.ndarray  # float64, N x 4
    segmentation: list[dict[str, Any]]

    def engine_array(self) -> np.ndarray:
        """``[image_id, x, y, w, h, score, category_id]`` per detection (ids are exact: at most 15 digits)."""
        out = np.empty((len(self.score), 7), dtype=np.float64)
        out[:, 0] = self.image_id
        out[:, 1:5] = self.bbox
        out[:, 5] = self.score
        out[:, 6] = self.category_id
        return out


def results_columns(data: bytes, gt: CocoInstances) -> ResultColumns | None:
    """The results file's bytes read in one C pass (``_native.coco_results_columns``)
    when it is the plain layout of mask results, every image and category in
    the ground truth and every mask of its image's size; None otherwise (no C
    extension, polygons, boxes, other keys, a bad record): the caller then
    takes the general path, which names a bad record."""
    try:
        from psalm_bench import _native
    except ImportError:
        return None
    read = getattr(_native, "coco_results_columns", None)
    parsed = read(data) if read is not None else None
    if parsed is None:
        return None
    ids, cats, scores, sizes, areas, boxes, masks = parsed
    image_id = np.frombuffer(ids, dtype=np.int64)
    category_id = np.frombuffer(cats, dtype=np.int64)
    size = np.frombuffer(sizes, dtype=np.int64).reshape(-1, 2)
    known = np.fromiter(gt.images, dtype=np.int64, count=len(gt.images))
    if not known.size:
        return None
    order = np.argsort(known)
    known = known[order]
    hw = np.array([(i.height, i.width) for i in gt.images.values()], dtype=np.int64).reshape(-1, 2)[order]
    position = np.clip(np.searchsorted(known, image_id), 0, known.size - 1)
    if not (known[position] == image_id).all() or not (hw[position] == size).all():
        return None
    if not np.isin(category_id, np.fromiter(gt.categories, dtype=np.int64, count=len(gt.categories))).all():
        return None  # dropped with a warning by the general path
    return ResultColumns(image_id, category_id, np.frombuffer(scores, dtype=np.float64), np.frombuffer(areas, dtype=np.float64),
                         np.frombuffer(boxes, dtype=np.float64).reshape(-1, 4), masks)
