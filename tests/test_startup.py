"""Start-up stays light: `psalm-bench --help` and `eval` import only what the task uses.

Structural, not timed: a heavy module that slips into the import of the CLI
(or into the help path) costs every user 0.1-2 s per command, whatever the task.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "pandas", "scipy", "matplotlib", "ray", "numpy", "PIL", "cv2", "rich", "tqdm", "sqlite3")

_PROBE = """
import json, sys
import psalm_bench.cli
after_import = sorted(sys.modules)
from typer.testing import CliRunner
runner = CliRunner()
codes = [runner.invoke(psalm_bench.cli.app, args).exit_code for args in (["--help"], ["eval", "--help"], ["leaderboard", "--help"])]
print(json.dumps({"import": after_import, "help": sorted(sys.modules), "codes": codes}))
"""


def _heavy(modules: list[str]) -> list[str]:
    return sorted({name for name in modules if name.split(".")[0] in HEAVY})


def _probe() -> dict:
    run = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_importing_the_cli_pulls_in_no_heavy_module() -> None:
    seen = _probe()
    assert _heavy(seen["import"]) == []


def test_help_pages_pull_in_no_heavy_module() -> None:
    seen = _probe()
    assert seen["codes"] == [0, 0, 0]
    assert _heavy(seen["help"]) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check itself can fail: a module that imports numpy is caught."""
    run = subprocess.run([sys.executable, "-c", "import sys, psalm_bench.masks; print(' '.join(sys.modules))"], capture_output=True, text=True, check=True)
    assert "numpy" in _heavy(run.stdout.split())
