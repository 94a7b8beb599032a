"""Shared test helpers: where the official fixtures live, and a CLI runner."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"


def fixture_cases(task: str) -> list[Path]:
    return sorted(p.parent for p in (FIXTURES / task).glob("*/expected.json"))


def expected(case: Path) -> dict:
    return json.loads((case / "expected.json").read_text())


def fixture_options(case: Path) -> dict:
    """The case's CLI args as Python API options (file-valued ones resolved)."""
    options = {}
    for flag, value in expected(case).get("args", {}).items():
        key = flag.lstrip("-").replace("-", "_")
        if key == "num_classes":
            value = int(value)
        elif key == "classes":
            value = case / value
        options[key] = value
    return options


needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures is not beside the clone")


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None) -> CliRun:
    proc = subprocess.run([sys.executable, "-m", "psalm_bench", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(run: CliRun, *fragments: str) -> None:
    """Exit 2, one line on stderr naming the file/record/problem, nothing on stdout."""
    assert run.returncode == 2, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert run.stdout.strip() == ""


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    """The tiny synthetic world, built once per test session into a private cache."""
    from psalm_bench.generators.embedded import ensure_world

    return ensure_world(tmp_path_factory.mktemp("world-cache"), size="tiny", progress=False, workers=1)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on a shared 2-core machine: one torch thread avoids OpenMP contention (restored after)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tok():
    """The model tests' word-level tokenizer over the toy scenes' words."""
    from psalm_bench.model.tokenizer import build_tokenizer
    from psalm_bench.model.toy import TOY_WORDS

    return build_tokenizer(TOY_WORDS)
