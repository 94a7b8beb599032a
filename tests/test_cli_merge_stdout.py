"""`merge --json -`: the merged result JSON alone on stdout, as `eval --json -`, the same bytes as `--json FILE`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from psalm_bench.examples_runner import EXAMPLES

EXE = [sys.executable, "-m", "psalm_bench"]


def test_merge_json_dash_is_stdout(tmp_path: Path) -> None:
    sem = EXAMPLES / "semantic"
    base = [*EXE, "eval", "--task", "semantic", "--gt", str(sem / "gt"), "--pred", str(sem / "pred"), "--classes", str(sem / "classes.json"), "-q"]
    states = []
    for k in (1, 2):
        states.append(tmp_path / f"s{k}.zip")
        run = subprocess.run([*base, "--shard", f"{k}/2", "--state-out", str(states[-1])], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    piped = subprocess.run([*EXE, "merge", *map(str, states[::-1]), "--json", "-", "-q"], capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    doc = json.loads(piped.stdout)  # stdout is the JSON alone
    assert "mIoU" in piped.stderr and not Path("-").exists()
    kept = subprocess.run([*EXE, "merge", *map(str, states), "--json", str(tmp_path / "r.json"), "-q"], capture_output=True, text=True)
    assert kept.returncode == 0 and "mIoU" in kept.stdout, kept.stderr
    on_disk = json.loads((tmp_path / "r.json").read_text())
    for doc_ in (doc, on_disk):
        doc_["provenance"]["params"].pop("seconds", None)
    assert doc == on_disk
    whole = subprocess.run([*base, "--json", "-"], capture_output=True, text=True)
    assert json.loads(whole.stdout)["metrics"] == doc["metrics"]
