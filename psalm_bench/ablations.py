"""The paper's ablations at world scale: Table 7 (joint training vs each task alone) and
Table 2 (mask tokens through the LLM vs straight into the mask generator).

Every run trains the same config for the same number of steps from the same seed on the
world's train stream (model/recipe.py), then is scored by ``reproduce`` on the world's
val splits (the tiny world unless another is given: five runs must fit a session on a CPU)
with the paper's four ablation columns: COCO-Pan PQ, RefCOCO val cIoU,
COCO-Point mIoU and open-vocabulary instance mAP (the world's ``ov-instance``; the paper
uses ADE20K-150). A task-specific run is scored only on its own task, as the paper's
"Task Specific Train" row; the open-vocabulary column comes from the category-only run.
Runs resume: a finished run's folder is reused when its provenance matches.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from psalm_bench.tables import Col, Table

# (column header, world task key, split, metric): the paper's Tables 2 and 7 columns
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("COCO-Pan PQ", "panoptic", "val", "PQ"),
    ("RefCOCO cIoU", "refcoco", "val", "cIoU"),
    ("COCO-Point mIoU", "interactive", "val", "point_mIoU"),
    ("OV mAP", "ov-instance", "val", "AP"),
)
# which training task feeds each column in a task-specific run
COLUMN_TRAIN_TASK = {"panoptic": "panoptic", "refcoco": "referring", "interactive": "interactive", "ov-instance": "panoptic"}
REPRODUCE_TASKS = {"panoptic": "panoptic", "referring": "refcoco", "interactive": "interactive"}


@dataclass(frozen=True)
class AblationRun:
    """One training run of the ablations."""

    name: str
    tasks: tuple[str, ...]
    query_source: str = "llm"


RUNS: tuple[AblationRun, ...] = (
    AblationRun("joint", ("panoptic", "referring", "interactive")),
    AblationRun("panoptic-only", ("panoptic",)),
    AblationRun("referring-only", ("referring",)),
    AblationRun("interactive-only", ("interactive",)),
    AblationRun("joint-no-llm-queries", ("panoptic", "referring", "interactive"), query_source="embeddings"),
)


@dataclass
class AblationResult:
    """Measured numbers per run (``metrics[run][column header]``) and how they were made."""

    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def tables(self, published: Sequence[dict[str, Any]] = ()) -> list[Table]:
        """Table 7 and Table 2 analogues, the paper's rows first, measured rows below."""
        cols = [Col("Rows", align="left")] + [Col(h, direction="higher") for h, *_ in COLUMNS]
        paper = {row["model"]: row for row in published}

        def paper_row(model: str, label: str) -> list[Any] | None:
            row = paper.get(model)
            if row is None:
                return None
            values = {(r["task"], m): v for r in row["results"] for m, v in r["metrics"].items()}
            return [label] + [values.get((task, metric)) for _, task, _, metric in COLUMNS]

        specific = self._specific()
        joint = self.metrics.get("joint", {})
        no_llm = self.metrics.get("joint-no-llm-queries", {})
        steps = self.settings.get("steps")
        note = (f"measured: config {self.settings.get('config')}, {steps} steps each, batch {self.settings.get('batch_size')}, "
                f"seed {self.settings.get('seed')}, world {self.settings.get('world')}; the paper trains at COCO scale")
        t7 = Table("Table 7 analogue: joint training vs task-specific training", cols, notes=[note])
        for model, label in (("PSALM ablation T7: task-specific training", "paper: Task Specific Train"),
                             ("PSALM ablation T7: joint training", "paper: Joint Train")):
            if (row := paper_row(model, label)) is not None:
                t7.rows.append(row)
        t7.rows.append(["measured: task-specific"] + [specific[h] for h, *_ in COLUMNS])
        t7.rows.append(["measured: joint"] + [joint.get(h) for h, *_ in COLUMNS])
        t7.rows.append(["measured: joint - specific"] + [_delta(joint.get(h), specific[h]) for h, *_ in COLUMNS])
        t2 = Table("Table 2 analogue: mask tokens through the LLM", cols, notes=[note])
        for model, label in (("PSALM ablation T2: mask tokens into the LLM, suffix", "paper: w.LLM, suffix"),
                             ("PSALM ablation T2: mask tokens not into the LLM", "paper: not into the LLM")):
            if (row := paper_row(model, label)) is not None:
                t2.rows.append(row)
        t2.rows.append(["measured: w.LLM, suffix"] + [joint.get(h) for h, *_ in COLUMNS])
        t2.rows.append(["measured: not into the LLM"] + [no_llm.get(h) for h, *_ in COLUMNS])
        t2.rows.append(["measured: w.LLM - not"] + [_delta(joint.get(h), no_llm.get(h)) for h, *_ in COLUMNS])
        return [t7, t2]

    def verdicts(self) -> list[str]:
        """One plain sentence per paper claim: does the sign of each measured difference match?"""
        lines = []
        joint, no_llm = self.metrics.get("joint", {}), self.metrics.get("joint-no-llm-queries", {})
        specific = self._specific()
        for claim, better, worse in (("Table 7 (joint training helps every column)", joint, specific),
                                     ("Table 2 (mask tokens through the LLM help every column)", joint, no_llm)):
            deltas = {h: _delta(better.get(h), worse.get(h)) for h, *_ in COLUMNS}
            known = {h: d for h, d in deltas.items() if d is not None}
            agree = [h for h, d in known.items() if d > 0]
            if not known:
                lines.append(f"{claim}: not measured.")
            elif len(agree) == len(known):
                lines.append(f"{claim}: reproduces in sign on all {len(known)} columns.")
            else:
                lines.append(f"{claim}: does not reproduce: {len(agree)} of {len(known)} columns agree in sign "
                             f"({', '.join(f'{h} {d:+.1f}' for h, d in known.items())}).")
        return lines

    def _specific(self) -> dict[str, float | None]:
        """The "Task Specific Train" row: each column from the run trained on that column's task alone."""
        return {h: self.metrics.get(f"{COLUMN_TRAIN_TASK[task]}-only", {}).get(h) for h, task, *_ in COLUMNS}

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings, "metrics": self.metrics, "seconds": self.seconds}


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 4) + 0.0  # + 0.0: no "-0.0"


DEFAULT_STEPS = 600


def run_ablations(out: Path, *, config: str = "tiny", steps: int = DEFAULT_STEPS, batch_size: int = 4, seed: int = 0,
                  runs: Sequence[AblationRun] = RUNS, world: Path | None = None, threads: int | None = 1,
                  progress: bool = True, log: Callable[[str], None] = lambda _: None) -> AblationResult:
    """Train each run for ``steps`` steps and score it; results in ``out/ablations.json``."""
    from psalm_bench.generators.embedded import ensure_world
    from psalm_bench.generators.world import load_manifest
    from psalm_bench.model.config import get_config
    from psalm_bench.model.recipe import Recipe, train_on_world
    from psalm_bench.reproduce import reproduce

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(world) if world is not None else ensure_world(size="tiny", progress=progress)
    manifest = load_manifest(root)
    result = AblationResult(settings={"config": config, "steps": steps, "batch_size": batch_size, "seed": seed,
                                      "world": f"world-v{manifest['version']}-{manifest['size']}-seed{manifest['seed']}"})
    warmup = min(50, steps // 10)
    for run in runs:
        base = get_config(config)
        cfg = replace(base, decoder=replace(base.decoder, query_source=run.query_source)).validate()
        recipe = Recipe(steps=steps, batch_size=batch_size, seed=seed, tasks=run.tasks, warmup_steps=warmup,
                        checkpoint_every=max(steps // 4, 1), lr=1e-3)
        run_dir = out / "runs" / run.name
        started = time.perf_counter()
        log(f"ablation {run.name}: training {steps} steps on {', '.join(run.tasks)}")
        # a bar only on a terminal: the log lines say where a CI run is
        summary = train_on_world(cfg, run_dir, recipe, progress=progress and sys.stderr.isatty(), threads=threads)
        if not summary.completed:
            raise RuntimeError(f"ablation run {run.name} stopped at step {summary.step}")
        wanted = [REPRODUCE_TASKS[t] for t in run.tasks]
        if "panoptic" in run.tasks:
            wanted.append("ov")
        rep = reproduce(run_dir, world=root, out=out / "eval" / run.name, tasks=wanted, progress=False)
        row: dict[str, float | None] = {}
        for header, task, split, metric in COLUMNS:
            entry = rep.get(rep.labels.model, task, split)
            row[header] = None if entry is None else entry.result.metrics.get(metric)
        result.metrics[run.name] = row
        result.seconds[run.name] = round(time.perf_counter() - started, 1)
        log(f"ablation {run.name}: " + ", ".join(f"{h} {v:.1f}" if v is not None else f"{h} -" for h, v in row.items()))
    (out / "ablations.json").write_text(json.dumps(result.to_dict(), indent=1, sort_keys=True) + "\n")
    return result


def published_ablation_rows() -> list[dict[str, Any]]:
    """The paper's Table 2 and Table 7 rows (leaderboard/published)."""
    from psalm_bench.leaderboard.published import load_data

    return [row for row in load_data().rows if row["source"] in ("psalm-eccv-t2", "psalm-eccv-t7")]
