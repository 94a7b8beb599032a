"""`psalm-bench train`, `predict`, `reproduce` and `demo`: the commands that run the reference model.

The only command code that imports psalm_bench.model (lazily, after
:func:`psalm_bench.optional.require_model`), as the layer contracts demand.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from psalm_bench.errors import InputError


def train_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: checkpoints, train_log.jsonl, and at the end the model (weights, config, tokenizer, provenance).")],
    config: Annotated[str, typer.Option("--config", "-c", help="Model geometry: tiny, bundled or swinb-phi15 (or a config.json path).")] = "bundled",
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps (one task per step, round-robin panoptic/referring/interactive).")] = 1600,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Images per step.")] = 8,
    lr: Annotated[float, typer.Option("--lr", help="Peak AdamW learning rate (cosine decay after a linear warm-up).")] = 6e-4,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Warm-up steps.")] = 80,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="Initialisation and sampling seed.")] = 0,
    world_seed: Annotated[int, typer.Option("--world-seed", min=0, max=2**63 - 1, help="Seed of the world the scenes come from.")] = 0,
    device: Annotated[str, typer.Option("--device", help="auto (CUDA when present, with bf16 autocast), cpu or cuda.")] = "auto",
    max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", min=0.0, help="Stop (after a checkpoint) when this much time has passed; run again with the same options to resume. [default: no limit]")] = None,
    loader_workers: Annotated[int, typer.Option("--loader-workers", min=0, max=256, help="Processes rendering training scenes ahead while the model steps (0: in the step loop). Same batches, same weights.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a PSALM model jointly on the synthetic world's train split.

    Resumes from OUT's checkpoint when one is there, so a long run can be cut
    into chunks (--max-minutes) and continued with the same command.
    """
    from psalm_bench.optional import require_model

    require_model("train")
    from psalm_bench.model.config import PSALMConfig
    from psalm_bench.model.recipe import Recipe, train_on_world

    cfg = PSALMConfig.from_json(config) if config.endswith(".json") else config
    recipe = Recipe(steps=steps, batch_size=batch_size, lr=lr, warmup_steps=warmup, seed=seed, world_seed=world_seed,
                    checkpoint_every=max(1, min(200, steps // 8)))
    summary = train_on_world(cfg, out, recipe, device=device, max_seconds=None if max_minutes is None else 60 * max_minutes,
                             progress=not quiet, loader_workers=loader_workers)  # a bar on a terminal, lines in a CI log
    losses = ", ".join(f"{k} {v:.3f}" for k, v in summary.last_losses.items())
    state = "finished" if summary.completed else "paused (run the same command to resume)"
    typer.echo(f"{state} at step {summary.step}/{summary.steps} on {summary.device} after {summary.wall_seconds / 60:.1f} min; last losses: {losses}")
    if summary.completed:
        typer.echo(f"model: {out}")


class PredictTask(str, Enum):
    panoptic = "panoptic"
    refcoco = "refcoco"
    gref = "gref"
    interactive = "interactive"
    vos = "vos"
    ov = "ov"
    correspondence = "correspondence"


def predict_command(
    task: Annotated[PredictTask, typer.Option("--task", "-t", help="panoptic (writes panoptic, instance and semantic files from one pass), refcoco, gref, interactive, vos, or ov (the held-out categories).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the prediction file(s).")],
    model: Annotated[str, typer.Option("--model", "-m", help="bundled, or a folder written by `psalm-bench train`.")] = "bundled",
    gt: Annotated[Optional[Path], typer.Option("--gt", help="Ground truth to predict for (COCO panoptic/instances JSON, REFER/gRefCOCO folder, COCO-Interactive JSON, DAVIS root). [default: the embedded world]")] = None,
    images: Annotated[Optional[Path], typer.Option("--images", help="Image folder the GT's file names are relative to (with --gt; DAVIS reads JPEGImages/480p itself). [default: the world's images, without --gt]")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="refcoco/gref: val, testA, testB; vos: the ImageSets/2017 list. [default: val]")] = None,
    no_target: Annotated[bool, typer.Option("--no-target", help="gref: answer no-target when no proposal passes 0.6 (a different protocol from the released top-1 fallback).")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Images per forward pass.")] = 8,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    engine: Annotated[Optional[str], typer.Option("--engine", help="ray: forward passes on Ray actors, the model loaded once per actor; the same prediction files. [default: this process]")] = None,
    address: Annotated[Optional[str], typer.Option("--address", help="--engine ray: auto or HOST:PORT of the head node. [default: start a local Ray]")] = None,
    gpus_per_worker: Annotated[Optional[float], typer.Option("--gpus-per-worker", min=0, help="--engine ray: GPUs per actor (one actor per that many cluster GPUs). [default: CPU actors, one per cluster CPU]")] = None,
) -> None:
    """Run a PSALM model and write predictions in the files `eval` reads."""
    from psalm_bench.optional import require_model

    require_model("predict")
    from psalm_bench.model.predict import predict_task

    progress = not quiet  # a bar on a terminal, lines in a CI log (psalm_bench/progress.py)
    name = task.value
    split = split or "val"
    if gt is None:  # the world's (psalm_bench/world_gt.py, as `eval` resolves it); ov: its held-out categories
        from psalm_bench.world_gt import world_gt

        found = world_gt({"ov": "ov-panoptic"}.get(name, name), split, progress=progress)
        gt, images = found.gt, found.images
    elif images is None and name != "vos":
        raise InputError(f"--task {name} with --gt needs --images (the folder its file names are relative to)")
    from psalm_bench.cli_cluster import load_predictor
    from psalm_bench.paths import output_file, output_folder

    (output_folder if name in ("panoptic", "ov", "vos") else output_file)(out)  # before the model loads
    out.parent.mkdir(parents=True, exist_ok=True)
    predictor = load_predictor(model, batch_size=batch_size, progress=progress, engine=engine, address=address, gpus_per_worker=gpus_per_worker)
    typer.echo(predict_task(predictor, name, gt, images, out, split=split, no_target=no_target))


def reproduce_command(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write every result JSON (the eval command's format; baselines named as such), the predictions and tables.md here. [default: a temporary folder, removed]")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="bundled, or a folder written by `psalm-bench train`.")] = "bundled",
    world: Annotated[Optional[Path], typer.Option("--world", help="A world folder from `psalm-bench synth`. [default: the embedded world]")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the tables as Markdown.")] = False,
    ablations: Annotated[bool, typer.Option("--ablations", help="Instead: train the paper's Table 7 (joint vs task-specific) and Table 2 (mask tokens through the LLM or not) runs, equal steps each, score them on the tiny world (or --world) and print both tables beside the paper's rows. Resumes from --out.")] = False,
    ablation_steps: Annotated[int, typer.Option("--ablation-steps", min=1, help="With --ablations: training steps of each of the five runs.")] = 600,
    ablation_config: Annotated[str, typer.Option("--ablation-config", help="With --ablations: the model geometry of the runs (tiny, tiny-paper, bundled, ...).")] = "tiny",
    no_target_model: Annotated[Optional[Path], typer.Option("--no-target-model", help="Also score, on gRefCOCO, a model trained with no-target sentences (python -m psalm_bench.model.finetune), as its own row labelled NOT zero-shot. [default: none]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Score the model and the baselines on every task; print the paper's tables.

    Runs the model and the non-learned baselines over every task of the
    world, scores them with the evaluators and prints the analogues of the
    PSALM paper's tables 8-13 and 18. With --ablations, trains and scores the
    ablation runs instead and prints Tables 7 and 2."""
    from psalm_bench.optional import require_model

    require_model("reproduce (the bundled model's part)")
    if ablations:
        _ablations(out, world, ablation_steps, ablation_config, markdown, quiet)
        return
    from psalm_bench.reproduce import render_tables, reproduce

    progress = not quiet  # a bar on a terminal, lines in a CI log (psalm_bench/progress.py)
    rep = reproduce(model, world=world, out=out, progress=progress, log=lambda line: typer.echo(line, err=True) if progress else None,
                    no_target_model=no_target_model)
    typer.echo(render_tables(rep, "markdown" if markdown else "text"))
    prov = rep.model
    typer.echo(f"model: {prov.get('source')} ({prov.get('config_name')}, {prov.get('steps')} steps on {prov.get('device_kind')}); world: {rep.world}; {rep.seconds:.0f} s")
    if out is not None:
        typer.echo(f"results: {out / 'results'}; tables: {out / 'tables.md'}")



def _ablations(out: Optional[Path], world: Optional[Path], steps: int, config: str, markdown: bool, quiet: bool) -> None:
    import tempfile

    from psalm_bench.ablations import published_ablation_rows, run_ablations
    from psalm_bench.model.config import get_config
    from psalm_bench.tables import render_markdown, render_text

    get_config(config)  # an unknown name is one line before any training
    log = (lambda line: typer.echo(line, err=True)) if not quiet else (lambda _: None)
    with tempfile.TemporaryDirectory() as scratch:
        result = run_ablations(out if out is not None else Path(scratch), config=config, steps=steps, world=world,
                               progress=not quiet, log=log)
    render = render_markdown if markdown else render_text
    for table in result.tables(published_ablation_rows()):
        typer.echo(render(table))
    for line in result.verdicts():
        typer.echo(line)
    if out is not None:
        typer.echo(f"runs: {out / 'runs'}; numbers: {out / 'ablations.json'}")


def demo_command(
    examples: Annotated[bool, typer.Option("--examples", help="Instead: score the example prediction files that ship with psalm-bench (panoptic, instance, semantic, interactive).")] = False,
    per_class: Annotated[bool, typer.Option("--per-class", help="With --examples: print the per-class tables too.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Keep the result JSONs, predictions and tables.md here; with --examples, the examples' result JSONs (results/), tables.md, and the COCO-Interactive file and baseline predictions its last command reads. [default: not kept]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Build the world, run the bundled model and the baselines, print the tables.

    On first use the synthetic world (with its COCO-Interactive files) is
    built into the cache; then every task is predicted by the bundled PSALM
    model and by the non-learned baselines, scored by the evaluators and
    shown as the PSALM paper's tables.
    """
    if examples:
        from psalm_bench.examples_runner import run_examples

        for text in run_examples(per_class=per_class, out=out):
            typer.echo(text)
            typer.echo("")
        return
    from psalm_bench.optional import require_model

    require_model("demo (the bundled model; `psalm-bench demo --examples` runs without it)")
    from psalm_bench.generators.embedded import ensure_world
    from psalm_bench.reproduce import render_tables, reproduce

    progress = not quiet  # a bar on a terminal, lines in a CI log (psalm_bench/progress.py)
    typer.echo("building (or reusing) the embedded world ...", err=True)
    root = ensure_world(progress=progress)
    typer.echo(f"world: {root} (dataset card: {root / 'README.md'})", err=True)
    rep = reproduce("bundled", world=root, out=out, progress=progress, log=lambda line: typer.echo(line, err=True))
    typer.echo(render_tables(rep))
    prov = rep.model
    typer.echo(f"model: bundled ({prov.get('config_name')}, {prov.get('steps')} steps on {prov.get('device_kind')}); {rep.seconds:.0f} s")
