"""The layers hold: import-linter's contracts (pyproject [tool.importlinter]) pass on the installed layout.

The folders evaluators/, generators/, model/ and leaderboard/ become
``psalm_bench.*`` subpackages only through setuptools' package-dir mapping,
which import-linter cannot follow; so each test lays the sources out as the
wheel does (psalm_bench/evaluators/... from the pyproject's own mapping) and
lints that copy in a fresh interpreter. Function-level imports count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _lay_out(dest: Path) -> Path:
    """Copy every .py file where the wheel puts it; return the folder to put on sys.path."""
    mapping: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
    mapped = {folder for name, folder in mapping.items() if name != "psalm_bench"}
    for package, folder in mapping.items():
        src = REPO / folder
        target = dest.joinpath(*package.split("."))
        for path in src.rglob("*.py"):
            rel = path.relative_to(src)
            if package == "psalm_bench" and rel.parts[0] in mapped:
                continue  # psalm_bench/ holds no copy of a mapped folder, but be safe
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
    shutil.copyfile(REPO / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed (pip install -e '.[test]')")
    env = {**os.environ, "PYTHONPATH": str(root)}  # the laid-out copy, ahead of the editable install
    return subprocess.run([exe, "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def _contracts() -> list[dict]:
    return PYPROJECT["tool"]["importlinter"]["contracts"]


def test_the_layer_contracts_hold(tmp_path: Path) -> None:
    run = _lint(_lay_out(tmp_path))
    n = len(_contracts())
    assert run.returncode == 0 and f"Contracts: {n} kept, 0 broken." in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    assert "Analyzed" in run.stdout and "psalm_bench.evaluators" not in run.stderr
    analysed = int(run.stdout.split("Analyzed ")[1].split(" files")[0])
    assert analysed > 100, f"only {analysed} files seen: the laid-out copy lacks the mapped folders"


def test_every_module_of_the_package_sits_in_a_layer() -> None:
    """A new top-level module (or folder) outside the layers would go unchecked."""
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    named = {part.strip() for layer in layers for part in layer.replace("|", ":").split(":")}
    present = {f"psalm_bench.{p.stem}" for p in (REPO / "psalm_bench").glob("*.py") if p.stem != "__init__"}
    present |= {f"psalm_bench.{p.parent.name}" for p in (REPO / "psalm_bench").glob("*/__init__.py")}
    present |= {name for name in PYPROJECT["tool"]["setuptools"]["package-dir"] if name != "psalm_bench"}
    assert sorted(present - named) == []
    assert sorted(named - present) == [], "a layer names a module that no longer exists"


def test_a_wrong_import_breaks_a_contract(tmp_path: Path) -> None:
    """The check can fail: a function-level import of the CLI in the ground, and of the model in `eval`."""
    root = _lay_out(tmp_path)
    masks = root / "psalm_bench" / "masks.py"
    masks.write_text(masks.read_text(encoding="utf-8") + "\n\ndef _upward():\n    from psalm_bench.cli import app\n\n    return app\n", encoding="utf-8")
    command = root / "psalm_bench" / "commands" / "eval.py"
    command.write_text(command.read_text(encoding="utf-8") + "\n\ndef _model():\n    from psalm_bench.model import predict\n\n    return predict\n", encoding="utf-8")
    run = _lint(root)
    assert run.returncode == 1, run.stdout[-3000:]
    assert "psalm_bench.masks is not allowed to import psalm_bench.cli" in run.stdout
    assert "psalm_bench.commands.eval -> psalm_bench.model" in run.stdout
