"""Regression report: paired bootstrap CIs, labels, exit codes, renderers, bad input."""

from __future__ import annotations

import copy
import json
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from conftest import FIXTURES, fixture_cases, fixture_options, expected, needs_fixtures
from psalm_bench.errors import InputError
from psalm_bench.leaderboard.report import (
    compare_results,
    exit_code,
    render,
    render_junit,
    render_markdown,
    render_text,
    resample_counts,
    to_json,
)

GT_SHA = "a" * 64


def _refcoco(ious_i_u: list[tuple[int, int]], *, ids=None, gt_sha=GT_SHA, task="refcoco") -> dict:
    """A refcoco result JSON built from (I, U) per sentence, metrics computed here."""
    ids = list(range(1, len(ious_i_u) + 1)) if ids is None else ids
    recs = []
    for sid, (i, u) in zip(ids, ious_i_u):
        recs.append({"sent_id": sid, "ref_id": sid, "I": i, "U": u, "IoU": i / u if u else 1.0,
                     "gt_no_target": None, "pred_no_target": None})
    iou = np.array([r["IoU"] for r in recs])
    metrics = {"cIoU": 100.0 * sum(r["I"] for r in recs) / sum(r["U"] for r in recs), "gIoU": 100.0 * iou.mean()}
    for k in (0.5, 0.6, 0.7, 0.8, 0.9):
        metrics[f"Pr@{k}"] = 100.0 * float(np.mean(iou >= k))
    return {"task": task, "metrics": metrics, "n_samples": len(recs), "warnings": [], "records": recs,
            "provenance": {"psalm_bench": "0.1.0", "gt_sha256": gt_sha, "pred_sha256": "b" * 64,
                           "params": {"protocol": "lisa", "split": "val"}}}


def _pairs(n: int, seed: int, shift: float = 0.0, noise: float = 0.0) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    u = rng.integers(1000, 5000, n)
    frac = np.clip(rng.uniform(0.3, 0.9, n) + shift + rng.normal(0, noise, n) if noise else rng.uniform(0.3, 0.9, n) + shift, 0.0, 1.0)
    return [(int(round(f * x)), int(x)) for f, x in zip(frac, u)]


@pytest.fixture(scope="module")
def base_cur():
    rng = np.random.default_rng(1)
    n = 400
    u = rng.integers(1000, 5000, n)
    frac = rng.uniform(0.3, 0.9, n)
    base = [(int(round(f * x)), int(x)) for f, x in zip(frac, u)]
    drop = [(int(round(max(f - 0.15, 0.0) * x)), int(x)) for f, x in zip(frac, u)]
    jitter = [(int(round(float(np.clip(f + e, 0, 1)) * x)), int(x)) for f, x, e in zip(frac, u, rng.normal(0, 0.003, n))]
    return _refcoco(base), _refcoco(drop), _refcoco(jitter)


# ---------------------------------------------------------------------------
# labels and exit codes


def test_clear_regression_is_flagged_and_exits_1(base_cur):
    base, drop, _ = base_cur
    report = compare_results(base, drop)
    ciou = report.by_name("cIoU")
    assert ciou.label == "regressed"
    assert ciou.delta < -10 and ciou.ci_high < 0 and ciou.ci_low <= ciou.delta <= ciou.ci_high
    assert report.by_name("gIoU").label == "regressed"
    assert exit_code(report, "regression") == 1
    assert exit_code(report, "any") == 1
    assert exit_code(report, "never") == 0
    # the other way round it is an improvement: fails only under --fail-on any
    back = compare_results(drop, base)
    assert back.by_name("cIoU").label == "improved"
    assert exit_code(back, "regression") == 0 and exit_code(back, "any") == 1


def test_tolerance_absorbs_a_drop_smaller_than_it(base_cur):
    base, drop, _ = base_cur
    report = compare_results(base, drop, tolerance=50.0)
    assert report.by_name("cIoU").label == "within noise"
    assert exit_code(report) == 0


def test_identical_inputs_are_within_noise(base_cur):
    base = base_cur[0]
    report = compare_results(base, copy.deepcopy(base))
    assert {m.label for m in report.metrics} == {"within noise"}
    assert all(m.delta == 0 and m.ci_low == 0 and m.ci_high == 0 for m in report.metrics)
    assert exit_code(report) == 0 and exit_code(report, "any") == 0


def test_noise_level_change_is_within_noise(base_cur):
    base, _, jitter = base_cur
    report = compare_results(base, jitter)
    ciou = report.by_name("cIoU")
    assert ciou.label == "within noise"
    assert ciou.ci_low < 0 < ciou.ci_high
    assert exit_code(report) == 0


def test_pairing_ignores_record_order(base_cur):
    base, drop, _ = base_cur
    shuffled = copy.deepcopy(drop)
    shuffled["records"] = shuffled["records"][::-1]
    a, b = compare_results(base, drop), compare_results(base, shuffled)
    for x, y in zip(a.metrics, b.metrics):
        assert x.label == y.label
        assert x.ci_low == pytest.approx(y.ci_low, abs=1e-9) and x.ci_high == pytest.approx(y.ci_high, abs=1e-9)


def test_same_seed_same_report_other_seed_other_ci(base_cur):
    base, _, jitter = base_cur
    a = compare_results(base, jitter, seed=3)
    b = compare_results(base, jitter, seed=3)
    c = compare_results(base, jitter, seed=4)
    assert to_json(a) == to_json(b)
    assert render_markdown(a) == render_markdown(b) and render_junit(a) == render_junit(b)
    assert [m.ci_low for m in a.metrics] != [m.ci_low for m in c.metrics]


def test_resample_counts_are_multinomial():
    c = resample_counts(50, 200, seed=0)
    assert c.shape == (200, 50)
    assert (c.sum(axis=1) == 50).all()
    assert np.array_equal(c, resample_counts(50, 200, seed=0))


# ---------------------------------------------------------------------------
# renderers


def test_junit_parses_and_fails_only_regressions(base_cur):
    base, drop, _ = base_cur
    report = compare_results(base, drop)
    root = ET.fromstring(render_junit(report))
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == [m.name for m in report.metrics]
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {m.name for m in report.metrics if m.label == "regressed"}
    assert "cIoU" in failed
    assert root.find("testsuite").get("failures") == str(len(failed))
    quiet = ET.fromstring(render_junit(compare_results(base, base)))
    assert quiet.findall(".//failure") == []


def test_text_markdown_json(base_cur):
    base, drop, _ = base_cur
    report = compare_results(base, drop)
    text = render_text(report)
    assert "cIoU" in text and "regressed" in text
    md = render_markdown(report)
    assert md.startswith("### ") and "| metric |" in md and "regressed" in md
    data = json.loads(render(report, "json"))
    assert data["exit_code"] == 1 and data["task"] == "refcoco"
    assert {m["name"] for m in data["metrics"]} >= {"cIoU", "gIoU", "Pr@0.5"}
    with pytest.raises(InputError):
        render(report, "html")
    with pytest.raises(InputError):
        exit_code(report, "sometimes")


# ---------------------------------------------------------------------------
# bad input


def test_bad_inputs_are_refused(base_cur, tmp_path):
    base, drop, _ = base_cur

    def refused(b, c, *fragments):
        with pytest.raises(InputError) as err:
            compare_results(b, c)
        msg = str(err.value)
        assert "\n" not in msg
        for f in fragments:
            assert f in msg, msg

    unknown = copy.deepcopy(drop); unknown["task"] = "telepathy"
    refused(base, unknown, "unknown task")
    missing = copy.deepcopy(drop); del missing["metrics"]["cIoU"]
    refused(base, missing, "missing metric", "cIoU")
    other_gt = copy.deepcopy(drop); other_gt["provenance"]["gt_sha256"] = "c" * 64
    refused(base, other_gt, "different ground truth")
    gref = copy.deepcopy(drop); gref["task"] = "gref"; gref["metrics"].update({"N-acc": 1.0, "T-acc": 1.0})
    refused(base, gref, "different tasks")
    unpaired = _refcoco(_pairs(len(drop["records"]), 5), ids=[i + 7 for i in range(len(drop["records"]))])
    refused(base, unpaired, "cannot be paired")
    no_records = copy.deepcopy(drop); no_records["records"] = None
    refused(base, no_records, "no per-sample records")
    edited = copy.deepcopy(drop); edited["metrics"]["cIoU"] += 1.0
    refused(base, edited, "do not reproduce", "cIoU")
    protocol = copy.deepcopy(drop); protocol["provenance"]["params"]["protocol"] = "mmdet"
    refused(base, protocol, "different protocols")
    refused(base, tmp_path / "absent.json", "file not found")
    (tmp_path / "bad.json").write_text("{not json")
    refused(base, tmp_path / "bad.json", "bad.json")


# ---------------------------------------------------------------------------
# real results from the fixtures


def _fixture_result(task: str, tmp_path, index: int = 0) -> dict:
    from psalm_bench import evaluate
    from psalm_bench.jsonio import dump_json

    case = fixture_cases(task)[index]
    exp = expected(case)
    result = evaluate(task, case / exp["gt"], case / exp["pred"], **fixture_options(case))
    path = tmp_path / f"{task}{index}.json"
    gt = [case / exp["gt"], (case / exp["gt"]).with_suffix("")] if task == "panoptic" else case / exp["gt"]
    pred = [case / exp["pred"], (case / exp["pred"]).with_suffix("")] if task == "panoptic" else case / exp["pred"]
    dump_json(result.to_dict(gt, pred), path)
    return json.loads(path.read_text())


@needs_fixtures
@pytest.mark.parametrize("task", ["semantic", "panoptic", "refcoco", "gref", "interactive", "vos"])
def test_bootstrap_point_estimates_equal_the_json_metrics(task, tmp_path):
    from psalm_bench.leaderboard import report as rep

    res = _fixture_result(task, tmp_path)
    # compare_results refuses records that do not reproduce the metrics; check directly too
    b_keys, b_stat, _, _ = rep._build(task, rep.load_result(res, "r"), rep.load_result(res, "r"))
    point = b_stat(np.ones((1, len(b_keys))))
    for name, want in res["metrics"].items():
        got = point[name][0]
        if want is None:
            assert np.isnan(got), name
        else:
            assert got == pytest.approx(want, abs=1e-9), name
    report = compare_results(res, copy.deepcopy(res))
    assert {m.label for m in report.metrics} <= {"within noise", "no records"}
    assert exit_code(report) == 0


@needs_fixtures
def test_semantic_regression_from_a_worse_prediction(tmp_path):
    """Current: one image's prediction replaced by all-background -> mIoU drops."""
    res = _fixture_result("semantic", tmp_path, 1)
    worse = copy.deepcopy(res)
    n = res["provenance"]["params"]["num_classes"]
    from psalm_bench.leaderboard import report as rep

    for rec in worse["records"]:  # move every pixel's prediction to class 0
        cells = np.asarray(rec["cells"]); counts = np.asarray(rec["counts"])
        gt = cells // (n + 1); pr = cells % (n + 1)
        new = np.where(pr < n, gt * (n + 1), cells)
        merged: dict[int, int] = {}
        for c, k in zip(new.tolist(), counts.tolist()):
            merged[c] = merged.get(c, 0) + k
        rec["cells"], rec["counts"] = sorted(merged), [merged[c] for c in sorted(merged)]
    keys, stat, _, _ = rep._build("semantic", rep.load_result(worse, "w"), rep.load_result(worse, "w"))
    point = stat(np.ones((1, len(keys))))
    worse["metrics"] = {k: float(v[0]) for k, v in point.items()}
    report = compare_results(res, worse)
    assert report.by_name("mIoU").delta < 0
    assert report.by_name("mIoU").ci_high <= 0


@needs_fixtures
def test_panoptic_dropping_matches_regresses_rq(tmp_path):
    res = _fixture_result("panoptic", tmp_path)
    from psalm_bench.leaderboard import report as rep

    worse = copy.deepcopy(res)
    seg = worse["records"]["segments"]
    # every TP becomes an FN plus an FP of the same category
    for key in ("image_id", "category_id", "outcome", "iou"):
        seg[key] = list(seg[key])
    tps = [i for i, o in enumerate(seg["outcome"]) if o == 0]
    for i in tps:
        seg["outcome"][i] = 2
        seg["iou"][i] = None
        for key, val in (("image_id", seg["image_id"][i]), ("category_id", seg["category_id"][i]), ("outcome", 1), ("iou", None)):
            seg[key].append(val)
    ids, segs, th = rep._panoptic(rep.load_result(res, "b"))
    cats = np.asarray(sorted(th), dtype=np.int64)
    isthing = np.asarray([th[c] for c in cats], dtype=bool)
    w_ids, w_segs, _ = rep._panoptic(rep.load_result({**worse, "per_class": res["per_class"], "records": {**worse["records"], "segments": res["records"]["segments"]}}, "w"))
    w_segs = tuple(np.asarray(seg[k], dtype=float if k == "iou" else np.int64) if k != "iou" else np.asarray([np.nan if v is None else v for v in seg[k]]) for k in ("image_id", "category_id", "outcome", "iou"))
    b_stat = rep._panoptic_stat(ids, segs, cats, isthing, "b")
    w_stat = rep._panoptic_stat(w_ids, w_segs, cats, isthing, "w")
    ones = np.ones((1, len(ids)))
    assert b_stat(ones)["PQ"][0] == pytest.approx(res["metrics"]["PQ"], abs=1e-9)
    assert w_stat(ones)["PQ"][0] == 0.0 and w_stat(ones)["RQ"][0] == 0.0
    C = rep.resample_counts(len(ids), 200, 0)
    d = w_stat(C)["PQ"] - b_stat(C)["PQ"]
    assert np.nanmax(d) <= 0 and np.nanmean(d) < 0


@needs_fixtures
def test_instance_has_no_records_point_values_only(tmp_path):
    res = _fixture_result("instance", tmp_path)
    worse = copy.deepcopy(res)
    worse["metrics"]["AP"] -= 1.0
    report = compare_results(res, worse, tolerance=0.5)
    assert {m.label for m in report.metrics} == {"no records"}
    assert report.by_name("AP").delta == pytest.approx(-1.0)
    assert exit_code(report) == 1
    assert exit_code(compare_results(res, worse, tolerance=2.0)) == 0


@needs_fixtures
def test_vos_decay_is_lower_is_better(tmp_path):
    res = _fixture_result("vos", tmp_path)
    report = compare_results(res, res)
    assert not report.by_name("J-decay").higher_is_better
    assert report.by_name("J&F").higher_is_better
    assert report.n_samples == res["provenance"]["params"]["objects"]


# ---------------------------------------------------------------------------
# MUSE and GCG: per-item / per-image records


def _rect(rng, h: int = 12, w: int = 12) -> np.ndarray:
    m = np.zeros((h, w), dtype=np.uint8)
    r, c = rng.integers(0, h - 3), rng.integers(0, w - 3)
    m[r:r + rng.integers(2, 6), c:c + rng.integers(2, 6)] = 1
    return m


def _jitter(rng, m: np.ndarray, p: float) -> np.ndarray:
    """The mask shifted by one pixel with probability p, else a random rectangle with probability p."""
    if rng.random() < p:
        return _rect(rng, *m.shape)
    return np.roll(m, int(rng.integers(-1, 2)), axis=int(rng.integers(0, 2)))


def _multi_target_case(tmp_path, task: str, n: int = 40, seed: int = 0, worse: float = 0.6):
    """GT and two prediction files (good: small shifts; worse: most masks replaced by random ones)."""
    from psalm_bench.masks import encode

    rng = np.random.default_rng(seed)
    gts, good, bad = [], [], []
    for k in range(n):
        masks = [_rect(rng) for _ in range(int(rng.integers(1, 4)))]
        sid = f"img{k:03d}" if k % 2 else k  # str and int ids, as JSON keeps them
        if task == "muse":
            gts.append({"id": sid, "height": 12, "width": 12, "masks": [encode(m) for m in masks]})
            good.append({"id": sid, "masks": [encode(_jitter(rng, m, 0.1)) for m in masks]})
            bad.append({"id": sid, "masks": [encode(_jitter(rng, m, worse)) for m in masks]})
        else:
            sid = 1000 - 7 * k  # GCG: int ids, not sorted in file order
            phr = lambda ms: [{"text": "thing", "mask": encode(m)} for m in ms]  # noqa: E731
            gts.append({"id": sid, "height": 12, "width": 12, "caption": "a thing", "phrases": phr(masks)})
            good.append({"id": sid, "caption": "a thing", "phrases": phr([_jitter(rng, m, 0.1) for m in masks])})
            bad.append({"id": sid, "caption": "a thing", "phrases": phr([_jitter(rng, m, worse) for m in masks])})
    paths = []
    for name, data in (("gt.json", gts), ("good.jsonl", good), ("bad.jsonl", bad)):
        path = tmp_path / f"{task}-{name}"
        path.write_text(json.dumps(data) if name.endswith(".json") else "".join(json.dumps(d) + "\n" for d in data))
        paths.append(path)
    return paths


def _same_text(a: str, b: str) -> float:
    return float(a == b)


def _score(task: str, gt, pred, **kw) -> dict:
    from psalm_bench.evaluators.multi_target import evaluate_gcg, evaluate_muse

    if task == "muse":
        return evaluate_muse(gt, pred, progress=False, **kw).to_dict(gt, gt)
    return evaluate_gcg(gt, pred, text_similarity=_same_text, captions=False, progress=False, **kw).to_dict(gt, gt)


@pytest.mark.parametrize("task,protocol", [("muse", "pixellm"), ("muse", "per-image"), ("gcg", None)])
def test_muse_gcg_records_give_cis_and_flag_a_regression(task, protocol, tmp_path):
    gt, good, bad = _multi_target_case(tmp_path, task)
    kw = {"protocol": protocol} if protocol else {}
    base, cur = _score(task, gt, good, **kw), _score(task, gt, bad, **kw)
    names = ["gIoU", "cIoU"] if task == "muse" else ["AP50", "AP", "mIoU", "Recall"]
    same = compare_results(base, copy.deepcopy(base), resamples=300)
    assert same.n_samples == 40 and same.unit == ("items" if task == "muse" else "images")
    rep = compare_results(base, cur, resamples=300)
    for name in names:
        m, s = rep.by_name(name), same.by_name(name)
        assert m.ci_low is not None and m.ci_low <= m.delta <= m.ci_high, name
        assert m.label == "regressed", (name, m)
        assert s.label == "within noise" and abs(s.ci_low) < 1e-9 and abs(s.ci_high) < 1e-9
    assert exit_code(rep) == 1 and exit_code(same) == 0
    # a record that no longer reproduces its metric is refused
    key = "I" if task == "muse" else "mIoU"
    tampered = copy.deepcopy(cur)
    tampered["records"][0][key] += 0.5
    with pytest.raises(InputError, match="records do not reproduce metric"):
        compare_results(base, tampered, resamples=10)


def test_gcg_caption_metrics_are_corpus_level_without_ci(tmp_path):
    gt, good, bad = _multi_target_case(tmp_path, "gcg", n=12)
    base, cur = _score("gcg", gt, good), _score("gcg", gt, bad)
    # the caption scores of two runs (test inputs for the report; their values are not measured here)
    base["metrics"].update(METEOR=30.0, CIDEr=80.0)
    cur["metrics"].update(METEOR=20.0, CIDEr=80.0)
    rep = compare_results(base, cur, resamples=50)
    for name in ("METEOR", "CIDEr"):
        m = rep.by_name(name)
        assert m.ci_low is None and m.label == "no records" and "corpus-level" in m.note
    assert rep.by_name("AP50").note == "" and rep.by_name("AP50").ci_low is not None
    text = render_text(rep)
    assert "corpus-level: no CI" in text
    assert "METEOR: corpus-level METEOR (one score over all captions); not resampled per sample, point values compared" in text
    assert "CIDEr: corpus-level CIDEr-D (IDF from the evaluated references)" in render_markdown(rep)
    assert to_json(rep)["metrics"][4]["note"].startswith("corpus-level")
    # METEOR's point value fell by 10: under --fail-on regression that alone fails, as for any point-only metric
    assert exit_code(compare_results(base, dict(base, metrics=cur["metrics"] | {k: base["metrics"][k] for k in ("AP50", "AP", "mIoU", "Recall")}), resamples=20)) == 1


def test_gcg_bootstrap_ap_equals_cocoeval_on_the_resampled_images(tmp_path):
    """A bootstrap row's AP is COCOeval's AP on the resampled data set: each drawn image
    repeated in place (consecutive image ids), every score 1.0, as GLaMM ranks them."""
    import contextlib
    import io

    from pycocotools import mask as mask_api
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from psalm_bench.evaluators.multi_target import coco_ap, coco_image_order

    gt, good, _ = _multi_target_case(tmp_path, "gcg", n=15, seed=4)
    res = _score("gcg", gt, good)
    recs = res["records"]
    gts = {g["id"]: g for g in json.loads(gt.read_text())}
    preds = {p["id"]: p for p in map(json.loads, good.read_text().splitlines())}
    order = coco_image_order([r["id"] for r in recs])
    W = resample_counts(len(recs), 3, seed=11)
    ap50, ap = coco_ap([recs[k]["ap_tp"] for k in order], [recs[k]["ap_npig"] for k in order], W[:, order])
    for row in range(3):
        images, anns, dets = [], [], []
        for k in order:
            sid = recs[k]["id"]
            for _ in range(int(W[row, k])):
                image_id = len(images) + 1
                images.append({"id": image_id, "height": 12, "width": 12})
                for ph in gts[sid]["phrases"]:
                    m = dict(ph["mask"], counts=ph["mask"]["counts"].encode())
                    anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1, "segmentation": ph["mask"],
                                 "iscrowd": 0, "area": float(mask_api.area(m)), "bbox": [0, 0, 1, 1]})
                dets += [{"image_id": image_id, "category_id": 1, "segmentation": ph["mask"], "score": 1.0} for ph in preds[sid]["phrases"]]
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO()
            coco.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "o"}]}
            coco.createIndex()
            ev = COCOeval(coco, coco.loadRes(dets), "segm")
            ev.params.catIds = [1]
            ev.evaluate(); ev.accumulate(); ev.summarize()
        assert ap50[row] == pytest.approx(100 * ev.stats[1], abs=1e-9)
        assert ap[row] == pytest.approx(100 * ev.stats[0], abs=1e-9)
    assert len(set(np.round(ap50, 9))) > 1  # the rows differ: the test can tell them apart


def test_report_cli_on_gcg_results(tmp_path):
    from conftest import run_cli

    gt, good, bad = _multi_target_case(tmp_path, "gcg", n=20)
    for name, pred in (("base", good), ("cur", bad)):
        (tmp_path / f"{name}.json").write_text(json.dumps(_score("gcg", gt, pred)))
    run = run_cli("report", "--baseline", tmp_path / "base.json", "--current", tmp_path / "cur.json", "--resamples", "200")
    assert run.returncode == 1, run.stderr
    assert "20 paired images" in run.stdout and "regressed" in run.stdout
