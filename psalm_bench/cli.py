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
    gt: Annotated[Path, typer.Option("--gt", help="Ground truth: COCO instances/panoptic JSON, or a folder of label PNGs (semantic; a panoptic JSON also works).")],
    pred: Annotated[Path, typer.Option("--pred", help="Predictions: COCO results JSON (instance), panoptic JSON (+ PNG folder), or a folder of label PNGs (semantic).")],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the result, with provenance, to this JSON file.")] = None,
    per_class: Annotated[bool, typer.Option("--per-class", "--per-prompt", "--per-sequence", help="Print the task's breakdown table too (per class, prompt type or sequence).")] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=1, help="Processes for decoding and scoring (every task but instance). [default: 1]")] = None,
    gt_dir: Annotated[Optional[Path], typer.Option("--gt-dir", help="Panoptic GT PNG folder, if not the JSON's path without .json.")] = None,
    pred_dir: Annotated[Optional[Path], typer.Option("--pred-dir", help="Panoptic prediction PNG folder, if not the JSON's path without .json.")] = None,
    iou_type: Annotated[Optional[str], typer.Option("--iou-type", help="instance: segm (masks, default) or bbox.")] = None,
    classes: Annotated[Optional[Path], typer.Option("--classes", help="semantic: JSON list of class names (label value = index).")] = None,
    num_classes: Annotated[Optional[int], typer.Option("--num-classes", help="semantic: number of classes, when there is no --classes file.")] = None,
    ignore_label: Annotated[Optional[int], typer.Option("--ignore-label", help="semantic: label value of void pixels. [default: 255]")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="A named convention where the field's scripts disagree (see README): semantic detectron2|mmseg; refcoco lisa|mmdet|psalm; gref rela|gsva|psalm; interactive all-instances|psalm; vos davis2017|all-frames; muse pixellm|per-image; gcg glamm. The first is each task's default.")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="refcoco: refcoco (default), refcoco+ or refcocog.")] = None,
    split_by: Annotated[Optional[str], typer.Option("--split-by", help="refcoco: unc, umd or google [default: unc; umd for refcocog].")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="refcoco/gref: val, test, testA, testB; vos: the ImageSets/2017 list [default: val].")] = None,
    strict: Annotated[Optional[bool], typer.Option("--strict", help="vos: stop at a missing prediction frame instead of scoring it as empty.")] = None,
    benchmark: Annotated[Optional[str], typer.Option("--benchmark", help="ov-semantic: a150, cityscapes, pc59, pc459 or pas20; ov-instance: a150 or cityscapes.")] = None,
    layout: Annotated[Optional[str], typer.Option("--layout", help="ov-semantic: official (the dataset's own label files, default) or prepared (detectron2's converted maps).")] = None,
    image_list: Annotated[Optional[Path], typer.Option("--image-list", help="ov-semantic: a file of image stems to score (e.g. VOC's val.txt).")] = None,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="muse: JSON of externally computed text scores per sample [default: mask-only scoring].")] = None,
    captions: Annotated[Optional[bool], typer.Option("--captions/--no-captions", help="gcg: also score captions with METEOR and CIDEr (needs Java). [default: captions]")] = None,
    ignore_extra: Annotated[Optional[bool], typer.Option("--ignore-extra", help="Skip predictions for samples the ground truth lacks instead of stopping.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Score predictions against ground truth and print the task's table.

    Metrics are in percent and follow the official implementations exactly
    (panopticapi, pycocotools, detectron2). Bad input stops with one line
    naming the file, the record and the problem, and exit status 2.
    """
    from psalm_bench.tables import render
    from psalm_bench.tasks import get_task

    spec = get_task(task.value)
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
        "workers": workers,
    }
    if "progress" in spec.options:
        options["progress"] = not quiet and sys.stderr.isatty()
    result = spec.run(gt, pred, **options)
    if json_out is not None:
        result.write_json(json_out, gt=_inputs(gt, gt_dir, task.value), pred=_inputs(pred, pred_dir, task.value))
    typer.echo(render(result, spec.table_rows, per_class=per_class))


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
    seed: Annotated[int, typer.Option("--seed", min=0, help="Every prompt is a pure function of (seed, annotation id, mask).")] = 0,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Processes; the output is byte-identical for any number.")] = 1,
    fmt: Annotated[BuildFormat, typer.Option("--format", help="psalm: the JSON list PSALM's code reads; hf: a Hugging Face datasets folder with a dataset card.")] = BuildFormat.psalm,
    mode: Annotated[PromptMode, typer.Option("--mode", help="released: as the authors' released generator; paper: as the paper's appendix 8.")] = PromptMode.released,
    preview: Annotated[int, typer.Option("--preview", min=0, help="Render the first N images with their four prompts to PNGs.")] = 0,
    preview_dir: Annotated[Optional[Path], typer.Option("--preview-dir", help="Folder for the previews [default: OUT_preview].")] = None,
    images: Annotated[Optional[Path], typer.Option("--images", help="Image folder for previews [default: beside the instances JSON; else a grey canvas].")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from OUT.partial and OUT.progress.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Build COCO-Interactive: point, scribble, box and mask prompts for every COCO instance.

    Bad annotations (polygons with < 3 points, RLE of the wrong size,
    zero-area instances, unknown images) are skipped and counted in the
    summary. An interrupted run continues with the same command and --resume.
    """
    from psalm_bench.generators.interactive import build_interactive

    try:
        summary = build_interactive(
            instances, out, seed=seed, workers=workers, format=fmt.value, preview=preview,
            preview_dir=preview_dir, images=images, resume=resume, mode=mode.value,
            progress=not quiet and sys.stderr.isatty(),
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
    seed: Annotated[int, typer.Option("--seed", min=0, help="Bootstrap seed; the same inputs and seed give the same report.")] = 0,
    confidence: Annotated[float, typer.Option("--confidence", min=0.5, max=0.999, help="Confidence level of the intervals.")] = 0.95,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the rendered report to this file.")] = None,
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
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    typer.echo(text.rstrip("\n"))
    raise typer.Exit(exit_code(report, fail_on.value))


leaderboard_app = typer.Typer(help="The results store: an SQLite leaderboard of result JSONs.", no_args_is_help=True)
app.add_typer(leaderboard_app, name="leaderboard")
DbOption = Annotated[Path, typer.Option("--db", help="Leaderboard database file.")]


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


@leaderboard_app.command("add")
def leaderboard_add(
    results: Annotated[List[Path], typer.Argument(help="Result JSON(s) written by `eval --json`; all are added or none.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name on the board.")],
    meta: Annotated[Optional[List[str]], typer.Option("--meta", help="Model metadata KEY=VALUE (params, llm, backbone, training data, link); repeatable.")] = None,
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
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Only this model.")] = None,
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Print the board, one table per task / benchmark / split."""
    from psalm_bench.leaderboard.store import ResultsStore, render_board

    with ResultsStore.open(db, create=False) as store:
        typer.echo(render_board(store.list(task=task, model=model)))


@leaderboard_app.command("remove")
def leaderboard_remove(
    model: Annotated[str, typer.Option("--model", "-m", help="Model whose results to remove.")],
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task.")] = None,
    benchmark: Annotated[Optional[str], typer.Option("--benchmark", help="Only this benchmark.")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="Only this split.")] = None,
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
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task.")] = None,
    db: DbOption = Path("leaderboard.db"),
) -> None:
    """Write the board as CSV or Parquet: one row per result, one column per metric, meta.KEY per metadata key."""
    from psalm_bench.leaderboard.store import ResultsStore

    with ResultsStore.open(db, create=False) as store:
        written = store.export(out, fmt.value if fmt else None, task=task)
    typer.echo(f"wrote {written} row(s) to {out}")


@app.command("tasks")
def tasks_command() -> None:
    """List the tasks `eval` can score."""
    from psalm_bench.tasks import TASKS

    for task in TASKS.values():
        typer.echo(f"{task.name:12}  {task.summary}")


@app.command("demo")
def demo_command(
    per_class: Annotated[bool, typer.Option("--per-class", help="Print the per-class tables too.")] = False,
) -> None:
    """Score the example predictions that ship with psalm-bench on every task."""
    from psalm_bench.examples_runner import run_examples

    for text in run_examples(per_class=per_class):
        typer.echo(text)
        typer.echo("")


def main() -> None:
    try:
        app()
    except InputError as exc:
        typer.echo(f"psalm-bench: error: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        typer.echo("psalm-bench: interrupted", err=True)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
