"""The evaluator pattern: update per sample, merge shards, compute once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Generic, Mapping, TypeVar

import numpy as np

from psalm_bench.results import EvalResult
from psalm_bench.specs import MetricSpec, check_protocol  # noqa: F401 - the one definition, importable here as before

Self = TypeVar("Self", bound="Evaluator")
GT = TypeVar("GT")
Pred = TypeVar("Pred")


class Evaluator(ABC, Generic[GT, Pred]):
    """Accumulates sums or per-sample records; never holds decoded images.

    Subclasses must stay picklable: a process pool ships shards back to the
    parent, which merges them.
    """

    task: str

    @abstractmethod
    def update(self, gt: GT, pred: Pred) -> None:
        """Add one sample (an image, a sentence, an object-frame)."""

    @abstractmethod
    def merge(self: Self, other: Self) -> Self:
        """Fold another shard's state into this one; returns self."""

    @abstractmethod
    def compute(self) -> EvalResult:
        """Metrics over everything seen so far."""

    def fresh(self: Self) -> Self:
        """An empty evaluator with the same configuration (for a worker)."""
        return self.__class__(**self.config())

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Constructor arguments, so a worker can build an empty twin."""

    def state_dict(self) -> dict[str, Any]:
        """Everything ``merge`` combines, as plain values, arrays and records.

        ``psalm_bench.shards`` writes it to a versioned, non-pickle shard file;
        the default is the instance's attributes (config-derived ones included,
        so ``from_state`` restores an exact twin; ``__getstate__`` drops scratch,
        as it does for the process pool).
        """
        return dict(self.__getstate__())

    @classmethod
    def from_state(cls: type[Self], config: dict[str, Any], state: dict[str, Any]) -> Self:
        """The evaluator ``state_dict`` described, built from its ``config``."""
        evaluator = cls(**config)
        unknown = sorted(set(state) - set(vars(evaluator)))
        if unknown:
            raise ValueError(f"{cls.__name__} has no state {', '.join(unknown)}")
        evaluator.__dict__.update(state)
        return evaluator


# ---------------------------------------------------------------------------
# Helpers of the ``sums -> metrics`` functions (each task's MetricSpec: psalm_bench.specs)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, NaN where ``den <= 0`` (an undefined metric)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def point(values: Mapping[str, np.ndarray], names: tuple[str, ...] | list[str] | None = None) -> dict[str, float | None]:
    """Row 0 of a ``sums -> metrics`` result as JSON values (NaN -> None), in ``names`` order."""
    keys = list(values) if names is None else list(names)
    out: dict[str, float | None] = {}
    for name in keys:
        v = float(np.asarray(values[name]).reshape(-1)[0])
        out[name] = v if np.isfinite(v) else None
    return out
