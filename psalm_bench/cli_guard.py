"""The CLI entry's error handler: every failure a user can cause ends in one line.

Click/Typer print usage errors (``--workers 0``, ``--size huge``) as a multi-line
box; input errors, unwritable outputs, a full disk and a damaged database would
otherwise be tracebacks. Here each becomes ``psalm-bench: error: ...`` on stderr
with exit status 2 (130 for Ctrl-C), in one place rather than per option.
"""

from __future__ import annotations

import errno
import sys
from typing import Sequence

import typer

try:  # Typer >= 0.20 vendors its own click
    from typer import _click as click
except ImportError:  # pragma: no cover - older Typer uses click itself
    import click  # type: ignore[no-redef]

from psalm_bench.cli_fastparams import install as install_fast_params
from psalm_bench.cli_lazy import lazy_command
from psalm_bench.errors import InputError

_OS_REASONS = {
    errno.ENOSPC: "disk is full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe_os_error(exc: OSError) -> str:
    """``FILE: cannot read/write: REASON`` for an OSError that reached the entry."""
    reason = _OS_REASONS.get(exc.errno or 0, exc.strerror or str(exc))
    name = exc.filename if exc.filename is not None else None
    return f"{name}: {reason}" if name else reason


class _NeverRaised(Exception):
    """Stands in for sqlite3's error when no command imported sqlite3 (none can have raised it)."""


def _database_error() -> type[Exception]:
    """sqlite3.DatabaseError, looked up only when an error reaches the handler (importing it costs start-up)."""
    sqlite3 = sys.modules.get("sqlite3")
    return sqlite3.DatabaseError if sqlite3 is not None else _NeverRaised


def _usage_line(exc: click.ClickException) -> str:
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "psalm-bench"
    return f"{where}: error: {_one_line(exc.format_message())}"


def run_cli(app: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run ``app``; return the exit status instead of printing a traceback or a box."""
    # each subcommand built only when looked up to run (~0.13 CPU-s; psalm_bench/cli_lazy.py), and its
    # plain option values coerced without pydantic (~0.2 CPU-s; psalm_bench/cli_fastparams.py)
    command = lazy_command(app, on_build=install_fast_params)
    install_fast_params(command)
    try:
        result = command.main(args=list(argv) if argv is not None else None, prog_name="psalm-bench", standalone_mode=False)
    except InputError as exc:
        typer.echo(f"psalm-bench: error: {_one_line(str(exc))}", err=True)
        return 2
    except typer.Abort:
        typer.echo("psalm-bench: interrupted", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # a bare command prints its help, as Typer does
        return exc.exit_code
    except click.exceptions.ClickException as exc:
        typer.echo(_usage_line(exc), err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("psalm-bench: interrupted", err=True)
        return 130
    except _database_error() as exc:
        typer.echo(f"psalm-bench: error: the results database: {_one_line(str(exc))}", err=True)
        return 2
    except RecursionError:
        typer.echo("psalm-bench: error: input nested too deep to read", err=True)
        return 2
    except ModuleNotFoundError as exc:  # an optional extra not installed (psalm_bench/optional.py)
        from psalm_bench.optional import EXTRA_OF, missing_message

        if not exc.name or exc.name.split(".")[0] not in EXTRA_OF:
            raise
        typer.echo(f"psalm-bench: error: {missing_message(exc.name)}", err=True)
        return 2
    except MemoryError:
        typer.echo("psalm-bench: error: out of memory (is an input far larger than its format allows?)", err=True)
        return 2
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            return 1
        typer.echo(f"psalm-bench: error: {_one_line(describe_os_error(exc))}", err=True)
        return 2
    return result if isinstance(result, int) else 0


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry: exit with :func:`run_cli`'s status."""
    from psalm_bench.cli import app

    sys.exit(run_cli(app, argv))
