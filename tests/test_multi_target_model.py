"""What reproduce's MUSE and GCG rows are made of: the model's per-question
objects (proposals above the threshold, duplicates suppressed, top-1 when none
passes), the GCG files built from instance detections, each checked on hand-made inputs
(the whole-image baselines: tests/test_baselines.py, no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from psalm_bench.masks import encode  # noqa: E402
from psalm_bench.model.predict_multi import gcg_from_instances, muse_masks  # noqa: E402

H = W = 10


def _logits(*rects) -> torch.Tensor:
    out = torch.full((len(rects), H, W), -8.0)
    for q, (r0, r1) in enumerate(rects):
        out[q, r0:r1] = 8.0
    return out


def test_muse_masks_keep_proposals_above_threshold_without_duplicates():
    masks = _logits((0, 2), (0, 2), (5, 8), (8, 10))  # q1 duplicates q0
    seg = torch.tensor([3.0, 2.0, 1.0, -3.0])  # sigmoid: 0.95, 0.88, 0.73, 0.05 (mask score ~1)
    out = muse_masks(seg, masks)
    assert [int(m.sum()) for m in out] == [20, 30] and out[0][:2].all() and out[1][5:8].all()
    # none passes: the top-1 proposal
    out = muse_masks(torch.tensor([-3.0, -2.0, -4.0, -5.0]), masks)
    assert len(out) == 1 and out[0][:2].all() and int(out[0].sum()) == 20


def _rle(r0, r1):
    m = np.zeros((H, W), np.uint8)
    m[r0:r1] = 1
    rle = encode(m)
    return {"size": [H, W], "counts": rle["counts"].decode() if isinstance(rle["counts"], bytes) else rle["counts"]}


def test_gcg_from_instances_takes_the_top_detections_as_phrases(tmp_path: Path):
    catalog = {"images": [{"id": 7, "file_name": "000000000007.jpg", "height": H, "width": W}],
               "categories": [{"id": 1, "name": "circle"}, {"id": 2, "name": "star"}], "annotations": []}
    (tmp_path / "cat.json").write_text(json.dumps(catalog))
    dets = [{"image_id": 7, "category_id": 1, "segmentation": _rle(0, 2), "score": 0.9},
            {"image_id": 7, "category_id": 1, "segmentation": _rle(0, 2), "score": 0.8},  # duplicate: suppressed
            {"image_id": 7, "category_id": 2, "segmentation": _rle(5, 9), "score": 0.5}]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    caption_gt = {"images": [{"id": "000000000007", "file_name": "000000000007.jpg", "height": H, "width": W}], "annotations": []}
    (tmp_path / "cap.json").write_text(json.dumps(caption_gt))
    out = gcg_from_instances(tmp_path / "dets.json", tmp_path / "cat.json", tmp_path / "cap.json", tmp_path / "pred")
    rec = json.loads((out / "000000000007.json").read_text())
    assert rec["caption"] == "A picture of the circle and the star." and rec["phrases"] == ["the circle", "the star"]
    assert rec["pred_masks"] == [_rle(0, 2), _rle(5, 9)]

