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

_LAZY = {"EvalResult": "psalm_bench.results"}  # name -> module; the rest come from psalm_bench.api


def __getattr__(name: str):  # PEP 562: the CLI's start-up does not pay for the API's imports
    if name == "EvalResult" or (name.startswith("evaluate") and name in __all__):
        import importlib

        value = getattr(importlib.import_module(_LAZY.get(name, "psalm_bench.api")), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'psalm_bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
