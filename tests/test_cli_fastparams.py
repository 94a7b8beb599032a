"""The pydantic-free option coercion gives what typer's own adapters give.

Every parameter of the real CLI is fed typical and awkward values through both
paths: the results (value and type) or the error messages must be identical.
Then the start-up effect: a command's run imports no pydantic.
"""

from __future__ import annotations

import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest

typer_coercion = pytest.importorskip("typer._coercion")

from typer.core import _TyperParameter  # noqa: E402
from typer.main import get_command  # noqa: E402

from psalm_bench import cli_fastparams  # noqa: E402
from psalm_bench.cli import app  # noqa: E402

_SAMPLES: dict[Any, list[Any]] = {
    str: ["abc", "", "-", "  x "],
    bool: [True, False, "true", "0"],
    int: ["5", "0", "-3", "007", " 5", "+5", "1_000", "abc", "1.0", "99999999999999999999", "300", 5, 0, 2.0, True],
    float: ["0.5", "1e-3", "1E3", "-2", ".5", "5.", "inf", "nan", "abc", "0.9999", "1", 0, 1.5, True],
    Path: ["x/y.json", "-", "", " ", Path("a")],
}


def _values(annotation: Any) -> list[Any]:
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return [tuple(v for v in _values(item)[:2]), [], ("a", 5)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        members = list(annotation)
        return [*(m.value for m in members), *(str(m.value).upper() for m in members), "bogus", members[0]]
    return _SAMPLES.get(annotation, ["x"])


def _outcome(runtime: Any, value: Any, param: Any, ctx: Any) -> tuple[str, Any]:
    try:
        got = runtime._coerce_value(value, param=param, ctx=ctx)
    except Exception as exc:  # the message a user reads
        return ("error", f"{type(exc).__name__}: {exc}")
    return ("value", (type(got), repr(got)))  # repr: nan equals nan


def _all_params() -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []

    def walk(cmd: Any) -> None:
        ctx = cmd.context_class(cmd, info_name=cmd.name)
        for p in [*cmd.params, cmd.get_help_option(ctx)]:
            if isinstance(p, _TyperParameter):
                found.append((p, ctx))
        for sub in (getattr(cmd, "commands", None) or {}).values():
            walk(sub)

    walk(get_command(app))
    return found


def test_every_cli_parameter_coerces_as_typer_does() -> None:
    params = _all_params()
    assert len(params) > 100  # the whole CLI, subcommands included
    checked = fast_hits = 0
    for param, ctx in params:
        d = param.type_descriptor
        if d.file_annotation is not None:
            continue
        official = typer_coercion.build_runtime_param(d)
        fast = cli_fastparams.FastRuntimeParam(parameter_info=d.parameter_info, annotation=d.annotation, descriptor=d)
        for value in _values(d.annotation):
            want = _outcome(official, value, param, ctx)
            got = _outcome(fast, value, param, ctx)
            assert got == want, (param.name, d.annotation, value)
            checked += 1
            fast_hits += cli_fastparams._coerce(d.annotation, d.parameter_info, value, param, ctx) is not cli_fastparams._SLOW
    assert checked > 500
    assert fast_hits > checked // 3  # the fast path is really taken, not always handed back


def test_ranges_and_bad_values_are_typer_s_errors() -> None:
    """A value the fast path does not accept reaches typer's adapter: same one-line error."""
    from psalm_bench.cli_guard import run_cli

    assert run_cli(app, ["eval", "--task", "refcoco", "--pred", "x", "--workers", "0"]) == 2
    assert run_cli(app, ["eval", "--task", "bogus", "--pred", "x"]) == 2


_PROBE = """
import sys
from psalm_bench.cli import app
from psalm_bench.cli_guard import run_cli
codes = [run_cli(app, ["eval", "--help"]), run_cli(app, ["--help"]),
         run_cli(app, ["eval", "--task", "REFCOCO", "--gt", sys.argv[1], "--pred", sys.argv[1], "-j", "2", "-q"])]
print(codes, "pydantic" in sys.modules)
"""


def test_commands_start_without_pydantic(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "missing")], capture_output=True, text=True)
    assert run.stdout.split("\n")[-2] == "[0, 0, 2] False", run.stdout + run.stderr
    assert "missing" in run.stderr  # the eval got as far as reading its input


def test_the_probe_sees_pydantic() -> None:
    """The check can fail: typer's own path imports pydantic."""
    probe = "import sys; from typer.main import get_command; from psalm_bench.cli import app\n" \
            "get_command(app).main(['eval', '--help'], standalone_mode=False); print('pydantic' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.stdout.strip().splitlines()[-1] == "True"
