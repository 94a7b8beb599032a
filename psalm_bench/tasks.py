"""The task registry: what `psalm-bench eval --task NAME` can score.

Each task names its runner (a function that imports it, so the CLI starts
fast and tools, import-linter included, can still follow the call), the
options it accepts (the one list the CLI, the API and the shards check
against; tests/test_cli_tasks.py holds it equal to the runner's signature and
to `eval`'s flags); the layout of its printed table is its MetricSpec's rows
(psalm_bench/specs.py, one definition the evaluators compute with).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from psalm_bench.errors import InputError

if TYPE_CHECKING:  # annotations only: `--help` does not import the results layer
    from psalm_bench.results import EvalResult


@dataclass(frozen=True)
class Task:
    name: str
    summary: str
    runner: Callable[[], Runner]  # returns the evaluate_* function, imported on first use
    options: frozenset[str]
    why_not: dict[str, str] = field(default_factory=dict)  # option -> why this task does not take it
    python_only: frozenset[str] = frozenset()  # runner keywords only Python callers pass (objects, not flags)

    @property
    def table_rows(self) -> list[list[str]]:
        """The headline metrics, one printed row per list: the rows of the task's
        MetricSpec (psalm_bench.specs, plain data: no evaluator is imported)."""
        from psalm_bench.specs import SPECS

        spec = SPECS.get(self.name)
        return [list(row) for row in spec.rows] if spec is not None else []

    def run(self, gt: Any, pred: Any, **options: Any) -> EvalResult:
        unknown = sorted(k for k, v in options.items() if v is not None and k not in self.options)
        if unknown:
            flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
            reasons = "; ".join(self.why_not[k] for k in unknown if k in self.why_not)
            raise InputError(f"task {self.name} does not take {flags}" + (f" ({reasons})" if reasons else ""))
        return self.runner()(gt, pred, **{k: v for k, v in options.items() if v is not None})


Runner = Callable[..., "EvalResult"]


def _panoptic() -> Runner:
    from psalm_bench.evaluators.panoptic import evaluate_panoptic

    return evaluate_panoptic


def _instance() -> Runner:
    from psalm_bench.evaluators.instance import evaluate_instance

    return evaluate_instance


def _semantic() -> Runner:
    from psalm_bench.evaluators.semantic import evaluate_semantic

    return evaluate_semantic


def _refcoco() -> Runner:
    from psalm_bench.evaluators.referring import evaluate_refcoco

    return evaluate_refcoco


def _gref() -> Runner:
    from psalm_bench.evaluators.referring import evaluate_gref

    return evaluate_gref


def _interactive() -> Runner:
    from psalm_bench.evaluators.interactive import evaluate_interactive

    return evaluate_interactive


def _vos() -> Runner:
    from psalm_bench.evaluators.vos import evaluate_vos

    return evaluate_vos


def _ov_semantic() -> Runner:
    from psalm_bench.evaluators.open_vocab import evaluate_ov_semantic

    return evaluate_ov_semantic


def _ov_instance() -> Runner:
    from psalm_bench.evaluators.open_vocab import evaluate_ov_instance

    return evaluate_ov_instance


def _muse() -> Runner:
    from psalm_bench.evaluators.muse import evaluate_muse

    return evaluate_muse


def _gcg() -> Runner:
    from psalm_bench.evaluators.gcg import evaluate_gcg

    return evaluate_gcg


def _correspondence() -> Runner:
    from psalm_bench.evaluators.correspondence import evaluate_correspondence

    return evaluate_correspondence


TASKS: dict[str, Task] = {
    task.name: task
    for task in [
        Task(
            "panoptic",
            "COCO panoptic quality (PQ, SQ, RQ; things and stuff), as panopticapi",
            _panoptic,
            frozenset({"gt_dir", "pred_dir", "ignore_extra", "workers", "progress"}),
        ),
        Task(
            "instance",
            "COCO instance segmentation (or box) AP/AR, as pycocotools",
            _instance,
            frozenset({"iou_type", "workers", "records", "progress"}),
            python_only=frozenset({"ground_truth"}),
        ),
        Task(
            "semantic",
            "semantic segmentation mIoU, fwIoU, mACC, pACC, as detectron2",
            _semantic,
            frozenset({"classes", "num_classes", "ignore_label", "protocol", "gt_dir", "ignore_extra", "workers", "progress"}),
        ),
        Task(
            "refcoco",
            "referring segmentation on RefCOCO/+/g: cIoU, gIoU, Pr@0.5..0.9, per sentence",
            _refcoco,
            frozenset({"dataset", "split_by", "split", "protocol", "ignore_extra", "workers", "progress"}),
        ),
        Task(
            "gref",
            "generalized referring segmentation on gRefCOCO: cIoU, gIoU, N-acc, T-acc, as ReLA",
            _gref,
            frozenset({"split", "protocol", "ignore_extra", "workers", "progress"}),
        ),
        Task(
            "interactive",
            "COCO-Interactive: mIoU and cIoU per prompt type (point, scribble, box, mask)",
            _interactive,
            frozenset({"protocol", "ignore_extra", "workers", "progress"}),
        ),
        Task(
            "vos",
            "DAVIS-2017 semi-supervised video object segmentation: J&F, J, F (mean, recall, decay)",
            _vos,
            frozenset({"split", "protocol", "strict", "workers", "progress"}),
        ),
        Task(
            "ov-semantic",
            "open-vocabulary semantic segmentation: mIoU on ADE20K-150, Cityscapes, Pascal Context-59/459, VOC-20",
            _ov_semantic,
            frozenset({"benchmark", "layout", "protocol", "image_list", "ignore_extra", "workers", "progress"}),
        ),
        Task(
            "ov-instance",
            "open-vocabulary instance segmentation: mask AP on ADE20K and Cityscapes",
            _ov_instance,
            frozenset({"benchmark", "iou_type", "workers", "records", "progress"}),
        ),
        Task(
            "muse",
            "MUSE multi-target reasoning segmentation (PixelLM): gIoU, cIoU after Hungarian matching",
            _muse,
            frozenset({"protocol", "scores", "ignore_extra", "workers", "progress"}),
        ),
        Task(
            "gcg",
            "grounded conversation generation (GLaMM, MGLMM): AP50, mIoU, Recall, METEOR, CIDEr",
            _gcg,
            frozenset({"protocol", "captions", "split", "ignore_extra", "workers", "progress"}),
            python_only=frozenset({"text_similarity"}),
        ),
        Task(
            "correspondence",
            "Ego-Exo4D ego-exo / exo-ego correspondence: IoU, visibility (VA), location error (LE), contour accuracy (CA)",
            _correspondence,
            frozenset({"split", "protocol", "strict", "ignore_extra", "workers", "progress"}),
        ),
    ]
}


def input_files(task: str, path: str | Path, png_dir: str | Path | None = None) -> list[Path]:
    """The files a result on ``path`` depends on, as its sha256 covers them: a
    panoptic JSON (or a semantic GT given as one) with its PNG folder; either
    GranD-f GCG file with its companion (formats.gcg_official)."""
    path = Path(path)
    if task == "panoptic" or (task == "semantic" and path.suffix == ".json"):
        return [path, Path(png_dir) if png_dir else path.with_suffix("")]
    if task == "gcg" and path.is_file():
        from psalm_bench.formats.gcg_official import glamm_gt_paths

        pair = glamm_gt_paths(path, None)
        if pair is not None:
            return list(pair)
    return [path]


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise InputError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from None
