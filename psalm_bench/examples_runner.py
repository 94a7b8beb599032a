"""Score the example predictions shipped in psalm_bench/examples on every task.

Each table is printed under the command that gives it, with paths a user can
paste: relative to the working folder when the examples lie below it (the
repo root of a clone), else absolute (an installed package). With ``out``
the result JSONs, the built COCO-Interactive file, the baseline predictions
and tables.md are kept there, so the printed commands' outputs exist too.
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from psalm_bench.tables import render
from psalm_bench.tasks import get_task, input_files

EXAMPLES = Path(__file__).resolve().parent / "examples"
KEEP = "demo-examples"  # the folder the printed commands suggest for --out


@dataclass
class ExampleJob:
    """One `psalm-bench eval` over the shipped examples."""

    name: str  # result file stem under OUT/results
    task: str
    gt: Path
    pred: Path
    options: dict[str, object] = field(default_factory=dict)


def example_jobs(root: Path = EXAMPLES) -> list[ExampleJob]:
    return [
        ExampleJob("panoptic", "panoptic", root / "panoptic" / "gt.json", root / "panoptic" / "pred.json"),
        ExampleJob("instance-segm", "instance", root / "instance" / "gt.json", root / "instance" / "pred.json"),
        ExampleJob("instance-bbox", "instance", root / "instance" / "gt.json", root / "instance" / "pred.json", {"iou_type": "bbox"}),
        ExampleJob("semantic", "semantic", root / "semantic" / "gt", root / "semantic" / "pred", {"classes": root / "semantic" / "classes.json"}),
        ExampleJob("semantic-from-panoptic", "semantic", root / "panoptic" / "gt.json", root / "semantic" / "pred"),
    ]


def shown(path: Path, cwd: Path | None = None) -> str:
    """``path`` as a user can type it from ``cwd``: relative below it, else absolute."""
    cwd = (cwd or Path.cwd()).resolve()
    path = Path(path).resolve()
    try:
        return shlex.quote(str(path.relative_to(cwd)))
    except ValueError:
        return shlex.quote(str(path))


def _flags(options: dict[str, object], cwd: Path | None) -> str:
    parts = []
    for key, value in options.items():
        parts.append(f"--{key.replace('_', '-')} {shown(value, cwd) if isinstance(value, Path) else value}")
    return " ".join(parts)


def run_examples(root: Path = EXAMPLES, *, per_class: bool = False, out: Path | None = None, cwd: Path | None = None) -> Iterator[str]:
    """Yield each example's command line(s) and table; with ``out``, keep what they write."""
    from psalm_bench.jsonio import write_atomic

    texts = []
    for job in example_jobs(root):
        task = get_task(job.task)
        result = task.run(job.gt, job.pred, progress=False, **job.options)
        command = f"$ psalm-bench eval --task {job.task} --gt {shown(job.gt, cwd)} --pred {shown(job.pred, cwd)} {_flags(job.options, cwd)}".rstrip()
        if out is not None:
            target = Path(out) / "results" / f"{job.name}.json"
            result.write_json(target, gt=input_files(job.task, job.gt), pred=input_files(job.task, job.pred))
            command += f" --json {shown(target, cwd)}"
        texts.append(command + "\n" + render(result, task.table_rows, per_class=per_class))
        yield texts[-1]
    texts.append(interactive_baseline(root, per_class=per_class, out=out, cwd=cwd))
    yield texts[-1]
    if out is not None:
        tables = Path(out) / "tables.md"
        write_atomic(tables, ("\n\n".join(f"```\n{t}\n```" for t in texts) + "\n").encode())
        yield f"results: {shown(Path(out) / 'results', cwd)}; tables: {shown(tables, cwd)}"


def interactive_baseline(root: Path = EXAMPLES, *, per_class: bool = False, out: Path | None = None, cwd: Path | None = None) -> str:
    """COCO-Interactive built from the example instances, scored with the
    simplest honest baseline: each visual prompt turned into a mask with no
    model (generators/baselines.py). A model has to beat this floor."""
    from psalm_bench.generators.baselines import write_prompt_baseline
    from psalm_bench.generators.interactive import build_interactive

    task = get_task("interactive")
    instances = root / "instance" / "gt.json"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out) if out is not None else Path(tmp)
        built = folder / "coco_interactive.json"
        build_interactive(instances, built, seed=0, progress=False)
        pred = write_prompt_baseline(built, folder / "prompt_as_mask.jsonl")
        result = task.run(built, pred, progress=False)
        if out is not None:
            result.write_json(folder / "results" / "interactive-prompt-as-mask.json", gt=[built], pred=[pred])
        if out is not None:
            built_name, pred_name = shown(built, cwd), shown(pred, cwd)
    if out is not None:
        header = (
            f"$ psalm-bench build-interactive --instances {shown(instances, cwd)} --out {built_name}\n"
            f"$ psalm-bench eval --task interactive --gt {built_name} --pred {pred_name}   # baseline: the prompt itself as the mask"
        )
    else:  # the baseline's predictions have no command of their own: --out keeps them
        header = (
            f"$ psalm-bench demo --examples --out {KEEP}   # keeps COCO-Interactive and the baseline (the prompt itself as the mask)\n"
            f"$ psalm-bench eval --task interactive --gt {KEEP}/coco_interactive.json --pred {KEEP}/prompt_as_mask.jsonl"
        )
    return header + "\n" + render(result, task.table_rows, per_class=per_class)

