"""The `psalm-bench` command line: parse, call one library function, print."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from psalm_bench import __version__
from psalm_bench.errors import InputError

app = typer.Typer(
    name="psalm-bench",
    help="Datasets and exact, fast benchmarks for LMM-based segmentation (PSALM and its peers).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich/markdown_it alone cost ~0.3 s of start-up
)


class TaskName(str, Enum):
    panoptic = "panoptic"
    instance = "instance"
    semantic = "semantic"
    refcoco = "refcoco"
    gref = "gref"
    interactive = "interactive"
    vos = "vos"
    ov_semantic = "ov-semantic"
    ov_instance = "ov-instance"
    muse = "muse"
    gcg = "gcg"
    correspondence = "correspondence"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"psalm-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    pass


@app.command("eval")
def eval_command(
    task: Annotated[TaskName, typer.Option("--task", "-t", help="What to score (see `psalm-bench tasks`).", case_sensitive=False)],
    pred: Annotated[Path, typer.Option("--pred", help="Predictions: COCO results JSON (instance), panoptic JSON (+ PNG folder), a folder of label PNGs (semantic), a JSON Lines file; - reads the file from standard input.")],
    gt: Annotated[Optional[Path], typer.Option("--gt", help="Ground truth: COCO instances/panoptic JSON, a folder of label PNGs (semantic; a panoptic JSON also works), a REFER/gRefCOCO/DAVIS folder. [default: the embedded synthetic world's val split (built once into the cache; see `psalm-bench synth`)]")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the result, with provenance, to this JSON file (- for stdout). [default: not written]")] = None,
    per_class: Annotated[bool, typer.Option("--per-class", "--per-prompt", "--per-sequence", help="Print the task's breakdown table too (per class, prompt type or sequence).")] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=1, help="Processes for decoding and scoring (every task but instance). [default: 1]")] = None,
    gt_dir: Annotated[Optional[Path], typer.Option("--gt-dir", help="Panoptic GT PNG folder. [default: the JSON's path without .json]")] = None,
    pred_dir: Annotated[Optional[Path], typer.Option("--pred-dir", help="Panoptic prediction PNG folder. [default: the JSON's path without .json]")] = None,
    iou_type: Annotated[Optional[str], typer.Option("--iou-type", help="instance: segm (masks) or bbox. [default: segm]")] = None,
    classes: Annotated[Optional[Path], typer.Option("--classes", help="semantic: JSON list of class names (label value = index). [default: the COCO classes of a panoptic JSON, else --num-classes]")] = None,
    num_classes: Annotated[Optional[int], typer.Option("--num-classes", help="semantic: number of classes, when there is no --classes file. [default: from --classes or the GT]")] = None,
    ignore_label: Annotated[Optional[int], typer.Option("--ignore-label", help="semantic: label value of void pixels. [default: 255]")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="A named convention where the field's scripts disagree (see README): semantic detectron2|mmseg; refcoco lisa|mmdet|psalm; gref rela|gsva|psalm; interactive all-instances|psalm; vos davis2017|all-frames; muse pixellm|per-image; gcg glamm. [default: the first of each task]")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="refcoco: refcoco, refcoco+ or refcocog. [default: refcoco]")] = None,
    split_by: Annotated[Optional[str], typer.Option("--split-by", help="refcoco: unc, umd or google [default: unc; umd for refcocog].")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="refcoco/gref: val, test, testA, testB; vos: the ImageSets/2017 list [default: val].")] = None,
    strict: Annotated[Optional[bool], typer.Option("--strict", help="vos: stop at a missing prediction frame instead of scoring it as empty.")] = None,
    benchmark: Annotated[Optional[str], typer.Option("--benchmark", help="ov-semantic: a150, cityscapes, pc59, pc459 or pas20; ov-instance: a150 or cityscapes. [default: the world's, without --gt; needed with --gt]")] = None,
    layout: Annotated[Optional[str], typer.Option("--layout", help="ov-semantic: official (the dataset's own label files) or prepared (detectron2's converted maps). [default: official]")] = None,
    image_list: Annotated[Optional[Path], typer.Option("--image-list", help="ov-semantic: a file of image stems to score (e.g. VOC's val.txt). [default: every GT file]")] = None,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="muse: JSON of externally computed text scores per sample [default: mask-only scoring].")] = None,
    captions: Annotated[Optional[bool], typer.Option("--captions/--no-captions", help="gcg: also score captions with METEOR and CIDEr (needs Java). [default: captions]")] = None,
    records: Annotated[Optional[bool], typer.Option("--records", help="instance, ov-instance: keep the per-image match state in the JSON, so `psalm-bench report` can bootstrap AP (several ms per image; other tasks always keep their records).")] = None,
    ignore_extra: Annotated[Optional[bool], typer.Option("--ignore-extra", help="Skip predictions for samples the ground truth lacks instead of stopping.")] = None,
    world: Annotated[Optional[Path], typer.Option("--world", help="Without --gt: a world folder from `psalm-bench synth` to take the ground truth from. [default: the embedded world]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    engine: Annotated[Optional[str], typer.Option("--engine", help="ray: score as tasks on a Ray cluster (pip install 'psalm-bench[ray]'); same result as one process. [default: this machine's --workers pool]")] = None,
    address: Annotated[Optional[str], typer.Option("--address", help="--engine ray: auto or HOST:PORT of the head node. [default: start a local Ray]")] = None,
    shards: Annotated[Optional[int], typer.Option("--shards", help="--engine ray: Ray tasks to split the samples into. [default: 4 per cluster CPU]")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Score only shard K of N (1-based, e.g. 3/16; a Slurm array index) and write its state to --state-out for `psalm-bench merge`. [default: all samples]")] = None,
    state_out: Annotated[Optional[Path], typer.Option("--state-out", help="With --shard: the shard state file to write (docs/scale.md). [default: none; needed with --shard]")] = None,
) -> None:
    """Score predictions against ground truth and print the task's table.

    Metrics are in percent and follow the official implementations exactly
    (panopticapi, pycocotools, detectron2). Bad input stops with one line
    naming the file, the record and the problem, and exit status 2.
    """
    from psalm_bench.tables import render
    from psalm_bench.tasks import get_task

    task_name = task.value
    world_options: dict = {}
    world_stamp = None  # (world root, task): a result on the world says so, and which task it stands for
    if gt is None and world is None and task_name == "correspondence":
        from psalm_bench.generators.world_egoexo import GT_NAME, ensure_egoexo

        gt = ensure_egoexo(progress=not quiet and sys.stderr.isatty()) / GT_NAME
        typer.echo(f"ground truth: the embedded world's Ego-Exo4D takes ({gt})", err=True)
        world_stamp = (gt.parent, "correspondence")
    if gt is None:
        from psalm_bench.generators.embedded import ensure_world, world_job

        root = world if world is not None else ensure_world(progress=not quiet and sys.stderr.isatty())
        job = world_job(root, task_name, split)
        typer.echo(f"ground truth: the embedded world, {job.task} {job.split} ({job.gt})", err=True)
        task_name, gt, world_options = job.eval_task, job.gt, job.options
        world_stamp = (root, job.task)
    elif world is not None:
        raise InputError("--world names where to take the ground truth from; it cannot go with --gt")
    spec = get_task(task_name)
    options = {
        "gt_dir": gt_dir,
        "pred_dir": pred_dir,
        "iou_type": iou_type,
        "classes": classes,
        "num_classes": num_classes,
        "ignore_label": ignore_label,
        "protocol": protocol,
        "dataset": dataset,
        "split_by": split_by,
        "split": split,
        "strict": strict,
        "benchmark": benchmark,
        "layout": layout,
        "image_list": image_list,
        "scores": scores,
        "captions": captions,
        "ignore_extra": ignore_extra,
        "records": records,
        "workers": workers,
    }
    options.update({k: v for k, v in world_options.items() if options.get(k) is None})
    if "progress" in spec.options:
        options["progress"] = not quiet and sys.stderr.isatty()
    import contextlib

    from psalm_bench.cli_cluster import eval_engine, finish_shard
    from psalm_bench.stdio import is_stdio, spooled_stdin, write_json_stdout

    piped = is_stdio(pred)
    with contextlib.ExitStack() as stack:
        if piped:  # `--pred -`: the predictions come through a pipe
            if task_name == "panoptic" and pred_dir is None:
                raise InputError("--pred -: panoptic predictions need --pred-dir (the PNG folder)")
            pred = stack.enter_context(spooled_stdin(task_name))
        cluster = eval_engine(spec, gt, pred, options, engine=engine, address=address, shards=shards, shard=shard, state_out=state_out, world=world_stamp)
        if cluster is not None:
            options["workers"] = cluster
        result = spec.run(gt, pred, **options)
        if finish_shard(cluster):
            return
        if world_stamp is not None:
            from psalm_bench.reproduce import stamp_world

            stamp_world(result, *world_stamp)
        table = render(result, spec.table_rows, per_class=per_class)
        if json_out is not None:
            from psalm_bench.jsonio import dump_json

            doc = result.to_dict(gt=_inputs(gt, gt_dir, task_name), pred=_inputs(pred, pred_dir, task_name))
            if piped and "inputs" in doc["provenance"]:
                doc["provenance"]["inputs"]["pred"] = ["-"]  # the spooled copy is gone after the run
            if is_stdio(json_out):  # `--json -`: stdout is the JSON alone, the table goes to stderr
                write_json_stdout(doc)
                typer.echo(table, err=True)
                return
            dump_json(doc, json_out)
    typer.echo(table)


def _inputs(path: Path, png_dir: Optional[Path], task: str) -> list[Path]:
    """The files a result depends on: a panoptic JSON and its PNG folder."""
    if task == "panoptic" or (task == "semantic" and path.suffix == ".json"):
        return [path, png_dir or path.with_suffix("")]
    return [path]


class BuildFormat(str, Enum):
    psalm = "psalm"
    hf = "hf"


class PromptMode(str, Enum):
    released = "released"
    paper = "paper"


@app.command("build-interactive")
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


class ReportFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    junit = "junit"
    json = "json"


class FailOn(str, Enum):
    regression = "regression"
    any = "any"
    never = "never"


@app.command("report")
def report_command(
    baseline: Annotated[Path, typer.Option("--baseline", help="Result JSON of the reference run (`eval --json`).")],
    current: Annotated[Path, typer.Option("--current", help="Result JSON of the run to check, same task and ground truth.")],
    tolerance: Annotated[float, typer.Option("--tolerance", min=0.0, help="Drops smaller than this (metric points, percent) never fail: regressed only when the whole CI lies below -T.")] = 0.0,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="text; markdown (a pull-request comment); junit (XML, one testcase per metric); json.")] = ReportFormat.text,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 on: regression (a significant drop beyond --tolerance), any (a significant change either way), never.")] = FailOn.regression,
    resamples: Annotated[int, typer.Option("--resamples", min=1, help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="Bootstrap seed; the same inputs and seed give the same report.")] = 0,
    confidence: Annotated[float, typer.Option("--confidence", min=0.5, max=0.999, help="Confidence level of the intervals.")] = 0.95,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the rendered report to this file. [default: not written]")] = None,
) -> None:
    """Compare two result files metric by metric, with paired bootstrap confidence intervals.

    Each metric is labelled improved, regressed or within noise from the CI of
    (current - baseline) over the paired per-sample records; metrics without
    records (instance) compare point values only. Exit status 1 only when a
    metric fails under --fail-on; bad input exits 2 with one line.
    """
    from psalm_bench.leaderboard.report import compare_results, exit_code, render

    report = compare_results(baseline, current, tolerance=tolerance, resamples=resamples, seed=seed, confidence=confidence)
    text = render(report, fmt.value, fail_on.value)
    if out is not None:
        from psalm_bench.jsonio import write_atomic

        write_atomic(out, (text if text.endswith("\n") else text + "\n").encode("utf-8"))
    typer.echo(text.rstrip("\n"))
    raise typer.Exit(exit_code(report, fail_on.value))


leaderboard_app = typer.Typer(help="The results store: an SQLite leaderboard of result JSONs.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(leaderboard_app, name="leaderboard")
DbOption = Annotated[Path, typer.Option("--db", help="Leaderboard database file.")]


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


@leaderboard_app.command("add")
def leaderboard_add(
    results: Annotated[List[Path], typer.Argument(help="Result JSON(s) written by `eval --json`; all are added or none.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name on the board.")],
    meta: Annotated[Optional[List[str]], typer.Option("--meta", help="Model metadata KEY=VALUE (params, llm, backbone, training data, link); repeatable. [default: none]")] = None,
    source: Annotated[str, typer.Option("--source", help="measured (scored by psalm-bench) or reported (a paper's numbers).")] = "measured",
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Add results for a model; re-adding the same results changes nothing."""
    from psalm_bench.leaderboard.store import ResultsStore, parse_meta

    meta_dict = parse_meta(meta)
    with ResultsStore.open(db) as store:
        for outcome in store.add_many(results, model, meta_dict, source):
            typer.echo(outcome.describe())


@leaderboard_app.command("list")
def leaderboard_list(
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task. [default: all]")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Only this model. [default: all]")] = None,
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Print the board, one table per task / benchmark / split."""
    from psalm_bench.leaderboard.store import ResultsStore, render_board

    with ResultsStore.open(db, create=False) as store:
        typer.echo(render_board(store.list(task=task, model=model)))


@leaderboard_app.command("remove")
def leaderboard_remove(
    model: Annotated[str, typer.Option("--model", "-m", help="Model whose results to remove.")],
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task. [default: all]")] = None,
    benchmark: Annotated[Optional[str], typer.Option("--benchmark", help="Only this benchmark. [default: all]")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="Only this split. [default: all]")] = None,
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Remove a model's results (all, or one task / benchmark / split)."""
    from psalm_bench.leaderboard.store import ResultsStore

    with ResultsStore.open(db, create=False) as store:
        removed = store.remove(model, task=task, benchmark=benchmark, split=split)
    typer.echo(f"removed {removed} result(s) of {model}")


@leaderboard_app.command("export")
def leaderboard_export(
    out: Annotated[Path, typer.Argument(help="File to write (.csv or .parquet).")],
    fmt: Annotated[Optional[ExportFormat], typer.Option("--format", help="csv or parquet [default: from OUT's suffix].")] = None,
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task. [default: all]")] = None,
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Write the board as CSV or Parquet: one row per result, one column per metric, meta.KEY per metadata key."""
    from psalm_bench.leaderboard.store import ResultsStore

    if (fmt.value if fmt else out.suffix.lstrip(".").lower()) in ("parquet", "pq"):
        from psalm_bench.optional import require

        require("pyarrow", "leaderboard export --format parquet")
    with ResultsStore.open(db, create=False) as store:
        written = store.export(out, fmt.value if fmt else None, task=task)
    typer.echo(f"wrote {written} row(s) to {out}")


class WorldSize(str, Enum):
    tiny = "tiny"
    small = "small"
    full = "full"


@app.command("synth")
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

    progress = not quiet and sys.stderr.isatty()
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


@app.command("train")
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
                             progress=not quiet and sys.stderr.isatty(), loader_workers=loader_workers)
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


@app.command("predict")
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
    from psalm_bench.formats.refer import find_grefer_files, find_refer_files
    from psalm_bench.model import predict as P

    progress = not quiet  # a bar on a terminal, lines in a CI log (psalm_bench/progress.py)
    name = task.value
    split = split or "val"
    if gt is None and name == "correspondence":
        from psalm_bench.generators.world_egoexo import GT_NAME, ensure_egoexo

        root = ensure_egoexo(progress=progress)  # the world's Ego-Exo4D takes, cached beside it
        gt, images = root / GT_NAME, root / "takes"
    elif gt is None:
        from psalm_bench.generators.embedded import ensure_world
        from psalm_bench.generators.world import load_manifest

        root = ensure_world(progress=progress)
        key = {"panoptic": "panoptic", "ov": "ov-panoptic"}.get(name, name)
        entry = load_manifest(root)["tasks"][key].get(split)
        if entry is None:
            raise InputError(f"the embedded world has no {split!r} split for {name}")
        gt, images = root / entry["gt"], root / entry["images"]
    elif images is None and name != "vos":
        raise InputError(f"--task {name} with --gt needs --images (the folder its file names are relative to)")
    from psalm_bench.cli_cluster import load_predictor
    from psalm_bench.paths import output_file, output_folder

    (output_folder if name in ("panoptic", "ov", "vos") else output_file)(out)  # before the model loads
    out.parent.mkdir(parents=True, exist_ok=True)
    predictor = load_predictor(model, batch_size=batch_size, progress=progress, engine=engine, address=address, gpus_per_worker=gpus_per_worker)
    if name in ("panoptic", "ov"):
        written = P.predict_categories(predictor, gt, images, out)
        typer.echo(f"wrote {written.panoptic_json} (+ PNGs), {written.instance_json}, {written.semantic_dir}/")
    elif name == "refcoco":
        refs, instances = find_refer_files(gt)
        typer.echo(f"wrote {P.predict_referring(predictor, refs, instances, images, split, out)[0]}")
    elif name == "gref":
        refs, instances = find_grefer_files(gt)
        typer.echo(f"wrote {P.predict_referring(predictor, refs, instances, images, split, {out: no_target}, generalized=True)[0]}")
    elif name == "interactive":
        typer.echo(f"wrote {P.predict_interactive(predictor, gt, images, out)}")
    elif name == "correspondence":
        typer.echo(f"wrote {P.predict_correspondence(predictor, gt, images, out)}")
    else:
        typer.echo(f"wrote {P.predict_vos(predictor, gt, out, split=split)}/")


@app.command("reproduce")
def reproduce_command(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write every result JSON (the eval command's format; baselines named as such), the predictions and tables.md here. [default: a temporary folder, removed]")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="bundled, or a folder written by `psalm-bench train`.")] = "bundled",
    world: Annotated[Optional[Path], typer.Option("--world", help="A world folder from `psalm-bench synth`. [default: the embedded world]")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the tables as Markdown.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Score the model and the baselines on every task; print the paper's tables.

    Runs the model and the non-learned baselines over every task of the
    world, scores them with the evaluators and prints the analogues of the
    PSALM paper's tables 8-13."""
    from psalm_bench.optional import require_model

    require_model("reproduce (the bundled model's part)")
    from psalm_bench.reproduce import render_tables, reproduce

    progress = not quiet  # a bar on a terminal, lines in a CI log (psalm_bench/progress.py)
    rep = reproduce(model, world=world, out=out, progress=progress, log=lambda line: typer.echo(line, err=True) if progress else None)
    typer.echo(render_tables(rep, "markdown" if markdown else "text"))
    prov = rep.model
    typer.echo(f"model: {prov.get('source')} ({prov.get('config_name')}, {prov.get('steps')} steps on {prov.get('device_kind')}); world: {rep.world}; {rep.seconds:.0f} s")
    if out is not None:
        typer.echo(f"results: {out / 'results'}; tables: {out / 'tables.md'}")


@app.command("browse")
def browse_command(
    result: Annotated[Path, typer.Argument(help="A result JSON from `eval --json` (with its per-sample records).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the static pages (replaced if it holds an earlier browse).")],
    gt: Annotated[Optional[Path], typer.Option("--gt", help="The ground truth it was scored on (checked against the result's sha256). [default: the file its provenance names]")] = None,
    pred: Annotated[Optional[Path], typer.Option("--pred", help="The predictions it was scored on (checked against the result's sha256). [default: the file its provenance names]")] = None,
    worst: Annotated[int, typer.Option("--worst", "-k", min=1, help="How many samples to draw.")] = 20,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="Another result on the same ground truth: show the K samples that regressed most. [default: none; the K worst]")] = None,
    images: Annotated[Optional[Path], typer.Option("--images", help="Folder of the images. [default: beside the ground truth]")] = None,
    prompt: Annotated[Optional[str], typer.Option("--prompt", help="interactive: only this prompt type (point, scribble, box, mask). [default: all]")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="refcoco/gref: only sentences whose ground truth has some target or none. [default: all]")] = None,
    sequence: Annotated[Optional[str], typer.Option("--sequence", help="vos: only the objects of this sequence. [default: all]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Draw the K worst samples (or the K most regressed) as static HTML pages: image, GT, prediction, prompt, metrics."""
    from psalm_bench.leaderboard.browse import browse

    filters = {k: v for k, v in {"prompt": prompt, "target": target, "sequence": sequence}.items() if v is not None}
    report = browse(result, gt, pred, out, worst=worst, baseline=baseline, images=images, filters=filters, progress=not quiet and sys.stderr.isatty())
    typer.echo(report.describe())


@app.command("tasks")
def tasks_command() -> None:
    """List the tasks `eval` can score."""
    from psalm_bench.tasks import TASKS

    for task in TASKS.values():
        typer.echo(f"{task.name:12}  {task.summary}")


@app.command("demo")
def demo_command(
    examples: Annotated[bool, typer.Option("--examples", help="Instead: score the example prediction files that ship with psalm-bench (panoptic, instance, semantic, interactive).")] = False,
    per_class: Annotated[bool, typer.Option("--per-class", help="With --examples: print the per-class tables too.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Keep the result JSONs, predictions and tables.md here; with --examples, the examples' result JSONs and tables.md. [default: not kept]")] = None,
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


@leaderboard_app.command("render")
def leaderboard_render(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the static site (replaced if it holds an earlier render).")] = Path("site"),
    title: Annotated[str, typer.Option("--title", help="Site title.")] = "psalm-bench leaderboard",
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Write the board as a static site: overview, sortable task tables, per-result drill-down with charts."""
    from psalm_bench.leaderboard.site import render_site
    from psalm_bench.leaderboard.store import ResultsStore

    with ResultsStore.open(db, create=False) as store:
        report = render_site(store, out, title=title)
    typer.echo(report.describe())


@leaderboard_app.command("publish")
def leaderboard_publish(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to upload to a static host (replaced if it holds an earlier render).")] = Path("site"),
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="Public URL of the site root; adds sitemap.xml and absolute links in 404.html. [default: relative links, no sitemap]")] = None,
    title: Annotated[str, typer.Option("--title", help="Site title.")] = "psalm-bench leaderboard",
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Render the site plus .nojekyll, 404.html, robots.txt, sitemap.xml (with --base-url) and data/ (JSON, CSV)."""
    from psalm_bench.leaderboard.site import publish_site
    from psalm_bench.leaderboard.store import ResultsStore

    with ResultsStore.open(db, create=False) as store:
        report = publish_site(store, out, base_url=base_url, title=title)
    typer.echo(report.describe())


@leaderboard_app.command("load-published")
def leaderboard_load_published(
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task's numbers. [default: all]")] = None,
    data: Annotated[Optional[Path], typer.Option("--file", help="A published-numbers JSON file. [default: every file shipped with psalm-bench: the papers' own tables (PSALM, MGLMM) and the reprints]")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per row loaded.")] = False,
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Load the numbers papers print (PSALM's tables and its peers') as `published` rows; re-running changes nothing."""
    from psalm_bench.leaderboard.published import describe_outcomes, load_published
    from psalm_bench.leaderboard.store import ResultsStore

    with ResultsStore.open(db) as store:
        outcomes = load_published(store, data, task)
    if verbose:
        for outcome in outcomes:
            typer.echo(outcome.describe())
    typer.echo(describe_outcomes(outcomes))


class TableFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    latex = "latex"
    html = "html"
    csv = "csv"


class TableSource(str, Enum):
    all = "all"
    measured = "measured"
    published = "published"


@leaderboard_app.command("table")
def leaderboard_table(
    task: Annotated[str, typer.Option("--task", "-t", help="A task (refcoco, gref, interactive, panoptic, vos, ov-semantic, muse, gcg, ...) or a layout (generic, ov, ablations).")],
    fmt: Annotated[TableFormat, typer.Option("--format", help="text (aligned), markdown (GitHub), latex (booktabs), html (escaped <table>) or csv (full precision, one row per line).")] = TableFormat.text,
    source: Annotated[TableSource, typer.Option("--source", help="all, measured (scored by psalm-bench) or published (printed in papers).")] = TableSource.all,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the table to this file. [default: not written]")] = None,
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Print the paper's table (e.g. PSALM's Table 8 for refcoco; `ablations` for Tables 2-7) with the measured rows beside its rows.

    Results measured on the synthetic world follow in a table of their own: they are never ranked with the paper's numbers."""
    from psalm_bench.leaderboard.paper_tables import board_table
    from psalm_bench.leaderboard.store import ResultsStore

    with ResultsStore.open(db, create=False) as store:
        text = board_table(store, task, fmt.value, source.value)
    if out is not None:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    typer.echo(text.rstrip("\n"))


@leaderboard_app.command("set-gt")
def leaderboard_set_gt(
    gt: Annotated[Path, typer.Option("--gt", help="The board's ground truth (as given to `eval --gt`).")],
    result: Annotated[Optional[Path], typer.Option("--result", help="A measured result JSON on this GT: task, benchmark, split and options are taken from it, and the GT must hash to its gt_sha256. [default: none; give --task]")] = None,
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Without --result: the task. [default: the result's]")] = None,
    benchmark: Annotated[Optional[str], typer.Option("--benchmark", help="Without --result: the board's benchmark [default: --option dataset/benchmark, else 'default'].")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="Without --result: the board's split [default: --option split, else 'default'].")] = None,
    option: Annotated[Optional[List[str]], typer.Option("--option", help="Without --result: an evaluation option KEY=VALUE (e.g. dataset=refcoco, split=val, protocol=psalm); repeatable. [default: none]")] = None,
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Register the ground truth a board is scored on, so that `submit` can score others' predictions on it."""
    from psalm_bench.leaderboard.store import ResultsStore
    from psalm_bench.leaderboard.submit import parse_options, register_gt

    with ResultsStore.open(db) as store:
        board, status = register_gt(store, gt, result=result, task=task, benchmark=benchmark, split=split, options=parse_options(option))
    typer.echo(f"{status}: {board.task}/{board.benchmark}/{board.split} -> {board.gt_path} (sha256 {board.gt_sha256[:12]}...)")


@leaderboard_app.command("submit")
def leaderboard_submit(
    archive: Annotated[Path, typer.Argument(help="A zip or tar(.gz/.bz2/.xz) of prediction files.")],
    task: Annotated[TaskName, typer.Option("--task", "-t", help="The task the predictions are for.", case_sensitive=False)],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name on the board.")],
    gt: Annotated[Optional[Path], typer.Option("--gt", help="Where the board's ground truth is now, if it moved (must hash to the registered sha256). [default: the registered path]")] = None,
    benchmark: Annotated[Optional[str], typer.Option("--benchmark", help="The board, when the task has several registered. [default: the only one]")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="The board's split, when the task has several registered. [default: the only one]")] = None,
    meta: Annotated[Optional[List[str]], typer.Option("--meta", help="Model metadata KEY=VALUE; repeatable. [default: none]")] = None,
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Safely unpack a submission, score it on the board's registered GT and store the result (all or nothing)."""
    from psalm_bench.leaderboard.store import ResultsStore, parse_meta
    from psalm_bench.leaderboard.submit import submit

    meta_dict = parse_meta(meta)
    with ResultsStore.open(db, create=False) as store:
        done = submit(store, archive, task.value, model, gt=gt, benchmark=benchmark, split=split, meta=meta_dict)
    shown = ", ".join(f"{k} {v:.1f}" for k, v in done.metrics.items() if isinstance(v, float))
    typer.echo(f"{done.outcome.describe()} ({done.files} files scored; {shown})")


from psalm_bench.cli_cluster import merge_command  # noqa: E402 - `merge`: shard states -> result

app.command("merge")(merge_command)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: every user-caused failure is one line, exit 2 (psalm_bench/cli_guard.py)."""
    from psalm_bench.cli_guard import run_cli

    raise SystemExit(run_cli(app, argv))


if __name__ == "__main__":
    main()
