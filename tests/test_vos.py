import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from psalm_bench import InputError, evaluate
from psalm_bench.evaluators.vos import (
    FrameScorer,
    VosEvaluator,
    boundary_radius,
    db_statistics,
    disk,
    disk_rectangles,
    seg2bmap,
)

from conftest import FIXTURES, assert_one_line_error, expected, fixture_cases, needs_fixtures, run_cli


# --- an independent, literal reading of davis2017-evaluation's per-frame code ---


def _official_bmap(seg: np.ndarray) -> np.ndarray:
    seg = seg.astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def _official_f(fg: np.ndarray, gt: np.ndarray) -> float:
    from skimage.morphology import disk as sk_disk

    radius = np.ceil(0.008 * np.linalg.norm(fg.shape))
    fg_b = _official_bmap(fg)
    gt_b = _official_bmap(gt)
    fg_dil = cv2.dilate(fg_b.astype(np.uint8), sk_disk(radius).astype(np.uint8))
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), sk_disk(radius).astype(np.uint8))
    n_fg, n_gt = fg_b.sum(), gt_b.sum()
    if n_fg == 0 and n_gt > 0:
        p, r = 1, 0
    elif n_fg > 0 and n_gt == 0:
        p, r = 0, 1
    elif n_fg == 0 and n_gt == 0:
        p, r = 1, 1
    else:
        p = np.sum(fg_b * gt_dil) / float(n_fg)
        r = np.sum(gt_b * fg_dil) / float(n_gt)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _official_j(gt: np.ndarray, fg: np.ndarray) -> float:
    inter = np.sum(gt & fg)
    union = np.sum(gt | fg)
    return 1.0 if union == 0 else inter / union


def _official_statistics(values: np.ndarray) -> tuple[float, float, float]:
    ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(np.uint8)
    bins = [values[ids[i]:ids[i + 1] + 1] for i in range(4)]
    return np.nanmean(values), np.nanmean(values > 0.5), np.nanmean(bins[0]) - np.nanmean(bins[3])


def _official_sequence_scores(gt_frames: list[np.ndarray], pred_frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    first = gt_frames[0].copy()
    first[first == 255] = 0
    n_obj = int(first.max())
    js = np.zeros((n_obj, len(gt_frames)))
    fs = np.zeros((n_obj, len(gt_frames)))
    for k in range(n_obj):
        for t, (g, p) in enumerate(zip(gt_frames, pred_frames)):
            gm = g == k + 1
            pm = p == k + 1
            js[k, t] = _official_j(gm, pm)
            fs[k, t] = _official_f(pm, gm)
    return js, fs


# --- unit checks of the fast pieces ------------------------------------------


@pytest.mark.parametrize("radius", list(range(1, 31)))
def test_rectangles_make_the_skimage_disk(radius: int) -> None:
    from skimage.morphology import disk as sk_disk

    np.testing.assert_array_equal(disk(radius), sk_disk(radius).astype(np.uint8))
    union = np.zeros((2 * radius + 1, 2 * radius + 1), np.uint8)
    for rect in disk_rectangles(radius):
        h, w = rect.shape
        y0, x0 = radius - h // 2, radius - w // 2
        union[y0:y0 + h, x0:x0 + w] = 1
    np.testing.assert_array_equal(union, disk(radius))


def test_rectangle_dilation_equals_disk_dilation() -> None:
    rng = np.random.default_rng(0)
    scorer = FrameScorer(480, 854)
    assert scorer.radius == 8
    for _ in range(5):
        b = (rng.random((61, 77)) < 0.01).astype(np.uint8)
        b[0, 5] = b[-1, -1] = b[30, 0] = 1
        np.testing.assert_array_equal(scorer.dilate(b), cv2.dilate(b, disk(8)))


def test_boundary_radius_scales_with_the_diagonal() -> None:
    assert boundary_radius(480, 854) == 8
    assert boundary_radius(480, 910) == 9  # 0.008 * 1028.8 = 8.23 -> 9
    assert boundary_radius(1080, 1920) == 18


def test_seg2bmap_matches_the_official_edge_rules() -> None:
    rng = np.random.default_rng(1)
    for shape in [(1, 1), (1, 7), (6, 1), (5, 9), (40, 33)]:
        for density in (0.0, 0.3, 0.7, 1.0):
            m = (rng.random(shape) < density).astype(np.uint8)
            np.testing.assert_array_equal(seg2bmap(m).astype(bool), _official_bmap(m))


def _random_frame(rng: np.random.Generator, h: int, w: int, n_obj: int, *, void: bool) -> np.ndarray:
    frame = np.zeros((h, w), np.uint8)
    for k in range(1, n_obj + 1):
        if rng.random() < 0.15:
            continue  # object absent
        cx, cy = rng.integers(-10, w + 10), rng.integers(-10, h + 10)
        axes = (int(rng.integers(3, w // 2)), int(rng.integers(3, h // 2)))
        cv2.ellipse(frame, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, k, -1)
        if rng.random() < 0.3:
            frame[rng.random((h, w)) < 0.02] = k  # speckle: many tiny boundaries
    if rng.random() < 0.1:
        frame[:] = 1  # a whole-frame object: an empty seg2bmap boundary
    if void:
        edges = cv2.Canny(frame * 40, 1, 1) > 0
        frame[edges & (rng.random((h, w)) < 0.5)] = 255
    return frame


@pytest.mark.parametrize("seed", range(6))
def test_frame_scores_equal_the_official_per_frame_code(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = [(120, 160), (97, 211), (480, 854), (33, 45), (200, 50), (64, 64)][seed]
    scorer = FrameScorer(h, w)
    objects = [1, 2, 3]
    for _ in range(6):
        gt = _random_frame(rng, h, w, 3, void=True)
        pred = _random_frame(rng, h, w, 3, void=False)
        if rng.random() < 0.5:  # a prediction close to the ground truth
            pred = np.roll(np.where(gt == 255, 0, gt), tuple(rng.integers(-4, 5, 2)), axis=(0, 1)).astype(np.uint8)
        js, fs = scorer.score(gt, pred, objects)
        none_j, none_f = scorer.score(gt, None, objects)
        for k, obj in enumerate(objects):
            g, p = gt == obj, pred == obj
            assert js[k] == _official_j(g, p)
            assert math.isclose(fs[k], _official_f(p, g), rel_tol=0, abs_tol=1e-15)
            empty = np.zeros_like(g)
            assert none_j[k] == _official_j(g, empty)
            assert none_f[k] == _official_f(empty, g)


def test_db_statistics_uses_the_official_overlapping_bins() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 4, 5, 7, 10, 33, 64, 100, 255):
        values = rng.random(n)
        ours = db_statistics(values)
        ref = _official_statistics(values)
        for a, b in zip(ours, ref):
            assert math.isclose(a, b, abs_tol=1e-15)
    # n = 10: edges round(linspace(1, 10, 5)) - 1 = [0, 2, 6, 7, 9] with 5.5 -> 6 ... bins overlap
    values = np.arange(10, dtype=float)
    assert db_statistics(values)[2] == pytest.approx(np.mean(values[0:3]) - np.mean(values[7:10]))


# --- fixtures -------------------------------------------------------------------


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("vos"), ids=lambda p: p.name)
@pytest.mark.parametrize("workers", [1, 2])
def test_fixture_matches_davis2017_evaluation(case: Path, workers: int) -> None:
    exp = expected(case)
    split = exp["args"].get("--split", "val")
    result = evaluate("vos", case / exp["gt"], case / exp["pred"], split=split, workers=workers, progress=False)
    for name, value in exp["metrics"].items():
        assert math.isclose(result.metrics[name], value, abs_tol=1e-6), name
    assert result.params["protocol"] == "davis2017"
    assert result.warnings == []


@needs_fixtures
def test_workers_give_identical_numbers_and_records() -> None:
    case = FIXTURES / "vos" / "davis_val"
    one = evaluate("vos", case / "gt", case / "pred", workers=1, progress=False)
    two = evaluate("vos", case / "gt", case / "pred", workers=2, progress=False)
    assert one.metrics == two.metrics
    assert one.breakdown == two.breakdown
    for key in ("J", "F", "object"):
        np.testing.assert_array_equal(one.records[key], two.records[key])
    assert one.records["sequence"] == two.records["sequence"] and one.records["frame"] == two.records["frame"]


@needs_fixtures
def test_per_sequence_and_records() -> None:
    case = FIXTURES / "vos" / "davis_val"
    result = evaluate("vos", case / "gt", case / "pred", progress=False)
    seqs = (case / "gt" / "ImageSets" / "2017" / "val.txt").read_text().split()
    table = result.breakdown
    records = result.records
    objects = []
    for seq in seqs:
        n_frames = len(list((case / "gt" / "Annotations" / "480p" / seq).glob("*.png")))
        mine = [k for k in table if k.startswith(seq + "_")]
        assert table[seq]["object"] is None and mine
        for key in mine:
            obj = table[key]["object"]
            sel = (np.array(records["sequence"]) == seq) & (records["object"] == obj)
            assert sel.sum() == n_frames - 2  # first and last left out
            assert math.isclose(table[key]["J"], 100 * records["J"][sel].mean(), abs_tol=1e-9)
            assert math.isclose(table[key]["F"], 100 * records["F"][sel].mean(), abs_tol=1e-9)
            objects.append((table[key]["J"], table[key]["F"]))
        assert math.isclose(table[seq]["J&F"], np.mean([(table[k]["J"] + table[k]["F"]) / 2 for k in mine]), abs_tol=1e-9)
    assert result.n_samples == len(objects)
    assert math.isclose(result.metrics["J"], np.mean([j for j, _ in objects]), abs_tol=1e-9)
    assert math.isclose(result.metrics["F"], np.mean([f for _, f in objects]), abs_tol=1e-9)


def _read(path: Path) -> np.ndarray:
    return np.array(Image.open(path))


@needs_fixtures
def test_all_frames_protocol_scores_first_and_last_frames() -> None:
    case = FIXTURES / "vos" / "single_object"
    default = evaluate("vos", case / "gt", case / "pred", progress=False)
    allf = evaluate("vos", case / "gt", case / "pred", protocol="all-frames", progress=False)
    assert allf.params["protocol"] == "all-frames"
    assert abs(allf.metrics["J&F"] - default.metrics["J&F"]) > 1e-3
    j_stats, f_stats = [], []
    for seq in (case / "gt" / "ImageSets" / "2017" / "val.txt").read_text().split():
        paths = sorted((case / "gt" / "Annotations" / "480p" / seq).glob("*.png"))
        gts = [_read(p) for p in paths]
        preds = [_read(case / "pred" / seq / p.name) for p in paths]
        js, fs = _official_sequence_scores(gts, preds)
        j_stats += [_official_statistics(row) for row in js]
        f_stats += [_official_statistics(row) for row in fs]
    j = 100 * np.mean(j_stats, axis=0)
    f = 100 * np.mean(f_stats, axis=0)
    reference = {"J": j[0], "J-recall": j[1], "J-decay": j[2], "F": f[0], "F-recall": f[1], "F-decay": f[2], "J&F": (j[0] + f[0]) / 2}
    for name, value in reference.items():
        assert math.isclose(allf.metrics[name], value, abs_tol=1e-9), name


# --- a tiny DAVIS root for behaviour and bad input ------------------------------


def _write_png(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [200] * (3 * 252))
    image.save(path)


def _tiny_davis(root: Path, *, n_frames: int = 8) -> tuple[Path, Path]:
    gt_root, pred_root = root / "davis", root / "pred"
    (gt_root / "ImageSets" / "2017").mkdir(parents=True)
    (gt_root / "ImageSets" / "2017" / "val.txt").write_text("alpha\nbeta\n")
    (gt_root / "ImageSets" / "2017" / "train.txt").write_text("beta\n")
    rng = np.random.default_rng(5)
    for seq, n_obj in (("alpha", 2), ("beta", 1)):
        for t in range(n_frames):
            gt = np.zeros((30, 40), np.uint8)
            for k in range(1, n_obj + 1):
                gt[5 + k * 6:12 + k * 6, 3 + t + 5 * k:15 + t + 5 * k] = k
            gt[0, 0] = 255 if t % 3 == 1 else 0
            pred = np.roll(np.where(gt == 255, 0, gt), (int(rng.integers(-1, 2)), int(rng.integers(-2, 3))), axis=(0, 1))
            _write_png(gt_root / "Annotations" / "480p" / seq / f"{t:05d}.png", gt)
            _write_png(pred_root / seq / f"{t:05d}.png", pred)
    return gt_root, pred_root


def test_missing_prediction_frame_scores_absent_with_a_warning(tmp_path: Path) -> None:
    gt_root, pred_root = _tiny_davis(tmp_path)
    full = evaluate("vos", gt_root, pred_root, progress=False)
    (pred_root / "alpha" / "00003.png").unlink()
    (pred_root / "beta" / "00000.png").unlink()  # not scored: no warning for it
    result = evaluate("vos", gt_root, pred_root, progress=False)
    assert result.warnings and "1 prediction frame(s) missing" in result.warnings[0]
    assert "alpha/00003.png" in result.warnings[0]
    rec = result.records
    sel = (np.array(rec["sequence"]) == "alpha") & (np.array(rec["frame"]) == "00003")
    assert sel.sum() == 2 and np.all(rec["J"][sel] == 0) and np.all(rec["F"][sel] == 0)
    assert result.metrics["J"] < full.metrics["J"]
    with pytest.raises(InputError, match="prediction frame missing"):
        evaluate("vos", gt_root, pred_root, strict=True, progress=False)


def test_split_selects_sequences(tmp_path: Path) -> None:
    gt_root, pred_root = _tiny_davis(tmp_path)
    shutil.rmtree(pred_root / "alpha")
    result = evaluate("vos", gt_root, pred_root, split="train", progress=False)
    assert set(k for k, v in result.breakdown.items() if v["object"] is None) == {"beta"}
    assert result.params["split"] == "train"


def test_update_arrays_inside_a_loop() -> None:
    rng = np.random.default_rng(2)
    gts = [_random_frame(rng, 50, 60, 2, void=False) for _ in range(7)]
    gts[0][10:20, 10:20] = 1
    gts[0][30:40, 30:40] = 2
    preds = [_random_frame(rng, 50, 60, 2, void=False) for _ in range(7)]
    preds[4] = None
    evaluator = VosEvaluator(protocol="all-frames")
    evaluator.update_arrays("s", gts, preds)
    result = evaluator.compute()
    js, fs = _official_sequence_scores(gts, [p if p is not None else np.zeros_like(gts[0]) for p in preds])
    assert math.isclose(result.metrics["J"], 100 * np.mean([_official_statistics(r)[0] for r in js]), abs_tol=1e-9)
    assert math.isclose(result.metrics["F-decay"], 100 * np.mean([_official_statistics(r)[2] for r in fs]), abs_tol=1e-9)


def test_cli_json_has_per_sequence_and_records(tmp_path: Path) -> None:
    gt_root, pred_root = _tiny_davis(tmp_path)
    out = tmp_path / "r.json"
    run = run_cli("eval", "--task", "vos", "--gt", gt_root, "--pred", pred_root, "--json", out, "--per-sequence")
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert list(data["metrics"]) == ["J&F", "J", "J-recall", "J-decay", "F", "F-recall", "F-decay"]
    assert set(data["per_sequence"]) == {"alpha", "alpha_1", "alpha_2", "beta", "beta_1"}
    assert len(data["records"]["J"]) == (2 + 1) * 6
    assert data["provenance"]["params"]["protocol"] == "davis2017"
    assert "alpha_2" in run.stdout


# --- bad input: one line naming file and record, exit 2, no result -------------


def _bad_missing_sequence(gt: Path, pred: Path) -> tuple[str, ...]:
    shutil.rmtree(pred / "beta")
    return ("beta", "sequence beta", "no folder for this sequence")


def _bad_pred_id(gt: Path, pred: Path) -> tuple[str, ...]:
    path = pred / "alpha" / "00002.png"
    labels = _read(path)
    labels[0:3, 0:3] = 3
    _write_png(path, labels)
    return ("pred/alpha/00002.png", "sequence alpha, frame 00002", "id 3, which is not an object")


def _bad_pred_size(gt: Path, pred: Path) -> tuple[str, ...]:
    _write_png(pred / "alpha" / "00005.png", np.zeros((30, 41), np.uint8))
    return ("pred/alpha/00005.png", "sequence alpha, frame 00005", "30x41 differs")


def _bad_split(gt: Path, pred: Path) -> tuple[str, ...]:
    (gt / "ImageSets" / "2017" / "val.txt").unlink()
    return ("val.txt", "split list for --split val not found")


def _bad_gt_sequence(gt: Path, pred: Path) -> tuple[str, ...]:
    (gt / "ImageSets" / "2017" / "val.txt").write_text("alpha\ngamma\n")
    return ("gamma", "sequence gamma", "annotation folder")


def _bad_not_png(gt: Path, pred: Path) -> tuple[str, ...]:
    (pred / "beta" / "00003.png").write_bytes(b"not a png")
    return ("pred/beta/00003.png", "not a PNG")


BAD_INPUTS = [_bad_missing_sequence, _bad_pred_id, _bad_pred_size, _bad_split, _bad_gt_sequence, _bad_not_png]


@pytest.mark.parametrize("breaker", BAD_INPUTS, ids=lambda f: f.__name__[5:])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, breaker) -> None:
    gt_root, pred_root = _tiny_davis(tmp_path)
    fragments = breaker(gt_root, pred_root)
    out = tmp_path / "result.json"
    run = run_cli("eval", "--task", "vos", "--gt", gt_root, "--pred", pred_root, "--json", out)
    assert_one_line_error(run, *fragments)
    assert not out.exists()


def test_strict_stops_at_a_missing_frame_via_cli(tmp_path: Path) -> None:
    gt_root, pred_root = _tiny_davis(tmp_path)
    (pred_root / "beta" / "00006.png").unlink()
    out = tmp_path / "result.json"
    run = run_cli("eval", "--task", "vos", "--gt", gt_root, "--pred", pred_root, "--strict", "--json", out)
    assert_one_line_error(run, "beta/00006.png", "sequence beta, frame 00006", "prediction frame missing")
    assert not out.exists()
    run = run_cli("eval", "--task", "vos", "--gt", gt_root, "--pred", pred_root, "--json", out)
    assert run.returncode == 0 and "missing" in run.stdout


# --- ids the first frame does not hold, as davis2017-evaluation reads them ----


def _davis_with_late_ids(root: Path) -> tuple[Path, Path]:
    """One sequence whose first frame holds ids 1 and 3: id 2 enters at frame 3
    (an object of the sequence, empty until then) and id 4 at frame 5 (above the
    first frame's largest id, so never scored)."""
    gt_root, pred_root = root / "davis", root / "pred"
    (gt_root / "ImageSets" / "2017").mkdir(parents=True)
    (gt_root / "ImageSets" / "2017" / "val.txt").write_text("gamma\n")
    rng = np.random.default_rng(11)
    for t in range(9):
        gt = np.zeros((36, 48), np.uint8)
        gt[4:14, 2 + t:14 + t] = 1
        gt[20:32, 30 - t:42 - t] = 3
        if t >= 3:
            gt[22:30, 14:22 + t] = 2
        if t >= 5:
            gt[2:8, 36:46] = 4
        pred = np.where(gt == 4, 0, gt)
        pred = np.roll(pred, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
        if t == 2:
            pred[24:28, 16:20] = 2  # object 2 predicted where the ground truth is still empty
        if t == 6:
            pred[pred == 2] = 0  # and missed where it is present
        _write_png(gt_root / "Annotations" / "480p" / "gamma" / f"{t:05d}.png", gt)
        _write_png(pred_root / "gamma" / f"{t:05d}.png", pred)
    return gt_root, pred_root


# davis2017-evaluation (HEAD of davisvideochallenge/davis2017-evaluation, semi-supervised,
# codalab=True) run on _davis_with_late_ids: J/F means over the three objects, x100
OFFICIAL_LATE_IDS = {
    "J&F": 65.068242820038, "J": 65.938885047013, "J-recall": 90.47619047619, "J-decay": 10.795986743849,
    "F": 64.197600593062, "F-recall": 90.47619047619, "F-decay": 21.855323417517,
}
OFFICIAL_LATE_IDS_PER_OBJECT_J = {"gamma_1": 73.16397887826459, "gamma_2": 53.85495791236848, "gamma_3": 70.79771835040708}


def test_ids_absent_from_the_first_frame_score_as_davis2017_evaluation(tmp_path: Path) -> None:
    gt_root, pred_root = _davis_with_late_ids(tmp_path)
    result = evaluate("vos", gt_root, pred_root, progress=False)
    for name, value in OFFICIAL_LATE_IDS.items():
        assert math.isclose(result.metrics[name], value, abs_tol=1e-9), name
    for name, value in OFFICIAL_LATE_IDS_PER_OBJECT_J.items():
        assert math.isclose(result.breakdown[name]["J"], value, abs_tol=1e-9), name
    assert set(result.records["object"].tolist()) == {1, 2, 3}  # id 2 is an object, id 4 never scored
    # the literal reading of the official per-frame code agrees frame by frame
    paths = sorted((gt_root / "Annotations" / "480p" / "gamma").glob("*.png"))
    js, _ = _official_sequence_scores([_read(p) for p in paths], [_read(pred_root / "gamma" / p.name) for p in paths])
    assert np.allclose(result.records["J"], js[:, 1:-1].ravel(), atol=1e-12)
    assert result.warnings == [
        "1 sequence(s) hold objects that enter after the first frame, scored as empty until then (as davis2017-evaluation): first sequence gamma, frame 00003, id 2",
        "1 sequence(s) hold ground-truth ids above their first frame's largest, never scored (as davis2017-evaluation): first sequence gamma, frame 00005, id 4",
    ]


def test_late_ids_via_cli_warn_once_and_merge_from_shards(tmp_path: Path) -> None:
    gt_root, pred_root = _davis_with_late_ids(tmp_path)
    out = tmp_path / "r.json"
    run = run_cli("eval", "--task", "vos", "--gt", gt_root, "--pred", pred_root, "--json", out)
    assert run.returncode == 0, run.stderr
    said = run.stdout + run.stderr
    assert said.count("enter after the first frame") == 1 and said.count("never scored") == 1
    assert "frame 00005, id 4" in said
    data = json.loads(out.read_text())
    assert math.isclose(data["metrics"]["J&F"], OFFICIAL_LATE_IDS["J&F"], abs_tol=1e-9)
    state = tmp_path / "s1.state"
    run = run_cli("eval", "--task", "vos", "--gt", gt_root, "--pred", pred_root, "--shard", "1/1", "--state-out", state)
    assert run.returncode == 0, run.stderr
    merged = tmp_path / "m.json"
    run = run_cli("merge", state, "--json", merged)
    assert run.returncode == 0, run.stderr
    again = json.loads(merged.read_text())
    assert again["metrics"] == data["metrics"] and again["warnings"] == data["warnings"]


def test_a_prediction_id_above_the_objects_is_refused_as_the_official_code_exits(tmp_path: Path) -> None:
    """davis2017-evaluation stops (sys.exit) on a scored prediction frame holding an id above the objects."""
    gt_root, pred_root = _davis_with_late_ids(tmp_path)
    path = pred_root / "gamma" / "00004.png"
    labels = _read(path)
    labels[0:2, 0:2] = 4
    _write_png(path, labels)
    run = run_cli("eval", "--task", "vos", "--gt", gt_root, "--pred", pred_root)
    assert_one_line_error(run, "00004.png", "sequence gamma, frame 00004", "prediction holds id 4")
