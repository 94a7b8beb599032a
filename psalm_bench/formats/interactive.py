"""COCO-Interactive ground truth and interactive prediction JSON Lines.

Ground truth (FORMATS.md, "COCO-Interactive"): a JSON list, one record per
image, ``{"image", "image_info": {COCO image}, "new_img_id", "anns": [...]}``;
each annotation is a COCO annotation plus four prompt masks,
``point_visual_prompt_mask``, ``scribble_visual_prompt_mask``,
``box_visual_prompt_mask`` and ``mask_visual_prompt_mask`` (RLE; ``null`` is
an empty prompt). Annotation segmentations may be polygons, uncompressed or
compressed RLE; they are converted to compressed RLE here, once, as
pycocotools does (polygons of one annotation merged).

Predictions: one JSON object per line,
``{"image_id", "ann_id", "prompt": "point|scribble|box|mask", "segmentation": RLE}``,
matched to the ground truth by (``ann_id``, ``prompt``). ``image_id`` is the
COCO image id (``image_info.id``, the annotation's ``image_id``), not
``new_img_id``; a line whose ``image_id`` is not its annotation's image is an
error, since it is the usual sign of predictions keyed the wrong way.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError
from psalm_bench.formats.jsonl import read_jsonl
from psalm_bench.jsonio import JsonArray, load_json_pieces
from psalm_bench.masks import RLE, MaskFormatError, to_rle

from psalm_bench.specs import PROMPTS  # the task's prompt types, defined once

PROMPT_KEYS = {prompt: f"{prompt}_visual_prompt_mask" for prompt in PROMPTS}


@dataclass(slots=True)
class InteractiveAnnotation:
    """One instance: its mask as compressed RLE, the raw polygons (kept for
    the ``psalm`` protocol's cv2 rasterisation), and its four prompts
    (compressed RLE, or None for an empty / absent prompt).

    The polygons are kept as float64 arrays, 8 bytes a coordinate instead of
    a list of Python floats' 32 (3.2M coordinates at 5000 images: 102 MB)."""

    id: int
    iscrowd: bool
    rle: RLE
    polygon_coords: tuple[array, ...] | None
    prompts: dict[str, RLE | None]

    @property
    def polygons(self) -> list[list[float]] | None:
        """The polygons as lists of coordinates, as the file gave them (ints as floats)."""
        return None if self.polygon_coords is None else [coords.tolist() for coords in self.polygon_coords]


@dataclass
class InteractiveImage:
    image_id: int  # image_info.id, the COCO image id
    height: int
    width: int
    file_name: str
    new_img_id: Any
    anns: list[InteractiveAnnotation] = field(default_factory=list)


@dataclass
class InteractiveGT:
    path: Path | None
    images: list[InteractiveImage]
    # ann id -> (position of its image in ``images``, position in its anns)
    ann_index: dict[int, tuple[int, int]]

    def n_instances(self) -> int:
        return len(self.ann_index)


@dataclass
class InteractivePredictions:
    """Validated prediction masks keyed by (ann_id, prompt)."""

    path: Path | None
    masks: dict[tuple[int, str], RLE]
    n_extra: int = 0  # lines for unknown annotations, skipped under ignore_extra


def prediction_record(image_id: int, ann_id: int, prompt: str, segmentation: Any) -> dict[str, Any]:
    """One prediction line (FORMATS.md), keyed by the COCO image id and the
    annotation id; written by psalm_bench.formats.jsonl.write_jsonl."""
    return {"image_id": image_id, "ann_id": ann_id, "prompt": prompt, "segmentation": segmentation}


def _require_int(value: Any, what: str, file: Path | None, record: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be an integer, got {value!r}", file=file, record=record)
    return value


def _convert(segmentation: Any, height: int, width: int, what: str, file: Path | None, record: str) -> RLE:
    try:
        rle = to_rle(segmentation, height, width)  # counts checked exactly (masks.first_bad_counts)
    except MaskFormatError as exc:
        raise InputError(f"{what}: {exc}", file=file, record=record) from None
    except (TypeError, ValueError, OverflowError) as exc:  # pycocotools on odd input
        raise InputError(f"{what}: malformed mask ({exc})", file=file, record=record) from None
    return rle


def load_interactive_gt(path: str | Path) -> InteractiveGT:
    """Load and validate a COCO-Interactive JSON."""
    path = Path(path)
    # one image record parsed at a time: the 57 MB file of 5000 images peaked
    # at 432 MB inside orjson's whole-document parse
    return interactive_gt_from_list(load_json_pieces(path), path)


def interactive_gt_from_list(data: Any, path: Path | None = None) -> InteractiveGT:
    if not isinstance(data, (list, JsonArray)):
        raise InputError("COCO-Interactive ground truth must be a JSON list of image records", file=path)
    images: list[InteractiveImage] = []
    ann_index: dict[int, tuple[int, int]] = {}
    seen_images: set[int] = set()
    for position, raw in enumerate(data):
        record = f"record {position}"
        if not isinstance(raw, dict):
            raise InputError("image record must be an object", file=path, record=record)
        info = raw.get("image_info")
        if not isinstance(info, dict):
            raise InputError("missing 'image_info' (the COCO image record)", file=path, record=record)
        image_id = _require_int(info.get("id"), "image_info.id", path, record)
        record = f"image {image_id}"
        height = _require_int(info.get("height"), "image_info.height", path, record)
        width = _require_int(info.get("width"), "image_info.width", path, record)
        if height <= 0 or width <= 0:
            raise InputError(f"image size {height}x{width} is not positive", file=path, record=record)
        if image_id in seen_images:
            raise InputError("image listed twice", file=path, record=record)
        seen_images.add(image_id)
        raw_anns = raw.get("anns")
        if not isinstance(raw_anns, list):
            raise InputError("'anns' must be a list of annotations", file=path, record=record)
        image = InteractiveImage(image_id, height, width, str(raw.get("image", info.get("file_name", ""))), raw.get("new_img_id"))
        for k, ann in enumerate(raw_anns):
            image.anns.append(_parse_annotation(ann, k, image, path))
            ann_id = image.anns[-1].id
            if ann_id in ann_index:
                raise InputError("annotation id listed twice", file=path, record=f"annotation {ann_id}")
            ann_index[ann_id] = (len(images), k)
        images.append(image)
    return InteractiveGT(path, images, ann_index)


def _parse_annotation(ann: Any, k: int, image: InteractiveImage, path: Path | None) -> InteractiveAnnotation:
    if not isinstance(ann, dict):
        raise InputError("annotation must be an object", file=path, record=f"image {image.image_id}, anns[{k}]")
    ann_id = _require_int(ann.get("id"), "annotation id", path, f"image {image.image_id}, anns[{k}]")
    record = f"annotation {ann_id} (image {image.image_id})"
    owner = ann.get("image_id", image.image_id)
    if owner != image.image_id:
        raise InputError(f"image_id {owner!r} differs from its record's image_info.id {image.image_id}", file=path, record=record)
    # PSALM's coco_instance_mapper keeps `obj.get("iscrowd", 0) == 0`: any other value is a crowd, dropped
    crowd = ann.get("iscrowd", 0) != 0
    if "segmentation" not in ann:
        raise InputError("missing 'segmentation'", file=path, record=record)
    segmentation = ann["segmentation"]
    rle = _convert(segmentation, image.height, image.width, "segmentation", path, record)
    # valid polygons by now (to_rle checked them): lists of finite numbers
    polygons = tuple(array("d", polygon) for polygon in segmentation) if isinstance(segmentation, list) else None
    prompts: dict[str, RLE | None] = {}
    for prompt, key in PROMPT_KEYS.items():
        if key not in ann:
            raise InputError(f"missing '{key}'", file=path, record=record)
        value = ann[key]
        prompts[prompt] = None if value is None else _convert(value, image.height, image.width, key, path, record)
    return InteractiveAnnotation(ann_id, crowd, rle, polygons, prompts)


def load_interactive_predictions(path: str | Path, gt: InteractiveGT, *, ignore_extra: bool = False) -> InteractivePredictions:
    """Read and validate the prediction JSONL against the ground truth."""
    path = Path(path)
    masks: dict[tuple[int, str], RLE] = {}
    first_line: dict[tuple[int, str], int] = {}
    n_extra = 0
    for number, line in read_jsonl(path):
        record = f"line {number}"
        for key in ("image_id", "ann_id", "prompt", "segmentation"):
            if key not in line:
                raise InputError(f"missing '{key}'", file=path, record=record)
        ann_id = _require_int(line["ann_id"], "ann_id", path, record)
        image_id = _require_int(line["image_id"], "image_id", path, record)
        prompt = line["prompt"]
        if prompt not in PROMPT_KEYS:
            raise InputError(f"prompt {prompt!r} is not one of {', '.join(PROMPTS)}", file=path, record=record)
        record = f"line {number} (ann_id {ann_id}, {prompt})"
        where = gt.ann_index.get(ann_id)
        if where is None:
            if ignore_extra:
                n_extra += 1
                continue
            raise InputError(f"ann_id {ann_id} is not in the ground truth (use --ignore-extra to skip such lines)", file=path, record=record)
        image = gt.images[where[0]]
        if image_id != image.image_id:
            raise InputError(
                f"image_id {image_id} is not the image of annotation {ann_id} (image_info.id {image.image_id}); "
                "predictions are keyed by the COCO image id, not new_img_id",
                file=path,
                record=record,
            )
        key = (ann_id, prompt)
        if key in first_line:
            raise InputError(f"duplicate prediction for (ann_id {ann_id}, {prompt}), first on line {first_line[key]}", file=path, record=record)
        first_line[key] = number
        masks[key] = _convert(line["segmentation"], image.height, image.width, "segmentation", path, f"{record}, image {image.image_id}")
    return InteractivePredictions(path, masks, n_extra)


__all__ = [
    "PROMPTS",
    "PROMPT_KEYS",
    "InteractiveAnnotation",
    "InteractiveImage",
    "InteractiveGT",
    "InteractivePredictions",
    "load_interactive_gt",
    "interactive_gt_from_list",
    "load_interactive_predictions",
    "prediction_record",
]
