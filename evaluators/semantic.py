"""Semantic segmentation: mIoU, fwIoU, mACC, pACC from a confusion matrix.

The state is one dataset-level confusion matrix (IoU per class over the whole
set, then the mean over classes, as detectron2 and mmsegmentation do; not a
mean of per-image IoUs), so shards merge by addition and memory never grows
with the dataset.

Protocols (FORMATS.md): ``detectron2`` (default) averages mIoU over the
classes present in the ground truth; a class that is only predicted lowers
the IoU of the classes it covers but does not enter the mean. ``mmseg``
(also detectron2 <= 0.6 and hotcoco) counts such classes with IoU 0.

A predicted pixel equal to the ignore label is "no prediction": it counts
against the ground-truth class's accuracy and IoU and towards no class.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.evaluators.base import Evaluator, point
from psalm_bench.pixelops import joint_histogram
from psalm_bench.pngdecode import CONFUSION_SCRATCH_BYTES, label_confusion
from psalm_bench.formats.semantic import InflatedLabelMap, LabelMap, SampleLoader, SemanticSample, load_class_names, samples_from_folders, samples_from_panoptic
from psalm_bench.results import EvalResult
from psalm_bench.specs import SEMANTIC as SPEC

METRICS = list(SPEC.metrics)
PROTOCOLS = SPEC.protocols
SUMS = ("tp", "pos_gt", "pos_pred")  # per class (n columns each): a row of sums is tp | pos_gt | pos_pred


def class_scores(tp: np.ndarray, pos_gt: np.ndarray, pos_pred: np.ndarray, protocol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per class IoU and accuracy (NaN where undefined) and which classes enter
    mIoU (``valid``) and mACC (``present``), from one confusion's sums."""
    union = pos_gt + pos_pred - tp
    present = pos_gt > 0
    valid = (present & (union > 0)) if protocol == "detectron2" else union > 0
    acc = np.full(tp.shape, np.nan)
    iou = np.full(tp.shape, np.nan)
    acc[present] = tp[present] / pos_gt[present]
    iou[valid] = tp[valid] / union[valid]
    return iou, acc, valid, present


def semantic_metrics(sums: np.ndarray, protocol: str) -> dict[str, np.ndarray]:
    """mIoU, fwIoU, mACC and pACC (percent, NaN where undefined) from rows of summed
    confusions (``SUMS``, n classes each). ``compute()`` passes one row, the report's
    bootstrap one per resample; each row is reduced as compute() always did (sums over
    the classes that count, in class order), so one row gives the eval's bits."""
    S = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    n = S.shape[1] // 3
    out = {name: np.full(len(S), np.nan) for name in METRICS}
    for r, row in enumerate(S):
        tp, pos_gt, pos_pred = row[:n], row[n:2 * n], row[2 * n:]
        iou, acc, valid, present = class_scores(tp, pos_gt, pos_pred, protocol)
        total_gt = pos_gt.sum()
        weights = pos_gt / total_gt if total_gt > 0 else np.zeros(n)
        if valid.any():
            out["mIoU"][r] = float(iou[valid].sum() / valid.sum()) * 100.0
            out["fwIoU"][r] = float((iou[valid] * weights[valid]).sum()) * 100.0
        if present.any():
            out["mACC"][r] = float(acc[present].sum() / present.sum()) * 100.0
        if total_gt > 0:
            out["pACC"][r] = float(tp.sum() / total_gt) * 100.0
    return out


class SemanticEvaluator(Evaluator[LabelMap | np.ndarray, LabelMap | np.ndarray]):
    """Confusion matrix over (GT class, predicted class or 'none')."""

    task = "semantic"

    def __init__(self, class_names: list[str], ignore_label: int = 255, protocol: str = "detectron2"):
        SPEC.check_protocol(protocol)
        if 0 <= ignore_label < len(class_names):
            raise ValueError(f"ignore label {ignore_label} collides with class index {ignore_label}")
        self.class_names = list(class_names)
        self.ignore_label = ignore_label
        self.protocol = protocol
        n = len(self.class_names)
        # rows: GT class; columns: predicted class, then 'no prediction'
        self.confusion = np.zeros((n, n + 1), dtype=np.int64)
        self.n_images = 0
        # per image, its sparse confusion (flat cell index into the n x (n+1)
        # matrix, count): what a report needs to bootstrap over images
        self.records: list[dict[str, Any]] = []
        self._pair_table: np.ndarray | None = None  # scratch, not state
        self._scratch: bytearray | None = None  # label_confusion's count table, not state

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pair_table": None, "_scratch": None}

    def config(self) -> dict[str, Any]:
        return {"class_names": self.class_names, "ignore_label": self.ignore_label, "protocol": self.protocol}

    def update(self, gt: LabelMap | InflatedLabelMap | np.ndarray, pred: LabelMap | InflatedLabelMap | np.ndarray) -> None:
        gt_map = gt if isinstance(gt, (LabelMap, InflatedLabelMap)) else LabelMap(np.asarray(gt), "ground truth")
        pred_map = pred if isinstance(pred, (LabelMap, InflatedLabelMap)) else LabelMap(np.asarray(pred), "prediction")
        if gt_map.shape != pred_map.shape:
            raise InputError(f"prediction shape {pred_map.shape} differs from ground truth {gt_map.shape}", file=pred_map.source)
        cells, counts = self._image_cells(gt_map, pred_map)
        self.confusion.flat[cells] += counts  # cells are distinct: a plain scatter-add
        self.n_images += 1
        stem = os.path.splitext(os.path.basename(pred_map.source.rstrip("/")))[0]  # Path(...).stem, without the path object
        self.records.append({"image": stem, "cells": cells.astype(np.int32), "counts": counts})

    def _image_cells(self, gt: LabelMap | InflatedLabelMap, pred: LabelMap | InflatedLabelMap) -> tuple[np.ndarray, np.ndarray]:
        """One image's confusion, sparse: its non-zero cells (flat indices into
        the n x (n+1) matrix, ascending) and their counts, read off the table
        of (gt value, pred value) pairs; labels out of range are refused."""
        n = len(self.class_names)
        if isinstance(gt, InflatedLabelMap) and isinstance(pred, InflatedLabelMap):
            # straight from the two PNGs' scanlines: the same cells and checks, no image
            fused = self._fused_cells(gt, pred, n)
            if fused is not None:
                return fused
        table, size = self._label_table(gt.labels, pred.labels)
        pairs = np.flatnonzero(table)
        pair_counts = table[pairs].astype(np.int64)
        ignore = self.ignore_label % size if -size <= self.ignore_label < size else None  # as a table index
        gt_values, pred_values = np.divmod(pairs, size)
        self._check_range(gt_values, n, ignore, gt.source)
        scored = gt_values < n  # the ignore label is never a class index
        gt_values, pred_values, pair_counts = gt_values[scored], pred_values[scored], pair_counts[scored]
        self._check_range(pred_values, n, ignore, pred.source)
        cells = gt_values * (n + 1) + np.minimum(pred_values, n)  # the ignore label: column n, 'no prediction'
        return cells, pair_counts

    def _fused_cells(self, gt: InflatedLabelMap, pred: InflatedLabelMap, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``_image_cells`` counted from the two streams' scanlines in C (None: decode instead)."""
        if self._scratch is None:
            self._scratch = bytearray(CONFUSION_SCRATCH_BYTES)
        ignore = self.ignore_label % 256 if -256 <= self.ignore_label < 256 else -1  # as a byte value
        fused = label_confusion((gt.stream, gt.height, gt.width), (pred.stream, pred.height, pred.width), n, ignore, self._scratch)
        if fused is None:
            return None
        cells, counts, bad_gt, bad_pred = fused
        for bad, source in ((bad_gt, gt.source), (bad_pred, pred.source)):
            if bad >= 0:
                raise _not_a_class(bad, n, source)
        return cells, counts

    def _label_table(self, gt_labels: np.ndarray, pred_labels: np.ndarray) -> tuple[np.ndarray, int]:
        """The flat (gt value, pred value) count table of two decoded maps and its side."""
        if gt_labels.dtype == np.uint8 and pred_labels.dtype == np.uint8:
            # One count over all 256x256 (gt, pred) value pairs: no per-class
            # masks, and the range checks come free from the table. The table
            # is reused from image to image.
            if self._pair_table is None:
                self._pair_table = np.zeros(65536, dtype=np.uint64)
            return joint_histogram(gt_labels, pred_labels, 256, 65536, out=self._pair_table), 256
        top = int(max(gt_labels.max(initial=0), pred_labels.max(initial=0), self.ignore_label)) + 1
        return joint_histogram(gt_labels.astype(np.int64), pred_labels.astype(np.int64), top, top * top), top

    @staticmethod
    def _check_range(values: np.ndarray, n: int, ignore: int | None, source: str) -> None:
        """Refuse the smallest value that is neither a class index nor the ignore label."""
        over = values[(values >= n) & (values != ignore)] if ignore is not None else values[values >= n]
        if over.size:
            raise _not_a_class(int(over.min()), n, source)

    def merge(self, other: "SemanticEvaluator") -> "SemanticEvaluator":
        self.confusion += other.confusion
        self.n_images += other.n_images
        self.records.extend(other.records)
        return self

    def compute(self) -> EvalResult:
        n = len(self.class_names)
        confusion = self.confusion.astype(np.float64)
        tp = np.diagonal(confusion[:, :n]).copy()
        pos_gt = confusion.sum(axis=1)
        pos_pred = confusion[:, :n].sum(axis=0)
        metrics = point(semantic_metrics(np.concatenate([tp, pos_gt, pos_pred])[None], self.protocol), METRICS)
        union = pos_gt + pos_pred - tp
        iou, acc, _, present = class_scores(tp, pos_gt, pos_pred, self.protocol)
        per_class = {
            name: {"IoU": _percent(iou[k]) if not np.isnan(iou[k]) else None, "ACC": _percent(acc[k]) if not np.isnan(acc[k]) else None, "pixels": int(pos_gt[k])}
            for k, name in enumerate(self.class_names)
            if union[k] > 0
        }
        warnings = []
        only_predicted = [self.class_names[k] for k in np.flatnonzero(~present & (pos_pred > 0))]
        if only_predicted:
            rule = "not in the mean (detectron2 protocol)" if self.protocol == "detectron2" else "counted with IoU 0 (mmseg protocol)"
            warnings.append(f"{len(only_predicted)} class(es) predicted but absent from the ground truth, {rule}: {', '.join(only_predicted[:10])}{' ...' if len(only_predicted) > 10 else ''}")
        return EvalResult(
            task=self.task,
            metrics=metrics,
            n_samples=self.n_images,
            params={"protocol": self.protocol, "ignore_label": self.ignore_label, "num_classes": n},
            warnings=warnings,
            breakdown_name="per_class",
            breakdown=per_class,
            records=self.records,
        )


def _not_a_class(label: int, n: int, source: str) -> InputError:
    return InputError(f"label {label} is not a class index (0..{n - 1}) nor the ignore label", file=source)


def _percent(value: float) -> float:
    return float(value) * 100.0


def evaluate_semantic(
    gt: str | Path,
    pred: str | Path,
    *,
    classes: str | Path | list[str] | None = None,
    num_classes: int | None = None,
    ignore_label: int = 255,
    protocol: str = "detectron2",
    gt_dir: str | Path | None = None,
    ignore_extra: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> EvalResult:
    """Score a folder of predicted label maps.

    ``gt`` is a folder of PNG label maps (classes from ``classes`` or
    ``num_classes``), or a COCO panoptic JSON from which label maps are derived
    (classes = its categories, in order).
    """
    from psalm_bench.parallel import run_sharded

    SPEC.check_protocol(protocol)
    gt = Path(gt)
    if gt.suffix.lower() == ".json":
        if classes is not None or num_classes is not None:
            raise InputError("classes come from the panoptic ground truth's categories: drop --classes / --num-classes", file=gt)
        class_names, samples = samples_from_panoptic(gt, pred, gt_dir=gt_dir, ignore_extra=ignore_extra)
    else:
        if isinstance(classes, list):
            class_names = classes
        elif classes is not None:
            class_names = load_class_names(classes)
        elif num_classes is not None:
            if num_classes <= 0:
                raise InputError(f"--num-classes must be positive, got {num_classes}")
            class_names = [str(k) for k in range(num_classes)]
        else:
            raise InputError("semantic ground truth needs --classes FILE or --num-classes N", file=gt)
        samples = samples_from_folders(gt, pred, ignore_extra=ignore_extra)
    if 0 <= ignore_label < len(class_names):
        raise InputError(f"--ignore-label {ignore_label} is also a class index (there are {len(class_names)} classes)")
    evaluator = SemanticEvaluator(class_names, ignore_label, protocol)
    run_sharded(evaluator, samples, SampleLoader(ignore_label), workers=workers, desc="semantic", progress=progress)
    return evaluator.compute()


__all__ = ["SemanticEvaluator", "SemanticSample", "evaluate_semantic", "METRICS", "PROTOCOLS"]
