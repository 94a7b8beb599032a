"""Shared plumbing of the tool wrappers: keep the tools' chatter off stdout.

Each wrapper is timed as a subprocess by ``benchmarks/run.py`` and reports its
metrics as one JSON object on stdout. The tools print progress and tables
(some from pool workers), so stdout is pointed at stderr at the OS level while
they run and only the JSON goes to the real stdout.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

COCO_STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl",
                   "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send fd 1 to fd 2 (also for child processes and C code) inside the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def emit(tool: str, metrics: dict[str, Any], **extra: Any) -> None:
    """Print the wrapper's result line."""
    print(json.dumps({"tool": tool, "metrics": metrics, **extra}), flush=True)


def coco_stats(stats: Any) -> dict[str, float | None]:
    """COCOeval.stats (fractions, -1 = undefined) as percent, undefined as null."""
    return {n: (None if float(s) < 0 else 100.0 * float(s)) for n, s in zip(COCO_STAT_NAMES, stats)}


def pq_metrics(results: dict[str, Any]) -> dict[str, float]:
    """panopticapi's result dict (All/Things/Stuff, fractions) as percent PQ names."""
    out: dict[str, float] = {}
    for group, suffix in (("All", ""), ("Things", "_th"), ("Stuff", "_st")):
        for key in ("pq", "sq", "rq"):
            out[key.upper() + suffix] = 100.0 * float(results[group][key])
    return out
