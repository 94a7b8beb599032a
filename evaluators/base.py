"""The evaluator pattern: update per sample, merge shards, compute once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from psalm_bench.results import EvalResult

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
