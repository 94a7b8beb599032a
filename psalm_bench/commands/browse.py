"""`psalm-bench browse`: the K worst samples as static pages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer


def browse_command(
    result: Annotated[Path, typer.Argument(help="A result JSON from `eval --json` (with its per-sample records).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the static pages (replaced if it holds an earlier browse).")],
    gt: Annotated[Optional[Path], typer.Option("--gt", help="The ground truth it was scored on (checked against the result's sha256). [default: the file its provenance names]")] = None,
    pred: Annotated[Optional[Path], typer.Option("--pred", help="The predictions it was scored on (checked against the result's sha256). [default: the file its provenance names]")] = None,
    gt_dir: Annotated[Optional[Path], typer.Option("--gt-dir", help="panoptic: the ground truth's PNG folder. [default: the folder the provenance names beside its JSON, else the JSON's path without .json]")] = None,
    pred_dir: Annotated[Optional[Path], typer.Option("--pred-dir", help="panoptic: the predictions' PNG folder. [default: the folder the provenance names beside its JSON, else the JSON's path without .json]")] = None,
    worst: Annotated[int, typer.Option("--worst", "-k", min=1, help="How many samples to draw.")] = 20,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="Another result on the same ground truth: show the K samples that regressed most. [default: none; the K worst]")] = None,
    images: Annotated[Optional[Path], typer.Option("--images", help="Folder of the images. [default: beside the ground truth]")] = None,
    prompt: Annotated[Optional[str], typer.Option("--prompt", help="interactive: only this prompt type (point, scribble, box, mask). [default: all]")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="refcoco/gref: only sentences whose ground truth has some target or none. [default: all]")] = None,
    sequence: Annotated[Optional[str], typer.Option("--sequence", help="vos: only the objects of this sequence. [default: all]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Draw the K worst samples (or the K most regressed) as static HTML pages: image, GT, prediction, prompt, metrics; below them the task's plots (OUT/plots/*.png)."""
    from psalm_bench.leaderboard.browse import browse

    filters = {k: v for k, v in {"prompt": prompt, "target": target, "sequence": sequence}.items() if v is not None}
    report = browse(result, gt, pred, out, worst=worst, baseline=baseline, images=images, filters=filters, progress=not quiet and sys.stderr.isatty(),
                    gt_dir=gt_dir, pred_dir=pred_dir)
    typer.echo(report.describe())
