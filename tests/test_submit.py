"""Submissions: archive safety, the board's registered GT, scoring and storing (psalm_bench.leaderboard.submit)."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import stat
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import assert_one_line_error, run_cli
from psalm_bench.errors import InputError
from psalm_bench.examples_runner import EXAMPLES
from psalm_bench.leaderboard import submit as sb
from psalm_bench.leaderboard.store import ResultsStore
from psalm_bench.tasks import get_task

EX = EXAMPLES / "instance"
PRED = (EX / "pred.json").read_bytes()
SMALL = sb.ArchiveLimits(max_files=20, max_file_bytes=4 << 20, max_total_bytes=8 << 20, max_ratio=50.0, ratio_floor_bytes=64 << 10)


@pytest.fixture
def board(tmp_path):
    """A board with the example instance GT registered and one measured result on it."""
    gt = tmp_path / "gt" / "instances.json"
    gt.parent.mkdir()
    shutil.copy(EX / "gt.json", gt)
    result = tmp_path / "result.json"
    get_task("instance").run(gt, EX / "pred.json", progress=False).write_json(result, gt=[gt], pred=[EX / "pred.json"])
    db = tmp_path / "lb.db"
    with ResultsStore.open(db) as s:
        s.add(result, "Baseline")
        board, status = sb.register_gt(s, gt, result=result)
        assert status == "registered" and (board.benchmark, board.split) == ("default", "default")
    store = ResultsStore.open(db)
    yield store, gt, result
    store.close()


def zip_with(path: Path, members: dict[str, bytes], *, deflate: bool = True) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def tar_with(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def special(name: str, kind: bytes, **attrs) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for k, v in attrs.items():
        setattr(info, k, v)
    return info


def rows(store: ResultsStore) -> list[tuple[str, str]]:
    return sorted((r.model, r.source) for r in store.list())


# ---------------------------------------------------------------------------
# good submissions


def test_good_zip_scores_and_stores(board, tmp_path):
    store, gt, result = board
    archive = zip_with(tmp_path / "good.zip", {"pred.json": PRED})
    done = sb.submit(store, archive, "instance", "Contender", meta={"link": "https://example.org"}, limits=SMALL)
    assert done.outcome.status == "added" and done.files == 1
    expected = json.loads(result.read_text())["metrics"]
    assert done.metrics["AP"] == pytest.approx(expected["AP"])
    [stored] = store.list(model="Contender")
    assert stored.source == "measured" and stored.gt_sha256 == done.benchmark.gt_sha256
    assert store.meta("Contender") == {"link": "https://example.org"}
    # the same submission again changes nothing
    assert sb.submit(store, archive, "instance", "Contender", limits=SMALL).outcome.status == "unchanged"


def test_good_tar_gz_wrapped_in_a_folder(board, tmp_path):
    store, _, _ = board
    archive = tar_with(tmp_path / "good.tar.gz", [special("submission", tarfile.DIRTYPE), ("submission/pred.json", PRED)])
    assert sb.submit(store, archive, "instance", "TarNet", limits=SMALL).outcome.status == "added"


def test_macos_zip_with_resource_forks(board, tmp_path):
    store, _, _ = board
    archive = zip_with(tmp_path / "mac.zip", {"sub/pred.json": PRED, "__MACOSX/sub/._pred.json": b"\x00\x05\x16\x07 apple double"})
    assert sb.submit(store, archive, "instance", "MacNet", limits=SMALL).outcome.status == "added"


def test_moved_gt_is_accepted_when_it_still_matches(board, tmp_path):
    store, gt, _ = board
    moved = tmp_path / "moved.json"
    shutil.copy(gt, moved)
    gt.unlink()
    archive = zip_with(tmp_path / "good.zip", {"pred.json": PRED})
    with pytest.raises(InputError, match="ground truth not found"):
        sb.submit(store, archive, "instance", "M", limits=SMALL)
    assert sb.submit(store, archive, "instance", "M", gt=moved, limits=SMALL).outcome.status == "added"


# ---------------------------------------------------------------------------
# malicious or broken archives: refused with one line, nothing stored


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip_symlink(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("pred.json")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return path


def _zip_lying_size(path: Path) -> Path:
    """A member whose headers declare 100 bytes but which inflates to 200 kB."""
    zip_with(path, {"pred.json": b"[" + b" " * 200_000 + b"]"})
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 100)
    struct.pack_into("<I", data, central + 24, 100)
    path.write_bytes(bytes(data))
    return path


MALICIOUS = {
    "traversal-zip": (lambda p: zip_with(p / "a.zip", {"../evil.json": PRED}), "path traversal"),
    "traversal-tar": (lambda p: tar_with(p / "a.tar.gz", [("sub/../../evil.json", PRED)]), "path traversal"),
    "absolute-zip": (lambda p: zip_with(p / "a.zip", {"/tmp/evil.json": PRED}), "absolute path"),
    "absolute-tar": (lambda p: tar_with(p / "a.tar", [("/etc/evil.json", PRED)], "w"), "absolute path"),
    "backslash": (lambda p: zip_with(p / "a.zip", {"..\\evil.json": PRED}), "backslash"),
    "symlink-zip": (lambda p: _zip_symlink(p / "a.zip"), "symbolic link"),
    "symlink-tar": (lambda p: tar_with(p / "a.tar.gz", [special("pred.json", tarfile.SYMTYPE, linkname="/etc/passwd")]), "symbolic link"),
    "hardlink-tar": (lambda p: tar_with(p / "a.tar.gz", [special("pred.json", tarfile.LNKTYPE, linkname="/etc/passwd")]), "hard link"),
    "device-tar": (lambda p: tar_with(p / "a.tar", [special("pred.json", tarfile.CHRTYPE, devmajor=1, devminor=3)], "w"), "device"),
    "fifo-tar": (lambda p: tar_with(p / "a.tar", [special("pred.json", tarfile.FIFOTYPE)], "w"), "FIFO"),
    "pickle-name": (lambda p: zip_with(p / "a.zip", {"pred.json": PRED, "model.pkl": pickle.dumps({"x": 1})}), "pickle"),
    "pickle-torch": (lambda p: zip_with(p / "a.zip", {"weights.pt": b"PK"}), "pickle"),
    "pickle-magic": (lambda p: zip_with(p / "a.zip", {"pred.json": pickle.dumps([1, 2, 3], protocol=4)}), "pickle data"),
    "nested-archive": (lambda p: zip_with(p / "a.zip", {"pred.json": zip_with(p / "inner.zip", {"x": b"y"}).read_bytes()}), "nested archive"),
    "too-many-files": (lambda p: zip_with(p / "a.zip", {f"f{i}.json": b"[]" for i in range(SMALL.max_files + 1)}), "more than 20 files"),
    "zip-bomb": (lambda p: zip_with(p / "a.zip", {"pred.json": b"\0" * (3 << 20)}), "compression ratio"),
    "tar-bomb-ratio": (lambda p: tar_with(p / "a.tar.gz", [("pred.json", b"\0" * (3 << 20))]), "compression ratio"),
    "tar-bomb-declared": (lambda p: tar_with(p / "a.tar.gz", [("pred.json", b"\0" * (9 << 20))]), "per-file limit"),
    "oversized-member": (lambda p: zip_with(p / "a.zip", {"pred.json": bytes(range(256)) * (20 << 10)}, deflate=False), "per-file limit"),
    "lying-header": (lambda p: _zip_lying_size(p / "a.zip"), "refused"),
    "duplicate": (lambda p: zip_with(p / "a.zip", {"pred.json": PRED, "./pred.json": PRED}), "duplicate"),
    "not-an-archive": (lambda p: _write(p / "a.zip", b"just text"), "not a zip or tar"),
    "empty": (lambda p: zip_with(p / "a.zip", {"folder/": b""}), "no files"),
    "two-predictions": (lambda p: zip_with(p / "a.zip", {"a.json": PRED, "b.json": PRED}), "exactly one prediction file"),
    "no-prediction": (lambda p: zip_with(p / "a.zip", {"notes.txt": b"hello"}), "exactly one prediction file"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_bad_archive_refused_and_nothing_stored(board, tmp_path, case):
    store, _, _ = board
    build, fragment = MALICIOUS[case]
    archive = build(tmp_path)
    before = rows(store)
    with pytest.raises(InputError) as err:
        sb.submit(store, archive, "instance", "Evil", limits=SMALL)
    message = str(err.value)
    assert fragment in message, message
    assert "\n" not in message and str(archive) in message
    assert rows(store) == before and store.meta("Evil") == {}
    assert not (tmp_path.parent / "evil.json").exists() and not Path("/tmp/evil.json").exists()


def test_bad_predictions_inside_a_safe_archive_name_the_member(board, tmp_path):
    store, _, _ = board
    archive = zip_with(tmp_path / "a.zip", {"pred.json": b"[{\"image_id\": 1}"})
    with pytest.raises(InputError) as err:
        sb.submit(store, archive, "instance", "Broken", limits=SMALL)
    assert f"{archive}:pred.json" in str(err.value) and "psalm-bench-submission" not in str(err.value)
    assert [m for m, _ in rows(store)] == ["Baseline"]


def test_bytes_are_counted_while_copying(tmp_path):
    """A stream yielding more than its header declared is stopped, whatever the reader does."""
    member = sb.Member("pred.json", 10, False)
    budget = sb._Budget("a.zip", SMALL)
    with pytest.raises(InputError, match="beyond its declared 10 bytes"):
        sb._copy("a.zip", io.BytesIO(b"[" + b" " * 100 + b"]"), tmp_path / "out", member, SMALL, budget)
    total = sb._Budget("a.zip", sb.ArchiveLimits(max_total_bytes=50))
    with pytest.raises(InputError, match="decompression bomb"):
        sb._copy("a.zip", io.BytesIO(b"x" * 100), tmp_path / "out2", sb.Member("p", 100, False), SMALL, total)


def test_safe_names():
    assert sb.safe_name("a.zip", "./a//b/./c.json") == "a/b/c.json"
    for bad in ("", "../x", "a/../../x", "/x", "C:/x", "a\\b", "a\0b", "./"):
        with pytest.raises(InputError):
            sb.safe_name("a.zip", bad)


# ---------------------------------------------------------------------------
# the board's ground truth


def test_changed_gt_refuses_scoring(board, tmp_path):
    store, gt, _ = board
    data = json.loads(gt.read_text())
    data["images"] = data["images"][:-1]
    gt.write_text(json.dumps(data))
    archive = zip_with(tmp_path / "good.zip", {"pred.json": PRED})
    with pytest.raises(InputError, match="has changed since it was registered"):
        sb.submit(store, archive, "instance", "Late", limits=SMALL)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    with pytest.raises(InputError, match="is not the board's ground truth"):
        sb.submit(store, archive, "instance", "Late", gt=other, limits=SMALL)
    assert store.list(model="Late") == []


def test_no_registered_board(tmp_path):
    with ResultsStore.open(tmp_path / "empty.db") as s:
        archive = zip_with(tmp_path / "good.zip", {"pred.json": PRED})
        with pytest.raises(InputError, match="set-gt"):
            sb.submit(s, archive, "instance", "M")


def test_register_gt_checks(board, tmp_path):
    store, gt, result = board
    other = tmp_path / "other.json"
    other.write_text(gt.read_text().replace("{", "{ ", 1))
    with pytest.raises(InputError, match="does not hash to the result's gt_sha256"):
        sb.register_gt(store, other, result=result)
    # a different GT for a board whose results were scored on the registered one
    with pytest.raises(InputError, match="scored on other ground truth"):
        sb.register_gt(store, other, task="instance", options={"iou_type": "segm"})
    assert sb.register_gt(store, gt, result=result)[1] == "unchanged"
    with pytest.raises(InputError, match="does not take option"):
        sb.register_gt(store, gt, task="instance", options={"dataset": "coco"})
    # explicit registration of a second board
    board2, status = sb.register_gt(store, other, task="instance", benchmark="coco", split="val", options={"iou_type": "bbox"})
    assert status == "registered" and board2.options == {"iou_type": "bbox"}
    archive = zip_with(tmp_path / "good.zip", {"pred.json": PRED})
    with pytest.raises(InputError, match="several registered boards"):
        sb.submit(store, archive, "instance", "M", limits=SMALL)


def test_measured_result_on_other_gt_than_registered_is_refused(board):
    store, _, result = board
    data = json.loads(result.read_text())
    data["provenance"]["gt_sha256"] = "0" * 64
    with pytest.raises(InputError, match="registered ground truth"):
        store.add(data, "Baseline")  # even the model that is already on the board


def test_parse_options():
    assert sb.parse_options(["dataset=refcoco", "num_classes=21", "strict=true", "split-by=umd"]) == {
        "dataset": "refcoco", "num_classes": 21, "strict": True, "split_by": "umd"}
    with pytest.raises(InputError, match="KEY=VALUE"):
        sb.parse_options(["nope"])


# ---------------------------------------------------------------------------
# CLI


def test_cli_set_gt_and_submit(tmp_path):
    gt = tmp_path / "instances.json"
    shutil.copy(EX / "gt.json", gt)
    result = tmp_path / "r.json"
    db = tmp_path / "lb.db"
    assert run_cli("eval", "--task", "instance", "--gt", gt, "--pred", EX / "pred.json", "--json", result).returncode == 0
    assert run_cli("leaderboard", "add", result, "--model", "Baseline", "--db", db).returncode == 0
    registered = run_cli("leaderboard", "set-gt", "--gt", gt, "--result", result, "--db", db)
    assert registered.returncode == 0 and registered.stdout.startswith("registered: instance/default/default"), registered.stderr
    good = zip_with(tmp_path / "good.zip", {"pred.json": PRED})
    done = run_cli("leaderboard", "submit", good, "--task", "instance", "--model", "Contender", "--meta", "llm=x", "--db", db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("added: Contender on instance/default/default") and "AP " in done.stdout
    bad = zip_with(tmp_path / "bad.zip", {"../evil.json": PRED})
    assert_one_line_error(run_cli("leaderboard", "submit", bad, "--task", "instance", "--model", "Evil", "--db", db), "bad.zip", "path traversal")
    bomb = tar_with(tmp_path / "bomb.tar.gz", [("pred.json", b"\0" * (4 << 20))])
    assert_one_line_error(run_cli("leaderboard", "submit", bomb, "--task", "instance", "--model", "Evil", "--db", db), "compression ratio")
    listed = run_cli("leaderboard", "list", "--db", db)
    assert "Contender" in listed.stdout and "Evil" not in listed.stdout
    assert_one_line_error(run_cli("leaderboard", "set-gt", "--gt", gt, "--db", db), "--result")
