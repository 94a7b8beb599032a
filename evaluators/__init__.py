"""Evaluators, one module per task family.

Each keeps mergeable state in the manner of torchmetrics' ``Metric``:
``update(gt, pred)`` per sample, ``merge(other)`` to combine shards,
``compute()`` for the metrics. The same objects serve the CLI, a process
pool (``psalm_bench.parallel``) and a validation loop inside training.
Imported lazily: each evaluator pulls in only its own dependencies.
"""

from importlib import import_module
from typing import Any

from psalm_bench.evaluators.base import Evaluator
from psalm_bench.specs import SPECS, MetricSpec

_LAZY = {
    "InteractiveEvaluator": "psalm_bench.evaluators.interactive",
    "VosEvaluator": "psalm_bench.evaluators.vos",
    "MuseEvaluator": "psalm_bench.evaluators.muse",
    "GcgEvaluator": "psalm_bench.evaluators.gcg",
    "InstanceEvaluator": "psalm_bench.evaluators.instance",
    "PanopticEvaluator": "psalm_bench.evaluators.panoptic",
    "SemanticEvaluator": "psalm_bench.evaluators.semantic",
}

__all__ = ["Evaluator", "MetricSpec", "metric_spec", "metric_specs", *_LAZY]


def metric_spec(task: str) -> MetricSpec | None:
    """The task's metric definition (None for a task without one): the ``SPEC`` its
    evaluator module computes with, read from psalm_bench.specs (no evaluator imported)."""
    return SPECS.get(task)


def metric_specs() -> dict[str, MetricSpec]:
    """Every task's MetricSpec."""
    return dict(SPECS)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(name)
