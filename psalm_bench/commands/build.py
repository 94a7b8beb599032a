"""`psalm-bench build-interactive` and `synth`: the generators' commands."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from psalm_bench.errors import InputError


class BuildFormat(str, Enum):
    psalm = "psalm"
    hf = "hf"


class PromptMode(str, Enum):
    released = "released"
    paper = "paper"


def build_interactive_command(
    instances: Annotated[Path, typer.Option("--instances", help="COCO instances JSON (e.g. instances_val2017.json).")],
    out: Annotated[Path, typer.Option("--out", help="JSON file to write (--format psalm) or folder (--format hf).")],
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="Every prompt is a pure function of (seed, annotation id, mask).")] = 0,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Processes; the output is byte-identical for any number.")] = 1,
    fmt: Annotated[BuildFormat, typer.Option("--format", help="psalm: the JSON list PSALM's code reads; hf: a Hugging Face datasets folder with a dataset card.")] = BuildFormat.psalm,
    mode: Annotated[PromptMode, typer.Option("--mode", help="released: as the authors' released generator; paper: as the paper's appendix 8.")] = PromptMode.released,
    preview: Annotated[int, typer.Option("--preview", min=0, help="Render the first N images with their four prompts to PNGs.")] = 0,
    preview_dir: Annotated[Optional[Path], typer.Option("--preview-dir", help="Folder for the previews [default: OUT_preview].")] = None,
    images: Annotated[Optional[Path], typer.Option("--images", help="Image folder for previews [default: beside the instances JSON; else a grey canvas].")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from OUT.partial and OUT.progress.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    engine: Annotated[Optional[str], typer.Option("--engine", help="ray: render the images as Ray tasks (pip install 'psalm-bench[ray]'); byte-identical output. [default: this machine's --workers pool]")] = None,
    address: Annotated[Optional[str], typer.Option("--address", help="--engine ray: auto or HOST:PORT of the head node. [default: start a local Ray]")] = None,
) -> None:
    """Build COCO-Interactive: point, scribble, box and mask prompts for every COCO instance.

    Bad annotations (polygons with < 3 points, RLE of the wrong size,
    zero-area instances, unknown images) are skipped and counted in the
    summary. An interrupted run continues with the same command and --resume.
    """
    from psalm_bench.cli_cluster import build_executor
    from psalm_bench.generators.interactive import build_interactive

    executor, workers = build_executor(engine, address, workers)
    try:
        summary = build_interactive(
            instances, out, seed=seed, workers=workers, format=fmt.value, preview=preview,
            preview_dir=preview_dir, images=images, resume=resume, mode=mode.value,
            progress=not quiet, executor=executor,  # lines in a CI log (psalm_bench/progress.py)
        )
    except KeyboardInterrupt:
        typer.echo("psalm-bench: interrupted; run the same command with --resume to continue", err=True)
        raise SystemExit(130) from None
    for line in summary.lines():
        typer.echo(line)



class WorldSize(str, Enum):
    tiny = "tiny"
    small = "small"
    full = "full"


def synth_command(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder to write the world into. [default: the cache folder every command falls back to]")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="Every file is a pure function of the seed.")] = 0,
    size: Annotated[WorldSize, typer.Option("--size", help="tiny: seconds, for tests; small: the reference model's world (< 2 min on 2 cores); full: 10x small.")] = WorldSize.small,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=1, help="Processes for rendering; output is identical for any number. [default: up to 4]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    engine: Annotated[Optional[str], typer.Option("--engine", help="ray (with --out): render as Ray tasks on a shared filesystem; byte-identical files. [default: this machine's --workers pool]")] = None,
    address: Annotated[Optional[str], typer.Option("--address", help="--engine ray: auto or HOST:PORT of the head node. [default: start a local Ray]")] = None,
) -> None:
    """Write the synthetic benchmark world in the real benchmarks' formats.

    Scenes in the official formats of COCO (instances, panoptic, semantic),
    RefCOCO, gRefCOCO, COCO-Interactive and DAVIS-2017, with an
    open-vocabulary split and a dataset card. Without --out it fills the cache that `eval` and the other commands use
    when no --gt is given.
    """
    import os

    from psalm_bench.generators.embedded import ensure_world
    from psalm_bench.generators.world import build_world

    progress = not quiet  # a bar on a terminal, lines in a CI log (psalm_bench/progress.py): a small world is minutes
    n = workers or min(4, os.cpu_count() or 1)
    if out is None:
        if engine or address:
            raise InputError("--engine ray needs --out (the cache is filled on this machine)")
        root = ensure_world(seed=seed, size=size.value, progress=progress, workers=n)
        typer.echo(f"world: {root}")
        return
    from psalm_bench.cli_cluster import build_executor

    executor, n = build_executor(engine, address, workers or 1) if engine or address else (None, n)
    summary = build_world(out, seed=seed, size=size.value, workers=n, progress=progress, executor=executor)
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items())
    typer.echo(f"wrote {summary.root} ({summary.size}, seed {summary.seed}) in {summary.seconds:.1f} s: {counts}")
    typer.echo(f"dataset card: {summary.root / 'README.md'}")
