"""Ego-Exo4D correspondence: hand-computed cases per metric, and the official
scripts' numbers on a synthetic case (recorded; the official code is not needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.evaluators.correspondence import (
    CorrespondenceEvaluator,
    balanced_accuracy,
    box_centre,
    eval_size,
    evaluate_correspondence,
    iou,
    location_error,
    reshape_nopad,
)
from psalm_bench.masks import encode

from conftest import assert_one_line_error, run_cli

DIAG480 = math.sqrt(2 * 480 ** 2)


def _rle(mask: np.ndarray) -> dict:
    return encode(mask.astype(np.uint8))


def _box(h: int, w: int, y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


# ---------------------------------------------------------------------------
# The synthetic case the official evaluate_egoexo.py / evaluate_exoego.py scored


CAM_SIZES = {"aria01": (96, 96), "cam01": (60, 100), "cam02": (150, 113), "aria02": (70, 70), "gp03": (37, 211)}


def _blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An ellipse-ish blob with a random box and a notch, so contours differ."""
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    ry, rx = rng.uniform(0.08, 0.35) * h, rng.uniform(0.08, 0.35) * w
    yy, xx = np.mgrid[0:h, 0:w]
    m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    m &= ~(((yy - cy) > 0) & (np.abs(xx - cx) < rx * rng.uniform(0.0, 0.4)))
    return m.astype(np.uint8)


def _perturbed(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray:
    """A prediction: the GT shifted, scaled, eroded or replaced."""
    kind = rng.integers(0, 5)
    h, w = gt.shape
    if kind == 0:
        return gt.copy()
    if kind == 1:
        dy, dx = rng.integers(-h // 6, h // 6 + 1), rng.integers(-w // 6, w // 6 + 1)
        return np.roll(np.roll(gt, dy, axis=0), dx, axis=1)
    if kind == 2:
        return _blob(rng, h, w)
    if kind == 3:
        return np.zeros_like(gt)
    import cv2

    return cv2.dilate(gt, np.ones((7, 7), np.uint8))


def official_case() -> tuple[dict, dict]:
    """GT (process_annotations.py layout) and a result file with both directions.

    Two takes; objects seen by one ego and one or two exo cameras; frames
    where the object is not visible in a view (annotated there, no mask),
    frames not annotated in the target view (not scored), an object with no
    ego camera (skipped) and one only in the ego view (no pair)."""
    rng = np.random.default_rng(7)
    takes: dict = {}
    results: dict = {"ego-exo": {}, "exo-ego": {}}
    layout = {
        "take-a": {"obj_0": ["aria01", "cam01", "cam02"], "obj_1": ["aria01", "cam01"], "obj_2": ["cam01", "cam02"]},
        "take-b": {"obj_0": ["aria02", "gp03"], "obj_1": ["aria02"]},
    }
    frames = ["0", "30", "60", "90", "120", "150"]
    for take, objects in layout.items():
        masks: dict = {}
        annotated: dict = {}
        for obj, cams in objects.items():
            masks[obj] = {}
            annotated[obj] = {}
            for cam in cams:
                h, w = CAM_SIZES[cam]
                masks[obj][cam] = {}
                listed = []
                for f in frames:
                    r = rng.uniform()
                    if r < 0.15:
                        continue  # not annotated in this view
                    listed.append(int(f))
                    if r < 0.35:
                        continue  # annotated, object not visible
                    masks[obj][cam][f] = _rle(_blob(rng, h, w))
                annotated[obj][cam] = listed
        takes[take] = {"masks": masks, "subsample_idx": [int(f) for f in frames], "annotated_frames": annotated}
        for direction in ("ego-exo", "exo-ego"):
            pmasks: dict = {}
            for obj, cams in objects.items():
                pmasks[obj] = {}
                ego = [c for c in cams if "aria" in c]
                if not ego:
                    continue
                for exo in [c for c in cams if "aria" not in c]:
                    query, target = (ego[0], exo) if direction == "ego-exo" else (exo, ego[0])
                    key = f"{query}_{target}"
                    pmasks[obj][key] = {}
                    eh, ew = eval_size(*CAM_SIZES[target])
                    for f in masks[obj][query]:
                        if f in masks[obj][target]:
                            from psalm_bench.masks import decode

                            gt = reshape_nopad(decode(masks[obj][target][f]))
                            pred = _perturbed(rng, gt)
                        else:
                            pred = _blob(rng, eh, ew) if rng.uniform() < 0.5 else np.zeros((eh, ew), np.uint8)
                        pmasks[obj][key][f] = {"pred_mask": _rle(pred), "confidence": round(float(rng.uniform()), 3)}
            results[direction][take] = {"masks": pmasks, "subsample_idx": [int(f) for f in frames]}
    gt = {"version": "xx", "challenge": "xx", "annotations": takes}
    pred = {d: {"version": "xx", "challenge": "xx", "results": results[d]} for d in results}
    return gt, pred


# Printed by the official scripts (EGO4D/ego-exo4d-relation d6b7443,
# correspondence/evaluation, run with pycocotools 2.0.11, opencv 4, sklearn
# 1.9.1) on official_case(): "TOTAL EXISTENCE BALANCED ACC / IOU / LOCATION
# SCORE / SHAPE ACC", as fractions.
OFFICIAL = {
    "ego-exo": {"VA": 0.45, "IoU": 0.2898839491662446, "LE": 0.1343467689878419, "CA": 0.2785872380322953},
    "exo-ego": {"VA": 0.7083333333333334, "IoU": 0.3737957181363614, "LE": 0.10837508552589427, "CA": 0.29175875342382035},
}


def _write(tmp_path: Path, gt: dict, pred: dict) -> tuple[Path, Path]:
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "pred.json"
    gt_path.write_text(json.dumps(gt))
    pred_path.write_text(json.dumps(pred))
    return gt_path, pred_path


def test_official_numbers(tmp_path: Path) -> None:
    gt_path, pred_path = _write(tmp_path, *official_case())
    result = evaluate_correspondence(gt_path, pred_path, progress=False)
    for direction, prefix in (("ego-exo", "EgoExo"), ("exo-ego", "ExoEgo")):
        for name, value in OFFICIAL[direction].items():
            assert result.metrics[f"{prefix}_{name}"] == pytest.approx(value * 100.0, abs=1e-6), (direction, name)
    assert result.params["samples"] == {"ego-exo": 17, "exo-ego": 13}
    assert result.warnings == []
    one = evaluate_correspondence(gt_path, pred_path, split="exo-ego", progress=False)
    assert one.metrics["EgoExo_IoU"] is None
    assert one.metrics["ExoEgo_IoU"] == pytest.approx(OFFICIAL["exo-ego"]["IoU"] * 100.0, abs=1e-6)


def test_shards_merge_to_the_same_numbers(tmp_path: Path) -> None:
    from psalm_bench.formats.egoexo import load_egoexo_gt, load_egoexo_predictions, pair_predictions

    gt_path, pred_path = _write(tmp_path, *official_case())
    samples = pair_predictions(load_egoexo_gt(gt_path), load_egoexo_predictions(pred_path)).samples
    whole = CorrespondenceEvaluator()
    for s in samples:
        whole.update(s)
    a, b = CorrespondenceEvaluator(), CorrespondenceEvaluator()
    for k, s in enumerate(samples):
        (a if k % 2 else b).update(s)
    merged = b.merge(a).compute().metrics
    assert merged == pytest.approx(whole.compute().metrics)


# ---------------------------------------------------------------------------
# Hand-computed cases, one per metric


def test_eval_size_and_nearest_resize() -> None:
    assert eval_size(1080, 1920) == (270, 480)
    assert eval_size(1408, 1408) == (480, 480)
    assert eval_size(150, 113) == (480, 361)  # 113 * (1/150*480) = 361.6 -> 361
    m = np.arange(6, dtype=np.uint8).reshape(2, 3) % 2
    up = reshape_nopad(m, max_dim=15)  # x5: nearest neighbour repeats each pixel
    assert np.array_equal(up, np.repeat(np.repeat(m, 5, axis=0), 5, axis=1))


def test_iou_by_hand() -> None:
    g = _box(480, 480, 100, 100, 110, 110)
    p = _box(480, 480, 100, 105, 110, 115)  # 5 px to the right: I = 50, U = 150
    assert iou(g, p) == pytest.approx(50 / (150 + 1e-7), abs=1e-15)
    assert iou(g, np.zeros_like(g)) == 0.0
    empty = np.zeros_like(g)
    assert iou(empty, empty) == 1.0


def test_location_error_by_hand() -> None:
    g = _box(480, 480, 100, 100, 110, 110)  # box centre ((100+109)//2, (100+109)//2) = (104, 104)
    p = _box(480, 480, 130, 140, 141, 151)  # centre ((140+150)//2, (130+140)//2) = (145, 135)
    assert box_centre(g) == (104, 104)
    assert box_centre(p) == (145, 135)
    assert location_error(g, p) == pytest.approx(math.hypot(41, 31) / DIAG480, abs=1e-15)
    # an empty mask's centre is the padded frame's (3h//2, (w+2h)//2), minus the pad h
    tall = np.zeros((480, 270), np.uint8)
    assert box_centre(tall) == (240, 135)  # (x, y) = (h // 2, w // 2): x and y swapped
    wide = np.zeros((270, 480), np.uint8)
    assert box_centre(wide) == (135, 240)  # y = 240 lies near the bottom of a 270-high frame
    g2 = _box(270, 480, 0, 0, 11, 11)  # centre (5, 5)
    assert location_error(g2, wide) == pytest.approx(math.hypot(130, 235) / DIAG480, abs=1e-15)


def test_contour_accuracy_by_hand() -> None:
    ev = CorrespondenceEvaluator()
    g = _box(480, 480, 100, 100, 140, 140)
    # a 5 px shift: every boundary pixel lies within ceil(0.008 * 678.8) = 6 px of the other's
    assert ev._f_measure(g, _box(480, 480, 100, 105, 140, 145)) == 1.0
    # far apart: no boundary pixel matches
    assert ev._f_measure(g, _box(480, 480, 300, 300, 340, 340)) == 0.0
    assert ev._f_measure(g, np.zeros_like(g)) == 0.0
    # a 1 px wide sliver 20 px inside g: part of each boundary is out of the other's reach
    sliver = _box(480, 480, 100, 120, 140, 121)
    f = ev._f_measure(g, sliver)
    assert 0.0 < f < 1.0


def _hand_case() -> tuple[dict, dict]:
    """One take, one object, ego 'aria01' (480x480) and exo 'cam01' (240x480,
    so no resize): five scored ego-exo frames, two with the object not
    visible in the exo view; frame 4 is not annotated in the exo view."""
    g = _box(240, 480, 100, 100, 110, 110)
    ego = _box(480, 480, 0, 0, 10, 10)
    exo_masks = {"0": _rle(g), "1": _rle(g), "2": _rle(g)}
    gt = {"annotations": {"t": {
        "masks": {"obj": {"aria01": {f: _rle(ego) for f in ("0", "1", "2", "3", "4", "5")}, "cam01": exo_masks}},
        "subsample_idx": [0, 1, 2, 3, 4, 5],
        "annotated_frames": {"obj": {"aria01": [0, 1, 2, 3, 4, 5], "cam01": [0, 1, 2, 3, 5]}},
    }}}
    shifted = _box(240, 480, 100, 105, 110, 115)
    empty = np.zeros((240, 480), np.uint8)
    frames = {
        "0": (g, 0.9),        # visible, found: IoU 1, predicted visible
        "1": (shifted, 0.8),  # visible, IoU 50/150, predicted visible
        "2": (empty, 0.2),    # visible, missed: IoU 0, predicted not visible
        "3": (g, 0.7),        # not visible, predicted visible (a false alarm)
        "4": (g, 0.9),        # not annotated in cam01: not scored
        "5": (empty, 0.1),    # not visible, predicted not visible
    }
    pred = {"ego-exo": {"version": "xx", "challenge": "xx", "results": {"t": {
        "masks": {"obj": {"aria01_cam01": {f: {"pred_mask": _rle(m), "confidence": c} for f, (m, c) in frames.items()}}},
        "subsample_idx": [0, 1, 2, 3, 4, 5]}}}}
    return gt, pred


def test_visibility_and_every_metric_by_hand(tmp_path: Path) -> None:
    """The official evaluate_egoexo.py prints the same four numbers for this
    case (0.58333.., 0.44444444403703703, 0.06969811208417664, 0.66666..)."""
    gt_path, pred_path = _write(tmp_path, *_hand_case())
    r = evaluate_correspondence(gt_path, pred_path, progress=False)
    assert r.n_samples == 5
    # visible: 3 frames, 2 predicted visible; not visible: 2, 1 predicted not visible
    assert r.metrics["EgoExo_VA"] == pytest.approx((2 / 3 + 1 / 2) / 2 * 100.0, abs=1e-12)
    assert r.metrics["EgoExo_IoU"] == pytest.approx((100 / (100 + 1e-7) + 50 / (150 + 1e-7) + 0.0) / 3 * 100.0, abs=1e-9)
    # centres: (104, 104) vs itself, vs (109, 104), vs an empty 240x480 mask's (3*240//2 - 240, (480+480)//2 - 240) = (120, 240)
    le = (0.0 + 5.0 / DIAG480 + math.hypot(120 - 104, 240 - 104) / DIAG480) / 3
    assert r.metrics["EgoExo_LE"] == pytest.approx(le * 100.0, abs=1e-12)
    # 240x480: tolerance ceil(0.008 * 536.7) = 5 px, so the 5 px shift still matches everywhere
    assert r.metrics["EgoExo_CA"] == pytest.approx((1.0 + 1.0 + 0.0) / 3 * 100.0, abs=1e-12)
    assert r.metrics["ExoEgo_IoU"] is None
    assert r.records["visible"] == [True, True, True, False, False]
    assert r.records["frame"] == ["0", "1", "2", "3", "5"]
    assert balanced_accuracy(np.array([1, 1]), np.array([1, 0])) == 0.5  # a class only predicted is dropped
    # the first (2024) release: native size, IoU = I / U
    native = evaluate_correspondence(gt_path, pred_path, protocol="native", progress=False)
    assert native.metrics["EgoExo_IoU"] == pytest.approx((1.0 + 1 / 3) / 3 * 100.0, abs=1e-12)


def test_missing_frames_warn_and_strict_stops(tmp_path: Path) -> None:
    gt, pred = _hand_case()
    del pred["ego-exo"]["results"]["t"]["masks"]["obj"]["aria01_cam01"]["1"]
    gt_path, pred_path = _write(tmp_path, gt, pred)
    r = evaluate_correspondence(gt_path, pred_path, progress=False)
    assert len(r.warnings) == 1 and "1 ego-exo frame(s) missing" in r.warnings[0]
    assert r.metrics["EgoExo_IoU"] == pytest.approx((100 / (100 + 1e-7)) / 3 * 100.0, abs=1e-9)
    assert r.metrics["EgoExo_VA"] == pytest.approx((1 / 3 + 1 / 2) / 2 * 100.0, abs=1e-12)
    with pytest.raises(InputError, match="frame 1: prediction missing"):
        evaluate_correspondence(gt_path, pred_path, strict=True, progress=False)


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda gt, pred: pred["ego-exo"]["results"]["t"]["masks"]["obj"]["aria01_cam01"]["0"].update(pred_mask=_rle(np.ones((480, 480), np.uint8))),
         ["pred.json", "frame 0", "predicted mask is 480x480, the evaluation size (longer side 480, as evaluate_egoexo.py) is 240x480"]),
        (lambda gt, pred: pred["ego-exo"]["results"]["t"]["masks"]["obj"]["aria01_cam01"]["1"]["pred_mask"].update(counts="0"),
         ["pred.json", "frame 1", "RLE counts"]),
        (lambda gt, pred: pred["ego-exo"]["results"]["t"]["masks"]["obj"]["aria01_cam01"]["2"].update(confidence="high"),
         ["pred.json", "frame 2", "'confidence' must be a finite number"]),
        (lambda gt, pred: pred["ego-exo"]["results"].update(other={"masks": {}, "subsample_idx": []}),
         ["pred.json", "take 'other'", "--ignore-extra"]),
        (lambda gt, pred: gt["annotations"]["t"]["masks"]["obj"].update(aria02={}),
         ["gt.json", "take t, object obj", "2 ego ('aria') cameras"]),
        (lambda gt, pred: gt["annotations"]["t"]["masks"]["obj"]["cam01"]["0"].update(counts="PPP"),
         ["gt.json", "camera cam01, frame 0", "RLE counts"]),
        (lambda gt, pred: gt["annotations"]["t"]["annotated_frames"]["obj"].pop("cam01"),
         ["gt.json", "camera cam01", "'annotated_frames'"]),
        (lambda gt, pred: pred.pop("ego-exo"), ["pred.json", "neither 'ego-exo' nor 'exo-ego'"]),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, edit, fragments) -> None:
    gt, pred = _hand_case()
    edit(gt, pred)
    gt_path, pred_path = _write(tmp_path, gt, pred)
    assert_one_line_error(run_cli("eval", "--task", "correspondence", "--gt", gt_path, "--pred", pred_path, "-q"), *fragments)


def test_cli_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    gt_path, pred_path = _write(tmp_path, *official_case())
    out = tmp_path / "r.json"
    run = run_cli("eval", "--task", "correspondence", "--gt", gt_path, "--pred", pred_path, "--json", out, "-q")
    assert run.returncode == 0, run.stderr
    assert "EgoExo_IoU" in run.stdout and "29.0" in run.stdout
    data = json.loads(out.read_text())
    assert data["metrics"]["ExoEgo_CA"] == pytest.approx(OFFICIAL["exo-ego"]["CA"] * 100.0, abs=1e-6)
    assert len(data["records"]["IoU"]) == 30


# ---------------------------------------------------------------------------
# The world's takes, the copy baseline and the model


@pytest.fixture(scope="module")
def takes(tmp_path_factory) -> Path:
    from psalm_bench.generators.world_egoexo import ensure_egoexo

    return ensure_egoexo(tmp_path_factory.mktemp("egoexo-cache"), size="tiny", progress=False)


def _tree(root: Path) -> dict[str, str]:
    import hashlib

    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_takes_are_the_same_bytes_with_any_worker_count(takes: Path, tmp_path: Path) -> None:
    from psalm_bench.generators.world_egoexo import build_egoexo

    build_egoexo(tmp_path / "w2", seed=0, size="tiny", workers=2, progress=False)
    assert _tree(tmp_path / "w2") == _tree(takes)
    other = build_egoexo(tmp_path / "s1", seed=1, size="tiny", progress=False)
    assert _tree(other.root)["correspondence-gt.json"] != _tree(takes)["correspondence-gt.json"]


def test_takes_have_two_views_that_differ_and_hidden_objects(takes: Path) -> None:
    from psalm_bench.formats.egoexo import load_egoexo_gt
    from psalm_bench.generators.world_egoexo import CAMERA_SHAPES, GT_NAME, MANIFEST
    from psalm_bench.masks import area

    gt = load_egoexo_gt(takes / GT_NAME)
    counts = json.loads((takes / MANIFEST).read_text())["counts"]
    assert counts["takes"] == 2 and counts["ego-exo_samples"] > 0
    assert counts["exo-ego_visible"] < counts["exo-ego_samples"]  # objects outside the ego view or behind the hand
    ratios = []
    for take in gt.takes.values():
        for obj, cams in take.masks.items():
            assert set(cams) == set(CAMERA_SHAPES)
            for frame, rle in cams["aria01"].items():
                assert rle["size"] == list(CAMERA_SHAPES["aria01"])
                if frame in cams["cam01"]:
                    ratios.append(area(cams["aria01"][frame]) / area(cams["cam01"][frame]))
            for cam in CAMERA_SHAPES:
                for frame in take.annotated[obj][cam]:
                    assert (takes / "takes").joinpath(str(next(iter(gt.takes))), cam, f"{frame}.jpg").is_file()
    assert ratios and float(np.median(ratios)) > 2.0  # the ego camera is zoomed in (edge-cut objects aside)


def _perfect(gt_path: Path) -> dict:
    """The GT itself at the evaluation size, visible with confidence 1."""
    from psalm_bench.formats.egoexo import load_egoexo_gt
    from psalm_bench.masks import decode

    gt = load_egoexo_gt(gt_path)
    out: dict = {"ego-exo": {"results": {}}, "exo-ego": {"results": {}}}
    for name, take in gt.takes.items():
        for d in ("ego-exo", "exo-ego"):
            objects: dict = {}
            for obj, cams in take.masks.items():
                objects[obj] = {}
                for exo in ("cam01", "cam02"):
                    q, t = ("aria01", exo) if d == "ego-exo" else (exo, "aria01")
                    h, w = eval_size(*CAM_SHAPE[t])
                    objects[obj][f"{q}_{t}"] = {
                        f: {"pred_mask": _rle(reshape_nopad(decode(cams[t][f])) if f in cams[t] else np.zeros((h, w), np.uint8)),
                            "confidence": 1.0 if f in cams[t] else 0.0}
                        for f in cams[q]
                    }
            out[d]["results"][name] = {"masks": objects, "subsample_idx": take.subsample_idx}
    return out


CAM_SHAPE = {"aria01": (256, 256), "cam01": (216, 384), "cam02": (216, 384)}


def test_a_perfect_prediction_scores_100_and_the_copy_baseline_less(takes: Path, tmp_path: Path) -> None:
    from psalm_bench.generators.baselines import write_copy_baseline
    from psalm_bench.generators.world_egoexo import GT_NAME

    gt_path = takes / GT_NAME
    perfect = tmp_path / "perfect.json"
    perfect.write_text(json.dumps(_perfect(gt_path)))
    r = evaluate_correspondence(gt_path, perfect, progress=False)
    for prefix in ("EgoExo", "ExoEgo"):
        assert r.metrics[f"{prefix}_IoU"] == pytest.approx(100.0, abs=1e-4)
        assert r.metrics[f"{prefix}_CA"] == 100.0 and r.metrics[f"{prefix}_LE"] == 0.0
    assert r.metrics["ExoEgo_VA"] == 100.0
    base = evaluate_correspondence(gt_path, write_copy_baseline(gt_path, tmp_path / "copy.json"), progress=False)
    assert base.warnings == [] and base.n_samples == r.n_samples
    assert 0.0 < base.metrics["EgoExo_IoU"] < 50.0 and base.metrics["ExoEgo_VA"] == 50.0  # always "visible"


def test_predict_correspondence_with_the_bundled_model(takes: Path, tmp_path: Path, one_torch_thread) -> None:
    """One take, one frame of the tiny world through the model: a file eval reads."""
    pytest.importorskip("torch")
    from psalm_bench.generators.world_egoexo import GT_NAME
    from psalm_bench.model.predict import Predictor, predict_correspondence

    gt = json.loads((takes / GT_NAME).read_text())
    take = next(iter(gt["annotations"]))
    record = gt["annotations"][take]
    keep = {"30"}
    for cams in record["masks"].values():
        for cam in cams:
            cams[cam] = {f: m for f, m in cams[cam].items() if f in keep}
    small = tmp_path / "gt.json"
    small.write_text(json.dumps({"annotations": {take: record}}))
    out = predict_correspondence(Predictor.load("bundled", progress=False, batch_size=4), small, takes / "takes", tmp_path / "psalm.json")
    data = json.loads(out.read_text())
    confidences = [e["confidence"] for d in data.values() for t in d["results"].values() for o in t["masks"].values() for p in o.values() for e in p.values()]
    assert confidences and all(0.0 <= c <= 1.0 for c in confidences)
    r = evaluate_correspondence(small, out, progress=False)
    assert r.warnings == [] and r.metrics["EgoExo_IoU"] is not None


def test_report_reads_a_larger_location_error_as_worse(tmp_path: Path) -> None:
    """LE is an error: a rise is a regression for `psalm-bench report` and the site."""
    import copy

    from psalm_bench.leaderboard.report import compare_results

    gt_path, pred_path = _write(tmp_path, *official_case())
    base = evaluate_correspondence(gt_path, pred_path, progress=False).to_dict()
    worse = copy.deepcopy(base)
    worse["metrics"]["EgoExo_LE"] += 5.0
    report = compare_results(base, worse, tolerance=0.5)
    assert not report.by_name("EgoExo_LE").higher_is_better and not report.by_name("ExoEgo_LE").higher_is_better
    assert report.by_name("EgoExo_IoU").higher_is_better
    assert report.by_name("EgoExo_LE").delta == pytest.approx(5.0)
