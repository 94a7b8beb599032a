"""Run an evaluator over samples in a process pool and merge the shards.

Samples are light descriptors (paths, segment lists); each worker loads and
scores a chunk with its own empty evaluator and sends that state back, so
memory is bounded by the images in flight, not by the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

from tqdm import tqdm

from psalm_bench.evaluators.base import Evaluator

E = TypeVar("E", bound=Evaluator)
Loader = Callable[[Any], tuple[Any, Any]]


class Engine(Protocol):
    """Who scores the samples when not this machine's pool: a Ray cluster
    (``psalm_bench.ray_engine``), one shard of a job array, or a merge of
    stored shard states (``psalm_bench.shards``). Passed as ``workers``."""

    def run(self, evaluator: E, samples: Sequence[Any], load: Loader, *, desc: str, progress: bool, chunk_size: int | None) -> E: ...


def _score_chunk(evaluator: Evaluator, load: Loader, chunk: Sequence[Any]) -> Evaluator:
    for sample in chunk:
        gt, pred = load(sample)
        evaluator.update(gt, pred)
    return evaluator


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def run_sharded(
    evaluator: E,
    samples: Sequence[Any],
    load: Loader,
    *,
    workers: int | Engine = 1,
    desc: str = "evaluating",
    progress: bool = True,
    chunk_size: int | None = None,
) -> E:
    """Update ``evaluator`` with every sample; ``load`` turns a descriptor into (gt, pred).

    ``load`` must be a module-level function so the pool can pickle it.
    ``workers`` is a process count, or an :class:`Engine` that schedules the
    samples elsewhere (the result is the same either way).
    """
    if not isinstance(workers, int):
        return workers.run(evaluator, samples, load, desc=desc, progress=progress, chunk_size=chunk_size)
    workers = max(1, min(workers, len(samples) or 1))
    bar = tqdm(total=len(samples), desc=desc, unit="img", disable=not progress, leave=False, dynamic_ncols=True)
    try:
        if workers == 1:
            for sample in samples:
                gt, pred = load(sample)
                evaluator.update(gt, pred)
                bar.update(1)
            return evaluator
        size = chunk_size or max(1, min(64, len(samples) // (workers * 8) or 1))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending = []
            chunk_iter = iter(_chunks(samples, size))
            # Keep a bounded number of chunks in flight: memory stays flat.
            for chunk in chunk_iter:
                pending.append((len(chunk), pool.submit(_score_chunk, evaluator.fresh(), load, chunk)))
                if len(pending) >= workers * 2:
                    n, future = pending.pop(0)
                    evaluator.merge(future.result())
                    bar.update(n)
            for n, future in pending:
                evaluator.merge(future.result())
                bar.update(n)
        return evaluator
    finally:
        bar.close()


def default_workers() -> int:
    return max(1, (os.cpu_count() or 1))
