"""Run an evaluator over samples in a process pool and merge the shards.

Samples are light descriptors (paths, segment lists); each worker loads and
scores a chunk with its own empty evaluator and sends that state back, so
memory is bounded by the images in flight, not by the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, Self, TypeVar

from psalm_bench.progress import tqdm  # a bar on a terminal, lines in a log


class Scorer(Protocol):
    """What the pool needs of an evaluator (``psalm_bench.evaluators.base.Evaluator``
    has it): so this ground module depends on three methods, not on evaluators/."""

    def update(self, gt: Any, pred: Any) -> None: ...

    def merge(self, other: Self) -> Self: ...

    def fresh(self) -> Self: ...


E = TypeVar("E", bound=Scorer)
Loader = Callable[[Any], tuple[Any, Any]]


class Engine(Protocol):
    """Who scores the samples when not this machine's pool: a Ray cluster
    (``psalm_bench.ray_engine``), one shard of a job array, or a merge of
    stored shard states (``psalm_bench.shards``). Passed as ``workers``."""

    def run(self, evaluator: E, samples: Sequence[Any], load: Loader, *, desc: str, progress: bool, chunk_size: int | None) -> E: ...


def _score_chunk(evaluator: E, load: Loader, chunk: Sequence[Any]) -> E:
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
        with worker_pool(workers) as pool:
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


# ------------------------------------------------------- workers die with us
# After kill -9 of the parent, a ProcessPoolExecutor's workers would go on
# (they block on a queue nobody writes). Each worker asks the kernel for
# SIGKILL when its parent dies (Linux prctl PR_SET_PDEATHSIG) and, everywhere,
# watches its parent's pid from a daemon thread.

_PR_SET_PDEATHSIG = 1
_WATCH_SECONDS = 0.25


def _watch_parent(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(_WATCH_SECONDS)
    os._exit(1)


def die_with_parent(parent: int, then: Callable[[], None] | None = None) -> None:
    """Pool initializer: end this worker when process ``parent`` ends; then run ``then``."""
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc symbol: the watcher below still works
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if then is not None:
        then()


def worker_pool(workers: int, initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """A process pool whose workers die with this process (even after kill -9)."""
    return ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(), initializer))
