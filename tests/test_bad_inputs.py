"""Bad inputs across the commands: each ends in one line and exit 2 (or is
skipped and counted), never a traceback, a hang or a number scored from garbage.

The table in docs/conformance.md ("Bad inputs the tests try") lists these cases.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from psalm_bench.cli import app
from psalm_bench.cli_guard import run_cli
from psalm_bench.errors import InputError

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "psalm_bench" / "examples"


def cli(capsys, *args: object) -> tuple[int, str]:
    """Run the CLI in-process through the entry's handler: (status, stderr)."""
    code = run_cli(app, [str(a) for a in args])
    return code, capsys.readouterr().err


def one_line(code: int, err: str, *fragments: str) -> None:
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# ----------------------------------------------------- option values (usage)

USAGE = [
    (["eval", "--task", "panoptic", "--pred", "x", "--workers", "0"], "'--workers'"),
    (["synth", "--size", "huge"], "'--size'"),
    (["report", "--baseline", "a.json", "--current", "b.json", "--confidence", "2"], "'--confidence'"),
    (["synth", "--seed", str(2**70)], "'--seed'"),
    (["train", "--out", "run", "--max-minutes", "-5"], "'--max-minutes'"),
    (["eval", "--task", "nope", "--pred", "x"], "'--task'"),
    (["bogus"], "No such command"),
]


@pytest.mark.parametrize("argv,fragment", USAGE, ids=[" ".join(a[:3]) for a, _ in USAGE])
def test_range_and_choice_errors_are_one_line(capsys, argv, fragment):
    one_line(*cli(capsys, *argv), fragment)


# ----------------------------------------------------------- input files


@pytest.fixture()
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def test_deep_json_is_one_line(capsys, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    one_line(*cli(capsys, "eval", "--task", "instance", "--gt", EXAMPLES / "instance" / "gt.json", "--pred", deep), "nested deeper")


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "folder"])
def test_special_files_as_pred_json(capsys, tmp_path, fifo, kind):
    pred = {"dev_zero": Path("/dev/zero"), "fifo": fifo, "folder": tmp_path}[kind]
    expect = {"dev_zero": "is a device", "fifo": "is a FIFO", "folder": "is a directory"}[kind]
    one_line(*cli(capsys, "eval", "--task", "instance", "--gt", EXAMPLES / "instance" / "gt.json", "--pred", pred), expect)


def test_fifo_as_pred_folder_does_not_hang(tmp_path, fifo):
    run = subprocess.run([sys.executable, "-m", "psalm_bench", "eval", "--task", "semantic", "--gt", str(EXAMPLES / "semantic" / "gt"),
                          "--classes", str(EXAMPLES / "semantic" / "classes.json"), "--pred", str(fifo)],
                         capture_output=True, text=True, timeout=60)
    one_line(run.returncode, run.stderr, "is a FIFO, expected the prediction folder")


def test_binary_and_empty_gt_for_predict(tmp_path):
    from psalm_bench.formats.coco import load_catalog

    binary = tmp_path / "bin.json"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="not valid JSON"):
        load_catalog(binary)
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(InputError, match="got a JSON list"):
        load_catalog(empty)


# ------------------------------------------------------------- outputs


def _instance_eval(json_out: Path) -> list[str]:
    return ["eval", "--task", "instance", "--gt", str(EXAMPLES / "instance" / "gt.json"), "--pred", str(EXAMPLES / "instance" / "pred.json"), "--json", str(json_out)]


def test_json_onto_a_folder_leaves_no_partial(capsys, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    one_line(*cli(capsys, *_instance_eval(target)), "is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("err,expect", [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only file system"), (errno.EACCES, "Permission denied")])
def test_unwritable_output_is_one_line(capsys, tmp_path, monkeypatch, err, expect):
    real = Path.write_bytes

    def failing(self, data):
        if self.name.endswith(".partial"):
            real(self, data[: len(data) // 2])  # half written, as on a full disk
            raise OSError(err, os.strerror(err))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    one_line(*cli(capsys, *_instance_eval(tmp_path / "r.json")), "r.json", expect)
    assert list(tmp_path.iterdir()) == []


def test_oserror_reaching_the_entry_is_one_line(capsys, monkeypatch, tmp_path):
    import psalm_bench.tasks as cli_module

    def boom(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", "/full/x.json")

    monkeypatch.setattr(cli_module, "input_files", boom)
    code, err = cli(capsys, "eval", "--task", "instance", "--gt", EXAMPLES / "instance" / "gt.json", "--pred", EXAMPLES / "instance" / "pred.json",
                    "--json", tmp_path / "r.json")
    one_line(code, err, "/full/x.json", "disk is full")


# ------------------------------------------------------- panoptic paths


@pytest.fixture()
def panoptic(tmp_path):
    import shutil

    root = tmp_path / "pan"
    shutil.copytree(EXAMPLES / "panoptic", root)
    return root


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink"])
def test_panoptic_file_names_stay_in_their_folder(capsys, panoptic, case):
    pred = json.loads((panoptic / "pred.json").read_text())
    name = pred["annotations"][0]["file_name"]
    gt_png = next((panoptic / "gt").glob("*.png"))
    if case == "dotdot":
        pred["annotations"][0]["file_name"] = f"../gt/{gt_png.name}"
    elif case == "absolute":
        pred["annotations"][0]["file_name"] = str(gt_png)
    else:
        (panoptic / "pred" / name).unlink()
        (panoptic / "pred" / name).symlink_to(gt_png)
    (panoptic / "pred.json").write_text(json.dumps(pred))
    expect = {"dotdot": "leaves its folder ('..')", "absolute": "is absolute", "symlink": "leaves its folder (through a link)"}[case]
    one_line(*cli(capsys, "eval", "--task", "panoptic", "--gt", panoptic / "gt.json", "--pred", panoptic / "pred.json"), expect)


def test_paths_inside_accepts_plain_and_nested_names(tmp_path):
    from psalm_bench.paths import inside

    assert inside(tmp_path, "a.png") == tmp_path / "a.png"
    assert inside(tmp_path, "sub/a.png") == tmp_path / "sub" / "a.png"
    with pytest.raises(InputError, match="leaves its folder"):
        inside(tmp_path, "sub/../../a.png")
    with pytest.raises(InputError, match="absolute"):
        inside(tmp_path, "C:\\x.png")


# ------------------------------------------------------------------ PNGs


def _png(width: int, height: int, rows: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def test_huge_png_header_is_refused_before_decoding(tmp_path):
    from psalm_bench.pngio import read_label_map

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png(60000, 60000, b"\0" * 60001 * 16))  # small file, 3.6 G pixels claimed
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="pixel limit"):
        read_label_map(bomb)
    assert time.perf_counter() - t0 < 1.0


def test_png_size_checked_against_ground_truth(tmp_path):
    from psalm_bench.pngio import read_label_map

    small = tmp_path / "s.png"
    small.write_bytes(_png(4, 3, b"\0\1\2\3\4" * 3))
    assert read_label_map(small, expect=(3, 4)).shape == (3, 4)
    with pytest.raises(InputError, match="prediction size 3x4 differs from ground truth 30x40"):
        read_label_map(small, expect=(30, 40))


# ---------------------------------------------------------------- leaderboard


@pytest.fixture()
def result(tmp_path, capsys):
    out = tmp_path / "r.json"
    code, err = cli(capsys, *_instance_eval(out))
    assert code == 0, err
    return out


@pytest.mark.parametrize("value,expect", [("NaN", "is NaN"), ("1e999", "infinity"), ("-50", "outside its range")])
def test_leaderboard_add_refuses_impossible_metrics(capsys, tmp_path, result, value, expect):
    text = result.read_text()
    data = json.loads(text)
    data["metrics"]["AP"] = "__X__"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data).replace('"__X__"', value))
    db = tmp_path / "lb.db"
    one_line(*cli(capsys, "leaderboard", "add", bad, "--model", "m", "--db", db), "AP", expect)
    code, err = cli(capsys, "leaderboard", "add", result, "--model", "m", "--db", db)
    assert code == 0, err


def test_report_exits_2_on_a_nan_metric(capsys, tmp_path, result):
    data = json.loads(result.read_text())
    data["metrics"]["AP"] = "__X__"
    bad = tmp_path / "nan.json"
    bad.write_text(json.dumps(data).replace('"__X__"', "NaN"))
    one_line(*cli(capsys, "report", "--baseline", result, "--current", bad), "metric AP is nan")


def test_csv_export_defuses_formulas(capsys, tmp_path, result):
    import csv

    db, out = tmp_path / "lb.db", tmp_path / "board.csv"
    evil = '=HYPERLINK("http://x","y")'
    for model in (evil, "+1", "@SUM(A1)", "-2", "plain"):
        assert cli(capsys, "leaderboard", "add", result, "--model", model, "--db", db)[0] == 0
    assert cli(capsys, "leaderboard", "export", out, "--db", db)[0] == 0
    models = sorted(row["model"] for row in csv.DictReader(out.open()))
    assert models == sorted(["'" + evil, "'+1", "'@SUM(A1)", "'-2", "plain"])


def test_full_database_names_the_cause(tmp_path, result):
    from psalm_bench.leaderboard.store import ResultsStore

    db = tmp_path / "lb.db"
    with ResultsStore.open(db) as store:
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(InputError, match="database or disk is full"):
            store.add(result, "m", meta={"note": "x" * 200_000})  # needs pages the limit forbids
        assert store.list() == []  # nothing half-added


def test_corrupted_database_page_is_one_line(capsys, tmp_path, result):
    db = tmp_path / "lb.db"
    for k in range(30):
        assert cli(capsys, "leaderboard", "add", result, "--model", f"m{k}", "--meta", f"note={'x' * 200}", "--db", db)[0] == 0
    size = db.stat().st_size
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    assert size >= 3 * page
    with db.open("r+b") as handle:  # overwrite every page after the schema page
        handle.seek(page)
        handle.write(b"\xa5" * (size - page))
    one_line(*cli(capsys, "leaderboard", "list", "--db", db), "lb.db")


# ------------------------------------------------------------- training


def test_train_refuses_nan_settings(tmp_path):
    from psalm_bench.model.train import train

    for kwargs, fragment in [({"lr": float("nan")}, "learning rate"), ({"lr": 1e-3, "max_seconds": -300.0}, "time limit"),
                             ({"lr": 1e-3, "weight_decay": float("inf")}, "weight decay")]:
        with pytest.raises(InputError, match=fragment):
            train(None, None, tmp_path / "run", tokenizer=None, steps=1, **kwargs)
    assert not (tmp_path / "run").exists()


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_hostile_training_state_runs_no_code(tmp_path):
    torch = pytest.importorskip("torch")
    from psalm_bench.model.checkpoint import load_training_state

    marker = tmp_path / "pwned"
    state = tmp_path / "train_state.pt"
    torch.save({"model": _Payload(str(marker))}, state)
    with pytest.raises(InputError, match="unreadable training state"):
        load_training_state(state)
    assert not marker.exists()
    with state.open("wb") as handle:
        pickle.dump([1, 2], handle)
    with pytest.raises(InputError, match="training state"):
        load_training_state(state)


def test_wrong_shape_training_state_is_one_error(tmp_path, tok):
    torch = pytest.importorskip("torch")
    from psalm_bench.model.checkpoint import STATE_FILE
    from psalm_bench.model.config import get_config
    from psalm_bench.model.toy import toy_source
    from psalm_bench.model.train import train

    kw = dict(tokenizer=tok, steps=2, lr=1e-3, warmup_steps=0, progress=False, seed=0, threads=1, checkpoint_every=0)
    cfg = get_config("tiny")
    train(cfg, toy_source(batch=1), tmp_path, max_seconds=0, **kw)
    path = tmp_path / STATE_FILE
    state = torch.load(path, weights_only=True)
    name = next(iter(state["model"]))
    state["model"][name] = torch.zeros(3, 1, 7)
    torch.save(state, path)
    with pytest.raises(InputError, match="does not fit this run"):
        train(cfg, toy_source(batch=1), tmp_path, **kw)


# ------------------------------------------------- workers die with parent

_POOL_SCRIPT = """
import sys, time
from psalm_bench.parallel import worker_pool
pool = worker_pool(2)
futures = [pool.submit(time.sleep, 60) for _ in range(2)]
time.sleep(1.5)
print(" ".join(str(p) for p in pool._processes), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_workers_die_after_kill_9_of_parent():
    parent = subprocess.Popen([sys.executable, "-c", _POOL_SCRIPT], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids), pids
    finally:
        if parent.poll() is None:
            parent.kill()


# ------------------------------------------------------ build-interactive


def test_build_interactive_skips_nan_bbox_and_infinite_area(tmp_path):
    from psalm_bench.generators import interactive as gi

    square = [10.0, 10.0, 30.0, 10.0, 30.0, 30.0, 10.0, 30.0]
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 400.0, "bbox": [10, 10, 20, 20], "segmentation": [square]},
        {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 400.0, "bbox": [float("nan"), 10, 20, 20], "segmentation": [square]},
        {"id": 3, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": float("inf"), "bbox": [10, 10, 20, 20], "segmentation": [square]},
    ]
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "height": 48, "width": 48}], "annotations": anns,
                              "categories": [{"id": 1, "name": "thing"}]}))
    summary = gi.build_interactive(gt, tmp_path / "out.json", progress=False)
    assert summary.instances == 1
    assert summary.skipped["bad_bbox"] == 1 and summary.skipped["bad_area"] == 1
    assert b"null" not in (tmp_path / "out.json").read_bytes()
