"""The embedded default data: the synthetic benchmark world, built once into a cache.

Every command that reads ground truth falls back to the world when the user
names none, so a fresh machine can run everything with no data. The world is
a pure function of (version, seed, size), so the cache key is exactly that and
a cached copy is never stale; ``world.json`` is written last by the builder,
so a half-built folder (an interrupted build) is rebuilt, not used.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError

DEFAULT_SEED = 0
DEFAULT_SIZE = "small"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/psalm-bench`` (``~/.cache/psalm-bench``), the usual place for rebuildable data."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "psalm-bench"


def world_dir(cache_dir: Path | None = None, *, seed: int = DEFAULT_SEED, size: str = DEFAULT_SIZE) -> Path:
    from psalm_bench.generators.world import WORLD_VERSION

    return (cache_dir or default_cache_dir()) / f"world-v{WORLD_VERSION}-{size}-seed{seed}"


def ensure_world(cache_dir: Path | None = None, *, seed: int = DEFAULT_SEED, size: str = DEFAULT_SIZE, progress: bool = True, workers: int | None = None) -> Path:
    """The world's root, building it first if the cache lacks a complete copy.

    A file lock makes concurrent first uses (parallel CI jobs, pytest-xdist)
    build it once; the others wait and then read it.
    """
    from psalm_bench.generators.world import build_world

    root = world_dir(cache_dir, seed=seed, size=size)
    if (root / "world.json").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / "world.json").is_file():
            return root
        if root.exists():
            shutil.rmtree(root)  # an interrupted build
        build_world(root, seed=seed, size=size, workers=workers or min(4, os.cpu_count() or 1), progress=progress)
    return root


@dataclass(frozen=True)
class WorldJob:
    """One scoring job on the world: the evaluator task, its GT and options."""

    task: str
    split: str
    eval_task: str
    gt: Path
    options: dict[str, Any]
    images: Path | None = None  # the folder the GT's file names are relative to (what a model reads)
    metric: str | None = None  # the headline metric (what reproduce logs)


def world_job(root: Path, task: str, split: str | None = None) -> WorldJob:
    """Where the world keeps the ground truth of ``task`` (and which split)."""
    from psalm_bench.generators.world import load_manifest, task_inputs

    manifest = load_manifest(root)
    splits = manifest["tasks"].get(task)
    if not splits:
        raise InputError(f"{root / 'world.json'}: the embedded world has no ground truth for task {task!r}; pass --gt")
    if split is None:
        split = "val" if "val" in splits else next(iter(splits))
    if split not in splits:
        raise InputError(f"{root / 'world.json'}: task {task!r} has no split {split!r} in the embedded world (it has {', '.join(splits)})")
    entry = splits[split]
    gt, options = task_inputs(root, entry)
    return WorldJob(task, split, entry["task"], gt, options, root / entry["images"] if entry.get("images") else None, entry.get("metric"))
