"""formats/multi_target.py: MUSE and GCG ground truth and prediction lines, written and read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_api

from psalm_bench.errors import InputError
from psalm_bench.formats.jsonl import write_jsonl
from psalm_bench.formats.multi_target import load_gcg_gt, load_muse_gt, read_gcg_predictions, read_muse_predictions
from psalm_bench.masks import decode, encode

H, W = 10, 14


def _rle(r0: int, c0: int) -> dict:
    m = np.zeros((H, W), np.uint8)
    m[r0:r0 + 3, c0:c0 + 4] = 1
    return encode(m)


def test_muse_round_trip(tmp_path: Path) -> None:
    gt_path = tmp_path / "muse.json"
    gt_path.write_text(json.dumps({"samples": [
        {"id": "a", "height": H, "width": W, "question": "the cups?", "masks": [_rle(0, 0), [[8, 1, 12, 1, 12, 5, 8, 5]]]},
        {"id": 2, "height": H, "width": W, "questions": [{"question": "q1", "masks": [_rle(5, 5)]}, {"question": "q2", "masks": []}]},
    ]}))
    gt = load_muse_gt(gt_path)
    assert [s.id for s in gt] == ["a", 2] and [len(q.masks) for q in gt[1].questions] == [1, 0]
    polygon = mask_api.merge(mask_api.frPyObjects([[8, 1, 12, 1, 12, 5, 8, 5]], H, W))
    assert np.array_equal(decode(gt[0].questions[0].masks[1]), mask_api.decode(polygon))  # rasterised as pycocotools does
    lines = [{"id": "a", "masks": [_rle(0, 1)]}, {"id": 2, "questions": [{"masks": [_rle(5, 5)]}, {"masks": []}]}]
    preds, extra = read_muse_predictions(write_jsonl(tmp_path / "p.jsonl", lines), {s.id: s for s in gt})
    assert extra == 0 and np.array_equal(decode(preds["a"][0][0]), decode(_rle(0, 1))) and preds[2][1] == []
    wrong = write_jsonl(tmp_path / "w.jsonl", [{"id": 2, "masks": []}])
    with pytest.raises(InputError, match="has 2 questions: give 'questions'"):
        read_muse_predictions(wrong, {s.id: s for s in gt})


def test_gcg_round_trip(tmp_path: Path) -> None:
    gt_path = tmp_path / "gcg.json"
    gt_path.write_text(json.dumps([{"id": 1, "height": H, "width": W, "caption": "a cup on a table",
                                    "phrases": [{"text": "a cup", "mask": _rle(0, 0)}, {"text": "a table", "masks": [_rle(5, 0), _rle(5, 6)]}]}]))
    [sample] = load_gcg_gt(gt_path)
    assert [p.text for p in sample.phrases] == ["a cup", "a table"]
    assert decode(sample.phrases[1].mask).sum() == 2 * 12  # two masks: their union
    lines = [{"id": 1, "caption": "a cup", "phrases": [{"text": "a cup", "mask": _rle(0, 0)}]}]
    preds, _ = read_gcg_predictions(write_jsonl(tmp_path / "p.jsonl", lines), {1: sample})
    assert preds[1].caption == "a cup" and preds[1].phrases[0].text == "a cup"
    with pytest.raises(InputError, match="missing 'phrases'"):
        read_gcg_predictions(write_jsonl(tmp_path / "n.jsonl", [{"id": 1, "caption": "x"}]), {1: sample})
