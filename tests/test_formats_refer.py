"""formats/refer.py: REFER / gRefCOCO ground truth and referring predictions, written and read back."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_api

from psalm_bench.errors import InputError
from psalm_bench.formats.coco import write_coco_json
from psalm_bench.formats.jsonl import write_jsonl
from psalm_bench.formats.refer import (
    load_grefer, load_refer, load_refs_file, prediction_record, read_predictions, sentence_images, write_refs_file,
)
from psalm_bench.masks import decode, encode

H, W = 24, 32
POLY = [[2.0, 2.0, 14.5, 2.0, 14.5, 11.0, 2.0, 11.0]]


def _instances() -> dict:
    square = np.zeros((H, W), np.uint8)
    square[12:20, 20:30] = 1
    return {
        "images": [{"id": 1, "height": H, "width": W, "file_name": "1.jpg"}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": 100, "image_id": 1, "category_id": 1, "segmentation": POLY, "area": 100.0, "bbox": [2, 2, 12, 9], "iscrowd": 0},
            {"id": 101, "image_id": 1, "category_id": 1, "segmentation": encode(square), "area": 80, "bbox": [20, 12, 10, 8], "iscrowd": 0},
            {"id": 102, "image_id": 1, "category_id": 1, "segmentation": encode(square), "area": 80, "bbox": [20, 12, 10, 8], "iscrowd": 1},
        ],
    }


def _refs() -> list[dict]:
    return [
        {"ref_id": 1, "image_id": 1, "ann_id": 100, "split": "val", "sent_ids": [10, 11],
         "sentences": [{"sent_id": 10, "sent": "left box"}, {"sent_id": 11, "sent": "the caf\u00e9 box"}]},
        {"ref_id": 2, "image_id": 1, "ann_id": 101, "split": "testA", "sent_ids": [12], "sentences": [{"sent_id": 12, "sent": "right"}]},
    ]


def test_refs_pickle_round_trip(tmp_path: Path) -> None:
    path = write_refs_file(tmp_path / "refcoco" / "refs(unc).p", _refs())
    assert path.read_bytes() == pickle.dumps(_refs(), protocol=2)  # the REFER tools' protocol
    assert load_refs_file(path) == _refs()
    write_coco_json(tmp_path / "refcoco" / "instances.json", _instances())
    data = load_refer(tmp_path, "refcoco")
    assert [(r.ref_id, r.ann_ids, r.split, r.sent_ids) for r in data.refs] == [(1, (100,), "val", (10, 11)), (2, (101,), "testA", (12,))]
    targets = data.target_masks(data.split_refs("val"))
    expected = mask_api.merge(mask_api.frPyObjects(POLY, H, W))  # pycocotools' annToRLE
    assert np.array_equal(decode(targets[1]), mask_api.decode(expected))
    cv2_mask = decode(data.target_masks(data.split_refs("val"), rasterizer="cv2")[1])
    assert cv2_mask[2:12, 2:15].all() and cv2_mask.sum() == 10 * 13  # int32-truncated vertices, PSALM's fillPoly


def test_grefs_json_round_trip_with_no_target(tmp_path: Path) -> None:
    grefs = [dict(r, ann_id=[r["ann_id"], 102]) for r in _refs()] + [
        {"ref_id": 3, "image_id": 1, "ann_id": [-1], "split": "val", "sent_ids": [13], "sentences": [{"sent_id": 13, "sent": "nothing"}]}]
    path = write_refs_file(tmp_path / "grefs(unc).json", grefs)
    assert load_refs_file(path) == grefs
    write_coco_json(tmp_path / "instances.json", _instances())
    data = load_grefer(tmp_path)
    refs = data.split_refs("val")
    assert [r.no_target for r in refs] == [False, True]
    targets = data.target_masks(refs)
    assert decode(targets[3]).sum() == 0 and decode(targets[1]).sum() > 0  # the crowd annotation 102 left out


def test_predictions_round_trip(tmp_path: Path) -> None:
    write_refs_file(tmp_path / "grefs(unc).json", [dict(r, ann_id=[r["ann_id"]]) for r in _refs()])
    write_coco_json(tmp_path / "instances.json", _instances())
    data = load_grefer(tmp_path)
    mask = np.zeros((H, W), np.uint8)
    mask[3:9, 4:9] = 1
    lines = [prediction_record(10, encode(mask), False), prediction_record(11, encode(np.zeros((H, W), np.uint8)), True)]
    assert list(lines[0]) == ["sent_id", "segmentation", "no_target"] and "no_target" not in prediction_record(1, {})
    path = write_jsonl(tmp_path / "pred.jsonl", lines)
    preds = read_predictions(path, sentence_images(data, data.split_refs("val")), split="val", allow_no_target=True)
    assert sorted(preds.by_sentence) == [10, 11]
    assert np.array_equal(decode(preds.by_sentence[10].mask), mask)
    assert [preds.by_sentence[s].no_target for s in (10, 11)] == [False, True]


def test_a_refs_pickle_that_asks_for_a_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "refs(unc).p"
    path.write_bytes(pickle.dumps([{"ref_id": Path("x")}], protocol=2))
    with pytest.raises(InputError, match="refused: the pickle asks for"):
        load_refs_file(path)
