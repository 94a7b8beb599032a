"""`--out`/`--json` that cannot be written: one line, exit 2, for every writing command.

Writers rename ``OUT.partial`` over ``OUT``; onto a FIFO or a device (``/dev/full``
as root) that rename used to replace the node itself, so the targets here are a
folder, a FIFO, a link to ``/dev/full``, a folder that cannot exist (under
/proc) and a disk that fills mid-write. The real /dev/full is only ever reached
through a link, so a regression cannot replace it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from psalm_bench.cli import app
from psalm_bench.cli_guard import run_cli
from psalm_bench.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "psalm_bench" / "examples"
INSTANCES = EXAMPLES / "instance" / "gt.json"


def one_line(capsys, args: list[object], *fragments: str) -> None:
    code = run_cli(app, [str(a) for a in args])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, (code, captured.err)
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def _target(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """An output path of the given kind, and the words the refusal must contain."""
    if kind == "folder":
        (tmp_path / "out").mkdir()
        return tmp_path / "out", "is a directory"
    if kind == "fifo":
        os.mkfifo(tmp_path / "out")
        return tmp_path / "out", "is a FIFO"
    if kind == "device":
        (tmp_path / "out").symlink_to("/dev/full")
        return tmp_path / "out", "is a device"
    return Path("/proc/psalm-bench-no-such-dir/out"), "No such file or directory"


def _untouched(tmp_path: Path, kind: str) -> None:
    """The node is still what it was, /dev/full is still a device, no .partial left."""
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    if kind == "fifo":
        assert stat.S_ISFIFO(os.lstat(tmp_path / "out").st_mode)
    if kind == "device":
        assert (tmp_path / "out").is_symlink()
    if kind == "folder":
        assert (tmp_path / "out").is_dir() and not any((tmp_path / "out").iterdir())
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".*.partial"))


KINDS = ["folder", "fifo", "device", "missing"]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[Path, Path]:
    """Two result JSONs for `report` (the instance example scored twice)."""
    folder = tmp_path_factory.mktemp("results")
    for name in ("a.json", "b.json"):
        code = run_cli(app, ["eval", "--task", "instance", "--gt", str(INSTANCES), "--pred", str(EXAMPLES / "instance" / "pred.json"),
                             "--json", str(folder / name), "-q"])
        assert code == 0
    return folder / "a.json", folder / "b.json"


@pytest.mark.parametrize("kind", KINDS)
def test_build_interactive_out(capsys, tmp_path, kind):
    out, words = _target(tmp_path, kind)
    one_line(capsys, ["build-interactive", "--instances", INSTANCES, "--out", out, "-q"], words)
    _untouched(tmp_path, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_report_out(capsys, tmp_path, results, kind):
    out, words = _target(tmp_path, kind)
    one_line(capsys, ["report", "--baseline", results[0], "--current", results[1], "--resamples", "10", "--out", out], words)
    _untouched(tmp_path, kind)


def test_report_out_on_a_full_disk(capsys, tmp_path, results, monkeypatch):
    real = Path.write_bytes

    def failing(self, data):
        if self.name.endswith(".partial"):
            real(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    one_line(capsys, ["report", "--baseline", results[0], "--current", results[1], "--resamples", "10", "--out", tmp_path / "r.md"],
             "r.md", "disk is full")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("task", ["refcoco", "vos"])
@pytest.mark.parametrize("kind", KINDS)
def test_predict_out_is_refused_before_the_model_loads(capsys, tmp_path, monkeypatch, task, kind):
    import psalm_bench.cli_cluster as cluster

    def no_model(*a, **k):
        raise AssertionError("the model was loaded before --out was checked")

    monkeypatch.setattr(cluster, "load_predictor", no_model)
    out, words = _target(tmp_path, kind)
    if task == "vos":  # a folder is what vos writes; a file there is refused instead
        if kind == "folder":
            out, words = tmp_path / "file", "is a file, expected a folder"
            out.write_text("")
    gt = tmp_path / "gt"
    gt.mkdir()
    one_line(capsys, ["predict", "--task", task, "--gt", gt, "--images", gt, "--out", out, "-q"], words)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_predict_lines_on_a_full_disk_leave_nothing(tmp_path):
    from psalm_bench.formats.jsonl import write_jsonl

    def lines():
        yield b'{"a": 1}'
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(InputError, match="x.jsonl: cannot write: disk is full"):
        write_jsonl(tmp_path / "x.jsonl", lines())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["file", "device", "under-a-file", "missing"])
def test_synth_out(capsys, tmp_path, kind):
    if kind == "file":
        out, words = tmp_path / "out", "exists and is not a folder"
        out.write_text("")
    elif kind == "device":
        out, words = tmp_path / "out", "exists and is not a folder"
        out.symlink_to("/dev/full")
    elif kind == "under-a-file":
        (tmp_path / "f").write_text("")
        out, words = tmp_path / "f" / "world", "Not a directory"
    else:
        out, words = Path("/proc/psalm-bench-no-such-dir/world"), "No such file or directory"
    one_line(capsys, ["synth", "--size", "tiny", "--out", out, "-q"], words)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert not list(tmp_path.glob(".*.partial"))
