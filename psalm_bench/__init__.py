"""psalm-bench: datasets and exact, fast benchmarks for LMM-based segmentation.

The Python API carries the CLI's names::

    from psalm_bench import evaluate
    result = evaluate("panoptic", gt="panoptic_val2017.json", pred="pred.json")
    result.metrics["PQ"]

or, per task, ``evaluate_panoptic``, ``evaluate_instance``, ``evaluate_semantic``,
``evaluate_refcoco``, ``evaluate_gref``, ``evaluate_interactive``, ``evaluate_vos``.
The evaluators themselves (``psalm_bench.evaluators``) keep mergeable state and
serve validation loops: ``update`` per image, ``merge`` shards, ``compute``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from psalm_bench.errors import InputError
from psalm_bench.results import EvalResult
from psalm_bench.api import (
    evaluate,
    evaluate_gcg,
    evaluate_gref,
    evaluate_instance,
    evaluate_interactive,
    evaluate_muse,
    evaluate_ov_instance,
    evaluate_ov_semantic,
    evaluate_panoptic,
    evaluate_refcoco,
    evaluate_semantic,
    evaluate_vos,
)

__all__ = [
    "__version__",
    "InputError",
    "EvalResult",
    "evaluate",
    "evaluate_panoptic",
    "evaluate_instance",
    "evaluate_semantic",
    "evaluate_refcoco",
    "evaluate_gref",
    "evaluate_interactive",
    "evaluate_vos",
    "evaluate_ov_semantic",
    "evaluate_ov_instance",
    "evaluate_muse",
    "evaluate_gcg",
]
