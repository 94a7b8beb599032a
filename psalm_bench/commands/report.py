"""`psalm-bench report`: the regression report between two result files."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer


class ReportFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    junit = "junit"
    json = "json"


class FailOn(str, Enum):
    regression = "regression"
    any = "any"
    never = "never"


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
