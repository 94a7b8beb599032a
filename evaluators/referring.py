"""Referring segmentation: RefCOCO/+/g (``refcoco``) and gRefCOCO (``gref``).

Every sample has an intersection I and a union U of its predicted and target
masks, counted on the run lengths of the two RLEs (pycocotools' merge and
area: nothing is decoded). Each ref's target mask (the union of its non-crowd
annotation masks) is built once, however many sentences share it. Then

- cIoU = sum I / sum U (null when no sample has a union),
- gIoU = mean per-sample IoU,
- refcoco: Pr@k = share of samples with IoU >= k, k in 0.5 .. 0.9,
- gref: N-acc = TP / (TP + FN) over no-target samples, T-acc = TN / (TN + FP)
  over target samples (null when the split has none of that kind),

all in percent. Each sample is kept as a :class:`SampleRecord` (sent_id,
ref_id, I, U, IoU; for gref the no-target flags) in ``EvalResult.records``.

Protocols (``protocol=``, recorded in ``params["protocol"]``), refcoco:

- ``lisa`` (default): one sample per sentence, as LISA, ReLA, GLaMM and
  PixelLM evaluate; an empty target predicted empty (U = 0) counts IoU 1.
- ``mmdet``: per sentence, but U = 0 counts IoU 0 (mmdet ``RefSegMetric``).
- ``psalm``: PSALM's released scripts: one sample per *ref* (PSALM joins all
  of a ref's sentences into one instruction), scored with the prediction line
  of the ref's first sentence (its first ``sent_ids`` entry; lines for its
  other sentences are not used, with a warning); ground-truth polygons are
  filled with ``cv2.fillPoly`` on vertices truncated to int32; IoU = I / (U +
  1e-5), 1 where U = 0; cIoU = sum I / (sum U + 1e-10).

gref (a prediction is "no target" when its line says ``"no_target": true``,
or, without that key, when its mask is empty or the line is missing):

- ``rela`` (default): ReLA's GRES evaluator. No-target GT predicted no-target:
  IoU 1, I = U = 0, a TP. No-target GT with a target prediction: IoU 0, U =
  the prediction's area, an FN. Target GT predicted no-target: I = 0, U =
  |prediction | target|, an FP. Otherwise IoU = I / U (0 where U = 0), a TN.
- ``gsva``: as ``rela``, but a target sample predicted no-target keeps its
  mask's I (GSVA's ``[REJ]`` does not zero the mask): still an FP.
- ``psalm``: PSALM's ``eval_grefcoco.py``: it never predicts "no target", so
  the ``no_target`` flags are ignored and the mask is scored as it is; one
  sample per ref (first sentence's line), cv2 polygons, IoU = I / (U + 1e-5),
  1 where U = 0, cIoU with + 1e-10. PSALM computes neither N-acc nor T-acc:
  both null.

A sample with no prediction line scores as an empty mask; the count is in
``warnings``. A line for a sentence the split lacks is an error unless
``ignore_extra``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_api

from psalm_bench.errors import InputError
from psalm_bench.evaluators.base import Evaluator, check_protocol, point, ratio
from psalm_bench.formats.refer import (
    Predictions,
    Ref,
    ReferDataset,
    load_grefer,
    load_refer,
    read_predictions,
    sentence_images,
    sentence_splits,
)
from psalm_bench.masks import RLE, intersection_union
from psalm_bench.parallel import run_sharded
from psalm_bench.results import EvalResult
from psalm_bench.specs import GREF as GREF_SPEC
from psalm_bench.specs import PSALM_CIOU_EPS, PSALM_EPS
from psalm_bench.specs import REFCOCO as REFCOCO_SPEC

REFCOCO_METRICS = list(REFCOCO_SPEC.metrics)
GREF_METRICS = list(GREF_SPEC.metrics)
PR_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)  # literals, as ReLA: IoU >= k counts
REFCOCO_PROTOCOLS = REFCOCO_SPEC.protocols
GREF_PROTOCOLS = GREF_SPEC.protocols
# columns of the summed records: refcoco I, U, IoU, then one count per Pr@ threshold;
# gref I, U, IoU, then the no-target confusion TP, FN, TN, FP (pred no-target on a no-target sample is a TP)
REFCOCO_SUMS = ("I", "U", "IoU", *(f"IoU>={k}" for k in PR_THRESHOLDS))
GREF_SUMS = ("I", "U", "IoU", "nt_tp", "nt_fn", "nt_tn", "nt_fp")


def referring_metrics(task: str, sums: np.ndarray, n: np.ndarray, protocol: str) -> dict[str, np.ndarray]:
    """Every metric of refcoco or gref from summed records (rows of ``REFCOCO_SUMS`` /
    ``GREF_SUMS``) and sample counts ``n``; NaN where undefined. ``compute()`` passes one
    row of exact sums, the report's bootstrap one row per resample."""
    S = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    n = np.asarray(n, dtype=np.float64).reshape(-1)
    if protocol == "psalm":
        ciou = np.where(S[:, 1] > 0, 100.0 * (S[:, 0] / (S[:, 1] + PSALM_CIOU_EPS)), np.nan)
    else:
        ciou = 100.0 * ratio(S[:, 0], S[:, 1])
    out = {"cIoU": ciou, "gIoU": 100.0 * ratio(S[:, 2], n)}
    if task == "refcoco":
        for j, k in enumerate(PR_THRESHOLDS):
            out[f"Pr@{k}"] = 100.0 * ratio(S[:, 3 + j], n)
    elif protocol == "psalm":  # PSALM's eval_grefcoco.py computes no N-acc / T-acc
        out["N-acc"] = out["T-acc"] = np.full(len(n), np.nan)
    else:
        tp, fn, tn, fp = S[:, 3], S[:, 4], S[:, 5], S[:, 6]
        out["N-acc"] = 100.0 * ratio(tp, tp + fn)
        out["T-acc"] = 100.0 * ratio(tn, tn + fp)
    return out


# ---------------------------------------------------------------------------
# Samples and records


@dataclass(frozen=True, slots=True)
class ReferringGT:
    """One sample's ground truth: the target mask of its ref (compressed RLE;
    empty, or None, when there is no target)."""

    sent_id: int
    ref_id: int
    mask: RLE | None
    no_target: bool = False


@dataclass(frozen=True, slots=True)
class ReferringPred:
    """One sample's prediction: a mask (None: no mask at all) and, for gref,
    the line's explicit ``no_target`` flag (None: not given)."""

    mask: RLE | np.ndarray | None = None
    no_target: bool | None = None


@dataclass(slots=True)
class SampleRecord:
    """What one sample contributed; enough to recompute every metric (and to
    bootstrap them). ``gt_no_target``/``pred_no_target`` are set for gref."""

    sent_id: int
    ref_id: int
    I: int
    U: int
    IoU: float
    gt_no_target: bool | None = None
    pred_no_target: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _as_rle(mask: RLE | np.ndarray | None) -> RLE | None:
    if mask is None or isinstance(mask, dict):
        return mask
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {array.shape}")
    return mask_api.encode(np.asfortranarray(array.astype(np.uint8, copy=False) != 0, dtype=np.uint8))


def _area(mask: RLE | None) -> int:
    return 0 if mask is None else int(mask_api.area(mask))


def _intersection_union(gt: RLE | None, pred: RLE | None) -> tuple[int, int]:
    if pred is None:
        return 0, _area(gt)
    if gt is None:
        return 0, _area(pred)
    if list(gt["size"]) != list(pred["size"]):
        raise InputError(f"sentence mask size {pred['size'][0]}x{pred['size'][1]} differs from its target's {gt['size'][0]}x{gt['size'][1]}")
    return intersection_union(gt, pred)


# ---------------------------------------------------------------------------
# Evaluators


class _ReferringEvaluator(Evaluator[ReferringGT, ReferringPred]):
    protocols: tuple[str, ...] = ()

    def __init__(self, protocol: str):
        check_protocol(self.task, protocol, self.protocols)
        self.protocol = protocol
        self.records: list[SampleRecord] = []

    def config(self) -> dict[str, Any]:
        return {"protocol": self.protocol}

    def merge(self, other: "_ReferringEvaluator") -> "_ReferringEvaluator":
        self.records.extend(other.records)
        return self

    def _common_sums(self) -> list[float]:
        """I, U and IoU summed (IoU exactly, with fsum)."""
        records = self.records
        return [float(sum(r.I for r in records)), float(sum(r.U for r in records)), math.fsum(r.IoU for r in records)]


class RefcocoEvaluator(_ReferringEvaluator):
    """cIoU, gIoU and Pr@0.5..0.9 over referring samples."""

    task = "refcoco"
    protocols = REFCOCO_PROTOCOLS

    def __init__(self, protocol: str = "lisa"):
        super().__init__(protocol)

    def update(self, gt: ReferringGT, pred: ReferringPred) -> None:
        inter, union = _intersection_union(_as_rle(gt.mask), _as_rle(pred.mask))
        if union == 0:
            iou = 0.0 if self.protocol == "mmdet" else 1.0
        elif self.protocol == "psalm":
            iou = inter / (union + PSALM_EPS)
        else:
            iou = inter / union
        self.records.append(SampleRecord(gt.sent_id, gt.ref_id, inter, union, iou))

    def compute(self) -> EvalResult:
        n = len(self.records)
        sums = self._common_sums() + [float(sum(1 for r in self.records if r.IoU >= k)) for k in PR_THRESHOLDS]
        metrics = point(referring_metrics(self.task, np.asarray([sums]), np.asarray([n]), self.protocol), REFCOCO_METRICS)
        return EvalResult(
            task=self.task,
            metrics=metrics,
            n_samples=n,
            params={"protocol": self.protocol},
            records=self.records,
        )


class GrefEvaluator(_ReferringEvaluator):
    """cIoU, gIoU, N-acc and T-acc over generalized referring samples."""

    task = "gref"
    protocols = GREF_PROTOCOLS

    def __init__(self, protocol: str = "rela"):
        super().__init__(protocol)

    def update(self, gt: ReferringGT, pred: ReferringPred) -> None:
        pred_mask = _as_rle(pred.mask)
        gt_mask = _as_rle(gt.mask)
        if pred.no_target is not None:
            pred_nt = bool(pred.no_target)
        else:
            pred_nt = _area(pred_mask) == 0
        if self.protocol == "psalm":
            inter, union = _intersection_union(gt_mask, pred_mask)
            iou = 1.0 if union == 0 else inter / (union + PSALM_EPS)
        elif gt.no_target:
            if pred_nt:  # TP: the mask is not looked at
                inter, union, iou = 0, 0, 1.0
            else:  # FN: the predicted area widens the union
                inter, union, iou = 0, _area(pred_mask), 0.0
        else:
            inter, union = _intersection_union(gt_mask, pred_mask)
            if pred_nt and self.protocol == "rela":
                inter = 0  # FP: ReLA zeroes the intersection, keeps the union
            iou = inter / union if union else 0.0
        self.records.append(SampleRecord(gt.sent_id, gt.ref_id, inter, union, iou, gt.no_target, pred_nt))

    def compute(self) -> EvalResult:
        tp = fn = fp = tn = 0
        for r in self.records:
            if r.gt_no_target:
                if r.pred_no_target:
                    tp += 1
                else:
                    fn += 1
            elif r.pred_no_target:
                fp += 1
            else:
                tn += 1
        sums = self._common_sums() + [float(tp), float(fn), float(tn), float(fp)]
        metrics = point(referring_metrics(self.task, np.asarray([sums]), np.asarray([len(self.records)]), self.protocol), GREF_METRICS)
        return EvalResult(
            task=self.task,
            metrics=metrics,
            n_samples=len(self.records),
            params={"protocol": self.protocol},
            records=self.records,
        )


# ---------------------------------------------------------------------------
# From files


def _sample_pair(sample: tuple[ReferringGT, ReferringPred]) -> tuple[ReferringGT, ReferringPred]:
    """The samples already are (gt, pred) pairs of RLEs: nothing to load."""
    return sample


def _build_samples(
    refs: list[Ref],
    targets: dict[int, RLE],
    predictions: Predictions,
    *,
    per_ref: bool,
    gref: bool,
) -> tuple[list[tuple[ReferringGT, ReferringPred]], list[int], int]:
    """(samples, sent_ids without a prediction line, prediction lines not used)."""
    by_sentence = predictions.by_sentence
    samples: list[tuple[ReferringGT, ReferringPred]] = []
    missing: list[int] = []
    unused = 0
    for ref in refs:
        target = targets[ref.ref_id]
        sent_ids = ref.sent_ids[:1] if per_ref else ref.sent_ids
        if per_ref:
            unused += sum(1 for s in ref.sent_ids[1:] if s in by_sentence)
        for sent_id in sent_ids:
            line = by_sentence.get(sent_id)
            if line is None:
                missing.append(sent_id)
                pred = ReferringPred(None, None)
            else:
                pred = ReferringPred(line.mask, line.no_target if gref else None)
            samples.append((ReferringGT(sent_id, ref.ref_id, target, ref.no_target), pred))
    return samples, missing, unused


def _warnings(missing: list[int], n_samples: int, unused: int, predictions: Predictions, *, per_ref: bool, gref: bool, empty_targets: int) -> list[str]:
    warnings: list[str] = []
    unit = "refs" if per_ref else "sentences"
    if missing:
        first = ", ".join(str(s) for s in missing[:5]) + (" ..." if len(missing) > 5 else "")
        what = "empty masks (no-target predictions)" if gref and not per_ref else "empty masks"
        key = "first-sentence sent_id" if per_ref else "sent_id"
        warnings.append(f"{len(missing)} of {n_samples} {unit} have no prediction line, scored as {what} ({key} {first})")
    if unused:
        warnings.append(f"{unused} prediction line(s) for a ref's second or later sentence not used (one sample per ref: the first sentence's line)")
    if predictions.n_extra:
        warnings.append(f"{predictions.n_extra} prediction line(s) for sentences not in the evaluated split skipped (ignore_extra; e.g. sent_id {predictions.extra_example})")
    if empty_targets:
        warnings.append(f"{empty_targets} ref(s) with a target have an empty target mask (crowd-only or zero-area annotations)")
    return warnings


def _evaluate(
    evaluator: _ReferringEvaluator,
    dataset: ReferDataset,
    pred: str | Path,
    *,
    split: str,
    ignore_extra: bool,
    workers: int,
    progress: bool,
    gref: bool,
) -> EvalResult:
    psalm = evaluator.protocol == "psalm"
    refs = dataset.split_refs(split)
    predictions = read_predictions(
        pred,
        sentence_images(dataset, refs),
        split=split,
        other_splits=sentence_splits(dataset),
        allow_no_target=gref,
        ignore_extra=bool(ignore_extra),
    )
    targets = dataset.target_masks(refs, rasterizer="cv2" if psalm else "pycocotools")
    empty_targets = sum(1 for ref in refs if not ref.no_target and _area(targets[ref.ref_id]) == 0)
    samples, missing, unused = _build_samples(refs, targets, predictions, per_ref=psalm, gref=gref)
    run_sharded(evaluator, samples, _sample_pair, workers=workers if not isinstance(workers, (int, type(None))) else max(1, int(workers or 1)), desc=evaluator.task, progress=progress)
    result = evaluator.compute()
    result.warnings = _warnings(missing, len(samples), unused, predictions, per_ref=psalm, gref=gref, empty_targets=empty_targets)
    return result


def evaluate_refcoco(
    gt: str | Path,
    pred: str | Path,
    *,
    dataset: str = "refcoco",
    split_by: str | None = None,
    split: str = "val",
    protocol: str = "lisa",
    ignore_extra: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> EvalResult:
    """Score referring predictions (JSONL) on RefCOCO, RefCOCO+ or RefCOCOg.

    ``gt`` is the REFER folder of the dataset (``refs(SPLITBY).p`` or
    ``.json`` + ``instances.json``) or its parent holding ``refcoco/``,
    ``refcoco+/``, ``refcocog/``. ``split_by`` defaults to unc (umd for
    refcocog). ``protocol``: lisa (default), mmdet or psalm (module docstring).
    """
    REFCOCO_SPEC.check_protocol(protocol)
    data = load_refer(gt, dataset, split_by)
    result = _evaluate(RefcocoEvaluator(protocol), data, pred, split=split, ignore_extra=ignore_extra, workers=workers, progress=progress, gref=False)
    result.params = {
        "protocol": protocol,
        "dataset": dataset,
        "split_by": data.refs_path.name[len("refs("):].split(")")[0],
        "split": split,
        "samples": "per ref" if protocol == "psalm" else "per sentence",
    }
    return result


def evaluate_gref(
    gt: str | Path,
    pred: str | Path,
    *,
    split: str = "val",
    protocol: str = "rela",
    ignore_extra: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> EvalResult:
    """Score generalized referring predictions (JSONL) on gRefCOCO.

    ``gt`` is the folder holding ``grefs(unc).json`` and ``instances.json``
    (or its parent, holding ``grefcoco/``). ``protocol``: rela (default), gsva
    or psalm (module docstring).
    """
    GREF_SPEC.check_protocol(protocol)
    data = load_grefer(gt)
    result = _evaluate(GrefEvaluator(protocol), data, pred, split=split, ignore_extra=ignore_extra, workers=workers, progress=progress, gref=True)
    result.params = {
        "protocol": protocol,
        "split": split,
        "samples": "per ref" if protocol == "psalm" else "per sentence",
    }
    return result


__all__ = [
    "GREF_METRICS",
    "GREF_PROTOCOLS",
    "GrefEvaluator",
    "REFCOCO_METRICS",
    "REFCOCO_PROTOCOLS",
    "RefcocoEvaluator",
    "ReferringGT",
    "ReferringPred",
    "SampleRecord",
    "evaluate_gref",
    "evaluate_refcoco",
]
