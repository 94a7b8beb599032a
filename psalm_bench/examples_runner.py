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
