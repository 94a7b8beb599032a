"""`psalm-bench train` in a CI log: whole progress lines on a stderr that is not a terminal, as predict and reproduce print."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from psalm_bench import progress  # noqa: E402
from psalm_bench.model.config import get_config  # noqa: E402
from psalm_bench.model.toy import toy_source  # noqa: E402
from psalm_bench.model.train import train  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LINE = re.compile(r"^train: +\d+%\|[^|]*\| (\d+)/3 \[.*loss=\d+\.\d{3}, task=\w+\]$")


def test_train_writes_one_line_per_interval_not_per_postfix(tmp_path: Path, tok, capsys, monkeypatch) -> None:
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)  # every update is an interval: one line per step
    train(get_config("tiny"), toy_source(batch=1), tmp_path, tokenizer=tok, steps=3, lr=1e-3, warmup_steps=1,
          progress=True, log_every=1, seed=0, threads=1, checkpoint_every=0)
    err = capsys.readouterr().err
    assert "\r" not in err, repr(err)
    lines = err.splitlines()
    counts = [m.group(1) if (m := LINE.match(line)) else line for line in lines]
    # a line per update and one at the close, at most; a postfix redraw would add a line per step
    assert counts[:3] == ["1", "2", "3"] and set(counts[3:]) <= {"3"} and len(counts) <= 4, lines


def test_train_command_prints_progress_lines_when_stderr_is_a_file(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "psalm_bench", "train", "--config", "tiny", "--steps", "2", "--batch-size", "1", "--out", str(tmp_path / "run")]
    with open(tmp_path / "err.log", "w+") as err:  # a file, as a CI runner's log is
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=err, text=True)
        err.seek(0)
        log = err.read()
    assert proc.returncode == 0, log[-2000:]
    assert "\r" not in log, repr(log)
    assert re.search(r"^train: 100%\|#+\| 2/2 \[.*loss=\d+\.\d{3}, task=\w+\]$", log, re.M), log
    assert proc.stdout.startswith("finished at step 2/2")
