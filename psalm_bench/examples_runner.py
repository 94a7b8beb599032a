"""Score the example predictions shipped in psalm_bench/examples on every task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from psalm_bench.tables import render
from psalm_bench.tasks import get_task

EXAMPLES = Path(__file__).resolve().parent / "examples"


def example_jobs(root: Path = EXAMPLES) -> list[tuple[str, Path, Path, dict]]:
    return [
        ("panoptic", root / "panoptic" / "gt.json", root / "panoptic" / "pred.json", {}),
        ("instance", root / "instance" / "gt.json", root / "instance" / "pred.json", {}),
        ("instance", root / "instance" / "gt.json", root / "instance" / "pred.json", {"iou_type": "bbox"}),
        ("semantic", root / "semantic" / "gt", root / "semantic" / "pred", {"classes": root / "semantic" / "classes.json"}),
        ("semantic", root / "panoptic" / "gt.json", root / "semantic" / "pred", {}),
    ]


def run_examples(root: Path = EXAMPLES, *, per_class: bool = False) -> Iterator[str]:
    for task_name, gt, pred, options in example_jobs(root):
        task = get_task(task_name)
        result = task.run(gt, pred, progress=False, **options)
        flags = " ".join(f"--{k.replace('_', '-')} {Path(v).name if isinstance(v, Path) else v}" for k, v in options.items())
        header = f"$ psalm-bench eval --task {task_name} --gt {gt.relative_to(root.parent)} --pred {pred.relative_to(root.parent)} {flags}".rstrip()
        yield header + "\n" + render(result, task.table_rows, per_class=per_class)
    yield interactive_baseline(root, per_class=per_class)


def interactive_baseline(root: Path = EXAMPLES, *, per_class: bool = False) -> str:
    """COCO-Interactive built from the example instances, scored with the
    simplest honest baseline: each visual prompt turned into a mask with no
    model (generators/baselines.py). A model has to beat this floor."""
    import tempfile

    from psalm_bench.generators.baselines import write_prompt_baseline
    from psalm_bench.generators.interactive import build_interactive

    task = get_task("interactive")
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "coco_interactive.json"
        build_interactive(root / "instance" / "gt.json", built, seed=0, progress=False)
        pred = write_prompt_baseline(built, Path(tmp) / "prompt_as_mask.jsonl")
        result = task.run(built, pred, progress=False)
    header = (
        "$ psalm-bench build-interactive --instances examples/instance/gt.json --out coco_interactive.json\n"
        "$ psalm-bench eval --task interactive --gt coco_interactive.json --pred prompt_as_mask.jsonl"
        "   # baseline: the prompt itself as the mask"
    )
    return header + "\n" + render(result, task.table_rows, per_class=per_class)
