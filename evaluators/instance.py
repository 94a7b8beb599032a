"""Instance segmentation (and box) mAP: the 12 COCO stats, pycocotools-identical.

The matching and accumulation run in hotcoco, a Rust COCOeval engine whose
results equal pycocotools' to the last bit (checked against the fixtures,
which pycocotools computed) and which is ~20x faster than it. Writing our
own engine would buy nothing but risk; what psalm-bench adds is strict input
validation, mergeable state, and the per-class table.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.evaluators.base import Evaluator
from psalm_bench.formats.coco import Category, CocoInstances, ImageInfo, load_detections, load_instances
from psalm_bench.results import EvalResult

METRICS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
IOU_TYPES = ("segm", "bbox")


@dataclass
class ImageGT:
    """One image's ground truth, as the evaluator receives it."""

    image: ImageInfo
    annotations: list[dict[str, Any]] = field(default_factory=list)


class InstanceEvaluator(Evaluator[ImageGT, list[dict[str, Any]]]):
    """COCO mask (or box) AP over the images it is updated with.

    ``update(ImageGT, detections)`` keeps that image's validated records;
    ``compute`` runs COCOeval (evaluate, accumulate, summarize) on everything
    seen, over all ``categories``, as pycocotools would on the whole file.
    """

    task = "instance"

    def __init__(self, categories: dict[int, Category] | list[Category], iou_type: str = "segm"):
        if iou_type not in IOU_TYPES:
            raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
        self.categories = categories if isinstance(categories, dict) else {c.id: c for c in categories}
        self.iou_type = iou_type
        self.images: list[ImageInfo] = []
        self.annotations: list[dict[str, Any]] = []
        self.detections: list[dict[str, Any]] = []

    def config(self) -> dict[str, Any]:
        return {"categories": self.categories, "iou_type": self.iou_type}

    def update(self, gt: ImageGT, pred: list[dict[str, Any]]) -> None:
        self.images.append(gt.image)
        self.annotations.extend(gt.annotations)
        self.detections.extend(pred)

    def merge(self, other: "InstanceEvaluator") -> "InstanceEvaluator":
        self.images.extend(other.images)
        self.annotations.extend(other.annotations)
        self.detections.extend(other.detections)
        return self

    def compute(self) -> EvalResult:
        import hotcoco

        dataset = {
            "images": [{"id": i.id, "height": i.height, "width": i.width, "file_name": i.file_name} for i in self.images],
            "categories": [{"id": c.id, "name": c.name} for c in self.categories.values()],
            "annotations": self.annotations,
        }
        coco_gt = hotcoco.COCO(dataset)
        coco_dt = coco_gt.load_res(self.detections) if self.detections else coco_gt.load_res([])
        engine = hotcoco.COCOeval(coco_gt, coco_dt, self.iou_type)
        engine.evaluate()
        engine.accumulate()
        with contextlib.redirect_stdout(io.StringIO()):
            engine.summarize()
        stats = [float(v) for v in engine.stats]
        metrics = {name: (None if value < 0 else value * 100.0) for name, value in zip(METRICS, stats)}
        warnings = []
        missing = [name for name, value in metrics.items() if value is None]
        if missing:
            warnings.append(f"no ground truth in the area range of {', '.join(missing)}: reported as null (pycocotools prints -1)")
        return EvalResult(
            task=self.task,
            metrics=metrics,
            n_samples=len(self.images),
            params={"protocol": "pycocotools", "iou_type": self.iou_type, "max_dets": [1, 10, 100], "engine": f"hotcoco {hotcoco.__version__}"},
            warnings=warnings,
            breakdown_name="per_class",
            breakdown=self._per_class(engine),
        )

    def _per_class(self, engine: Any) -> dict[str, dict[str, Any]]:
        """AP, AP50, AP75 and AR100 per category, from the accumulated curves
        (area all, maxDets 100), averaged as COCOeval averages them."""
        evaluation = engine.eval
        precision = np.asarray(evaluation["precision"])[:, :, :, 0, -1]  # T x R x K
        recall = np.asarray(evaluation["recall"])[:, :, 0, -1]  # T x K
        iou_thresholds = np.asarray(engine.params.iou_thrs)
        table: dict[str, dict[str, Any]] = {}

        def mean_valid(values: np.ndarray) -> float | None:
            valid = values[values > -1]
            return float(valid.mean() * 100.0) if valid.size else None

        for k, cat_id in enumerate(engine.params.cat_ids):
            category = self.categories[cat_id]
            row = {
                "id": cat_id,
                "AP": mean_valid(precision[:, :, k]),
                "AP50": mean_valid(precision[np.isclose(iou_thresholds, 0.5), :, k]),
                "AP75": mean_valid(precision[np.isclose(iou_thresholds, 0.75), :, k]),
                "AR100": mean_valid(recall[:, k]),
            }
            if row["AP"] is None and row["AR100"] is None:
                continue  # no ground truth and no detection: not in the average
            table[category.name if category.name not in table else f"{category.name} ({cat_id})"] = row
        return table


def evaluate_instance(
    gt: str | Path | CocoInstances,
    pred: str | Path,
    *,
    iou_type: str = "segm",
    progress: bool = True,
) -> EvalResult:
    """Score a COCO results JSON against a COCO instances JSON (both validated)."""
    from psalm_bench.errors import InputError

    if iou_type not in IOU_TYPES:
        raise InputError(f"--iou-type must be one of {', '.join(IOU_TYPES)}, got {iou_type!r}")
    ground_truth = gt if isinstance(gt, CocoInstances) else load_instances(gt)
    detections = load_detections(pred, ground_truth, iou_type).by_image()
    evaluator = InstanceEvaluator(ground_truth.categories, iou_type)
    for image_id, annotations in ground_truth.annotations_by_image().items():
        evaluator.update(ImageGT(ground_truth.images[image_id], annotations), detections.get(image_id, []))
    return evaluator.compute()
