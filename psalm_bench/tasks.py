"""The task registry: what `psalm-bench eval --task NAME` can score.

Each task names its runner (imported lazily so the CLI starts fast), the
options it accepts, and the layout of its printed table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from psalm_bench.errors import InputError

if TYPE_CHECKING:  # annotations only: `--help` does not import the results layer
    from psalm_bench.results import EvalResult


@dataclass(frozen=True)
class Task:
    name: str
    summary: str
    runner: str  # "module:function"
    options: frozenset[str]
    table_rows: list[list[str]] = field(default_factory=list)  # headline metrics, one printed row per list
    why_not: dict[str, str] = field(default_factory=dict)  # option -> why this task does not take it

    def run(self, gt: Any, pred: Any, **options: Any) -> EvalResult:
        unknown = sorted(k for k, v in options.items() if v is not None and k not in self.options)
        if unknown:
            flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
            reasons = "; ".join(self.why_not[k] for k in unknown if k in self.why_not)
            raise InputError(f"task {self.name} does not take {flags}" + (f" ({reasons})" if reasons else ""))
        module_name, function_name = self.runner.split(":")
        function: Callable[..., EvalResult] = getattr(importlib.import_module(module_name), function_name)
        return function(gt, pred, **{k: v for k, v in options.items() if v is not None})


TASKS: dict[str, Task] = {
    task.name: task
    for task in [
        Task(
            "panoptic",
            "COCO panoptic quality (PQ, SQ, RQ; things and stuff), as panopticapi",
            "psalm_bench.evaluators.panoptic:evaluate_panoptic",
            frozenset({"gt_dir", "pred_dir", "ignore_extra", "workers", "progress"}),
            [["PQ", "PQ_th", "PQ_st", "SQ", "SQ_th", "SQ_st", "RQ", "RQ_th", "RQ_st"]],
        ),
        Task(
            "instance",
            "COCO instance segmentation (or box) AP/AR, as pycocotools",
            "psalm_bench.evaluators.instance:evaluate_instance",
            frozenset({"iou_type", "workers", "records", "progress"}),
            [["AP", "AP50", "AP75", "APs", "APm", "APl"], ["AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]],
        ),
        Task(
            "semantic",
            "semantic segmentation mIoU, fwIoU, mACC, pACC, as detectron2",
            "psalm_bench.evaluators.semantic:evaluate_semantic",
            frozenset({"classes", "num_classes", "ignore_label", "protocol", "gt_dir", "ignore_extra", "workers", "progress"}),
            [["mIoU", "fwIoU", "mACC", "pACC"]],
        ),
        Task(
            "refcoco",
            "referring segmentation on RefCOCO/+/g: cIoU, gIoU, Pr@0.5..0.9, per sentence",
            "psalm_bench.evaluators.referring:evaluate_refcoco",
            frozenset({"dataset", "split_by", "split", "protocol", "ignore_extra", "workers", "progress"}),
            [["cIoU", "gIoU", "Pr@0.5", "Pr@0.6", "Pr@0.7", "Pr@0.8", "Pr@0.9"]],
        ),
        Task(
            "gref",
            "generalized referring segmentation on gRefCOCO: cIoU, gIoU, N-acc, T-acc, as ReLA",
            "psalm_bench.evaluators.referring:evaluate_gref",
            frozenset({"split", "protocol", "ignore_extra", "workers", "progress"}),
            [["cIoU", "gIoU", "N-acc", "T-acc"]],
        ),
        Task(
            "interactive",
            "COCO-Interactive: mIoU and cIoU per prompt type (point, scribble, box, mask)",
            "psalm_bench.evaluators.interactive:evaluate_interactive",
            frozenset({"protocol", "ignore_extra", "workers", "progress"}),
            [["point_mIoU", "scribble_mIoU", "box_mIoU", "mask_mIoU", "mIoU"], ["point_cIoU", "scribble_cIoU", "box_cIoU", "mask_cIoU", "cIoU"]],
        ),
        Task(
            "vos",
            "DAVIS-2017 semi-supervised video object segmentation: J&F, J, F (mean, recall, decay)",
            "psalm_bench.evaluators.vos:evaluate_vos",
            frozenset({"split", "protocol", "strict", "workers", "progress"}),
            [["J&F", "J", "J-recall", "J-decay", "F", "F-recall", "F-decay"]],
        ),
        Task(
            "ov-semantic",
            "open-vocabulary semantic segmentation: mIoU on ADE20K-150, Cityscapes, Pascal Context-59/459, VOC-20",
            "psalm_bench.evaluators.open_vocab:evaluate_ov_semantic",
            frozenset({"benchmark", "layout", "protocol", "image_list", "ignore_extra", "workers", "progress"}),
            [["mIoU", "fwIoU", "mACC", "pACC"]],
        ),
        Task(
            "ov-instance",
            "open-vocabulary instance segmentation: mask AP on ADE20K and Cityscapes",
            "psalm_bench.evaluators.open_vocab:evaluate_ov_instance",
            frozenset({"benchmark", "iou_type", "workers", "records", "progress"}),
            [["AP", "AP50", "AP75", "APs", "APm", "APl"], ["AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]],
        ),
        Task(
            "muse",
            "MUSE multi-target reasoning segmentation (PixelLM): gIoU, cIoU after Hungarian matching",
            "psalm_bench.evaluators.multi_target:evaluate_muse",
            frozenset({"protocol", "scores", "ignore_extra", "workers", "progress"}),
            [["gIoU", "cIoU"]],
        ),
        Task(
            "gcg",
            "grounded conversation generation (GLaMM, MGLMM): AP50, mIoU, Recall, METEOR, CIDEr",
            "psalm_bench.evaluators.multi_target:evaluate_gcg",
            frozenset({"protocol", "captions", "split", "ignore_extra", "workers", "progress"}),
            [["AP50", "mIoU", "Recall", "METEOR", "CIDEr"]],
        ),
        Task(
            "correspondence",
            "Ego-Exo4D ego-exo / exo-ego correspondence: IoU, visibility (VA), location error (LE), contour accuracy (CA)",
            "psalm_bench.evaluators.correspondence:evaluate_correspondence",
            frozenset({"split", "protocol", "strict", "ignore_extra", "workers", "progress"}),
            [["EgoExo_IoU", "EgoExo_VA", "EgoExo_LE", "EgoExo_CA"], ["ExoEgo_IoU", "ExoEgo_VA", "ExoEgo_LE", "ExoEgo_CA"]],
        ),
    ]
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise InputError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from None
