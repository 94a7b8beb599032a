"""The per-image COCOeval state and its numpy accumulate: the engine's numbers, bit for bit."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, needs_fixtures
from psalm_bench.evaluators.instance_state import InstanceState, accumulate, from_eval_imgs, state_from_engine, summarize

pytestmark = needs_fixtures

CASES = [("basic", "segm"), ("crowd_and_edge", "segm"), ("crowd_and_edge_bbox", "bbox")]


def _engine(gt: Path, pred: Path, iou_type: str):
    import hotcoco

    coco_gt = hotcoco.COCO(str(gt))
    engine = hotcoco.COCOeval(coco_gt, coco_gt.load_res(str(pred)), iou_type)
    engine.evaluate()
    engine.accumulate()
    with contextlib.redirect_stdout(io.StringIO()):
        engine.summarize()
    return engine


@pytest.mark.parametrize("case,iou_type", CASES)
def test_state_reaccumulates_to_the_engine_and_the_official_numbers(case: str, iou_type: str) -> None:
    folder = FIXTURES / "instance" / case
    engine = _engine(folder / "gt.json", folder / "pred.json", iou_type)
    state = state_from_engine(engine)
    acc = accumulate(state, engine.params.cat_ids)
    assert np.array_equal(acc.precision, np.asarray(engine.eval["precision"]))
    assert np.array_equal(acc.recall, np.asarray(engine.eval["recall"]))
    stats = summarize(acc)
    assert stats == [float(v) for v in engine.stats]  # bit for bit
    expected = json.loads((folder / "expected.json").read_text())["metrics"]
    for name, value in zip(expected, stats):
        assert abs(value * 100.0 - expected[name]) < 1e-6, name


@pytest.mark.parametrize("case,iou_type", CASES)
def test_pycocotools_eval_imgs_give_the_same_state(case: str, iou_type: str) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    folder = FIXTURES / "instance" / case
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(folder / "gt.json"))
        reference = COCOeval(gt, gt.loadRes(str(folder / "pred.json")), iou_type)
        reference.evaluate()
        reference.accumulate()
        reference.summarize()
    ours = state_from_engine(_engine(folder / "gt.json", folder / "pred.json", iou_type))
    theirs = from_eval_imgs(reference.evalImgs, reference.params.areaRng, reference.params.imgIds, reference.params.catIds)
    for name in ("pair_image", "pair_category", "pair_dets", "pair_gt", "score", "tp", "ignored"):
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name
    assert summarize(accumulate(theirs, reference.params.catIds)) == [float(v) for v in reference.stats]


def test_states_of_image_shards_concatenate_to_the_whole(tmp_path: Path) -> None:
    from psalm_bench.generators.coco_workload import main as make_workload

    make_workload([str(tmp_path), "--n-images", "40", "--n-panoptic", "0", "--dets-per-image", "30",
                   "--height", "96", "--width", "128", "--no-progress"])
    engine = _engine(tmp_path / "instances_gt.json", tmp_path / "instances_pred.json", "segm")
    whole = state_from_engine(engine)
    assert summarize(accumulate(whole, engine.params.cat_ids)) == [float(v) for v in engine.stats]
    images = sorted(engine.params.img_ids)
    parts = []
    for chunk in (images[:7], images[7:8], images[8:]):
        engine.params.img_ids = chunk
        engine.evaluate()
        parts.append(state_from_engine(engine))
    merged = InstanceState.concat(parts)
    for name in ("pair_image", "pair_category", "pair_dets", "pair_gt", "score", "tp", "ignored"):
        assert np.array_equal(getattr(merged, name), getattr(whole, name)), name
    # a changed flag changes the numbers: the state is what the metrics come from
    merged.tp[np.flatnonzero(merged.tp[:, 0])[0], 0] = 0
    assert summarize(accumulate(merged, engine.params.cat_ids))[0] != summarize(accumulate(whole, engine.params.cat_ids))[0]


# ---- records and the bootstrap over images


def _dataset(root: Path, n_images: int = 40, dets: int = 30, seed: int = 0) -> tuple[Path, Path]:
    from psalm_bench.generators.coco_workload import main as make_workload

    make_workload([str(root), "--n-images", str(n_images), "--n-panoptic", "0", "--dets-per-image", str(dets), "--seed", str(seed),
                   "--height", "96", "--width", "128", "--no-progress"])
    return root / "instances_gt.json", root / "instances_pred.json"


def _replicated(gt: Path, pred: Path, counts: np.ndarray, out: Path) -> tuple[Path, Path]:
    """The dataset in which image i appears counts[i] times (fresh ids): what a bootstrap row means."""
    g, p = json.loads(gt.read_text()), json.loads(pred.read_text())
    ids = sorted(i["id"] for i in g["images"])
    info = {i["id"]: i for i in g["images"]}
    anns: dict[int, list] = {}
    dets: dict[int, list] = {}
    for a in g["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    for d in p:
        dets.setdefault(d["image_id"], []).append(d)
    images, annotations, results = [], [], []
    for image_id, c in zip(ids, counts):
        for _ in range(int(c)):
            new = len(images) + 1
            images.append({**info[image_id], "id": new})
            for a in anns.get(image_id, []):
                annotations.append({**a, "id": len(annotations) + 1, "image_id": new})
            results += [{**d, "image_id": new} for d in dets.get(image_id, [])]
    out.mkdir(parents=True, exist_ok=True)
    (out / "gt.json").write_text(json.dumps({**g, "images": images, "annotations": annotations}))
    (out / "pred.json").write_text(json.dumps(results))
    return out / "gt.json", out / "pred.json"


def test_a_bootstrap_row_is_cocoeval_on_the_replicated_images(tmp_path: Path) -> None:
    from psalm_bench.evaluators.instance_state import STAT_NAMES, bootstrap_stats
    from psalm_bench.leaderboard.report import resample_counts

    gt, pred = _dataset(tmp_path / "w")
    engine = _engine(gt, pred, "segm")
    images = sorted(engine.params.img_ids)
    state = state_from_engine(engine)
    W = np.vstack([np.ones(len(images)), resample_counts(len(images), 3, seed=4)])
    got = bootstrap_stats(state, images, W, max_cells=len(state.score) * 2)  # chunks of 2 rows (float32 sums)
    for row, counts in enumerate(W):
        reference = _engine(*_replicated(gt, pred, counts, tmp_path / f"r{row}"), "segm").stats
        alone = bootstrap_stats(state, images, counts[None, :])  # one row: float64
        for name, value in zip(STAT_NAMES, reference):
            want = float("nan") if value < 0 else value * 100.0
            assert got[name][row] == pytest.approx(want, abs=1e-5, nan_ok=True), (row, name)
            assert alone[name][0] == pytest.approx(want, abs=1e-9, nan_ok=True), (row, name)
    assert len({round(float(v), 9) for v in got["AP"]}) == len(W)  # resamples differ


def test_records_round_trip_and_bad_records_are_refused(tmp_path: Path) -> None:
    from psalm_bench.evaluators.instance_state import state_from_records, state_records

    folder = FIXTURES / "instance" / "crowd_and_edge"
    engine = _engine(folder / "gt.json", folder / "pred.json", "segm")
    state = state_from_engine(engine)
    records = json.loads(json.dumps({k: (v if k != "images" else v.tolist()) for k, v in state_records(state, sorted(engine.params.img_ids)).items()},
                                    default=lambda a: a.tolist()))
    images, back = state_from_records(records)
    assert images == sorted(engine.params.img_ids)
    assert summarize(accumulate(back, engine.params.cat_ids)) == [float(v) for v in engine.stats]
    records["dets"]["tp"] = records["dets"]["tp"][:-1]
    with pytest.raises(ValueError):
        state_from_records(records)


def _result(args: list, out: Path) -> dict:
    from test_shards import invoke

    invoke("eval", *map(str, args), "--json", out)
    return json.loads(out.read_text())


def test_report_bootstraps_mask_ap_with_records(tmp_path: Path) -> None:
    from conftest import run_cli

    gt, pred = _dataset(tmp_path / "w", n_images=30, dets=20)
    detections = json.loads(pred.read_text())
    worse = tmp_path / "worse.json"  # every detection of half the images scored lowest: AP drops
    worse.write_text(json.dumps([{**d, "score": d["score"] * 0.01} if d["image_id"] % 2 else d for d in detections]))
    base_args = ["--task", "instance", "--gt", gt, "--records"]
    base = _result([*base_args, "--pred", pred], tmp_path / "base.json")
    cur = _result([*base_args, "--pred", worse], tmp_path / "cur.json")
    plain = _result(["--task", "instance", "--gt", gt, "--pred", pred], tmp_path / "plain.json")
    assert "records" not in plain and plain["metrics"] == base["metrics"]
    assert len(base["records"]["images"]) == base["n_samples"] == 30
    run = run_cli("report", "--baseline", tmp_path / "base.json", "--current", tmp_path / "cur.json", "--format", "json")
    report = json.loads(run.stdout)
    ap = next(m for m in report["metrics"] if m["name"] == "AP")
    assert report["unit"] == "images" and report["n_samples"] == 30
    assert ap["ci_low"] <= ap["delta"] <= ap["ci_high"] and ap["ci_low"] < ap["ci_high"] < 0
    assert ap["label"] == "regressed" and run.returncode == 1
    same = run_cli("report", "--baseline", tmp_path / "base.json", "--current", tmp_path / "base.json")
    assert same.returncode == 0 and "30 paired images" in same.stdout
    # records that do not give the file's numbers are refused in one line
    tampered = json.loads((tmp_path / "base.json").read_text())
    tampered["records"]["dets"]["tp"] = [[0, 0, 0, 0] for _ in tampered["records"]["dets"]["tp"]]
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    bad = run_cli("report", "--baseline", tmp_path / "tampered.json", "--current", tmp_path / "base.json")
    assert bad.returncode == 2 and "records do not reproduce metric AP" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_ov_instance_records_bootstrap_too(tmp_path: Path) -> None:
    from psalm_bench.leaderboard.report import compare_results
    from test_shards import _ov_instance_case

    args = _ov_instance_case(tmp_path / "ovi")
    res = _result([*args, "--records"], tmp_path / "ov.json")
    assert res["task"] == "ov-instance" and res["records"]["images"]
    report = compare_results(res, res, resamples=50)
    assert report.unit == "images" and report.by_name("AP").label == "within noise"
    assert report.by_name("AP").ci_low == report.by_name("AP").ci_high == 0.0
