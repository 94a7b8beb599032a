"""Training batches rendered ahead in worker processes while the model steps.

Scene rendering and prompt drawing (0.2-0.3 s a batch) sit in the step loop when
it is synchronous; on a GPU that is the floor of a step. Every batch is a pure
function of its step (``sample_source(step)``), so rendering steps ahead in a
pool and consuming them in step order gives exactly the batches, and so the
weights, of the synchronous loop.

The window is bounded (``ahead`` batches in flight), so memory stays flat over a
long run. Workers are spawned, not forked: the parent holds torch's thread pools,
which do not survive a fork.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable, Iterator

from .samples import TrainSample


def batches(sample_source: Callable[[int], list[TrainSample]], start: int, stop: int, *, workers: int = 0,
            ahead: int | None = None) -> Iterator[tuple[int, list[TrainSample]]]:
    """``(step, samples)`` for steps ``start..stop-1`` in order; ``workers=0`` renders in this process."""
    if workers <= 0:
        for step in range(start, stop):
            yield step, sample_source(step)
        return
    window = max(1, ahead if ahead is not None else 2 * workers)
    pending: deque[tuple[int, Future]] = deque()
    next_step = start
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            while pending or next_step < stop:
                while next_step < stop and len(pending) < window:
                    pending.append((next_step, pool.submit(sample_source, next_step)))
                    next_step += 1
                step, future = pending.popleft()
                yield step, future.result()
        finally:
            for _, future in pending:  # a run stopped early (time limit, error): drop what is in flight
                future.cancel()
