"""The embedded world's ground truth for one task, resolved in one place.

`eval` and `predict` without --gt, `evaluate(task, gt=None, ...)` and the
shards' merge all need the same answers: which files hold the task's ground truth, which
registry task scores them (``ov-semantic`` is scored by ``semantic``) and which
world to stamp on the result, so that a leaderboard never ranks it beside a
real benchmark's numbers. ``reproduce`` resolves every task and split it
scores here too (``world_splits``, ``takes_beside``) and stamps with the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psalm_bench.jsonio import load_json

if TYPE_CHECKING:
    from psalm_bench.results import EvalResult


@dataclass(frozen=True)
class WorldGT:
    """One task's ground truth on the world."""

    task: str  # the task asked for: what the result stands for
    split: str | None
    eval_task: str  # the registry task that scores it
    gt: Path
    root: Path  # the world folder, or for correspondence the world's Ego-Exo4D takes
    options: dict[str, Any] = field(default_factory=dict)  # runner options the world's files need
    images: Path | None = None  # the folder the GT's file names are relative to (what `predict` reads)
    metric: str | None = None  # the headline metric the world names for it

    def describe(self) -> str:
        if self.task == "correspondence":
            return f"ground truth: the embedded world's Ego-Exo4D takes ({self.gt})"
        return f"ground truth: the embedded world, {self.task} {self.split} ({self.gt})"


def world_gt(task: str, split: str | None = None, *, world: str | Path | None = None, progress: bool = False) -> WorldGT:
    """The ground truth of ``task`` on ``world`` (a `psalm-bench synth` folder;
    for correspondence a takes folder), or on the cached embedded world, built on first use."""
    if task == "correspondence":
        from psalm_bench.generators import world_egoexo

        root = Path(world) if world is not None else world_egoexo.ensure_egoexo(progress=progress)
        return WorldGT(task, split, task, root / world_egoexo.GT_NAME, root, images=root / "takes", metric="EgoExo_IoU")
    from psalm_bench.generators.embedded import ensure_world, world_job

    root = Path(world) if world is not None else ensure_world(progress=progress)
    job = world_job(root, task, split)
    return WorldGT(job.task, job.split, job.eval_task, job.gt, root, dict(job.options), job.images, job.metric)


def world_splits(task: str, *, world: str | Path) -> list[str]:
    """The splits ``world`` holds ground truth for ``task`` in, in the manifest's order (none: [])."""
    from psalm_bench.generators.world import load_manifest

    return list(load_manifest(world)["tasks"].get(task, {}))


def novel_categories(world: str | Path) -> list[str]:
    """The names of the world's held-out (open-vocabulary) categories."""
    from psalm_bench.generators.world import load_manifest

    return list(load_manifest(world)["categories"]["novel"])


def takes_beside(world: str | Path, *, progress: bool = False) -> WorldGT:
    """The correspondence ground truth that goes with ``world``: the Ego-Exo4D
    takes built beside it with the world's own seed and size (on first use)."""
    from psalm_bench.generators.world import load_manifest
    from psalm_bench.generators.world_egoexo import ensure_egoexo

    manifest = load_manifest(world)
    takes = ensure_egoexo(Path(world).parent, seed=manifest["seed"], size=manifest["size"], progress=progress)
    return world_gt("correspondence", "val", world=takes)


def stamp_world(result: EvalResult, root: Path, key: str) -> EvalResult:
    """Record what a result on the world is: the task it stands for (``ov-semantic``,
    not the ``semantic`` evaluator that scored it), and which world (``params.world``:
    version, size, seed), so that the leaderboard keeps it on a board of its own,
    never beside a real benchmark's numbers. The world's open-vocabulary split is
    its own benchmark (``ov``). For ``correspondence`` ``root`` is the world's
    Ego-Exo4D takes (``egoexo.json``), which are a world of their own."""
    from psalm_bench.generators.world import load_manifest
    from psalm_bench.tasks import TASKS

    if key == "correspondence":
        from psalm_bench.generators.world_egoexo import MANIFEST

        takes = load_json(Path(root) / MANIFEST)
        result.task = key
        result.params["world"] = f"egoexo-v{takes['version']}-{takes['size']}-seed{takes['seed']}"
        return result
    manifest = load_manifest(root)
    if key in TASKS:
        result.task = key
    result.params["world"] = f"world-v{manifest['version']}-{manifest['size']}-seed{manifest['seed']}"
    if key.startswith("ov-"):
        result.params.setdefault("benchmark", "ov")
    return result
