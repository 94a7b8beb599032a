"""Referring-segmentation data: REFER (RefCOCO, RefCOCO+, RefCOCOg), gRefCOCO,
and the JSON Lines prediction files both tasks score (FORMATS.md).

Ground truth, in the layouts users already have on disk:

- REFER: ``refs(SPLITBY).p`` (or the same list as ``refs(SPLITBY).json``) and
  ``instances.json`` in one folder. ``gt`` is that folder, or a parent holding
  ``refcoco/``, ``refcoco+/`` and ``refcocog/`` (the REFER repo's ``data/``).
  Default split-bys: ``unc`` for refcoco and refcoco+, ``umd`` for refcocog.
- gRefCOCO: ``grefs(unc).json`` and ``instances.json`` in one folder, or in
  ``grefcoco/`` below ``gt`` (ReLA's ``datasets/``). A ref with
  ``ann_id == [-1]`` has no target.

``refs(*).p`` is a pickle written by Python 2. It is read by an unpickler that
refuses every global (so no class, no function, nothing that could run code):
only the plain containers, strings and numbers pickle builds by itself get
through. Python 2 ``str`` values (protocol-0 or -2 pickles written by the
REFER tools) are decoded as UTF-8, or as Latin-1 when the file holds text
that is not UTF-8.

A target mask is the union of the ref's annotation masks, crowd annotations
left out, decoded the way pycocotools' ``annToRLE`` does (polygons of one
annotation merged). Everything travels as compressed RLE; the counts strings
of RLEs read from a file are checked to cover exactly their image, so a
corrupt string is an error naming its record, never a crash in pycocotools.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pycocotools import mask as mask_api

from psalm_bench.errors import InputError
from psalm_bench.formats.coco import CocoInstances, ImageInfo, load_instances
from psalm_bench.formats.jsonl import read_jsonl
from psalm_bench.jsonio import load_json, write_atomic
from psalm_bench.masks import RLE, MaskFormatError, first_bad_counts, polygons_to_rle, to_rle

DATASETS: dict[str, str] = {"refcoco": "unc", "refcoco+": "unc", "refcocog": "umd"}
SPLIT_BYS = ("unc", "umd", "google")
GREF_FILE = "grefs(unc).json"
NO_TARGET = -1


# ---------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class Ref:
    """One referred object (or, in gRefCOCO, object set or nothing)."""

    ref_id: int
    image_id: int
    ann_ids: tuple[int, ...]  # empty: no target (gRefCOCO ``ann_id == [-1]``)
    split: str
    sent_ids: tuple[int, ...]

    @property
    def no_target(self) -> bool:
        return not self.ann_ids


@dataclass
class ReferDataset:
    """Validated refs of one file and the instances their masks come from."""

    refs_path: Path
    instances: CocoInstances
    refs: list[Ref]
    kind: str  # "refer" or "grefer"
    _ann_index: dict[int, dict[str, Any]] | None = field(default=None, init=False, repr=False)

    @property
    def instances_path(self) -> Path | None:
        return self.instances.path

    def splits(self) -> list[str]:
        return sorted({ref.split for ref in self.refs})

    def split_refs(self, split: str) -> list[Ref]:
        """The refs of ``split``, validated against the instances (an unknown
        image or annotation is an error); an unknown split is an error."""
        chosen = [ref for ref in self.refs if ref.split == split]
        if not chosen:
            raise InputError(f"no refs in split {split!r} (splits here: {', '.join(self.splits()) or 'none'})", file=self.refs_path)
        annotations = self.annotations_by_id()
        for ref in chosen:
            record = f"ref {ref.ref_id}"
            if ref.image_id not in self.instances.images:
                raise InputError(f"image_id {ref.image_id} is not in {_name(self.instances_path)}", file=self.refs_path, record=record)
            for ann_id in ref.ann_ids:
                ann = annotations.get(ann_id)
                if ann is None:
                    raise InputError(f"ann_id {ann_id} is not in {_name(self.instances_path)}", file=self.refs_path, record=record)
                if ann["image_id"] != ref.image_id:
                    raise InputError(f"ann_id {ann_id} belongs to image {ann['image_id']}, not to the ref's image {ref.image_id}", file=self.refs_path, record=record)
        return chosen

    def annotations_by_id(self) -> dict[int, dict[str, Any]]:
        if self._ann_index is None:
            self._ann_index = {ann["id"]: ann for ann in self.instances.annotations}
        return self._ann_index

    def image_of(self, ref: Ref) -> ImageInfo:
        return self.instances.images[ref.image_id]

    def target_masks(self, refs: list[Ref], *, rasterizer: str = "pycocotools") -> dict[int, RLE]:
        """Each ref's target mask (ref_id -> compressed RLE with bytes counts),
        computed once per ref: the union of its non-crowd annotation masks; an
        empty mask of the image's size where none is left (or no target).

        ``rasterizer="cv2"`` fills polygons as PSALM's scripts do
        (``cv2.fillPoly`` on vertices truncated to int32); RLE annotations are
        the same either way.
        """
        annotations = self.annotations_by_id()
        masks: dict[int, RLE] = {}  # annotation id -> its mask, converted once
        from_file: list[int] = []  # compressed RLEs read from the file: counts checked before any use
        for ref in refs:
            image = self.image_of(ref)
            for ann_id in ref.ann_ids:
                ann = annotations[ann_id]
                if ann.get("iscrowd", 0) or ann_id in masks:
                    continue  # a crowd region never belongs to a referring target
                segmentation = ann["segmentation"]
                record = f"annotation {ann_id} (image {image.id})"
                try:
                    if isinstance(segmentation, list):
                        masks[ann_id] = polygons_to_rle(segmentation, image.height, image.width, rasterizer)
                    else:
                        masks[ann_id] = to_rle(segmentation, image.height, image.width)
                except MaskFormatError as exc:
                    raise InputError(str(exc), file=self.instances_path, record=record) from None
                except UnicodeEncodeError:
                    raise InputError("RLE counts string holds a character outside the COCO alphabet", file=self.instances_path, record=record) from None
                if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), str):
                    from_file.append(ann_id)
        bad = first_bad_counts([masks[ann_id] for ann_id in from_file])
        if bad is not None:
            ann_id = from_file[bad[0]]
            image_id = annotations[ann_id]["image_id"]
            raise InputError(bad[1], file=self.instances_path, record=f"annotation {ann_id} (image {image_id})")
        targets: dict[int, RLE] = {}
        for ref in refs:
            parts = [masks[ann_id] for ann_id in ref.ann_ids if ann_id in masks]
            if not parts:
                image = self.image_of(ref)
                targets[ref.ref_id] = empty_rle(image.height, image.width)
            elif len(parts) == 1:
                targets[ref.ref_id] = parts[0]
            else:
                targets[ref.ref_id] = mask_api.merge(parts, intersect=False)
        return targets


def _name(path: Path | None) -> str:
    return path.name if path is not None else "the instances"


def empty_rle(height: int, width: int) -> RLE:
    return mask_api.encode(np.zeros((height, width, 1), dtype=np.uint8, order="F"))[0]


# ---------------------------------------------------------------------------
# Pickles that cannot run code


class _PlainUnpickler(pickle.Unpickler):
    """Admits only what pickle builds without looking anything up: lists,
    dicts, tuples, sets, strings, bytes, numbers, booleans, None."""

    def find_class(self, module: str, name: str) -> Any:
        raise _Refused(f"{module}.{name}")


class _Refused(pickle.UnpicklingError):
    def __init__(self, what: str):
        self.what = what
        super().__init__(what)


def load_plain_pickle(path: str | Path) -> Any:
    """Unpickle ``path`` admitting only plain containers, strings and numbers;
    anything else (a class, a function, a persistent id) is an InputError and
    never runs. Python 2 ``str`` values become ``str`` (UTF-8; Latin-1 if the
    file holds any that is not UTF-8)."""
    path = Path(path)
    data = _read_bytes(path)
    for encoding in ("utf-8", "latin-1"):  # how Python 2 str values are decoded
        try:
            return _PlainUnpickler(io.BytesIO(data), encoding=encoding).load()
        except _Refused as exc:
            raise InputError(
                f"refused: the pickle asks for {exc.what!r}; only plain lists, dicts, strings and numbers are read from a refs file",
                file=path,
            ) from None
        except UnicodeDecodeError:
            continue  # Python 2 str holding bytes that are not UTF-8: read them as Latin-1
        except Exception as exc:  # truncated or garbled data raises many kinds
            raise InputError(f"not a readable pickle ({type(exc).__name__}: {exc})", file=path) from None
    raise InputError("not a readable pickle (text in no known encoding)", file=path)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None


# ---------------------------------------------------------------------------
# Finding and loading the ground truth


def find_refer_files(gt: str | Path, dataset: str = "refcoco", split_by: str | None = None) -> tuple[Path, Path]:
    """(refs file, instances.json) of ``dataset`` under ``gt``: the dataset
    folder itself, a parent holding one folder per dataset, or the refs file."""
    if dataset not in DATASETS:
        raise InputError(f"unknown --dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    split_by = split_by or DATASETS[dataset]
    if split_by not in SPLIT_BYS:
        raise InputError(f"unknown --split-by {split_by!r}; choose one of {', '.join(SPLIT_BYS)}")
    gt = Path(gt)
    names = [f"refs({split_by}).p", f"refs({split_by}).json"]
    if gt.is_file():
        if gt.name not in names:
            raise InputError(f"expected a REFER folder or a file named {' or '.join(names)}", file=gt)
        refs = gt
    elif gt.is_dir():
        folders = [gt / dataset, gt] if (gt / dataset).is_dir() else [gt]
        if folders[-1] is gt and gt.name in DATASETS and gt.name != dataset and not (gt / dataset).is_dir():
            raise InputError(f"this is the {gt.name} folder but --dataset is {dataset}", file=gt)
        found = [folder / name for folder in folders for name in names if (folder / name).is_file()]
        if not found:
            where = " or ".join(str(f) for f in folders)
            raise InputError(f"no {' or '.join(names)} in {where} (a REFER dataset folder, or its parent holding {', '.join(DATASETS)})", file=gt)
        refs = found[0]
    else:
        raise InputError("ground-truth folder not found", file=gt)
    instances = refs.parent / "instances.json"
    if not instances.is_file():
        raise InputError("file not found (REFER keeps it beside the refs file)", file=instances)
    return refs, instances


def find_grefer_files(gt: str | Path) -> tuple[Path, Path]:
    """(grefs(unc).json, instances.json) in ``gt`` or ``gt/grefcoco``."""
    gt = Path(gt)
    if gt.is_file():
        if gt.name != GREF_FILE:
            raise InputError(f"expected a gRefCOCO folder or a file named {GREF_FILE}", file=gt)
        refs = gt
    elif gt.is_dir():
        candidates = [gt / GREF_FILE, gt / "grefcoco" / GREF_FILE]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise InputError(f"no {GREF_FILE} here or in grefcoco/ below it", file=gt)
        refs = found[0]
    else:
        raise InputError("ground-truth folder not found", file=gt)
    instances = refs.parent / "instances.json"
    if not instances.is_file():
        raise InputError("file not found (gRefCOCO keeps it beside grefs(unc).json)", file=instances)
    return refs, instances


def load_refs_file(path: str | Path) -> list[Any]:
    """The raw list of ref records of a ``.p`` (safe unpickling) or ``.json`` file."""
    path = Path(path)
    raw = load_plain_pickle(path) if path.suffix == ".p" else load_json(path)
    if not isinstance(raw, list):
        raise InputError(f"expected a list of refs, got {type(raw).__name__}", file=path)
    return raw


def write_refs_file(path: str | Path, refs: list[Any]) -> Path:
    """Ref records as :func:`load_refs_file` reads them: ``.p`` a protocol-2
    pickle (as REFER's tools write it, readable by Python 2), ``.json``
    compact JSON (gRefCOCO's ``grefs(unc).json``); written atomically."""
    path = Path(path)
    data = pickle.dumps(refs, protocol=2) if path.suffix == ".p" else orjson.dumps(refs)
    write_atomic(path, data)
    return path


def load_refer(gt: str | Path, dataset: str = "refcoco", split_by: str | None = None) -> ReferDataset:
    """RefCOCO / RefCOCO+ / RefCOCOg: refs with one annotation each."""
    refs_path, instances_path = find_refer_files(gt, dataset, split_by)
    refs = parse_refs(load_refs_file(refs_path), refs_path, gref=False)
    return ReferDataset(refs_path, load_instances(instances_path, check_boxes=False), refs, "refer")


def load_grefer(gt: str | Path) -> ReferDataset:
    """gRefCOCO: refs with a list of annotations, ``[-1]`` for no target."""
    refs_path, instances_path = find_grefer_files(gt)
    refs = parse_refs(load_refs_file(refs_path), refs_path, gref=True)
    return ReferDataset(refs_path, load_instances(instances_path, check_boxes=False), refs, "grefer")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_refs(raw: list[Any], path: Path, *, gref: bool) -> list[Ref]:
    """Validate ref records: ids are integers, sentence ids unique across the
    file, ``ann_id`` an id (or, gRefCOCO, a list of ids, ``[-1]`` alone for no
    target)."""
    refs: list[Ref] = []
    ref_ids: set[int] = set()
    sentence_owner: dict[int, int] = {}
    for index, rec in enumerate(raw):
        if not isinstance(rec, dict):
            raise InputError("ref must be a dict", file=path, record=f"refs[{index}]")
        ref_id = rec.get("ref_id")
        if not _int(ref_id):
            raise InputError(f"ref_id must be an integer, got {ref_id!r}", file=path, record=f"refs[{index}]")
        record = f"ref {ref_id}"
        if ref_id in ref_ids:
            raise InputError("ref_id listed twice", file=path, record=record)
        ref_ids.add(ref_id)
        image_id = rec.get("image_id")
        if not _int(image_id):
            raise InputError(f"image_id must be an integer, got {image_id!r}", file=path, record=record)
        split = rec.get("split")
        if not isinstance(split, str):
            raise InputError(f"split must be a string, got {split!r}", file=path, record=record)
        ann_ids = _ann_ids(rec.get("ann_id"), gref, path, record)
        no_target_flag = rec.get("no_target")
        if gref and isinstance(no_target_flag, bool) and no_target_flag != (not ann_ids):
            raise InputError(f"no_target is {no_target_flag} but ann_id is {rec.get('ann_id')!r}", file=path, record=record)
        sent_ids = _sent_ids(rec, path, record)
        for sent_id in sent_ids:
            owner = sentence_owner.get(sent_id)
            if owner is not None:
                raise InputError(f"sent_id {sent_id} is also a sentence of ref {owner}", file=path, record=record)
            sentence_owner[sent_id] = ref_id
        refs.append(Ref(ref_id, image_id, ann_ids, split, sent_ids))
    return refs


def _ann_ids(value: Any, gref: bool, path: Path, record: str) -> tuple[int, ...]:
    if _int(value) and not gref:
        return (value,)
    if isinstance(value, list) and value and all(_int(v) for v in value):
        if NO_TARGET in value:
            if not gref:
                raise InputError("ann_id -1 (no target) is a gRefCOCO convention; REFER refs have a target", file=path, record=record)
            if len(value) > 1:
                raise InputError(f"ann_id {value!r} mixes -1 (no target) with annotation ids", file=path, record=record)
            return ()
        return tuple(dict.fromkeys(value))
    expected = "a non-empty list of annotation ids ([-1] for no target)" if gref else "an annotation id"
    raise InputError(f"ann_id must be {expected}, got {value!r}", file=path, record=record)


def _sent_ids(rec: dict[str, Any], path: Path, record: str) -> tuple[int, ...]:
    sent_ids = rec.get("sent_ids")
    if sent_ids is None:
        sentences = rec.get("sentences")
        if not isinstance(sentences, list):
            raise InputError("ref has neither 'sent_ids' nor 'sentences'", file=path, record=record)
        sent_ids = [s.get("sent_id") if isinstance(s, dict) else None for s in sentences]
    if not isinstance(sent_ids, list) or not sent_ids or not all(_int(s) for s in sent_ids):
        raise InputError(f"sent_ids must be a non-empty list of integers, got {sent_ids!r}", file=path, record=record)
    if len(set(sent_ids)) != len(sent_ids):
        raise InputError(f"sent_ids {sent_ids!r} lists a sentence twice", file=path, record=record)
    return tuple(sent_ids)


# ---------------------------------------------------------------------------
# Predictions (JSON Lines)


def prediction_record(sent_id: int, segmentation: Any, no_target: bool | None = None) -> dict[str, Any]:
    """One prediction line (FORMATS.md): ``no_target`` only where the model
    decides it (gRefCOCO); written by psalm_bench.formats.jsonl.write_jsonl."""
    record = {"sent_id": sent_id, "segmentation": segmentation}
    if no_target is not None:
        record["no_target"] = bool(no_target)
    return record


@dataclass(frozen=True, slots=True)
class Prediction:
    """One prediction line, validated: the mask as compressed RLE (bytes
    counts; None when the line gives none) and the optional no-target flag."""

    sent_id: int
    mask: RLE | None
    no_target: bool | None
    line: int


@dataclass
class Predictions:
    path: Path
    by_sentence: dict[int, Prediction]
    n_extra: int  # lines skipped under ignore_extra (sentences the split lacks)
    extra_example: int | None = None


def read_predictions(
    path: str | Path,
    sentences: dict[int, ImageInfo],
    *,
    split: str,
    other_splits: dict[int, str] | None = None,
    allow_no_target: bool = False,
    ignore_extra: bool = False,
) -> Predictions:
    """Read ``{"sent_id", "segmentation", ["no_target"]}`` lines.

    ``sentences`` maps the evaluated split's sentence ids to their image. A
    line for a sentence outside it is an error unless ``ignore_extra``; a
    sent_id given twice, a mask of the wrong size or malformed, or (gref) a
    non-boolean ``no_target`` is always an error. Polygons and uncompressed
    RLE are converted to compressed RLE here.
    """
    path = Path(path)
    other_splits = other_splits or {}
    by_sentence: dict[int, Prediction] = {}
    n_extra = 0
    extra_example = None
    compressed: list[tuple[RLE, int, int]] = []  # (rle, line, sent_id): counts checked in one pass
    for number, rec in read_jsonl(path):
        sent_id = rec.get("sent_id")
        if not _int(sent_id):
            raise InputError(f"'sent_id' must be an integer, got {sent_id!r}", file=path, record=f"line {number}")
        record = f"line {number} (sent_id {sent_id})"
        earlier = by_sentence.get(sent_id)
        if earlier is not None:
            raise InputError(f"sent_id given twice (first on line {earlier.line})", file=path, record=record)
        image = sentences.get(sent_id)
        if image is None:
            if ignore_extra:
                n_extra += 1
                extra_example = sent_id if extra_example is None else extra_example
                continue
            where = f"is in split {other_splits[sent_id]!r}, not {split!r}" if sent_id in other_splits else "is not in the ground truth"
            raise InputError(f"sent_id {where} (use --ignore-extra to skip such lines)", file=path, record=record)
        no_target = rec.get("no_target")
        if no_target is not None:
            if not allow_no_target:
                no_target = None  # meaningful for gref only; other keys are ignored too
            elif not isinstance(no_target, bool):
                raise InputError(f"'no_target' must be true or false, got {no_target!r}", file=path, record=record)
        segmentation = rec.get("segmentation")
        mask: RLE | None
        if segmentation is None:
            if not (allow_no_target and no_target is True):
                need = "'segmentation' (an RLE, or polygons)" + (", or \"no_target\": true" if allow_no_target else "")
                raise InputError(f"missing {need}", file=path, record=record)
            mask = None
        else:
            counts = segmentation.get("counts") if isinstance(segmentation, dict) else None
            size = segmentation.get("size") if isinstance(segmentation, dict) else None
            if type(counts) is str and type(size) is list and len(size) == 2:
                if size[0] != image.height or size[1] != image.width:
                    raise InputError(f"mask size {size[0]}x{size[1]} differs from image size {image.height}x{image.width}", file=path, record=f"{record} (image {image.id})")
                if not counts.isascii():
                    raise InputError("RLE counts string holds a character outside the COCO alphabet", file=path, record=record)
                mask = {"size": [image.height, image.width], "counts": counts.encode("ascii")}
                compressed.append((mask, number, sent_id))
            else:
                try:
                    mask = to_rle(segmentation, image.height, image.width)
                except MaskFormatError as exc:
                    raise InputError(str(exc), file=path, record=f"{record} (image {image.id})") from None
                except Exception as exc:  # pycocotools on odd input
                    raise InputError(f"segmentation not understood ({exc})", file=path, record=f"{record} (image {image.id})") from None
                if isinstance(counts, bytes):
                    compressed.append((mask, number, sent_id))
        by_sentence[sent_id] = Prediction(sent_id, mask, no_target, number)
    bad = first_bad_counts([rle for rle, _, _ in compressed])
    if bad is not None:
        index, problem = bad
        _, number, sent_id = compressed[index]
        raise InputError(problem, file=path, record=f"line {number} (sent_id {sent_id})")
    return Predictions(path, by_sentence, n_extra, extra_example)


def sentence_images(dataset: ReferDataset, refs: Iterable[Ref]) -> dict[int, ImageInfo]:
    """sent_id -> image of the evaluated refs."""
    images = dataset.instances.images
    return {sent_id: images[ref.image_id] for ref in refs for sent_id in ref.sent_ids}


def sentence_splits(dataset: ReferDataset) -> dict[int, str]:
    return {sent_id: ref.split for ref in dataset.refs for sent_id in ref.sent_ids}


__all__ = [
    "DATASETS",
    "SPLIT_BYS",
    "Prediction",
    "Predictions",
    "Ref",
    "ReferDataset",
    "empty_rle",
    "find_grefer_files",
    "find_refer_files",
    "first_bad_counts",
    "load_grefer",
    "load_plain_pickle",
    "load_refer",
    "load_refs_file",
    "parse_refs",
    "read_predictions",
    "sentence_images",
    "sentence_splits",
]
