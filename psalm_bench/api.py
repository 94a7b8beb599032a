"""The Python API, under the CLI's names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psalm_bench.results import EvalResult
from psalm_bench.tasks import get_task


def evaluate(task: str, gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    """Score ``pred`` against ``gt`` on ``task``; options are the CLI's flags
    with underscores (``iou_type="bbox"``, ``num_classes=21``, ``workers=4``)."""
    return get_task(task).run(gt, pred, **options)


def evaluate_panoptic(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("panoptic", gt, pred, **options)


def evaluate_instance(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("instance", gt, pred, **options)


def evaluate_semantic(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("semantic", gt, pred, **options)


def evaluate_refcoco(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("refcoco", gt, pred, **options)


def evaluate_gref(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("gref", gt, pred, **options)


def evaluate_interactive(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("interactive", gt, pred, **options)


def evaluate_vos(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("vos", gt, pred, **options)


def evaluate_ov_semantic(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("ov-semantic", gt, pred, **options)


def evaluate_ov_instance(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("ov-instance", gt, pred, **options)


def evaluate_muse(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("muse", gt, pred, **options)


def evaluate_gcg(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("gcg", gt, pred, **options)
