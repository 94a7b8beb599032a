"""PixelLM's MUSE release layout (muse_val.json) scores exactly as psalm-bench's own.

The same items are written twice - as PixelLM's records (``questions``,
``answers`` of annotations with ``segmentation``, ``ann_list``) and in
psalm-bench's layout - and must give identical metrics and records; the
numbers are also checked by hand (10 x 10 images, rectangle masks).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.evaluators.multi_target import evaluate_muse
from psalm_bench.masks import encode

H = W = 10


def rect(r0: int, r1: int, c0: int, c1: int) -> dict:
    m = np.zeros((H, W), dtype=np.uint8)
    m[r0:r1, c0:c1] = 1
    rle = encode(m)
    return {"size": rle["size"], "counts": rle["counts"].decode() if isinstance(rle["counts"], bytes) else rle["counts"]}


def poly(r0: int, r1: int, c0: int, c1: int) -> list[list[float]]:
    """The same rectangle as a COCO polygon (pycocotools rasterises pixel corners)."""
    return [[c0, r0, c1, r0, c1, r1, c0, r1]]


def ann(seg, name: str = "thing") -> dict:
    return {"segmentation": seg, "bbox": [0, 0, 1, 1], "category_id": 1, "category_name": name, "rephrased_name": name}


# Record 0 (by file name): two questions. q0: GT rows 0-1; q1: GT rows 4-5 and 8-9.
# Predictions: q0 -> [rows 0-1, rows 8-9], q1 -> [rows 4-5]. 3 GT, 3 predictions: max_num 3,
# 4 pairs with IoU 1, 0, 1, 0 -> per-item IoU 2/3 (PITFALLS 13); I = 20 + 20, U = 20 + 20 + 20 + 20.
# Record 1 (id 42): one question, GT rows 0-2 (30 px) given as a polygon; prediction rows 0-1
# (20 px): IoU 2/3, I 20, U 30.
GT_Q = [[rect(0, 2, 0, 10)], [rect(4, 6, 0, 10), rect(8, 10, 0, 10)]]
OFFICIAL = [
    {"file_name": "COCO_train2014_000000000009.jpg", "height": H, "width": W,
     "ann_list": [ann(s) for q in GT_Q for s in q],
     "questions": ["which one is on top?", "which ones are below?"],
     "answers": [[ann(s) for s in q] for q in GT_Q]},
    {"id": 42, "coco_url": "http://images.cocodataset.org/val2017/000000000042.jpg", "height": H, "width": W,
     "ann_list": [ann(poly(0, 3, 0, 10))], "questions": ["what is the band?"], "answers": [[ann(poly(0, 3, 0, 10))]]},
]
OWN = [
    {"id": "COCO_train2014_000000000009.jpg", "height": H, "width": W,
     "questions": [{"question": "which one is on top?", "masks": GT_Q[0]}, {"question": "which ones are below?", "masks": GT_Q[1]}]},
    {"id": 42, "height": H, "width": W, "question": "what is the band?", "masks": [rect(0, 3, 0, 10)]},
]
PRED = [
    {"id": "COCO_train2014_000000000009.jpg", "questions": [{"masks": [rect(0, 2, 0, 10), rect(8, 10, 0, 10)]}, {"masks": [rect(4, 6, 0, 10)]}]},
    {"id": 42, "masks": [rect(0, 2, 0, 10)]},
]


def files(tmp_path, gt):
    g = tmp_path / "muse_val.json"
    g.write_text(json.dumps(gt))
    p = tmp_path / "pred.jsonl"
    p.write_text("".join(json.dumps(line) + "\n" for line in PRED))
    return str(g), str(p)


@pytest.mark.parametrize("protocol", ["pixellm", "per-image"])
def test_official_layout_scores_as_own_layout(tmp_path, protocol):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    official = evaluate_muse(*files(tmp_path / "a", OFFICIAL), protocol=protocol, progress=False)
    own = evaluate_muse(*files(tmp_path / "b", OWN), protocol=protocol, progress=False)
    assert official.metrics == own.metrics
    assert official.records == own.records
    if protocol == "per-image":  # mean(2/3, 2/3); cIoU (40 + 20) / (80 + 30)
        assert official.metrics["gIoU"] == pytest.approx(200 / 3, abs=1e-9)
        assert official.metrics["cIoU"] == pytest.approx(100 * 60 / 110, abs=1e-9)
    else:  # PixelLM: (1/(20+1e-5)*20 * 2 + 20/(30+1e-5)) / (3 + 1 + 1e-5)
        expected = (2 * 20 / (20 + 1e-5) + 20 / (30 + 1e-5)) / (4 + 1e-5)
        assert official.metrics["gIoU"] == pytest.approx(100 * expected, abs=1e-9)


def _bad(tmp_path, mutate) -> str:
    data = json.loads(json.dumps(OFFICIAL))
    mutate(data)
    g, p = files(tmp_path, data)
    with pytest.raises(InputError) as exc:
        evaluate_muse(g, p, progress=False)
    msg = str(exc.value)
    assert "\n" not in msg and "muse_val.json" in msg
    return msg


def test_official_layout_refusals_are_one_line(tmp_path):
    assert "ann_list" in _bad(tmp_path, lambda d: d[0].update(ann_list=[]))
    assert "one annotation list per question" in _bad(tmp_path, lambda d: d[0]["answers"].pop())
    assert "record 1 (id 42): question 0" in _bad(tmp_path, lambda d: d[1]["answers"][0][0].pop("segmentation"))
    assert "differs from image size" in _bad(tmp_path, lambda d: d[0].update(height=12))
    assert "needs 'id', 'file_name' or 'coco_url'" in _bad(tmp_path, lambda d: d[0].pop("file_name"))
    assert "duplicate id" in _bad(tmp_path, lambda d: d[1].update(id="COCO_train2014_000000000009.jpg"))
