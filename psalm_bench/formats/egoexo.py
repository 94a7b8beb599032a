"""Ego-Exo4D correspondence: the benchmark's ground-truth and result JSON.

Both layouts are those of EGO4D/ego-exo4d-relation ``correspondence/evaluation``
(docs/correspondence.md has the sources).

Ground truth (``process_annotations.py`` output, ``correspondence-gt.json``)::

    {"version": str, "challenge": str,
     "annotations": {TAKE: {"masks": {OBJ: {CAM: {FRAME: RLE}}},
                            "subsample_idx": [int, ...],
                            "annotated_frames": {OBJ: {CAM: [int, ...]}}}}}

A camera whose name contains ``aria`` is the ego view (one per object at
most); the others are exo views. A frame listed in a camera's
``annotated_frames`` but absent from its ``masks`` is one where the object is
not visible in that view.

Predictions (one file may hold both directions)::

    {"ego-exo" | "exo-ego": {"version", "challenge",
       "results": {TAKE: {"masks": {OBJ: {"QUERY_TARGET": {FRAME:
                     {"pred_mask": RLE, "confidence": float}}}},
                          "subsample_idx": [...]}}}}

``QUERY_TARGET`` is ``{ego}_{exo}`` for ego-exo and ``{exo}_{ego}`` for
exo-ego; ``confidence`` is the predicted probability that the object is
visible in the target view. The samples of a direction are, per object and
exo camera, the frames annotated in the query view's ``masks`` that the
target camera's ``annotated_frames`` lists (``evaluate_take``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError
from psalm_bench.jsonio import dump_json, load_json
from psalm_bench.masks import RLE, MaskFormatError, first_bad_counts, to_rle
from psalm_bench.specs import DIRECTIONS  # the task's directions, defined once

EGO_MARK = "aria"  # the official test for an ego camera: 'aria' in its name
EVAL_MAX_DIM = 480  # utils.reshape_img_nopad: GT masks are scored with their longer side at 480


def eval_size(height: int, width: int, max_dim: int = EVAL_MAX_DIM) -> tuple[int, int]:
    """The size a prediction for a target view of this size must have:
    ``reshape_img_nopad``'s output size, with its float arithmetic."""
    ratio = 1.0 / height * max_dim if height > width else 1.0 / width * max_dim
    return int(height * ratio), int(width * ratio)


@dataclass(frozen=True)
class FrameCase:
    """One scored frame: the target view's GT mask (None: not visible), the
    predicted mask (None: the prediction file lacks the frame) and the
    predicted visibility confidence."""

    frame: str
    gt: RLE | None
    pred: RLE | None
    confidence: float


@dataclass(frozen=True)
class CorrespondenceSample:
    """The frames of one object seen from a query camera into a target camera."""

    direction: str
    take: str
    obj: str
    query_cam: str
    target_cam: str
    frames: tuple[FrameCase, ...]

    @property
    def pair(self) -> str:
        return f"{self.query_cam}_{self.target_cam}"


@dataclass(frozen=True)
class EgoExoTake:
    masks: dict[str, dict[str, dict[str, RLE]]]  # object -> camera -> frame -> RLE (as read)
    annotated: dict[str, dict[str, frozenset[int]]]  # object -> camera -> annotated frame indices
    subsample_idx: list[int]


@dataclass(frozen=True)
class EgoExoGT:
    path: Path | None
    version: Any
    challenge: Any
    takes: dict[str, EgoExoTake]


@dataclass(frozen=True)
class Pairing:
    """Samples of the directions scored, and what the pairing noticed."""

    samples: list[CorrespondenceSample]
    directions: list[str]
    missing: dict[str, int]  # direction -> frames the prediction lacks
    first_missing: dict[str, str]
    no_subsample: list[str]  # directions whose takes lack 'subsample_idx'


def is_ego(cam: str) -> bool:
    return EGO_MARK in cam


def _dict(value: Any, what: str, file: Path | None, record: str | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object, got {type(value).__name__}", file=file, record=record)
    return value


def _ego_cam(cams: dict[str, Any], file: Path | None, record: str) -> str | None:
    ego = [cam for cam in cams if is_ego(cam)]
    if len(ego) > 1:  # evaluate_take: assert len(ego_cams) == 1
        raise InputError(f"object has {len(ego)} ego ('aria') cameras ({', '.join(ego)}); the benchmark allows one", file=file, record=record)
    return ego[0] if ego else None


def _frame_index(frame: str, file: Path | None, record: str) -> int:
    try:
        return int(frame)
    except ValueError:
        raise InputError(f"frame key {frame!r} is not an integer frame index", file=file, record=record) from None


def load_egoexo_gt(path: str | Path) -> EgoExoGT:
    """Read and validate ``correspondence-gt.json``."""
    path = Path(path)
    return egoexo_gt_from_dict(load_json(path), path)


def egoexo_gt_from_dict(data: Any, path: Path | None = None) -> EgoExoGT:
    data = _dict(data, "the ground-truth file", path, None)
    if "annotations" not in data:
        raise InputError("no 'annotations' key (expected process_annotations.py output)", file=path)
    annotations = _dict(data["annotations"], "'annotations'", path, None)
    takes: dict[str, EgoExoTake] = {}
    rles: list[RLE] = []
    where: list[str] = []
    for take, record in annotations.items():
        rec = f"take {take}"
        record = _dict(record, "a take", path, rec)
        for key in ("masks", "annotated_frames"):
            if key not in record:
                raise InputError(f"no {key!r}", file=path, record=rec)
        masks = _dict(record["masks"], "'masks'", path, rec)
        annotated_raw = _dict(record["annotated_frames"], "'annotated_frames'", path, rec)
        annotated: dict[str, dict[str, frozenset[int]]] = {}
        parsed: dict[str, dict[str, dict[str, RLE]]] = {}
        for obj, cams in masks.items():
            orec = f"take {take}, object {obj}"
            cams = _dict(cams, "an object's cameras", path, orec)
            ego = _ego_cam(cams, path, orec)
            parsed[obj] = {}
            for cam, frames in cams.items():
                crec = f"{orec}, camera {cam}"
                frames = _dict(frames, "a camera's frames", path, crec)
                for frame, rle in frames.items():
                    _frame_index(frame, path, crec)
                    rles.append(rle)
                    where.append(f"{crec}, frame {frame}")
                parsed[obj][cam] = frames
            if ego is None or len(cams) < 2:
                continue  # never scored (evaluate_take skips it)
            listed = annotated_raw.get(obj)
            if not isinstance(listed, dict):
                raise InputError("object has masks but no 'annotated_frames' entry", file=path, record=orec)
            annotated[obj] = {}
            for cam in cams:
                frames_listed = listed.get(cam)
                if not isinstance(frames_listed, list) or not all(type(v) is int for v in frames_listed):
                    raise InputError("'annotated_frames' must list the camera's annotated frame indices (integers)", file=path, record=f"{orec}, camera {cam}")
                annotated[obj][cam] = frozenset(frames_listed)
        subsample = record.get("subsample_idx", [])
        takes[str(take)] = EgoExoTake(parsed, annotated, subsample if isinstance(subsample, list) else [])
    _check_rles(rles, where, path)
    return EgoExoGT(path, data.get("version"), data.get("challenge"), takes)


def _check_rles(rles: list[Any], where: list[str], path: Path | None) -> None:
    """One exact pass over every RLE before pycocotools decodes any of them."""
    for k, rle in enumerate(rles):
        if not isinstance(rle, dict) or "counts" not in rle or "size" not in rle:
            raise InputError("mask must be a COCO RLE with 'size' and 'counts'", file=path, record=where[k])
    bad = first_bad_counts(rles)
    if bad is not None:
        raise InputError(bad[1], file=path, record=where[bad[0]])


def _compressed(rle: RLE, path: Path | None, record: str) -> RLE:
    """Compressed RLE (list counts are converted, as FORMATS.md accepts them)."""
    size = rle["size"]
    if isinstance(rle["counts"], list):
        try:
            return to_rle(rle, size[0], size[1])
        except MaskFormatError as exc:
            raise InputError(str(exc), file=path, record=record) from None
    counts = rle["counts"]
    return {"size": [size[0], size[1]], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def load_egoexo_predictions(path: str | Path) -> dict[str, Any]:
    """Read a result file; the directions it holds, still raw (pair_predictions validates)."""
    path = Path(path)
    data = _dict(load_json(path), "the prediction file", path, None)
    held = [d for d in DIRECTIONS if d in data]
    if not held:
        raise InputError(f"holds neither {' nor '.join(repr(d) for d in DIRECTIONS)} (the benchmark's result layout)", file=path)
    out: dict[str, Any] = {}
    for direction in held:
        block = _dict(data[direction], f"{direction!r}", path, direction)
        if "results" not in block:
            raise InputError("no 'results'", file=path, record=direction)
        out[direction] = _dict(block["results"], "'results'", path, direction)
    return out


def _pair_key(direction: str, ego: str, exo: str) -> tuple[str, str, str]:
    """(query camera, target camera, result key) of one object's view pair."""
    if direction == "ego-exo":
        return ego, exo, f"{ego}_{exo}"
    return exo, ego, f"{exo}_{ego}"


_NOT_IN_GT = "the ground truth does not have (--ignore-extra skips such)"


@dataclass
class _Pairer:
    """The walk of pair_predictions, one method per level of the result file
    (direction, take, object, view pair), so each level's checks read apart.
    The RLEs are collected and checked in one pass at the end."""

    gt: EgoExoGT
    pred_path: Path | None
    ignore_extra: bool
    strict: bool
    samples: list[CorrespondenceSample] = field(default_factory=list)
    missing: dict[str, int] = field(default_factory=dict)
    first_missing: dict[str, str] = field(default_factory=dict)
    no_subsample: list[str] = field(default_factory=list)
    check_rles: list[Any] = field(default_factory=list)
    check_where: list[str] = field(default_factory=list)

    def _refuse_extra(self, extra: list[str], what: str, which: str, record: str) -> None:
        if extra and not self.ignore_extra:
            raise InputError(f"prediction for {what} {extra[0]!r}, which {which}", file=self.pred_path, record=record)

    def direction(self, direction: str, results: dict[str, Any]) -> None:
        self._refuse_extra([take for take in results if take not in self.gt.takes], "take", _NOT_IN_GT, direction)
        self.missing[direction] = 0
        lacks_subsample = False
        for take, take_gt in self.gt.takes.items():
            lacks_subsample |= self.take(direction, take, take_gt, results.get(take))
        if lacks_subsample:
            self.no_subsample.append(direction)

    def take(self, direction: str, take: str, take_gt: EgoExoTake, take_pred: Any) -> bool:
        """Pair one take's objects; True when its results lack 'subsample_idx'."""
        trec = f"{direction}, take {take}"
        lacks_subsample = False
        pred_masks: dict[str, Any] = {}
        if take_pred is not None:
            take_pred = _dict(take_pred, "a take's results", self.pred_path, trec)
            lacks_subsample = "subsample_idx" not in take_pred
            if "masks" not in take_pred:
                raise InputError("no 'masks'", file=self.pred_path, record=trec)
            pred_masks = _dict(take_pred["masks"], "'masks'", self.pred_path, trec)
        self._refuse_extra([obj for obj in pred_masks if obj not in take_gt.masks], "object", _NOT_IN_GT, trec)
        for obj, cams in take_gt.masks.items():
            ego = next((cam for cam in cams if is_ego(cam)), None)
            if ego is not None:
                self.object(direction, take, take_gt, obj, ego, _dict(pred_masks.get(obj, {}), "an object's results", self.pred_path, f"{trec}, object {obj}"))
        return lacks_subsample

    def object(self, direction: str, take: str, take_gt: EgoExoTake, obj: str, ego: str, obj_pred: dict[str, Any]) -> None:
        orec = f"{direction}, take {take}, object {obj}"
        cams = take_gt.masks[obj]
        keys = {_pair_key(direction, ego, exo)[2]: exo for exo in cams if exo != ego}
        self._refuse_extra([key for key in obj_pred if key not in keys], "view pair",
                           f"the ground truth's cameras do not form (expected {' or '.join(sorted(keys))})", orec)
        for key, exo in keys.items():
            query, target, _ = _pair_key(direction, ego, exo)
            prec = f"{orec}, pair {key}"
            frames_pred = _dict(obj_pred.get(key, {}), "a view pair's frames", self.pred_path, prec)
            cases = self.frames(direction, prec, cams[query], cams[target], take_gt.annotated[obj][target], frames_pred)
            if cases:
                self.samples.append(CorrespondenceSample(direction, take, obj, query, target, tuple(cases)))

    def frames(self, direction: str, prec: str, query_masks: dict[str, Any], target_masks: dict[str, Any], annotated: frozenset[int],
               frames_pred: dict[str, Any]) -> list[FrameCase]:
        """The scored frames of one view pair: those of the query view the target camera annotates."""
        cases = []
        for frame in query_masks:
            if int(frame) not in annotated:
                continue
            frec = f"{prec}, frame {frame}"
            gt_rle = target_masks.get(frame)
            entry = frames_pred.get(frame)
            if entry is None:
                if self.strict:
                    raise InputError("prediction missing (--strict)", file=self.pred_path, record=frec)
                self.missing[direction] += 1
                self.first_missing.setdefault(direction, frec)
                cases.append(FrameCase(frame, gt_rle, None, 0.0))
                continue
            entry = _dict(entry, "a frame's prediction", self.pred_path, frec)
            for field_name in ("pred_mask", "confidence"):
                if field_name not in entry:
                    raise InputError(f"no {field_name!r}", file=self.pred_path, record=frec)
            confidence = entry["confidence"]
            if not isinstance(confidence, (int, float)) or not math.isfinite(confidence):
                raise InputError(f"'confidence' must be a finite number, got {confidence!r}", file=self.pred_path, record=frec)
            self.check_rles.append(entry["pred_mask"])
            self.check_where.append(frec)
            cases.append(FrameCase(frame, gt_rle, entry["pred_mask"], float(confidence)))
        return cases


def pair_predictions(gt: EgoExoGT, preds: dict[str, Any], *, directions: list[str] | None = None, pred_path: Path | None = None,
                     ignore_extra: bool = False, strict: bool = False) -> Pairing:
    """Match each scored frame of each direction with its prediction."""
    wanted = list(directions) if directions else [d for d in DIRECTIONS if d in preds]
    pairer = _Pairer(gt, pred_path, ignore_extra, strict)
    for direction in wanted:
        if direction not in preds:
            raise InputError(f"holds no {direction!r} results", file=pred_path)
        pairer.direction(direction, preds[direction])
    _check_rles(pairer.check_rles, pairer.check_where, pred_path)
    return Pairing(_compress_all(pairer.samples, gt.path, pred_path), wanted, pairer.missing, pairer.first_missing, pairer.no_subsample)


def _compress_all(samples: list[CorrespondenceSample], gt_path: Path | None, pred_path: Path | None) -> list[CorrespondenceSample]:
    out = []
    for s in samples:
        rec = f"{s.direction}, take {s.take}, object {s.obj}, pair {s.pair}"
        frames = tuple(
            FrameCase(f.frame,
                      None if f.gt is None else _compressed(f.gt, gt_path, f"{rec}, frame {f.frame}"),
                      None if f.pred is None else _compressed(f.pred, pred_path, f"{rec}, frame {f.frame}"),
                      f.confidence)
            for f in s.frames
        )
        out.append(CorrespondenceSample(s.direction, s.take, s.obj, s.query_cam, s.target_cam, frames))
    return out


# ---------------------------------------------------------------------------
# Writing (the synthetic world, baselines and the model use these)


def write_egoexo_gt(path: str | Path, takes: dict[str, dict[str, Any]], *, version: str = "xx", challenge: str = "xx") -> None:
    """``takes``: take -> {"masks", "subsample_idx", "annotated_frames"}, already JSON-ready."""
    dump_json({"version": version, "challenge": challenge, "annotations": takes}, path)


def write_egoexo_predictions(path: str | Path, results: dict[str, dict[str, Any]], *, version: str = "xx", challenge: str = "correspondence") -> None:
    """``results``: direction -> take -> {"masks", "subsample_idx"}."""
    dump_json({direction: {"version": version, "challenge": challenge, "results": results[direction]} for direction in DIRECTIONS if direction in results}, path)


__all__ = ["DIRECTIONS", "EVAL_MAX_DIM", "eval_size", "FrameCase", "CorrespondenceSample", "EgoExoGT", "EgoExoTake", "Pairing", "is_ego", "load_egoexo_gt", "egoexo_gt_from_dict",
           "load_egoexo_predictions", "pair_predictions", "write_egoexo_gt", "write_egoexo_predictions"]
