"""Shard state files and `merge`: every sharded task gives the one-process JSON, byte for byte."""

from __future__ import annotations

import io
import json
import random
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import FIXTURES, assert_one_line_error, needs_fixtures, run_cli
from psalm_bench.cli import app
from psalm_bench.masks import encode

pytestmark = needs_fixtures

SHARDED_TASKS = ["panoptic", "instance", "semantic", "refcoco", "gref", "interactive", "vos", "ov-semantic", "ov-instance", "muse", "correspondence"]


def _fixture_case(task: str, name: str) -> list[str]:
    case = FIXTURES / task / name
    exp = json.loads((case / "expected.json").read_text())
    args = ["--task", task, "--gt", str(case / exp["gt"]), "--pred", str(case / exp["pred"])]
    for flag, value in exp.get("args", {}).items():
        args += [flag, str(case / value) if flag == "--classes" else str(value)]
    return args


def _ov_case(root: Path) -> list[str]:
    rng = np.random.default_rng(5)
    for k in range(5):
        for folder, high in (("annotations", 151), ("pred", 150)):
            path = root / folder / f"ADE_val_{k:08d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, high, (12, 16)).astype(np.uint8)).save(path)
    return ["--task", "ov-semantic", "--gt", str(root / "annotations"), "--pred", str(root / "pred"), "--benchmark", "a150"]


def _muse_case(root: Path) -> list[str]:
    rng = random.Random(3)

    def rect() -> dict:
        m = np.zeros((10, 12), dtype=np.uint8)
        r, c = rng.randrange(8), rng.randrange(10)
        m[r:r + rng.randint(1, 4), c:c + rng.randint(1, 5)] = 1
        return encode(m)

    gts = [{"id": i, "height": 10, "width": 12, "masks": [rect() for _ in range(rng.randint(1, 3))]} for i in range(7)]
    preds = [{"id": i, "masks": [rect() for _ in range(rng.randint(0, 3))]} for i in range(7)]
    root.mkdir(parents=True, exist_ok=True)
    (root / "gt.json").write_text(json.dumps(gts))
    (root / "pred.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    return ["--task", "muse", "--gt", str(root / "gt.json"), "--pred", str(root / "pred.jsonl")]


CITYSCAPES_THINGS = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]


def _ov_instance_case(root: Path) -> list[str]:
    """Cityscapes' 8 instance classes, 7 images: near misses, duplicates, a crowd and score ties."""
    rng = np.random.default_rng(11)
    h, w = 24, 32
    images, anns, dets = [], [], []
    for image_id in range(1, 8):
        images.append({"id": image_id, "height": h, "width": w, "file_name": f"{image_id}.png"})
        for _ in range(int(rng.integers(1, 4))):
            m = np.zeros((h, w), dtype=np.uint8)
            r, c = int(rng.integers(0, h - 6)), int(rng.integers(0, w - 8))
            m[r:r + int(rng.integers(3, 7)), c:c + int(rng.integers(3, 9))] = 1
            cat = int(rng.integers(1, 4))
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": cat, "segmentation": encode(m),
                         "area": float(m.sum()), "bbox": [float(c), float(r), 8.0, 6.0], "iscrowd": int(rng.random() < 0.1)})
            for _ in range(int(rng.integers(0, 3))):
                shifted = np.roll(m, (int(rng.integers(-1, 2)), int(rng.integers(-1, 2))), axis=(0, 1))
                dets.append({"image_id": image_id, "category_id": cat if rng.random() < 0.8 else int(rng.integers(1, 4)),
                             "segmentation": encode(shifted), "score": round(float(rng.choice([0.5, rng.random()])), 3)})
    root.mkdir(parents=True, exist_ok=True)
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(CITYSCAPES_THINGS)]
    (root / "gt.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": categories}))
    (root / "pred.json").write_text(json.dumps(dets))
    return ["--task", "ov-instance", "--gt", str(root / "gt.json"), "--pred", str(root / "pred.json"), "--benchmark", "cityscapes"]


def _correspondence_case(root: Path) -> list[str]:
    """test_correspondence's officially scored case (two takes, both directions), with one
    predicted frame dropped so that the missing-frame warning travels through the shards too."""
    from test_correspondence import official_case

    gt, pred = official_case()
    take = pred["ego-exo"]["results"]["take-a"]["masks"]["obj_0"]
    frames = take[next(iter(take))]
    del frames[next(iter(frames))]
    root.mkdir(parents=True, exist_ok=True)
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "pred.json").write_text(json.dumps(pred))
    return ["--task", "correspondence", "--gt", str(root / "gt.json"), "--pred", str(root / "pred.json")]


def case_args(task: str, root: Path) -> list[str]:
    """CLI args of one small case per sharded task (fixtures where they exist)."""
    names = {"panoptic": "coco_davis", "instance": "crowd_and_edge", "semantic": "coco133", "refcoco": "refcoco_unc_val",
             "gref": "grefcoco_val", "interactive": "polygon_gt", "vos": "davis_val"}
    if task in names:
        return _fixture_case(task, names[task])
    if task == "ov-instance":
        return _ov_instance_case(root / "ovi")
    if task == "correspondence":
        return _correspondence_case(root / "corr")
    return _ov_case(root / "ov") if task == "ov-semantic" else _muse_case(root / "muse")


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, [*map(str, args), "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("task", SHARDED_TASKS)
def test_shards_merged_in_any_order_give_the_one_process_json(task: str, tmp_path: Path) -> None:
    args = case_args(task, tmp_path)
    invoke("eval", *args, "--json", tmp_path / "one.json")
    one = (tmp_path / "one.json").read_bytes()
    assert json.loads(one)["n_samples"] > 0
    if task == "correspondence":
        assert "missing from the predictions" in json.loads(one)["warnings"][0]
    for n in (1, 3, 4):
        paths = [tmp_path / f"n{n}-s{k}.state" for k in range(1, n + 1)]
        for k, path in enumerate(paths, 1):
            assert f"shard {k}/{n}" in invoke("eval", *args, "--shard", f"{k}/{n}", "--state-out", path)
        random.Random(n).shuffle(paths)
        invoke("merge", *paths, "--json", tmp_path / f"merged{n}.json")
        assert (tmp_path / f"merged{n}.json").read_bytes() == one, (task, n)


def test_state_files_are_deterministic_and_not_pickles(tmp_path: Path) -> None:
    args = case_args("refcoco", tmp_path)
    for name in ("a", "b"):
        invoke("eval", *args, "--shard", "2/3", "--state-out", tmp_path / f"{name}.state")
    a = (tmp_path / "a.state").read_bytes()
    assert a == (tmp_path / "b.state").read_bytes()
    with np.load(tmp_path / "a.state", allow_pickle=False) as npz:
        header = json.loads(npz["header.npy"].tobytes())
    assert header["format"] == "psalm-bench-shard-state" and header["version"] == 1
    assert header["task"] == "refcoco" and header["shard"] == [2, 3]
    assert header["options"]["__t"] == "dict"


@pytest.fixture()
def three_shards(tmp_path: Path) -> tuple[list[str], list[Path]]:
    case = tmp_path / "case"
    shutil.copytree(FIXTURES / "interactive" / "polygon_gt", case)
    args = ["--task", "interactive", "--gt", str(case / "gt.json"), "--pred", str(case / "pred.jsonl")]
    paths = [tmp_path / f"s{k}.state" for k in (1, 2, 3)]
    for k, path in enumerate(paths, 1):
        invoke("eval", *args, "--shard", f"{k}/3", "--state-out", path)
    return args, paths


def _rewrite_header(src: Path, dst: Path, **changes: object) -> None:
    with zipfile.ZipFile(src) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    header = json.loads(np.load(io.BytesIO(members["header.npy"])).tobytes())
    header.update(changes)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    members["header.npy"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_missing_and_duplicate_shards_are_refused(three_shards) -> None:
    _, (s1, s2, s3) = three_shards
    assert_one_line_error(run_cli("merge", s1, s3), "1 of 3 shards missing: 2/3")
    assert_one_line_error(run_cli("merge", s1, s2, s3, s2), "shard 2/3 given twice")


def test_mismatched_states_are_refused(three_shards, tmp_path: Path) -> None:
    args, (s1, s2, s3) = three_shards
    invoke("eval", *args, "--protocol", "psalm", "--shard", "2/3", "--state-out", tmp_path / "other.state")
    assert_one_line_error(run_cli("merge", s1, tmp_path / "other.state", s3), "other.state", "options", "protocol=psalm")
    panoptic = case_args("panoptic", tmp_path)
    invoke("eval", *panoptic, "--shard", "2/3", "--state-out", tmp_path / "pan.state")
    assert_one_line_error(run_cli("merge", s1, tmp_path / "pan.state", s3), "pan.state", "task panoptic differs from interactive")
    _rewrite_header(s2, tmp_path / "old.state", psalm_bench="0.0.1")
    assert_one_line_error(run_cli("merge", s1, tmp_path / "old.state", s3), "old.state", "psalm-bench version 0.0.1")
    _rewrite_header(s2, tmp_path / "v9.state", version=9)
    assert_one_line_error(run_cli("merge", s1, tmp_path / "v9.state", s3), "v9.state", "format version 9")
    _rewrite_header(s2, tmp_path / "gt.state", gt_sha256="0" * 64)
    assert_one_line_error(run_cli("merge", s1, tmp_path / "gt.state", s3), "gt.state", "ground truth (sha256)")
    (tmp_path / "junk.state").write_bytes(b"not a zip")
    assert_one_line_error(run_cli("merge", s1, tmp_path / "junk.state", s3), "junk.state", "not a psalm-bench shard state file")


def test_inputs_changed_after_sharding_are_refused(three_shards) -> None:
    args, paths = three_shards
    gt = Path(args[args.index("--gt") + 1])
    gt.write_text(gt.read_text() + "\n")
    assert_one_line_error(run_cli("merge", *paths), "gt.json", "ground truth changed")


def test_bad_shard_options_are_one_line(tmp_path: Path) -> None:
    args = case_args("interactive", tmp_path)
    assert_one_line_error(run_cli("eval", *args, "--shard", "0/3", "--state-out", tmp_path / "s.state"), "--shard 0/3")
    assert_one_line_error(run_cli("eval", *args, "--shard", "2/3"), "--shard K/N and --state-out FILE go together")
    for args in (_fixture_case("instance", "basic"), _ov_instance_case(tmp_path / "ovi")):
        assert_one_line_error(run_cli("eval", *args, "--workers", "2"), "does not take --workers", "--shard K/N or --engine ray")
        assert_one_line_error(run_cli("eval", *args, "--workers", "2", "--shard", "1/2", "--state-out", tmp_path / "w.state"),
                              "does not take --workers inside a shard")


def test_instance_bbox_shards_give_the_one_process_json(tmp_path: Path) -> None:
    args = _fixture_case("instance", "crowd_and_edge_bbox")
    invoke("eval", *args, "--json", tmp_path / "one.json")
    paths = [tmp_path / f"s{k}.state" for k in (1, 2)]
    for k, path in enumerate(paths, 1):
        invoke("eval", *args, "--shard", f"{k}/2", "--state-out", path)
    invoke("merge", paths[1], paths[0], "--json", tmp_path / "merged.json")
    assert json.loads((tmp_path / "one.json").read_bytes())["provenance"]["params"]["iou_type"] == "bbox"
    assert (tmp_path / "merged.json").read_bytes() == (tmp_path / "one.json").read_bytes()
    segm = tmp_path / "segm.state"
    invoke("eval", *_fixture_case("instance", "crowd_and_edge"), "--shard", "2/2", "--state-out", segm)
    assert_one_line_error(run_cli("merge", paths[0], segm), "segm.state", "differ")


def test_instance_shards_of_a_workload_give_the_one_process_json(tmp_path: Path) -> None:
    """60 images, 25 detections each: every pair type, many categories, ties across images."""
    from psalm_bench.generators.coco_workload import main as make_workload

    data = tmp_path / "w"
    make_workload([str(data), "--n-images", "60", "--n-panoptic", "0", "--dets-per-image", "25", "--height", "96", "--width", "128", "--no-progress"])
    args = ["--task", "instance", "--gt", data / "instances_gt.json", "--pred", data / "instances_pred.json"]
    invoke("eval", *args, "--json", tmp_path / "one.json")
    paths = [tmp_path / f"s{k}.state" for k in (1, 2, 3, 4)]
    for k, path in enumerate(paths, 1):
        invoke("eval", *args, "--shard", f"{k}/4", "--state-out", path)
    invoke("merge", paths[2], paths[0], paths[3], paths[1], "--json", tmp_path / "merged.json")
    assert json.loads((tmp_path / "one.json").read_bytes())["metrics"]["AP"] > 0
    assert (tmp_path / "merged.json").read_bytes() == (tmp_path / "one.json").read_bytes()
    # with the per-image records (one process: the engine in chunks of images; shards: image by image)
    invoke("eval", *args, "--records", "--json", tmp_path / "one-records.json")
    for k, path in enumerate(paths[:2], 1):
        invoke("eval", *args, "--records", "--shard", f"{k}/2", "--state-out", path)
    invoke("merge", paths[1], paths[0], "--json", tmp_path / "merged-records.json")
    with_records = json.loads((tmp_path / "one-records.json").read_bytes())
    assert len(with_records["records"]["images"]) == 60 and with_records["metrics"] == json.loads((tmp_path / "one.json").read_bytes())["metrics"]
    assert (tmp_path / "merged-records.json").read_bytes() == (tmp_path / "one-records.json").read_bytes()
    invoke("eval", *args, "--shard", "2/2", "--state-out", tmp_path / "plain2.state")
    assert_one_line_error(run_cli("merge", paths[0], tmp_path / "plain2.state"), "plain2.state", "options")  # with and without --records


def test_panoptic_float_sums_do_not_depend_on_the_sharding(tmp_path: Path) -> None:
    """120 images: enough that chunked IoU sums would differ in the last bits from one process's."""
    from psalm_bench.generators.coco_workload import main as make_workload

    data = tmp_path / "w"
    make_workload([str(data), "--n-images", "120", "--n-panoptic", "120", "--dets-per-image", "1", "--height", "96", "--width", "128", "--no-progress"])
    args = ["--task", "panoptic", "--gt", data / "panoptic_gt.json", "--pred", data / "panoptic_pred.json"]
    invoke("eval", *args, "--json", tmp_path / "one.json")
    invoke("eval", *args, "--workers", "2", "--json", tmp_path / "pool.json")
    paths = [tmp_path / f"s{k}.state" for k in (1, 2, 3)]
    for k, path in enumerate(paths, 1):
        invoke("eval", *args, "--shard", f"{k}/3", "--state-out", path)
    invoke("merge", paths[2], paths[0], paths[1], "--json", tmp_path / "merged.json")
    one = (tmp_path / "one.json").read_bytes()
    assert (tmp_path / "pool.json").read_bytes() == one
    assert (tmp_path / "merged.json").read_bytes() == one
