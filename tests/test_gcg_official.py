"""GLaMM's GCG files (GranD-f COCO mask + caption GT, infer.py's per-image
prediction folder) score exactly as psalm-bench's own layout.

10 x 10 images, rectangle masks; phrase similarity 1 for equal strings, else
0 (``text_similarity``), so every number is checkable by hand. AP50 is also
checked against pycocotools' COCOeval run as GLaMM's evaluate.py runs it.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.evaluators.multi_target import evaluate_gcg

H = W = 10


def rect(r0: int, r1: int) -> dict:
    from pycocotools import mask as mask_api

    m = np.zeros((H, W), dtype=np.uint8, order="F")
    m[r0:r1, :] = 1
    rle = mask_api.encode(m)
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def same(a: str, b: str) -> float:
    return 1.0 if a == b else 0.0


# image id -> (caption, [(phrase, GT mask)], predicted caption, [(phrase, predicted mask)])
# sa_1: both phrases found (IoU 1, same text). sa_2: one GT, a matching and a stray prediction.
IMAGES = {
    "sa_1": ("a dog and a cat", [("a dog", rect(0, 2)), ("a cat", rect(4, 6))], "a dog near a cat", [("a dog", rect(0, 2)), ("a cat", rect(4, 6))]),
    "sa_2": ("the sky", [("the sky", rect(0, 3))], "the sky over a sea", [("the sky", rect(0, 3)), ("a sea", rect(8, 10))]),
}


def write_official(root, images, *, extra_captions=None):
    root.mkdir(parents=True, exist_ok=True)
    ann_id = 0
    m_anns, c_anns = [], []
    for sid, (caption, gts, _, _) in images.items():
        for text, m in gts:
            ann_id += 1
            m_anns.append({"id": ann_id, "image_id": sid, "category_id": 1, "segmentation": m, "area": 0, "bbox": [0, 0, 1, 1], "iscrowd": 0})
        c_anns.append({"id": len(c_anns) + 1, "image_id": sid, "caption": caption, "labels": [t for t, _ in gts]})
        for cap in (extra_captions or {}).get(sid, []):
            c_anns.append({"id": len(c_anns) + 1, "image_id": sid, "caption": cap})
    imgs = [{"id": sid, "file_name": f"{sid}.jpg", "height": H, "width": W} for sid in images]
    gt = root / "val_test"
    gt.mkdir()
    (gt / "val_gcg_coco_mask_gt.json").write_text(json.dumps({"images": imgs, "annotations": m_anns, "categories": [{"id": 1, "name": "object"}]}))
    (gt / "val_gcg_coco_caption_gt.json").write_text(json.dumps({"images": imgs, "annotations": c_anns}))
    pred = root / "pred"
    pred.mkdir()
    for k, (sid, (_, _, caption, preds)) in enumerate(images.items()):
        rec = {"image_id": sid, "caption": caption, "phrases": [t for t, _ in preds], "pred_masks": [m for _, m in preds]}
        (pred / f"{sid}.json").write_text(json.dumps({sid: rec} if k % 2 else rec))  # both forms evaluate.py reads
    return gt, pred


def write_own(root, images):
    root.mkdir(parents=True, exist_ok=True)
    gt = [{"id": sid, "height": H, "width": W, "caption": c, "phrases": [{"text": t, "mask": m} for t, m in gts]} for sid, (c, gts, _, _) in images.items()]
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "pred.jsonl").write_text("".join(json.dumps({"id": sid, "caption": pc, "phrases": [{"text": t, "mask": m} for t, m in ps]}) + "\n"
                                             for sid, (_, _, pc, ps) in images.items()))
    return root / "gt.json", root / "pred.jsonl"


def score(gt, pred, **kw):
    return evaluate_gcg(str(gt), str(pred), progress=False, captions=False, text_similarity=same, **kw)


def test_official_layout_scores_as_own_layout(tmp_path):
    gt, pred = write_official(tmp_path / "glamm", IMAGES)
    official = score(gt, pred)
    own = score(*write_own(tmp_path / "own", IMAGES))
    assert official.metrics == own.metrics and official.records == own.records
    assert official.metrics["mIoU"] == pytest.approx(100.0) and official.metrics["Recall"] == pytest.approx(100.0)
    # either GT file names the pair; the folder takes --split
    for path in (gt / "val_gcg_coco_mask_gt.json", gt / "val_gcg_coco_caption_gt.json"):
        assert score(path, pred).metrics == official.metrics
    with pytest.raises(InputError, match="test_gcg_coco_mask_gt.json"):
        score(gt, pred, split="test")


def test_ap50_equals_cocoeval_run_as_glamm(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, pred = write_official(tmp_path, IMAGES)
    ours = score(gt, pred)
    dets = []
    for sid in IMAGES:  # evaluate.py main(): every mask category 1, score 1.0, in file order
        rec = json.loads((pred / f"{sid}.json").read_text())
        rec = rec.get(sid, rec)
        dets += [{"image_id": sid, "category_id": 1, "segmentation": m, "score": 1.0} for m in rec["pred_masks"]]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt / "val_gcg_coco_mask_gt.json"))
        ev = COCOeval(coco, coco.loadRes(dets), "segm")
        ev.params.catIds = [1]
        ev.evaluate(), ev.accumulate(), ev.summarize()
    assert ours.metrics["AP50"] == pytest.approx(100 * ev.stats[1], abs=1e-9)
    assert ours.metrics["AP"] == pytest.approx(100 * ev.stats[0], abs=1e-9)


def test_phrase_and_mask_counts_differ_as_glamm(tmp_path):
    # sa_2: 2 predicted masks, 1 phrase: IoU cell (0, 0) lies inside the 1x1 text matrix -> TP 1.
    # sa_3: 2 GT masks, 1 label; the best IoU cell is (GT 1, pred 0), outside the 1x1 text
    # matrix: evaluate.py's IndexError is caught, the image adds its 1 label and no TP.
    # Recall = (2 + 1 + 0) / (2 + 1 + 1) = 75; mIoU 100 (masks only).
    images = {"sa_1": IMAGES["sa_1"],
              "sa_2": ("the sky", [("the sky", rect(0, 3))], "the sky", [("the sky", rect(0, 3)), ("", rect(8, 10))]),
              "sa_3": ("a boat", [("a boat", rect(0, 2)), ("", rect(6, 8))], "a boat", [("a boat", rect(6, 8))])}
    gt, pred = write_official(tmp_path, images)
    # drop the padding texts: GLaMM's files list only the real phrases
    cap = json.loads((gt / "val_gcg_coco_caption_gt.json").read_text())
    for a in cap["annotations"]:
        a["labels"] = [t for t in a["labels"] if t]
    (gt / "val_gcg_coco_caption_gt.json").write_text(json.dumps(cap))
    rec = json.loads((pred / "sa_2.json").read_text())
    rec["sa_2"]["phrases"] = ["the sky"]
    (pred / "sa_2.json").write_text(json.dumps(rec))
    res = score(gt, pred)
    assert res.metrics["Recall"] == pytest.approx(75.0)
    assert res.metrics["mIoU"] == pytest.approx(100.0)
    assert [r["tp"] for r in res.records] == [2, 1, 0] and [r["n_gt"] for r in res.records] == [2, 1, 1]
    assert any("different number of phrases and masks" in w for w in res.warnings)


def test_missing_and_extra_prediction_files_and_several_captions(tmp_path):
    gt, pred = write_official(tmp_path, IMAGES, extra_captions={"sa_1": ["two pets"]})
    (pred / "sa_2.json").unlink()
    (pred / "summary.json").write_text("{}")
    res = score(gt, pred)
    assert any("1 of 2 image(s) have no prediction file" in w for w in res.warnings)
    assert any("1 prediction file(s) in the prediction folder" in w for w in res.warnings)
    assert res.records[0]["ref_caption"] == ["a dog and a cat", "two pets"] and res.records[1]["ref_caption"] == "the sky"
    assert res.metrics["mIoU"] == pytest.approx(50.0)


def _refused(tmp_path, edit) -> str:
    gt, pred = write_official(tmp_path, IMAGES)
    edit(gt, pred)
    with pytest.raises(InputError) as exc:
        score(gt, pred)
    assert "\n" not in str(exc.value)
    return str(exc.value)


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_refusals_are_one_line(tmp_path):
    mask, cap = "val_gcg_coco_mask_gt.json", "val_gcg_coco_caption_gt.json"
    msg = _refused(tmp_path / "1", lambda g, p: _edit_json(p / "sa_1.json", lambda d: d.pop("pred_masks")))
    assert "sa_1.json" in msg and "pred_masks" in msg
    msg = _refused(tmp_path / "2", lambda g, p: _edit_json(g / mask, lambda d: d["annotations"][0].update(category_id=2)))
    assert mask in msg and "image 'sa_1'" in msg and "category_id" in msg
    msg = _refused(tmp_path / "3", lambda g, p: _edit_json(g / cap, lambda d: d["annotations"][0].pop("labels")))
    assert cap in msg and "labels" in msg
    msg = _refused(tmp_path / "4", lambda g, p: _edit_json(g / cap, lambda d: (d["images"].pop(), d["annotations"].pop())))
    assert "different images" in msg
    msg = _refused(tmp_path / "5", lambda g, p: _edit_json(p / "sa_1.json", lambda d: d.update(pred_masks=[rect(0, 2) | {"size": [5, 20]}])))
    assert "sa_1.json" in msg and "pred_masks 0" in msg
    msg = _refused(tmp_path / "6", lambda g, p: _edit_json(g / mask, lambda d: d["images"][0].update(id="../x")) or _edit_json(g / cap, lambda d: d["images"][0].update(id="../x")) or _edit_json(g / mask, lambda d: d["annotations"][0].update(image_id="../x")) or _edit_json(g / mask, lambda d: d["annotations"][1].update(image_id="../x")) or _edit_json(g / cap, lambda d: d["annotations"][0].update(image_id="../x")))
    assert "not a plain file name" in msg


def test_cli_reads_the_official_layout_and_refuses_in_one_line(tmp_path):
    import subprocess
    import sys

    gt, pred = write_official(tmp_path, IMAGES)
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "psalm_bench", "eval", "--task", "gcg", "--pred", str(pred), "--no-captions", "-q"]
    run = subprocess.run([*cmd, "--gt", str(gt / "val_gcg_coco_mask_gt.json"), "--json", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["metrics"]["AP50"] == pytest.approx(score(gt, pred).metrics["AP50"])
    assert "gt_sha256" in result["provenance"]
    run = subprocess.run([*cmd, "--gt", str(gt), "--split", "test"], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "test_gcg_coco_mask_gt.json" in run.stderr
