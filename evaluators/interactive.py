"""COCO-Interactive: mIoU and cIoU per prompt type (point, scribble, box, mask).

Every (instance, prompt) pair is a sample with an intersection I and a union
U of the predicted and ground-truth masks, counted on the run lengths of the
two RLEs (pycocotools' merge and area; nothing is decoded). Per prompt type,
and over all prompts, mIoU is the mean per-sample IoU and cIoU is
sum I / sum U, as PSALM reports them (its "giou" and "ciou").

Protocols (FORMATS.md, "Defaults"):

- ``all-instances`` (default): every annotation of the file is an instance,
  crowd included, with all four prompts; ground-truth polygons are decoded
  by pycocotools; IoU = I / U (a sample whose union is empty, an empty
  ground truth predicted empty, counts IoU 1).
- ``psalm``: PSALM's released ``region_segmentation.py``: crowd instances are
  dropped; an instance whose requested prompt mask is empty is skipped for
  that prompt; polygons are rasterised with ``cv2.fillPoly`` on vertices
  truncated to int; IoU = I / (U + 1e-5), 1 where U = 0; cIoU =
  sum I / (sum U + 1e-10). (PSALM does this arithmetic in float32; here it
  is float64.)

A pair with no prediction line is scored as an empty mask and counted once in
the warnings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import math

import numpy as np
from pycocotools import mask as mask_api

from psalm_bench.evaluators.base import Evaluator, point, ratio
from psalm_bench.formats.interactive import (
    PROMPTS,
    InteractiveAnnotation,
    InteractiveImage,
    load_interactive_gt,
    load_interactive_predictions,
)
from psalm_bench.masks import RLE, intersection_union, polygons_to_rle
from psalm_bench.results import EvalResult
from psalm_bench.specs import INTERACTIVE as SPEC
from psalm_bench.specs import PSALM_CIOU_EPS, PSALM_EPS  # PSALM's constants, defined once

METRICS = list(SPEC.metrics)
PROTOCOLS = SPEC.protocols
GROUPS = (*PROMPTS, "")  # each prompt type, then all prompts ("": the unprefixed mIoU / cIoU)
SUMS = ("count", "IoU", "I", "U")  # summed per group, so a row of sums has 4 * len(GROUPS) columns


def interactive_metrics(sums: np.ndarray, protocol: str) -> dict[str, np.ndarray]:
    """mIoU and cIoU per prompt type and over all from summed records: per group of
    ``GROUPS``, the columns ``SUMS`` (samples, IoU, I, U); NaN where undefined.
    ``compute()`` passes one row, the report's bootstrap one row per resample."""
    S = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    out: dict[str, np.ndarray] = {}
    for g, name in enumerate(GROUPS):
        cnt, siou, si, su = (S[:, 4 * g + j] for j in range(4))
        prefix = f"{name}_" if name else ""
        out[prefix + "mIoU"] = ratio(siou, cnt) * 100.0
        if protocol == "psalm":
            out[prefix + "cIoU"] = np.where(cnt > 0, si / (su + PSALM_CIOU_EPS) * 100.0, np.nan)
        else:
            out[prefix + "cIoU"] = ratio(si, su) * 100.0
    return out

# A light sample for the process pool: an image's validated annotations and
# the predictions for them, keyed by (ann_id, prompt).
InteractiveSample = tuple[InteractiveImage, dict[tuple[int, str], RLE]]


class InteractiveEvaluator(Evaluator[InteractiveImage, dict[tuple[int, str], RLE]]):
    """Per-sample I and U, kept as columns (the records of the result)."""

    task = "interactive"

    def __init__(self, protocol: str = "all-instances"):
        SPEC.check_protocol(protocol)
        self.protocol = protocol
        self.image_id: list[int] = []
        self.ann_id: list[int] = []
        self.prompt: list[int] = []  # index into PROMPTS
        self.inter: list[int] = []
        self.union: list[int] = []
        self.n_images = 0
        self.n_missing = [0] * len(PROMPTS)
        self.n_empty_prompt = [0] * len(PROMPTS)  # psalm protocol: skipped
        self.n_crowd = 0  # psalm protocol: dropped instances

    def config(self) -> dict[str, Any]:
        return {"protocol": self.protocol}

    def update(self, gt: InteractiveImage, pred: dict[tuple[int, str], RLE]) -> None:
        psalm = self.protocol == "psalm"
        self.n_images += 1
        for ann in gt.anns:
            if psalm and ann.iscrowd:
                self.n_crowd += 1
                continue
            gt_rle = _psalm_gt_rle(ann, gt.height, gt.width) if psalm else ann.rle
            gt_area: int | None = None
            for k, prompt in enumerate(PROMPTS):
                if psalm:
                    prompt_rle = ann.prompts[prompt]
                    if prompt_rle is None or int(mask_api.area(prompt_rle)) == 0:
                        self.n_empty_prompt[k] += 1
                        continue
                if gt_area is None:
                    gt_area = int(mask_api.area(gt_rle))
                mask = pred.get((ann.id, prompt))
                if mask is None:
                    self.n_missing[k] += 1
                    inter, union = 0, gt_area
                else:
                    inter, union = intersection_union(gt_rle, mask)  # on the runs, in C where it can
                self.image_id.append(gt.image_id)
                self.ann_id.append(ann.id)
                self.prompt.append(k)
                self.inter.append(inter)
                self.union.append(union)

    def merge(self, other: "InteractiveEvaluator") -> "InteractiveEvaluator":
        self.image_id.extend(other.image_id)
        self.ann_id.extend(other.ann_id)
        self.prompt.extend(other.prompt)
        self.inter.extend(other.inter)
        self.union.extend(other.union)
        self.n_images += other.n_images
        self.n_missing = [a + b for a, b in zip(self.n_missing, other.n_missing)]
        self.n_empty_prompt = [a + b for a, b in zip(self.n_empty_prompt, other.n_empty_prompt)]
        self.n_crowd += other.n_crowd
        return self

    def ious(self) -> np.ndarray:
        inter = np.asarray(self.inter, dtype=np.float64)
        union = np.asarray(self.union, dtype=np.float64)
        iou = np.ones_like(inter)
        nonzero = union > 0
        if self.protocol == "psalm":
            iou[nonzero] = inter[nonzero] / (union[nonzero] + PSALM_EPS)
        else:
            iou[nonzero] = inter[nonzero] / union[nonzero]
        return iou

    @staticmethod
    def _sums(select: np.ndarray, iou: np.ndarray, inter: np.ndarray, union: np.ndarray) -> list[float]:
        """One group's ``SUMS``: samples, IoU (exactly rounded, so any merge order of shards gives the same bits), I, U."""
        return [float(select.sum()), math.fsum(iou[select].tolist()), float(inter[select].sum()), float(union[select].sum())]

    def compute(self) -> EvalResult:
        prompt = np.asarray(self.prompt, dtype=np.int64)
        inter = np.asarray(self.inter, dtype=np.int64)
        union = np.asarray(self.union, dtype=np.int64)
        iou = self.ious()
        selects = [prompt == k for k in range(len(PROMPTS))] + [np.ones(prompt.shape, dtype=bool)]
        sums = [v for sel in selects for v in self._sums(sel, iou, inter, union)]
        metrics = point(interactive_metrics(np.asarray([sums]), self.protocol), METRICS)
        per_prompt: dict[str, dict[str, Any]] = {}
        for k, name in enumerate(GROUPS):
            prefix = f"{name}_" if name else ""
            missing = self.n_missing[k] if name else sum(self.n_missing)
            per_prompt[name or "all"] = {"mIoU": metrics[prefix + "mIoU"], "cIoU": metrics[prefix + "cIoU"],
                                         "samples": int(selects[k].sum()), "missing": missing}
        warnings = []
        missing = sum(self.n_missing)
        if missing:
            detail = ", ".join(f"{PROMPTS[k]} {m}" for k, m in enumerate(self.n_missing) if m)
            warnings.append(f"{missing} (instance, prompt) pair(s) have no prediction line and were scored as empty masks ({detail})")
        if self.protocol == "psalm":
            if self.n_crowd:
                warnings.append(f"{self.n_crowd} crowd instance(s) dropped (psalm protocol)")
            skipped = sum(self.n_empty_prompt)
            if skipped:
                detail = ", ".join(f"{PROMPTS[k]} {m}" for k, m in enumerate(self.n_empty_prompt) if m)
                warnings.append(f"{skipped} (instance, prompt) pair(s) skipped because the prompt mask is empty (psalm protocol: {detail})")
        records = {
            "image_id": np.asarray(self.image_id, dtype=np.int64),
            "ann_id": np.asarray(self.ann_id, dtype=np.int64),
            "prompt": [PROMPTS[k] for k in self.prompt],
            "I": inter,
            "U": union,
            "IoU": iou,
        }
        return EvalResult(
            task=self.task,
            metrics=metrics,
            n_samples=int(prompt.size),
            params={"protocol": self.protocol, "images": self.n_images},
            warnings=warnings,
            breakdown_name="per_prompt",
            breakdown=per_prompt,
            records=records,
        )


def _psalm_gt_rle(ann: InteractiveAnnotation, height: int, width: int) -> RLE:
    """PSALM's ground truth: each polygon filled with cv2.fillPoly on its
    vertices truncated to int32 (RLE masks decode as pycocotools does)."""
    if ann.polygons is None:
        return ann.rle
    return polygons_to_rle(ann.polygons, height, width, "cv2")


def _load(sample: InteractiveSample) -> InteractiveSample:
    """Samples are already validated records (module-level for the pool)."""
    return sample


def evaluate_interactive(
    gt: str | Path,
    pred: str | Path,
    *,
    protocol: str = "all-instances",
    ignore_extra: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> EvalResult:
    """Score a prediction JSONL against a COCO-Interactive JSON."""
    from psalm_bench.parallel import run_sharded

    SPEC.check_protocol(protocol)
    truth = load_interactive_gt(gt)
    predictions = load_interactive_predictions(pred, truth, ignore_extra=ignore_extra)
    masks = predictions.masks
    samples: list[InteractiveSample] = []
    for image in truth.images:
        mine = {(ann.id, p): masks[(ann.id, p)] for ann in image.anns for p in PROMPTS if (ann.id, p) in masks}
        samples.append((image, mine))
    evaluator = InteractiveEvaluator(protocol)
    run_sharded(evaluator, samples, _load, workers=workers, desc="interactive", progress=progress)
    result = evaluator.compute()
    if predictions.n_extra:
        result.warnings.append(f"{predictions.n_extra} prediction line(s) for annotations not in the ground truth were skipped (--ignore-extra)")
    return result


__all__ = ["InteractiveEvaluator", "evaluate_interactive", "METRICS", "PROTOCOLS"]
