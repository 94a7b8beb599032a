"""Ego-Exo4D correspondence: IoU, visibility, location error, contour accuracy.

The numbers are those of EGO4D/ego-exo4d-relation
``correspondence/evaluation/evaluate_egoexo.py`` and ``evaluate_exoego.py``
(docs/correspondence.md names the function behind each):

- Samples: per object, exo camera and query-view annotated frame that the
  target view's ``annotated_frames`` lists. The object is visible there when
  the target camera has a mask for the frame.
- ``VA`` (visibility accuracy): balanced accuracy (sklearn
  ``balanced_accuracy_score``: the mean recall of the classes present in the
  ground truth) of "visible" against ``confidence > 0.5``, over all samples.
- Over the visible samples only, with the GT mask first resized so its longer
  side is 480 (``reshape_img_nopad``, cv2 nearest; the prediction must already
  be at that size):
  ``IoU`` = I / (U + 1e-7), 1 when U = 0 (``db_eval_iou``);
  ``CA`` (contour accuracy, the official ``ShapeAcc``) = the DAVIS boundary
  F-measure at 0.008 of the diagonal (``db_eval_boundary``);
  ``LE`` (location error, the official ``LocationScores``) = the distance
  between the centres of the two masks' boxes divided by the diagonal of a
  480 x 480 frame (``location_score``; an empty mask's "centre" is the
  official one of the padded frame, x = 3h // 2 - h, y = (w + 2h) // 2 - h).
- Each is the mean over samples, in percent, per direction: ``EgoExo_*`` and
  ``ExoEgo_*``; a direction not scored reports null.

Protocols: ``egoexo`` (default, the current official code) and ``native``
(the first release, Jan 2024: no resize, IoU = I / U).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import math

import cv2
import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.evaluators.base import Evaluator
from psalm_bench.evaluators.vos import FrameScorer
from psalm_bench.formats.egoexo import DIRECTIONS, EVAL_MAX_DIM, CorrespondenceSample, eval_size, load_egoexo_gt, load_egoexo_predictions, pair_predictions
from psalm_bench.masks import decode
from psalm_bench.results import EvalResult
from psalm_bench.specs import CONF_THRESH, CORRESPONDENCE_PREFIX, LOCATION_NORM
from psalm_bench.specs import CORRESPONDENCE as SPEC

PROTOCOLS = SPEC.protocols
PREFIX = CORRESPONDENCE_PREFIX
METRICS = list(SPEC.metrics)


# ---------------------------------------------------------------------------
# Per-frame measures


def reshape_nopad(mask: np.ndarray, max_dim: int = EVAL_MAX_DIM) -> np.ndarray:
    """The longer side resized to ``max_dim``, nearest neighbour (cv2), as the official GT."""
    new_h, new_w = eval_size(mask.shape[0], mask.shape[1], max_dim)
    if new_h == 0 or new_w == 0:
        raise ValueError(f"a {mask.shape[0]}x{mask.shape[1]} mask resizes to {new_h}x{new_w}")
    return cv2.resize(mask, (new_w, new_h), interpolation=cv2.INTER_NEAREST)


def iou(gt: np.ndarray, pred: np.ndarray, *, eps: float = 1e-7) -> float:
    """``db_eval_iou`` on one frame: I / (U + eps), 1 when U is 0."""
    inter = int(np.count_nonzero(gt & pred))
    union = int(np.count_nonzero(gt | pred))
    if union == 0:
        return 1.0
    return float(np.float64(inter) / (np.float64(union) + eps))


def box_centre(mask: np.ndarray) -> tuple[int, int]:
    """The (x, y) the official ``crop_mask`` compares, in unpadded pixels.

    ``crop_mask`` pads the mask by h on every side; the centre of a non-empty
    mask is ((left + right) // 2, (top + bottom) // 2) of its box; an empty one
    gets (H // 2, W // 2) of the padded frame as (x, y) (sic)."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return (3 * h) // 2 - h, (w + 2 * h) // 2 - h
    return (int(xs.min()) + int(xs.max()) + 2 * h) // 2 - h, (int(ys.min()) + int(ys.max()) + 2 * h) // 2 - h


def location_error(gt: np.ndarray, pred: np.ndarray) -> float:
    """``location_score``: centre distance over the 480 x 480 diagonal."""
    gx, gy = box_centre(gt)
    px, py = box_centre(pred)
    return float(np.sqrt((gx - px) ** 2 + (gy - py) ** 2) / LOCATION_NORM)


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """sklearn ``balanced_accuracy_score``: mean recall over the classes the
    ground truth holds (a class only predicted is dropped, as sklearn does)."""
    recalls = []
    for label in (0, 1):
        support = truth == label
        if support.any():
            recalls.append(float(np.count_nonzero(predicted[support] == label)) / float(np.count_nonzero(support)))
    return float(np.mean(recalls)) if recalls else float("nan")


# ---------------------------------------------------------------------------
# The evaluator

COLUMNS = ("direction", "take", "object", "query_cam", "target_cam", "frame", "visible", "pred_visible", "confidence", "IoU", "CA", "LE")


class CorrespondenceEvaluator(Evaluator[CorrespondenceSample, None]):
    """Keeps one record per scored frame (visible or not); merges by appending."""

    task = "correspondence"

    def __init__(self, protocol: str = "egoexo"):
        SPEC.check_protocol(protocol)
        self.protocol = protocol
        self.records: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        self._scorers: dict[tuple[int, int], FrameScorer] = {}  # scratch, not state

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_scorers": {}}

    def config(self) -> dict[str, Any]:
        return {"protocol": self.protocol}

    def _f_measure(self, gt: np.ndarray, pred: np.ndarray) -> float:
        scorer = self._scorers.get(gt.shape)
        if scorer is None:
            scorer = self._scorers[gt.shape] = FrameScorer(*gt.shape)
        return scorer.score(np.ascontiguousarray(gt), np.ascontiguousarray(pred), [1])[1][0]

    def update(self, gt: CorrespondenceSample, pred: None = None) -> None:
        """Score the frames of one object's view pair."""
        s = gt
        rec = self.records
        for case in s.frames:
            where = f"{s.direction}, take {s.take}, object {s.obj}, pair {s.pair}, frame {case.frame}"
            visible = case.gt is not None
            scores = (float("nan"), float("nan"), float("nan"))
            if visible:
                g = decode(case.gt)
                if self.protocol == "egoexo":
                    try:
                        g = reshape_nopad(g)
                    except ValueError as exc:
                        raise InputError(str(exc), record=where) from None
                g = np.ascontiguousarray(g, dtype=np.uint8)
                if case.pred is None:
                    p = np.zeros_like(g)
                else:
                    size = case.pred["size"]
                    if (size[0], size[1]) != g.shape:
                        at = "the evaluation size (longer side 480, as evaluate_egoexo.py)" if self.protocol == "egoexo" else "the ground truth's"
                        raise InputError(f"predicted mask is {size[0]}x{size[1]}, {at} is {g.shape[0]}x{g.shape[1]}", record=where)
                    p = np.ascontiguousarray(decode(case.pred), dtype=np.uint8)
                scores = (iou(g, p, eps=1e-7 if self.protocol == "egoexo" else 0.0), self._f_measure(g, p), location_error(g, p))
            rec["direction"].append(s.direction)
            rec["take"].append(s.take)
            rec["object"].append(s.obj)
            rec["query_cam"].append(s.query_cam)
            rec["target_cam"].append(s.target_cam)
            rec["frame"].append(case.frame)
            rec["visible"].append(visible)
            rec["pred_visible"].append(case.confidence > CONF_THRESH)
            rec["confidence"].append(case.confidence)
            rec["IoU"].append(scores[0])
            rec["CA"].append(scores[1])
            rec["LE"].append(scores[2])

    def merge(self, other: "CorrespondenceEvaluator") -> "CorrespondenceEvaluator":
        for name in COLUMNS:
            self.records[name].extend(other.records[name])
        return self

    def compute(self) -> EvalResult:
        rec = self.records
        direction = np.asarray(rec["direction"], dtype=object)
        visible = np.asarray(rec["visible"], dtype=bool)
        pred_visible = np.asarray(rec["pred_visible"], dtype=bool)
        values = {m: np.asarray(rec[m], dtype=np.float64) for m in ("IoU", "CA", "LE")}
        metrics: dict[str, float | None] = {name: None for name in METRICS}
        breakdown: dict[str, dict[str, Any]] = {}
        counts: dict[str, int] = {}
        for d in DIRECTIONS:
            rows = direction == d
            counts[d] = int(np.count_nonzero(rows))
            if not counts[d]:
                continue
            shown = rows & visible
            prefix = PREFIX[d]
            metrics[f"{prefix}_VA"] = balanced_accuracy(visible[rows], pred_visible[rows]) * 100.0
            for m in ("IoU", "LE", "CA"):
                metrics[f"{prefix}_{m}"] = _mean(values[m][shown]) * 100.0 if shown.any() else None
            takes = np.asarray(rec["take"], dtype=object)
            for take in dict.fromkeys(takes[rows].tolist()):
                sel = rows & (takes == take)
                vis = sel & visible
                breakdown[f"{d} {take}"] = {
                    "IoU": _mean(values["IoU"][vis]) * 100.0 if vis.any() else None,
                    "CA": _mean(values["CA"][vis]) * 100.0 if vis.any() else None,
                    "LE": _mean(values["LE"][vis]) * 100.0 if vis.any() else None,
                    "visible": int(np.count_nonzero(vis)),
                    "frames": int(np.count_nonzero(sel)),
                }
        records = {name: list(rec[name]) for name in COLUMNS[:9]}
        records.update({m: values[m] for m in ("IoU", "CA", "LE")})
        return EvalResult(
            task=self.task,
            metrics=metrics,
            n_samples=len(rec["frame"]),
            params={"protocol": self.protocol, "conf_thresh": CONF_THRESH, "samples": counts,
                    "visible": {d: int(np.count_nonzero((direction == d) & visible)) for d in DIRECTIONS}},
            breakdown_name="per_sequence",
            breakdown=breakdown,
            records=records,
        )


def _mean(values: np.ndarray) -> float:
    """Exactly rounded mean: shards merged in any order give the same bits."""
    return math.fsum(values.tolist()) / len(values)


def _load(sample: CorrespondenceSample) -> tuple[CorrespondenceSample, None]:
    return sample, None


def evaluate_correspondence(
    gt: str | Path,
    pred: str | Path,
    *,
    split: str | None = None,
    protocol: str = "egoexo",
    strict: bool = False,
    ignore_extra: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> EvalResult:
    """Score an Ego-Exo4D correspondence result file; ``split`` picks one
    direction (ego-exo or exo-ego), default every direction the file holds."""
    from psalm_bench.parallel import run_sharded

    SPEC.check_protocol(protocol)
    if split is not None and split not in DIRECTIONS:
        raise InputError(f"--split for correspondence is a direction, {' or '.join(DIRECTIONS)}; got {split!r}")
    truth = load_egoexo_gt(gt)
    preds = load_egoexo_predictions(pred)
    pairing = pair_predictions(truth, preds, directions=[split] if split else None, pred_path=Path(pred), ignore_extra=ignore_extra, strict=strict)
    evaluator = CorrespondenceEvaluator(protocol)
    try:
        run_sharded(evaluator, pairing.samples, _load, workers=workers, desc="correspondence", progress=progress)
    except InputError as exc:
        if exc.file is None:
            raise InputError(exc.problem, file=pred, record=exc.record) from None
        raise
    result = evaluator.compute()
    for d in pairing.directions:
        if pairing.missing.get(d):
            result.warnings.append(f"{pairing.missing[d]} {d} frame(s) missing from the predictions, scored as an empty mask with confidence 0 "
                                   f"(first: {pairing.first_missing[d]}); --strict stops instead")
    if pairing.no_subsample:
        result.warnings.append(f"{', '.join(pairing.no_subsample)} results lack 'subsample_idx' in some take; the official scripts refuse such a file")
    result.params["directions"] = pairing.directions
    return result


__all__ = ["CorrespondenceEvaluator", "evaluate_correspondence", "eval_size", "reshape_nopad", "iou", "box_centre", "location_error",
           "balanced_accuracy", "METRICS", "PROTOCOLS"]
