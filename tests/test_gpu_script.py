"""The prepared GPU job (tools/gpu_train.py) runs end to end on the CPU with --dry-run."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_train_dry_run_trains_scores_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(REPO / "tools" / "gpu_train.py"), "--dry-run", "--out", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads((out / "gpu_train.json").read_text())
    assert report["dry_run"] is True and report["completed"] is True
    assert report["steps"] == report["steps_done"] == 4 and report["score_rc"] == 0
    assert report["device"].startswith("cpu:") and report["torch"] and report["transformers"]
    provenance = json.loads((out / "model" / "provenance.json").read_text())
    assert provenance["steps"] == 4 and provenance["device_kind"] == "cpu"
    assert len((out / "model" / "train_log.jsonl").read_text().splitlines()) >= 1
    tables = (out / "reproduce" / "tables.md").read_text()
    assert "Table 9 analogue" in tables and "Table 13 analogue" in tables
    assert "done in" in (out / "gpu_train.log").read_text()


def test_gpu_train_without_a_gpu_says_so_in_one_line(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        return
    run = subprocess.run([sys.executable, str(REPO / "tools" / "gpu_train.py"), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == ["gpu_train: no CUDA device here; use --dry-run on a CPU machine"]
