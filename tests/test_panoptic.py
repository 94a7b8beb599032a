"""Panoptic quality: the official fixtures, shards, bad input, and the cases
where panopticapi's semantics are easy to get wrong."""

from __future__ import annotations

import json
import math
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.evaluators.panoptic import PanopticEvaluator, PanopticJob, evaluate_panoptic, load_job
from psalm_bench.formats.panoptic import PanopticFrame, load_panoptic_gt, load_panoptic_pred
from psalm_bench.pngio import read_panoptic_ids, write_panoptic_ids

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
CASES = sorted(p.parent for p in (FIXTURES / "panoptic").glob("*/expected.json")) if FIXTURES.is_dir() else []
needs_fixtures = pytest.mark.skipif(not CASES, reason="../shared/fixtures is not beside the clone")
METRICS = ["PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st"]


def _evaluate(case: Path, **options):
    exp = json.loads((case / "expected.json").read_text())
    return evaluate_panoptic(case / exp["gt"], case / exp["pred"], progress=False, **options)


# --------------------------------------------------------------------------
# official numbers


@needs_fixtures
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fixture_matches_panopticapi(case: Path) -> None:
    exp = json.loads((case / "expected.json").read_text())
    result = _evaluate(case)
    assert result.task == "panoptic"
    assert list(result.metrics) == METRICS
    for name, want in exp["metrics"].items():
        assert result.metrics[name] == pytest.approx(want, abs=1e-9), name
    gt = json.loads((case / exp["gt"]).read_text())
    assert result.n_samples == len(gt["annotations"])
    assert result.params["protocol"] == "panopticapi"
    assert result.breakdown_name == "per_class"
    assert result.warnings == []
    # per-class rows are the categories that enter the average, and they average to PQ
    rows = result.breakdown
    assert rows and all(r["TP"] + r["FP"] + r["FN"] > 0 for r in rows.values())
    assert set(rows["person"]) == {"PQ", "SQ", "RQ", "TP", "FP", "FN", "isthing"}
    assert np.mean([r["PQ"] for r in rows.values()]) == pytest.approx(result.metrics["PQ"], abs=1e-9)
    things = [r["PQ"] for r in rows.values() if r["isthing"]]
    assert np.mean(things) == pytest.approx(result.metrics["PQ_th"], abs=1e-9)


@needs_fixtures
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_two_workers_identical_to_one(case: Path) -> None:
    one = _evaluate(case, workers=1)
    two = _evaluate(case, workers=2)
    assert two.metrics == one.metrics
    assert two.breakdown == one.breakdown
    assert two.n_samples == one.n_samples
    for part in ("images", "segments"):
        for column, values in one.records[part].items():
            np.testing.assert_array_equal(two.records[part][column], values)


@needs_fixtures
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_merge_of_shards_equals_one_pass(case: Path) -> None:
    gt = load_panoptic_gt(case / "gt.json")
    pred = load_panoptic_pred(case / "pred.json", gt)
    frames = [load_job(PanopticJob(gt.png_path(a), a, pred.png_path(pred.by_image[a.image_id]), pred.by_image[a.image_id])) for a in gt.images]
    cats = list(gt.categories.values())
    whole = PanopticEvaluator(cats)
    for g, p in frames:
        whole.update(g, p)
    first, second = PanopticEvaluator(cats), PanopticEvaluator(cats)
    for g, p in frames[:2]:
        first.update(g, p)
    for g, p in frames[2:]:
        second.update(g, p)
    # shards travel between processes: the state must pickle, and stay small
    blob = pickle.dumps(second)
    assert len(blob) < 20_000
    merged = first.merge(pickle.loads(blob)).compute()
    expected = whole.compute()
    for name in METRICS:
        assert merged.metrics[name] == pytest.approx(expected.metrics[name], abs=1e-12)
    assert merged.breakdown.keys() == expected.breakdown.keys()
    assert merged.n_samples == expected.n_samples == len(frames)
    # the per-segment records add up to the per-class counts
    seg = merged.records["segments"]
    for name, row in merged.breakdown.items():
        cat = next(c.id for c in cats if c.name == name)
        mine = seg["category_id"] == cat
        assert np.count_nonzero(mine & (seg["outcome"] == 0)) == row["TP"]
        assert np.count_nonzero(mine & (seg["outcome"] == 1)) == row["FP"]
        assert np.count_nonzero(mine & (seg["outcome"] == 2)) == row["FN"]


# --------------------------------------------------------------------------
# bad input: every one an InputError naming the file and the record


@pytest.fixture
def case_copy(tmp_path: Path) -> Path:
    if not CASES:
        pytest.skip("../shared/fixtures is not beside the clone")
    dst = tmp_path / "case"
    shutil.copytree(FIXTURES / "panoptic" / "coco_davis", dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    dst.chmod(0o755)
    return dst


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _error(case: Path, **options) -> InputError:
    with pytest.raises(InputError) as info:
        evaluate_panoptic(case / "gt.json", case / "pred.json", progress=False, **options)
    return info.value


def test_json_that_does_not_parse(case_copy: Path) -> None:
    (case_copy / "pred.json").write_text('{"annotations": [')
    err = _error(case_copy)
    assert err.file == str(case_copy / "pred.json")
    assert "not valid JSON" in str(err) and "line 1" in str(err)


def test_missing_png(case_copy: Path) -> None:
    (case_copy / "pred" / "horsejump-high_00020.png").unlink()
    err = _error(case_copy)
    assert err.file == str(case_copy / "pred" / "horsejump-high_00020.png")
    assert err.record == "image 1392020"
    assert "not found" in err.problem


@pytest.mark.parametrize("side", ["pred"])  # the ground truth's case is scored as panopticapi: tests/test_conformance.py
@pytest.mark.parametrize("workers", [1, 2])
def test_png_id_not_in_segments_info(case_copy: Path, side: str, workers: int) -> None:
    removed = {}

    def drop(data):
        segs = data["annotations"][1]["segments_info"]
        removed["id"] = segs.pop(0)["id"]

    _edit(case_copy / f"{side}.json", drop)
    err = _error(case_copy, workers=workers)  # raised in a worker process too
    assert err.file == str(case_copy / side / "horsejump-high_00020.png")
    assert err.record == "image 1392020"
    assert str(removed["id"]) in err.problem and "not in segments_info" in err.problem


@pytest.mark.parametrize("side", ["pred"])  # the ground truth's case: tests/test_conformance.py
def test_segments_info_id_absent_from_png(case_copy: Path, side: str) -> None:
    def add(data):
        segs = data["annotations"][2]["segments_info"]
        segs.append(dict(segs[0], id=16000000))

    _edit(case_copy / f"{side}.json", add)
    err = _error(case_copy)
    assert err.file == str(case_copy / side / "mbike-trick_00040.png")
    assert err.record == "image 1593040"
    assert "16000000" in err.problem and "not present in the PNG" in err.problem


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_segment_listed_twice(case_copy: Path, side: str) -> None:
    dup = {}

    def double(data):
        segs = data["annotations"][0]["segments_info"]
        dup["id"] = segs[3]["id"]
        segs.append(dict(segs[3], category_id=segs[0]["category_id"]))  # differently: identical repeats are scored once (test_conformance.py)

    _edit(case_copy / f"{side}.json", double)
    err = _error(case_copy)
    assert err.file == str(case_copy / f"{side}.json")
    assert err.record == f"image 142238, segment {dup['id']}"
    assert "listed twice" in err.problem


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_unknown_category_id(case_copy: Path, side: str) -> None:
    seg = {}

    def unknown(data):
        s = data["annotations"][2]["segments_info"][1]
        s["category_id"] = 9999
        seg["id"] = s["id"]

    _edit(case_copy / f"{side}.json", unknown)
    err = _error(case_copy)
    assert err.file == str(case_copy / f"{side}.json")
    assert err.record == f"image 1593040, segment {seg['id']}"
    assert "9999" in err.problem


def test_prediction_for_image_the_gt_lacks(case_copy: Path) -> None:
    def extra(data):
        data["annotations"].append(dict(data["annotations"][0], image_id=777))

    _edit(case_copy / "pred.json", extra)
    err = _error(case_copy, ignore_extra=False)  # strict: an error
    assert err.file == str(case_copy / "pred.json")
    assert err.record == "image 777"
    # by default (as panopticapi) and with --ignore-extra it is dropped and the rest scored
    expected = json.loads((case_copy / "expected.json").read_text())["metrics"]["PQ"]
    for ignore_extra in (None, True):
        result = evaluate_panoptic(case_copy / "gt.json", case_copy / "pred.json", progress=False, ignore_extra=ignore_extra)
        assert result.metrics["PQ"] == pytest.approx(expected, abs=1e-9)
        assert any("image id 777" in w for w in result.warnings) == (ignore_extra is None)


def test_png_size_mismatch(case_copy: Path) -> None:
    png = case_copy / "pred" / "mbike-trick_00040.png"
    ids = read_panoptic_ids(png)
    write_panoptic_ids(png, ids[:-10, :])  # same segments, 10 rows short
    err = _error(case_copy)
    assert err.file == str(png)
    assert err.record == "image 1593040"
    assert "470x854" in err.problem and "480x854" in err.problem


def test_image_listed_twice(case_copy: Path) -> None:
    _edit(case_copy / "gt.json", lambda d: d["annotations"].append(dict(d["annotations"][1])))
    err = _error(case_copy)
    assert err.file == str(case_copy / "gt.json")
    assert err.record == "image 1392020"
    assert "twice" in err.problem


def test_cli_bad_input_is_one_line_exit_2(case_copy: Path) -> None:
    from conftest import assert_one_line_error, run_cli

    _edit(case_copy / "pred.json", lambda d: d["annotations"][1]["segments_info"].pop(0))
    run = run_cli("eval", "--task", "panoptic", "--gt", case_copy / "gt.json", "--pred", case_copy / "pred.json", "--workers", "2")
    assert_one_line_error(run, str(case_copy / "pred" / "horsejump-high_00020.png"), "image 1392020", "not in segments_info")


@pytest.mark.parametrize(
    "side, change, record, words",
    [
        ("gt", lambda d: d.pop("categories"), None, "categories"),
        ("pred", lambda d: d.pop("annotations"), None, "annotations"),
        ("gt", lambda d: d["annotations"][1].pop("segments_info"), "image 1392020", "segments_info"),
        ("pred", lambda d: d["annotations"][0].pop("file_name"), "image 142238", "file_name"),
        ("gt", lambda d: d["annotations"][0]["segments_info"][0].pop("area"), "image 142238, segment 3937500", "area"),
        ("gt", lambda d: d["annotations"][0]["segments_info"][0].pop("iscrowd"), "image 142238, segment 3937500", "iscrowd"),
        ("gt", lambda d: d["annotations"][2].pop("image_id"), "annotations[2]", "image_id"),
        ("gt", lambda d: d["categories"][0].pop("isthing"), "category 1", "isthing"),
    ],
)
def test_missing_keys(case_copy: Path, side: str, change, record: str | None, words: str) -> None:
    _edit(case_copy / f"{side}.json", change)
    err = _error(case_copy)
    assert err.file == str(case_copy / f"{side}.json")
    assert err.record == record
    assert words in err.problem


# --------------------------------------------------------------------------
# semantics that are easy to get wrong, on small hand-made images

CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1},
    {"id": 2, "name": "car", "isthing": 1},
    {"id": 3, "name": "dog", "isthing": 1},
    {"id": 10, "name": "grass", "isthing": 0},
    {"id": 11, "name": "sky", "isthing": 0},
]


def _write_case(root: Path, images: list[dict]) -> tuple[Path, Path]:
    """images: {"gt": id map, "gt_segments": [(id, cat, iscrowd[, area])],
    "pred": id map or None, "pred_segments": [(id, cat)]}."""
    (root / "gt").mkdir(parents=True)
    (root / "pred").mkdir()
    gt_anns, pred_anns = [], []
    for image_id, image in enumerate(images, start=1):
        name = f"{image_id:04d}.png"
        gt_map = np.asarray(image["gt"], dtype=np.uint32)
        write_panoptic_ids(root / "gt" / name, gt_map)
        segs = []
        for seg in image["gt_segments"]:
            seg_id, cat, crowd = seg[:3]
            area = seg[3] if len(seg) > 3 else int((gt_map == seg_id).sum())
            segs.append({"id": seg_id, "category_id": cat, "iscrowd": crowd, "area": area})
        gt_anns.append({"image_id": image_id, "file_name": name, "segments_info": segs})
        if image.get("pred") is not None:
            write_panoptic_ids(root / "pred" / name, np.asarray(image["pred"], dtype=np.uint32))
            pred_anns.append({"image_id": image_id, "file_name": name,
                              "segments_info": [{"id": i, "category_id": c} for i, c in image["pred_segments"]]})
    gt_json, pred_json = root / "gt.json", root / "pred.json"
    gt_json.write_text(json.dumps({"images": [{"id": a["image_id"]} for a in gt_anns], "annotations": gt_anns, "categories": CATEGORIES}))
    pred_json.write_text(json.dumps({"annotations": pred_anns}))
    return gt_json, pred_json


def _panopticapi_metrics(gt_json: Path, pred_json: Path) -> dict[str, float | None] | None:
    """The official numbers, when panopticapi (the bench extra) is installed."""
    try:
        from panopticapi.evaluation import PQStat, pq_compute_single_core
    except ImportError:
        return None
    import contextlib
    import io

    gt, pred = json.loads(gt_json.read_text()), json.loads(pred_json.read_text())
    cats = {c["id"]: c for c in gt["categories"]}
    by_id = {a["image_id"]: a for a in pred["annotations"]}
    pairs = [(a, by_id[a["image_id"]]) for a in gt["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        stat: PQStat = pq_compute_single_core(0, pairs, str(gt_json.with_suffix("")), str(pred_json.with_suffix("")), cats)
    out: dict[str, float | None] = {}
    for suffix, isthing in (("", None), ("_th", True), ("_st", False)):
        try:
            avg, _ = stat.pq_average(cats, isthing=isthing)
        except ZeroDivisionError:  # panopticapi has no answer for an empty group
            avg = {"pq": None, "sq": None, "rq": None}
        for key in ("pq", "sq", "rq"):
            out[key.upper() + suffix] = None if avg[key] is None else 100 * avg[key]
    return out


def _check(tmp_path: Path, images: list[dict], **expected_class) -> dict:
    gt_json, pred_json = _write_case(tmp_path, images)
    result = evaluate_panoptic(gt_json, pred_json, progress=False)
    for name, counts in expected_class.items():
        row = result.breakdown.get(name)
        if counts is None:
            assert row is None, (name, row)
            continue
        tp, fp, fn, sq = counts
        assert (row["TP"], row["FP"], row["FN"]) == (tp, fp, fn), (name, row)
        if sq is not None:
            assert row["SQ"] == pytest.approx(100 * sq, abs=1e-9), (name, row)
    official = _panopticapi_metrics(gt_json, pred_json)
    if official is not None and all(im.get("pred") is not None for im in images):
        for name in METRICS:
            if official[name] is None:
                assert result.metrics[name] is None
            else:
                assert result.metrics[name] == pytest.approx(official[name], abs=1e-9), name
    return result.metrics


def _blank(h: int = 20, w: int = 20) -> np.ndarray:
    return np.zeros((h, w), dtype=np.uint32)


def test_prediction_inside_same_category_crowd_is_ignored(tmp_path: Path) -> None:
    gt = _blank()
    gt[:, :10] = 5  # person crowd
    gt[:, 10:] = 6  # grass
    pred = _blank()
    pred[:, 10:] = 60  # grass, exact
    pred[2:8, 2:8] = 61  # person inside the person crowd: ignored
    pred[10:16, 2:8] = 62  # car inside the person crowd: a false positive
    pred[pred == 0] = 63  # rest of the crowd area predicted as person: ignored (all crowd)
    _check(tmp_path, [{"gt": gt, "gt_segments": [(5, 1, 1), (6, 10, 0)],
                       "pred": pred, "pred_segments": [(60, 10), (61, 1), (62, 2), (63, 1)]}],
           person=None, car=(0, 1, 0, None), grass=(1, 0, 0, 1.0))


def test_prediction_half_on_void(tmp_path: Path) -> None:
    gt = _blank()
    gt[:, 10:] = 6  # grass on the right; left half void
    pred = _blank()
    pred[:, 10:] = 60
    pred[0:4, 6:14] = 61  # dog: 16 px on void, 16 px on grass -> exactly half: FP
    pred[10:14, 4:12] = 62  # car: 24 px on void, 8 on grass -> more than half: ignored
    _check(tmp_path, [{"gt": gt, "gt_segments": [(6, 10, 0)],
                       "pred": pred, "pred_segments": [(60, 10), (61, 3), (62, 2)]}],
           dog=(0, 1, 0, None), car=None, grass=(1, 0, 0, 176 / 200))


def test_union_excludes_void_not_crowd(tmp_path: Path) -> None:
    gt = _blank()
    gt[0:10, 0:10] = 7  # person, 100 px
    gt[10:20, 0:10] = 8  # person crowd, 100 px
    gt[0:20, 10:20] = 6  # grass
    gt[0:10, 18:20] = 0  # void strip inside the grass area
    pred = _blank()
    pred[:, 10:] = 60  # grass incl. the void strip
    pred[0:10, 0:10] = 61  # the person...
    pred[10:14, 0:10] = 61  # ...plus 40 crowd px: crowd stays in the union, IoU 100/140
    _check(tmp_path, [{"gt": gt, "gt_segments": [(7, 1, 0), (8, 1, 1), (6, 10, 0)],
                       "pred": pred, "pred_segments": [(60, 10), (61, 1)]}],
           person=(1, 0, 0, 100 / 140), grass=(1, 0, 0, 1.0))


def test_iou_of_exactly_half_is_no_match(tmp_path: Path) -> None:
    gt = _blank()
    gt[0:10, 0:10] = 7  # car, 100 px
    gt[10:, :] = 6
    pred = _blank()
    pred[10:, :] = 60
    pred[0:10, 0:10] = 63  # dog on the car area (a false positive)
    pred[0:5, 0:10] = 61  # car on 50 px of the GT car: IoU exactly 0.5
    _check(tmp_path, [{"gt": gt, "gt_segments": [(7, 2, 0), (6, 10, 0)],
                       "pred": pred, "pred_segments": [(60, 10), (61, 2), (63, 3)]}],
           car=(0, 1, 1, None), dog=(0, 1, 0, None), grass=(1, 0, 0, 1.0))


def test_only_last_crowd_segment_of_a_category_ignores(tmp_path: Path) -> None:
    gt = _blank()
    gt[:, 0:5] = 8  # person crowd
    gt[:, 5:10] = 9  # another person crowd
    gt[:, 10:] = 6
    pred = _blank()
    pred[:, 10:] = 60
    pred[:, 0:5] = 61  # person on crowd 8 only
    pred_segments = [(60, 10), (61, 1)]
    # panopticapi keeps one crowd segment per category, the last listed
    _check(tmp_path / "a", [{"gt": gt, "gt_segments": [(8, 1, 1), (9, 1, 1), (6, 10, 0)], "pred": pred, "pred_segments": pred_segments}],
           person=(0, 1, 0, None), grass=(1, 0, 0, 1.0))
    _check(tmp_path / "b", [{"gt": gt, "gt_segments": [(9, 1, 1), (8, 1, 1), (6, 10, 0)], "pred": pred, "pred_segments": pred_segments}],
           person=None, grass=(1, 0, 0, 1.0))


def test_gt_area_comes_from_segments_info(tmp_path: Path) -> None:
    gt = _blank()
    gt[:, :10] = 7
    gt[:, 10:] = 6
    pred = gt * 10
    # the person's JSON area is 300 though it has 200 px: IoU 200/300
    _check(tmp_path, [{"gt": gt, "gt_segments": [(7, 1, 0, 300), (6, 10, 0)],
                       "pred": pred, "pred_segments": [(70, 1), (60, 10)]}],
           person=(1, 0, 0, 200 / 300), grass=(1, 0, 0, 1.0))


def test_empty_group_is_null_and_unseen_categories_skipped(tmp_path: Path) -> None:
    gt = _blank()
    gt[:, :10] = 6
    gt[:, 10:] = 5
    pred = np.where(gt == 6, 60, 50).astype(np.uint32)
    metrics = _check(tmp_path, [{"gt": gt, "gt_segments": [(6, 10, 0), (5, 11, 0)],
                                 "pred": pred, "pred_segments": [(60, 10), (50, 11)]}],
                     person=None, car=None, grass=(1, 0, 0, 1.0), sky=(1, 0, 0, 1.0))
    assert metrics["PQ_th"] is None and metrics["SQ_th"] is None and metrics["RQ_th"] is None
    assert metrics["PQ"] == metrics["PQ_st"] == 100.0


def test_all_void_gt_ignores_every_prediction(tmp_path: Path) -> None:
    pred = _blank()
    pred[:, :10] = 61
    pred[:, 10:] = 60
    gt2 = _blank()
    gt2[:] = 6
    metrics = _check(tmp_path, [
        {"gt": _blank(), "gt_segments": [], "pred": pred, "pred_segments": [(61, 1), (60, 10)]},
        {"gt": gt2, "gt_segments": [(6, 10, 0)], "pred": gt2 * 10, "pred_segments": [(60, 10)]},
    ], person=None, grass=(1, 0, 0, 1.0))
    assert metrics["PQ"] == 100.0


def test_image_without_prediction_counts_false_negatives(tmp_path: Path) -> None:
    gt = _blank()
    gt[:, :10] = 7
    gt[:10, 10:] = 8  # person crowd: never a false negative
    gt[10:, 10:] = 6
    images = [
        {"gt": gt, "gt_segments": [(7, 1, 0), (8, 1, 1), (6, 10, 0)], "pred": gt * 10,
         "pred_segments": [(70, 1), (80, 1), (60, 10)]},
        {"gt": gt, "gt_segments": [(7, 1, 0), (8, 1, 1), (6, 10, 0)], "pred": None},
        {"gt": gt, "gt_segments": [(7, 1, 0), (8, 1, 1), (6, 10, 0)], "pred": None},
    ]
    gt_json, pred_json = _write_case(tmp_path, images)
    result = evaluate_panoptic(gt_json, pred_json, progress=False)
    assert result.breakdown["person"]["TP"] == 1 and result.breakdown["person"]["FN"] == 2
    assert result.breakdown["person"]["FP"] == 0  # the prediction on the crowd is ignored
    assert result.breakdown["grass"]["FN"] == 2
    assert result.n_samples == 3
    assert result.warnings == ["2 images have no prediction: counted as all false negatives (image id 2, 3)"]
    assert list(result.records["images"]["has_prediction"]) == [True, False, False]
    assert result.metrics["PQ"] == pytest.approx(100 * (1 / (1 + 0.5 * 2)))


def test_update_from_training_loop_dicts() -> None:
    """A validation loop hands id maps and segments_info dicts directly."""
    gt_ids = _blank()
    gt_ids[:, :10] = 7
    gt_ids[:, 10:] = 6
    pred_ids = gt_ids.astype(np.int64) * 10
    pred_ids[0, 0] = 60  # one person pixel predicted as grass
    evaluator = PanopticEvaluator(CATEGORIES)
    gt = PanopticFrame.from_segments(gt_ids, [{"id": 7, "category_id": 1, "iscrowd": 0}, {"id": 6, "category_id": 10, "iscrowd": 0}], image_id=1)
    pred = PanopticFrame.from_segments(pred_ids, [{"id": 70, "category_id": 1}, {"id": 60, "category_id": 10}], image_id=1)
    evaluator.update(gt, pred)
    result = evaluator.compute()
    assert result.breakdown["person"]["SQ"] == pytest.approx(100 * 199 / 200)  # areas counted when absent
    assert result.breakdown["grass"]["SQ"] == pytest.approx(100 * 200 / 201)
    with pytest.raises(InputError, match="not in segments_info"):
        evaluator.update(gt, PanopticFrame.from_segments(pred_ids, [{"id": 70, "category_id": 1}], image_id=2))
    with pytest.raises(InputError, match="category_id 99"):
        evaluator.update(gt, PanopticFrame.from_segments(pred_ids, [{"id": 70, "category_id": 99}, {"id": 60, "category_id": 10}]))


def test_random_images_match_panopticapi(tmp_path: Path) -> None:
    """Random maps with crowd, void, overlaps near IoU 0.5: same numbers as panopticapi."""
    pytest.importorskip("panopticapi.evaluation")
    rng = np.random.default_rng(7)
    images = []
    for _ in range(30):
        h, w = int(rng.integers(8, 40)), int(rng.integers(8, 40))
        n = int(rng.integers(1, 8))
        gt_seg_ids = rng.choice(np.arange(1, 1 << 24), n, replace=False)
        cats = rng.choice([1, 2, 10, 11], n)
        crowd = (rng.random(n) < 0.25) & (cats < 10)
        blocks = rng.integers(0, n + 1, (h // 4 + 1, w // 4 + 1))  # index n = void
        lab = np.kron(blocks, np.ones((4, 4), dtype=np.int64))[:h, :w]
        gt = np.where(lab < n, gt_seg_ids[np.minimum(lab, n - 1)], 0)
        # prediction: the GT labels moved a little, some relabelled, plus noise segments
        shift = np.roll(lab, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
        noise = rng.random((h, w)) < 0.05
        m = n + 2
        plab = np.where(noise, n + 1, shift)
        pred_seg_ids = rng.choice(np.arange(1, 1 << 24), m, replace=False)
        pcats = np.concatenate([np.where(rng.random(n) < 0.2, rng.choice([1, 2, 3, 10, 11], n), cats), rng.choice([1, 2, 3, 10, 11], 2)])
        pred = pred_seg_ids[plab]
        present_gt = [i for i in range(n) if (lab == i).any()]
        present_pred = [i for i in range(m) if (plab == i).any()]
        images.append({
            "gt": gt, "gt_segments": [(int(gt_seg_ids[i]), int(cats[i]), int(crowd[i])) for i in present_gt],
            "pred": pred, "pred_segments": [(int(pred_seg_ids[i]), int(pcats[i])) for i in present_pred],
        })
    gt_json, pred_json = _write_case(tmp_path, images)
    result = evaluate_panoptic(gt_json, pred_json, progress=False)
    official = _panopticapi_metrics(gt_json, pred_json)
    assert official is not None
    for name in METRICS:
        want, have = official[name], result.metrics[name]
        assert (want is None) == (have is None), name
        if want is not None:
            assert have == pytest.approx(want, abs=1e-9), name
    assert not any(math.isnan(v) for v in result.metrics.values() if v is not None)


@needs_fixtures
def test_pure_python_fallbacks_give_the_same_numbers(monkeypatch) -> None:
    """Without the C extension (no compiler at install) the numbers are identical."""
    import psalm_bench.evaluators.panoptic as panoptic_module
    import psalm_bench.pixelops as pixelops
    import psalm_bench.pngdecode as pngdecode

    case = CASES[0]
    with_native = evaluate_panoptic(case / "gt.json", case / "pred.json", progress=False)
    monkeypatch.setattr(panoptic_module, "_native", None)
    monkeypatch.setattr(pngdecode, "_filters", None)
    monkeypatch.setattr(pixelops, "_native", None)
    without = evaluate_panoptic(case / "gt.json", case / "pred.json", progress=False)
    assert without.metrics == with_native.metrics
    assert without.breakdown == with_native.breakdown
