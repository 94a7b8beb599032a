"""COCO panoptic segmentation: the JSON of segments plus a folder of id PNGs.

A panoptic JSON (ground truth or prediction) lists, per image, the PNG that
holds its segment ids (``id = R + 256 G + 256^2 B``; 0 is void, i.e.
unlabelled) and ``segments_info``: each segment's id and category, and for
the ground truth its ``area`` and ``iscrowd``. The PNG folder is the JSON's
path without ``.json`` unless it is named explicitly (FORMATS.md).

Loading validates the JSON completely, so evaluators receive records that
are consistent; what can only be checked against the pixels (ids in a PNG
that ``segments_info`` lacks, and the converse) is checked when a PNG is
decoded (:func:`read_frame` and the panoptic evaluator). Every problem is an
:class:`~psalm_bench.errors.InputError` that names the file, the record and
what is wrong.

A prediction JSON may carry ``images`` and ``categories`` (as detectron2
writes it) or only ``annotations``; categories always come from the ground
truth, as in panopticapi.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.jsonio import JsonArray, gc_paused, load_json_pieces
from psalm_bench.paths import inside, require_folder
from psalm_bench.pngdecode import panoptic_stream
from psalm_bench.pngio import read_panoptic_ids, read_png_bytes

#: Segment ids are 24-bit (three 8-bit PNG channels); 0 is void.
MAX_SEGMENT_ID = (1 << 24) - 1
VOID = 0


@dataclass(frozen=True)
class PanopticCategory:
    id: int
    name: str
    isthing: bool


@dataclass(slots=True)
class PanopticSegment:
    """One entry of ``segments_info``. ``area`` and ``iscrowd`` are read from
    the ground truth; a prediction's area is counted in its PNG instead.

    Slotted and not frozen: a frozen dataclass's ``__init__`` costs 3.5x
    (0.3 CPU-s for the 230,000 segments of 5000 GT + prediction images)."""

    id: int
    category_id: int
    area: float | None = None
    iscrowd: bool = False


@dataclass
class PanopticAnnotation:
    """One image's record: its PNG and its segments, in file order."""

    image_id: int
    file_name: str
    segments: list[PanopticSegment] = field(default_factory=list)


@dataclass
class PanopticDataset:
    """A validated panoptic JSON. ``images`` holds the per-image annotations
    in file order; ``categories`` maps id to category in file order (for a
    prediction: the ground truth's)."""

    path: Path
    png_dir: Path
    categories: dict[int, PanopticCategory]
    images: list[PanopticAnnotation]
    by_image: dict[int, PanopticAnnotation] = field(default_factory=dict)
    # A submission's PNGs may not be links out of its folder (psalm_bench/paths.py).
    untrusted: bool = False
    # prediction: image ids the ground truth lacks, dropped (panopticapi never reads them)
    extra_ids: list[int] = field(default_factory=list)
    # prediction: images or segments listed again identically, scored once
    repeats: list[str] = field(default_factory=list)
    # file_name -> its checked path (paths.inside resolves links: ~0.5 ms a name)
    _checked: dict[str, Path] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.by_image:
            self.by_image = {a.image_id: a for a in self.images}

    @property
    def annotations(self) -> list[PanopticAnnotation]:
        return self.images

    def png_path(self, annotation: PanopticAnnotation, *, plain_file: bool = False) -> Path:
        """The annotation's PNG, refused (InputError) if its name leaves the folder.

        ``plain_file``: the caller saw ``file_name`` in a listing of the folder
        as a file that is not a link, so resolving links cannot change where
        it points (only the name's own checks are run)."""
        name = annotation.file_name
        path = self._checked.get(name) if isinstance(name, str) else None
        if path is None and (plain_file or not self.untrusted) and _simple_name(name):
            path = self._checked[name] = self.png_dir / name  # what paths.inside returns for such a name
        if path is None:
            links = self.untrusted and not plain_file
            path = inside(self.png_dir, name, file=self.path, record=f"image {annotation.image_id}", links=links)
            if links or not self.untrusted:
                self._checked[name] = path
        return path


def _simple_name(name: Any) -> bool:
    """A file name paths.inside passes without a second look: one component,
    not '.' or '..', nothing a POSIX or Windows path reads as a root or drive."""
    return isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\:\x00")


# --------------------------------------------------------------------------
# decoded images


@dataclass
class PanopticFrame:
    """A decoded panoptic image: the HxW id map and its segments as arrays.

    ``segment_ids`` and ``category_ids`` are in ``segments_info`` order.
    ``dense``, when a reader computed it while decoding, is the per-pixel
    index map (0: id not in segments_info, 1: void, 2 + k: k-th segment) in
    the dtype of :func:`index_dtype`; ``ids`` may then be None (it is
    decoded again only to name an unknown id in an error).
    ``areas`` and ``iscrowd`` matter for the ground truth only: ``areas=None``
    means "count the pixels" (panopticapi takes GT areas from
    ``segments_info``, which :func:`read_frame` passes on). ``source`` and
    ``image_id`` only serve error messages.
    """

    ids: np.ndarray | None
    segment_ids: np.ndarray
    category_ids: np.ndarray
    areas: np.ndarray | None = None
    iscrowd: np.ndarray | None = None
    image_id: Any = None
    source: str | None = None
    dense: np.ndarray | None = None
    # the PNG's zlib stream, not yet inflated (IDAT, height, width, bpp): the
    # evaluator inflates two of these a few rows at a time and counts segment
    # pairs straight from the scanlines
    stream: tuple[bytes, int, int, int] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), from whichever form the frame holds."""
        if self.stream is not None:
            return (self.stream[1], self.stream[2])
        if self.dense is not None:
            return self.dense.shape[:2]
        return self.ids.shape[:2]  # type: ignore[union-attr]

    @classmethod
    def from_segments(
        cls,
        ids: np.ndarray,
        segments: Iterable[PanopticSegment | Mapping[str, Any]],
        *,
        image_id: Any = None,
        source: str | Path | None = None,
    ) -> PanopticFrame:
        """Build from an id map and ``segments_info`` (dataclasses or COCO dicts,
        e.g. a model's output inside a validation loop). Areas are taken from
        the segments when every one has one, else counted in ``ids``."""
        seg_ids: list[int] = []
        cats: list[int] = []
        areas: list[float] = []
        crowd: list[bool] = []
        have_area = True
        for seg in segments:
            if isinstance(seg, PanopticSegment):
                seg_ids.append(seg.id)
                cats.append(seg.category_id)
                area = seg.area
                crowd.append(bool(seg.iscrowd))
            else:
                seg_ids.append(int(seg["id"]))
                cats.append(int(seg["category_id"]))
                area = seg.get("area")
                crowd.append(seg.get("iscrowd", 0) == 1)
            if area is None:
                have_area = False
            else:
                areas.append(float(area))
        return cls(
            ids=np.asarray(ids),
            segment_ids=np.array(seg_ids, dtype=np.int64),
            category_ids=np.array(cats, dtype=np.int64),
            areas=np.array(areas, dtype=np.float64) if have_area else None,
            iscrowd=np.array(crowd, dtype=bool),
            image_id=image_id,
            source=str(source) if source is not None else None,
        )

    @property
    def record(self) -> str | None:
        return f"image {self.image_id}" if self.image_id is not None else None




def index_dtype(n_values: int) -> type:
    """The smallest unsigned dtype for dense indices 0 .. n_values - 1."""
    if n_values <= 1 << 8:
        return np.uint8
    if n_values <= 1 << 16:
        return np.uint16
    return np.uint32


def read_frame(png: str | Path, annotation: PanopticAnnotation, *, ground_truth: bool, expect: tuple[int, int] | None = None) -> PanopticFrame:
    """Read one image's PNG into a frame with its segments: its zlib stream,
    inflated later by the evaluator, where the fast decoder handles the PNG,
    else an id map.

    A missing or undecodable PNG, or one whose header is not ``expect``
    (height, width), is an InputError naming the PNG and the image.
    """
    segments = annotation.segments
    n = len(segments)
    seg_ids = np.fromiter((s.id for s in segments), dtype=np.int64, count=n)
    ids = stream = None
    try:
        data = read_png_bytes(png, expect)
        if 0 < n and int(seg_ids.max()) <= MAX_SEGMENT_ID and int(seg_ids.min()) > 0:
            stream = panoptic_stream(data)  # inflated later (pairs counted from the scanlines)
        if stream is None:
            ids = read_panoptic_ids(png)
    except InputError as exc:
        raise InputError(exc.problem, file=exc.file or png, record=f"image {annotation.image_id}") from None
    cats = np.fromiter((s.category_id for s in segments), dtype=np.int64, count=n)
    if ground_truth:
        areas = np.fromiter((s.area for s in segments), dtype=np.float64, count=n)
        crowd = np.fromiter((s.iscrowd for s in segments), dtype=bool, count=n)
    else:
        areas, crowd = None, np.zeros(n, dtype=bool)
    return PanopticFrame(ids, seg_ids, cats, areas, crowd, annotation.image_id, str(png), None, stream)


# --------------------------------------------------------------------------
# loading and validation


def default_png_dir(json_path: str | Path) -> Path:
    """The PNG folder of a panoptic JSON: its path without ``.json``."""
    json_path = Path(json_path)
    if json_path.suffix.lower() != ".json":
        raise InputError("cannot derive the PNG folder from a file name without .json; name the folder explicitly", file=json_path)
    return json_path.with_suffix("")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(obj: Any, key: str, what: str, file: Path, record: str) -> Any:
    if not isinstance(obj, dict):
        raise InputError(f"{what} must be a JSON object, got {type(obj).__name__}", file=file, record=record)
    if key not in obj:
        raise InputError(f"{what} has no '{key}'", file=file, record=record)
    return obj[key]


def _require_int(obj: dict, key: str, what: str, file: Path, record: str) -> int:
    value = _require(obj, key, what, file, record)
    if not _is_int(value):
        raise InputError(f"{what} '{key}' must be an integer, got {value!r}", file=file, record=record)
    return value


def _top_level(path: Path, keys: Sequence[str]) -> dict[str, Any]:
    # 'annotations' parsed one image at a time while it is checked: the whole
    # document tree of 5000 images' segments_info was the load's peak
    data = load_json_pieces(path, ("annotations",))
    if isinstance(data, JsonArray):
        data = list(data)  # not an object: only its type is named below
    if not isinstance(data, dict):
        raise InputError(f"expected a COCO panoptic JSON object, got a JSON {type(data).__name__}", file=path)
    for key in keys:
        if key not in data:
            raise InputError(f"missing top-level key '{key}'", file=path)
        if not isinstance(data[key], (list, JsonArray)):
            raise InputError(f"'{key}' must be a list, got {type(data[key]).__name__}", file=path)
    return data


def parse_categories(raw: Any, file: Path) -> dict[int, PanopticCategory]:
    if not isinstance(raw, list) or not raw:
        raise InputError("'categories' must be a non-empty list", file=file)
    categories: dict[int, PanopticCategory] = {}
    for i, cat in enumerate(raw):
        record = f"categories[{i}]"
        cat_id = _require_int(cat, "id", "category", file, record)
        record = f"category {cat_id}"
        name = cat.get("name")  # panopticapi never reads it
        name = str(cat_id) if name is None else str(name)
        isthing = _require(cat, "isthing", "category", file, record)
        if isthing not in (0, 1):  # True/False compare equal to 1/0
            raise InputError(f"category 'isthing' must be 0 or 1, got {isthing!r}", file=file, record=record)
        if cat_id in categories:
            raise InputError("category id listed twice", file=file, record=record)
        categories[cat_id] = PanopticCategory(cat_id, name, isthing == 1)
    return categories


def _parse_annotations(
    raw: list[Any] | JsonArray,
    file: Path,
    categories: Mapping[int, PanopticCategory],
    *,
    ground_truth: bool,
    category_source: str,
    repeats: list[str] | None = None,
) -> list[PanopticAnnotation]:
    """The annotations, checked. With ``repeats`` (a prediction), an image or
    a segment listed again identically is scored once and named in
    ``repeats``, as panopticapi's dicts keep one; listed again differently it
    is an error (panopticapi would silently keep the last)."""
    annotations: list[PanopticAnnotation] = []
    seen: dict[int, int] = {}  # image id -> its record's index (the record itself is not kept)
    for i, ann in enumerate(raw):
        image_id = _require_int(ann, "image_id", "annotation", file, f"annotations[{i}]")
        record = f"image {image_id}"
        if image_id in seen:
            if repeats is not None and ann == raw[seen[image_id]]:
                repeats.append(record)
                continue
            raise InputError("image listed twice in 'annotations'" + (" with different content" if repeats is not None else ""), file=file, record=record)
        seen[image_id] = i
        file_name = _require(ann, "file_name", "annotation", file, record)
        if not isinstance(file_name, str) or not file_name:
            raise InputError(f"'file_name' must be a non-empty string, got {file_name!r}", file=file, record=record)
        segments_info = _require(ann, "segments_info", "annotation", file, record)
        if not isinstance(segments_info, list):
            raise InputError(f"'segments_info' must be a list, got {type(segments_info).__name__}", file=file, record=record)
        segments: list[PanopticSegment] = []
        ids: dict[int, Any] = {}
        for j, seg in enumerate(segments_info):
            if type(seg) is dict:  # the common, well-formed segment: checked inline, no record string
                seg_id, cat_id = seg.get("id"), seg.get("category_id")
                if type(seg_id) is int and type(cat_id) is int and 0 < seg_id <= MAX_SEGMENT_ID and seg_id not in ids and cat_id in categories:
                    if not ground_truth:
                        ids[seg_id] = seg
                        segments.append(PanopticSegment(seg_id, cat_id))
                        continue
                    area, iscrowd = seg.get("area"), seg.get("iscrowd")
                    if (type(area) is int or type(area) is float) and area >= 0 and math.isfinite(area) and iscrowd in (0, 1):
                        ids[seg_id] = seg
                        segments.append(PanopticSegment(seg_id, cat_id, area, iscrowd == 1))
                        continue
            # anything else: the full checks, which name what is wrong
            seg_record = f"{record}, segments_info[{j}]"
            seg_id = _require_int(seg, "id", "segment", file, seg_record)
            seg_record = f"{record}, segment {seg_id}"
            if not 0 < seg_id <= MAX_SEGMENT_ID:
                raise InputError(f"segment id must be in 1..{MAX_SEGMENT_ID} (0 is void; ids are 24-bit RGB)", file=file, record=seg_record)
            if seg_id in ids:
                if repeats is not None and seg == ids[seg_id]:
                    repeats.append(seg_record)
                    continue
                raise InputError("segment id listed twice in segments_info" + (" with different content" if repeats is not None else ""), file=file, record=seg_record)
            ids[seg_id] = seg
            cat_id = _require_int(seg, "category_id", "segment", file, seg_record)
            if cat_id not in categories:
                raise InputError(f"category_id {cat_id} is not in the {category_source} categories", file=file, record=seg_record)
            if ground_truth:
                area = _require(seg, "area", "segment", file, seg_record)
                if isinstance(area, bool) or not isinstance(area, (int, float)) or not math.isfinite(area) or area < 0:
                    raise InputError(f"segment 'area' must be a non-negative number, got {area!r}", file=file, record=seg_record)
                iscrowd = _require(seg, "iscrowd", "segment", file, seg_record)
                if iscrowd not in (0, 1):
                    raise InputError(f"segment 'iscrowd' must be 0 or 1, got {iscrowd!r}", file=file, record=seg_record)
                segments.append(PanopticSegment(seg_id, cat_id, area, iscrowd == 1))
            else:
                segments.append(PanopticSegment(seg_id, cat_id))
        annotations.append(PanopticAnnotation(image_id, file_name, segments))
    return annotations



def _png_dir(json_path: Path, png_dir: str | Path | None, what: str) -> Path:
    folder = Path(png_dir) if png_dir is not None else default_png_dir(json_path)
    return require_folder(folder, f"{what} PNG")


def load_panoptic_gt(path: str | Path, png_dir: str | Path | None = None) -> PanopticDataset:
    """Load and validate a COCO panoptic ground truth JSON.

    Checks: the JSON parses; ``annotations`` and ``categories`` exist; every
    category has ``id`` and ``isthing``, ids unique (a missing ``name`` is the
    id, and ``images`` is not read, as in panopticapi); every
    annotation has ``image_id``, ``file_name`` and ``segments_info``, each
    image once; every segment has an ``id`` in 1..2^24-1 (unique within its
    image), a known ``category_id``, an ``area`` and ``iscrowd``; the PNG
    folder exists.
    """
    path = Path(path)
    with gc_paused():
        data = _top_level(path, ("annotations", "categories"))
        categories = parse_categories(data["categories"], path)
        images = _parse_annotations(data["annotations"], path, categories, ground_truth=True, category_source="ground truth's")
        del data
    return PanopticDataset(path, _png_dir(path, png_dir, "ground truth"), categories, images)


def load_panoptic_pred(
    path: str | Path,
    gt: PanopticDataset,
    png_dir: str | Path | None = None,
    *,
    ignore_extra: bool | None = None,
) -> PanopticDataset:
    """Load and validate a panoptic prediction JSON against its ground truth.

    Only ``annotations`` is read (``images`` and ``categories`` are ignored,
    as panopticapi ignores them; the categories used are the ground truth's).
    A prediction for an image the ground truth lacks is dropped and its id
    kept in ``extra_ids`` (panopticapi never reads it), or is an error with
    ``ignore_extra=False``; a segment whose category the ground truth lacks
    is an error.
    """
    path = Path(path)
    repeats: list[str] = []
    with gc_paused():
        data = _top_level(path, ("annotations",))
        images = _parse_annotations(data["annotations"], path, gt.categories, ground_truth=False, category_source="ground truth's", repeats=repeats)
        del data
    extra = [a for a in images if a.image_id not in gt.by_image]
    if extra:
        if ignore_extra is False:
            more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
            raise InputError(f"prediction for an image the ground truth does not have{more}", file=path, record=f"image {extra[0].image_id}")
        images = [a for a in images if a.image_id in gt.by_image]
    return PanopticDataset(path, _png_dir(path, png_dir, "prediction"), gt.categories, images, untrusted=True,
                           extra_ids=[a.image_id for a in extra], repeats=repeats)


def check_pngs_exist(dataset: PanopticDataset, annotations: Iterable[PanopticAnnotation] | None = None) -> None:
    """Stop before any work if a PNG is missing (one folder listing, no stat per file)."""
    try:
        # name -> a plain file, not a link (then a submission's name cannot lead out through one)
        present = {entry.name: not entry.is_symlink() and entry.is_file(follow_symlinks=False) for entry in os.scandir(dataset.png_dir)}
    except OSError as exc:
        raise InputError(f"cannot list PNG folder: {exc.strerror}", file=dataset.png_dir) from None
    for ann in dataset.images if annotations is None else annotations:
        name = ann.file_name
        plain = present.get(name, False) if isinstance(name, str) and "/" not in name and "\\" not in name else False
        path = dataset.png_path(ann, plain_file=plain)  # refuses names (and, for submissions, links) leaving the folder
        if plain:
            dataset._checked[name] = path  # a listed plain file: what resolving its links would accept
        if name in present:
            continue
        if ("/" in name or os.sep in name) and (dataset.png_dir / name).is_file():
            continue
        raise InputError("PNG file not found", file=dataset.png_dir / name, record=f"image {ann.image_id}")



def load_panoptic_image_files(path: str | Path) -> dict[int, str]:
    """Image id -> ``file_name`` of the JSON's ``images`` (the photos the PNGs
    segment), for a viewer that draws them; empty when the JSON has none.

    Not part of the checked dataset because panopticapi never reads ``images``
    (:func:`load_panoptic_gt` does not either); ``annotations`` is left unparsed."""
    path = Path(path)
    data = load_json_pieces(path, ("annotations",))
    if not isinstance(data, dict):
        kind = "list" if isinstance(data, JsonArray) else type(data).__name__
        raise InputError(f"expected a COCO panoptic JSON object, got a JSON {kind}", file=path)
    images = data.get("images", [])
    if not isinstance(images, list):
        raise InputError(f"'images' must be a list, got {type(images).__name__}", file=path)
    files: dict[int, str] = {}
    for i, image in enumerate(images):
        image_id = _require_int(image, "id", "image", path, f"images[{i}]")
        name = image.get("file_name", "")
        if not isinstance(name, str):
            raise InputError(f"image 'file_name' must be a string, got {name!r}", file=path, record=f"image {image_id}")
        files[image_id] = name  # listed twice: the last, as a dict of the list keeps
    return files
