"""The `psalm-bench` command line: the Typer app assembled from the command modules.

Each command group lives in psalm_bench/commands/ (parse, call one library
function, print); this module only registers them, in the order `--help` lists them.
"""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from psalm_bench import __version__
from psalm_bench.cli_cluster import merge_command
from psalm_bench.commands.browse import browse_command
from psalm_bench.commands.build import build_interactive_command, synth_command
from psalm_bench.commands.eval import eval_command, tasks_command
from psalm_bench.commands.leaderboard import leaderboard_app
from psalm_bench.commands.model import demo_command, predict_command, reproduce_command, train_command
from psalm_bench.commands.report import report_command

app = typer.Typer(
    name="psalm-bench",
    help="Datasets and exact, fast benchmarks for LMM-based segmentation (PSALM and its peers).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich/markdown_it alone cost ~0.3 s of start-up
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"psalm-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    pass


app.command("eval")(eval_command)
app.command("build-interactive")(build_interactive_command)
app.command("report")(report_command)
app.add_typer(leaderboard_app, name="leaderboard")
app.command("synth")(synth_command)
app.command("train")(train_command)
app.command("predict")(predict_command)
app.command("reproduce")(reproduce_command)
app.command("browse")(browse_command)
app.command("tasks")(tasks_command)
app.command("demo")(demo_command)
app.command("merge")(merge_command)  # shard states -> result (psalm_bench/cli_cluster.py)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: every user-caused failure is one line, exit 2 (psalm_bench/cli_guard.py)."""
    from psalm_bench.cli_guard import run_cli

    raise SystemExit(run_cli(app, argv))


if __name__ == "__main__":
    main()
