"""`psalm-bench leaderboard ...`: the results store, its tables and its site."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from psalm_bench.commands.eval import TaskName


leaderboard_app = typer.Typer(help="The results store: an SQLite leaderboard of result JSONs.", no_args_is_help=True, rich_markup_mode=None)
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
