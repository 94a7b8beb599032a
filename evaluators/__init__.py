"""Evaluators, one module per task family.

Each keeps mergeable state in the manner of torchmetrics' ``Metric``:
``update(gt, pred)`` per sample, ``merge(other)`` to combine shards,
``compute()`` for the metrics. The same objects serve the CLI, a process
pool (``psalm_bench.parallel``) and a validation loop inside training.
Imported lazily: each evaluator pulls in only its own dependencies.
"""

from importlib import import_module
from typing import Any

from psalm_bench.evaluators.base import Evaluator, MetricSpec

_LAZY = {
    "InteractiveEvaluator": "psalm_bench.evaluators.interactive",
    "VosEvaluator": "psalm_bench.evaluators.vos",
    "MuseEvaluator": "psalm_bench.evaluators.muse",
    "GcgEvaluator": "psalm_bench.evaluators.gcg",
    "InstanceEvaluator": "psalm_bench.evaluators.instance",
    "PanopticEvaluator": "psalm_bench.evaluators.panoptic",
    "SemanticEvaluator": "psalm_bench.evaluators.semantic",
}

# each task's MetricSpec, declared in its evaluator module (imported on first use)
_SPECS = {
    "panoptic": ("psalm_bench.evaluators.panoptic", "SPEC"),
    "instance": ("psalm_bench.evaluators.instance", "SPEC"),
    "semantic": ("psalm_bench.evaluators.semantic", "SPEC"),
    "refcoco": ("psalm_bench.evaluators.referring", "REFCOCO_SPEC"),
    "gref": ("psalm_bench.evaluators.referring", "GREF_SPEC"),
    "interactive": ("psalm_bench.evaluators.interactive", "SPEC"),
    "vos": ("psalm_bench.evaluators.vos", "SPEC"),
    "ov-semantic": ("psalm_bench.evaluators.open_vocab", "OV_SEMANTIC_SPEC"),
    "ov-instance": ("psalm_bench.evaluators.open_vocab", "OV_INSTANCE_SPEC"),
    "muse": ("psalm_bench.evaluators.muse", "MUSE_SPEC"),
    "gcg": ("psalm_bench.evaluators.gcg", "GCG_SPEC"),
    "correspondence": ("psalm_bench.evaluators.correspondence", "SPEC"),
}

__all__ = ["Evaluator", "MetricSpec", "metric_spec", "metric_specs", *_LAZY]


def metric_spec(task: str) -> MetricSpec | None:
    """The task's metric definition (None for a task no evaluator module declares)."""
    where = _SPECS.get(task)
    return None if where is None else getattr(import_module(where[0]), where[1])


def metric_specs() -> dict[str, MetricSpec]:
    """Every task's MetricSpec (imports every evaluator module)."""
    return {task: metric_spec(task) for task in _SPECS}  # type: ignore[misc]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(name)
