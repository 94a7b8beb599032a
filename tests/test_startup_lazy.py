"""The lazily built root group (psalm_bench/cli_lazy.py) behaves as Typer's full build.

Every help page is compared byte for byte with ``typer.main.get_command(app)``'s,
typos get the same suggestion, and a run builds the one command it runs.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import pytest
import typer

from psalm_bench.cli import app
from psalm_bench.cli_fastparams import FastRuntimeParam, install
from psalm_bench.cli_lazy import LazyGroup, lazy_command

try:
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]


def _run(command: click.Command, args: list[str]) -> tuple[str, str]:
    """stdout of a help page, or the usage error's message."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            command.main(args=args, prog_name="psalm-bench", standalone_mode=False)
    except click.exceptions.ClickException as exc:
        return out.getvalue(), exc.format_message()
    except SystemExit:
        pass
    return out.getvalue(), ""


def _pages() -> list[list[str]]:
    full = typer.main.get_command(app)
    pages = [["--help"], []]
    for name, cmd in full.commands.items():
        pages.append([name, "--help"])
        for sub in getattr(cmd, "commands", {}):
            pages.append([name, sub, "--help"])
    return pages


@pytest.mark.parametrize("args", _pages(), ids=lambda a: " ".join(a) or "bare")
def test_every_help_page_is_typers(args: list[str]) -> None:
    want = _run(typer.main.get_command(app), args)
    got = _run(lazy_command(app), args)
    assert got == want
    assert want[0] or want[1]  # the page is not empty: the comparison compares something


@pytest.mark.parametrize("args", [["evl"], ["leaderbord"], ["leaderboard", "ad"], ["--nope"], ["eval", "--task"]])
def test_usage_errors_and_suggestions_are_typers(args: list[str]) -> None:
    want = _run(typer.main.get_command(app), args)
    assert want[1]
    assert _run(lazy_command(app), args) == want


def test_root_help_builds_no_command_and_a_run_builds_one() -> None:
    group = lazy_command(app, on_build=install)
    assert isinstance(group, LazyGroup)
    _run(group, ["--help"])
    assert group.built == {}
    _run(group, ["tasks", "--help"])
    assert list(group.built) == ["tasks"]


def test_built_commands_get_the_fast_coercion() -> None:
    group = lazy_command(app, on_build=install)
    _run(group, ["eval", "--help"])
    params = [p for p in group.built["eval"].params if getattr(p, "_runtime_param", None) is not None]
    assert params and all(isinstance(p._runtime_param, FastRuntimeParam) for p in params)


def test_help_in_a_fresh_process_reads_no_command_signature() -> None:
    """`psalm-bench --help` never asks Typer for a command's parameters (the ~0.13 CPU-s this saves)."""
    probe = (
        "import sys, typer.utils, typer.main\n"
        "calls = []\n"
        "orig = typer.main.get_params_from_function\n"
        "typer.main.get_params_from_function = lambda f: calls.append(f.__name__) or orig(f)\n"
        "from psalm_bench.cli_guard import run_cli\n"
        "from psalm_bench.cli import app\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = run_cli(app, sys.argv[1:])\n"
        "print(code, ','.join(calls))\n"
    )
    help_run = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, check=True)
    code, names = help_run.stdout.split()
    assert code == "0" and set(names.split(",")) == {"_root", "_version"}  # the root's own options only
    eval_run = subprocess.run([sys.executable, "-c", probe, "eval", "--help"], capture_output=True, text=True,
                              check=True)
    code, names = eval_run.stdout.split()
    assert code == "0" and "eval_command" in names.split(",") and "train_command" not in names


def test_a_database_error_still_ends_in_one_line() -> None:
    """cli_guard no longer imports sqlite3 at start-up, yet maps its error when a command raised one."""
    import sqlite3

    from psalm_bench import cli_guard

    calls = []

    def broken() -> None:
        calls.append(1)
        raise sqlite3.DatabaseError("file is not a database")

    tiny = typer.Typer(add_completion=False)
    tiny.callback()(lambda: None)
    tiny.command("boom")(broken)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli_guard.run_cli(tiny, ["boom"])
    assert calls == [1] and code == 2
    assert "the results database: file is not a database" in err.getvalue()
