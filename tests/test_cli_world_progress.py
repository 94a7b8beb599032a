"""Building the world says where it is in a CI log too: `synth`, and `eval` whose first use builds it.

A small world is minutes of rendering; with stderr not a terminal these
commands used to print nothing until the end. Now they write
psalm_bench/progress.py's whole lines (``-q`` still silences them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from psalm_bench import progress
from psalm_bench.cli import app
from psalm_bench.cli_guard import run_cli
from psalm_bench.errors import InputError


@pytest.fixture
def every_line(monkeypatch):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)


def test_synth_writes_progress_lines_off_a_terminal(tmp_path: Path, capsys, every_line) -> None:
    assert run_cli(app, ["synth", "--size", "tiny", "--out", str(tmp_path / "w"), "-j", "1"]) == 0
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert any(line.startswith("world train:") and "24/24" in line for line in lines), err
    assert any(line.startswith("world val:") for line in lines), err
    assert "\r" not in err


def test_synth_quiet_writes_none(tmp_path: Path, capsys, every_line) -> None:
    assert run_cli(app, ["synth", "--size", "tiny", "--out", str(tmp_path / "w"), "-j", "1", "-q"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("quiet", [False, True])
def test_eval_builds_the_world_with_progress_unless_quiet(tmp_path: Path, capsys, monkeypatch, quiet: bool) -> None:
    import psalm_bench.world_gt as world_gt

    asked = {}

    def recording(task, split=None, *, world=None, progress=False):
        asked["progress"] = progress
        raise InputError("stop here")

    monkeypatch.setattr(world_gt, "world_gt", recording)
    args = ["eval", "--task", "gref", "--pred", str(tmp_path / "p.jsonl")] + (["-q"] if quiet else [])
    assert run_cli(app, args) == 2
    assert asked == {"progress": not quiet}
    assert capsys.readouterr().err.strip() == "psalm-bench: error: stop here"
