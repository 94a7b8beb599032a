"""formats/coco.py: COCO instances and results JSON, read and written once."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import orjson
import pytest

from conftest import expected, fixture_cases, fixture_options, needs_fixtures
from psalm_bench.errors import InputError
from psalm_bench.evaluators.instance import evaluate_instance
from psalm_bench.formats.coco import (
    detection, load_catalog, load_detections, load_instances, write_coco_json, write_results,
)
from psalm_bench.masks import encode


def _instances() -> dict:
    mask = np.zeros((20, 30), np.uint8)
    mask[2:9, 3:12] = 1
    rle = encode(mask)
    return {
        "images": [{"id": 1, "height": 20, "width": 30, "file_name": "a.jpg"}, {"id": 2, "height": 20, "width": 30, "file_name": "b.jpg"}],
        "categories": [{"id": 5, "name": "cat"}, {"id": 7, "name": "dog"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 5, "segmentation": rle, "area": 63, "bbox": [3, 2, 9, 7], "iscrowd": 0},
            {"id": 11, "image_id": 2, "category_id": 7, "segmentation": [[1, 1, 10, 1, 10, 10, 1, 10]], "area": 81.0, "bbox": [1, 1, 9, 9], "iscrowd": 0},
            {"id": 12, "image_id": 2, "category_id": 5, "segmentation": {"size": [20, 30], "counts": [5, 10, 585]}, "area": 10, "bbox": [0, 5, 1, 10], "iscrowd": 1},
        ],
    }


def test_instances_round_trip_write_then_read(tmp_path: Path) -> None:
    data = _instances()
    path = write_coco_json(tmp_path / "sub" / "instances.json", data)
    assert path.read_bytes() == orjson.dumps(data)  # compact, the bytes the world's checksums pin
    gt = load_instances(path)
    assert sorted(gt.images) == [1, 2] and gt.images[1].file_name == "a.jpg" and gt.images[2].height == 20
    assert {c.id: c.name for c in gt.categories.values()} == {5: "cat", 7: "dog"}
    assert gt.annotations == data["annotations"] and gt.source == data  # COCO dict form, for the engine
    assert [a["id"] for a in gt.annotations_by_image()[2]] == [11, 12]
    assert not list(tmp_path.rglob("*.partial"))


def test_results_round_trip_write_then_read(tmp_path: Path) -> None:
    data = _instances()
    gt = load_instances(write_coco_json(tmp_path / "gt.json", data))
    mask = np.zeros((20, 30), np.uint8)
    mask[3:9, 3:12] = 1
    dets = [detection(1, 5, encode(mask), 0.9), detection(2, 7, encode(mask), 0.25)]
    path = write_results(tmp_path / "results.json", dets)
    assert orjson.loads(path.read_bytes()) == dets
    assert list(dets[0]) == ["image_id", "category_id", "segmentation", "score"]
    read = load_detections(path, gt)
    assert [(d["image_id"], d["category_id"], d["score"]) for d in read.detections] == [(1, 5, 0.9), (2, 7, 0.25)]
    assert read.detections[0]["segmentation"]["counts"] == dets[0]["segmentation"]["counts"]
    result = evaluate_instance(tmp_path / "gt.json", path, progress=False)
    assert 0 < result.metrics["AP"] <= 100


def test_catalog_reads_instances_and_panoptic_headers(tmp_path: Path) -> None:
    data = _instances()
    catalog = load_catalog(write_coco_json(tmp_path / "i.json", data))
    assert [im["file_name"] for im in catalog["images"]] == ["a.jpg", "b.jpg"] and catalog["categories"][1]["name"] == "dog"
    panoptic = {"images": data["images"], "annotations": [], "categories": [{"id": 1, "name": "sky", "isthing": 0}]}
    assert load_catalog(write_coco_json(tmp_path / "p.json", panoptic))["categories"][0]["isthing"] == 0
    bad = dict(data, images=[{"id": 1}])
    with pytest.raises(InputError) as info:
        load_catalog(write_coco_json(tmp_path / "bad.json", bad))
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in ("bad.json", "images[0]", "each entry needs id and file_name"))
    with pytest.raises(InputError, match="'categories' must be a non-empty list"):
        load_catalog(write_coco_json(tmp_path / "nocat.json", dict(data, categories=[])))
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(InputError, match="got a JSON list"):
        load_catalog(tmp_path / "list.json")


def test_writers_refuse_a_folder_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        write_results(tmp_path / "d", [])


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("instance"), ids=lambda p: p.name)
def test_engine_on_the_parsed_object_matches_pycocotools(case: Path) -> None:
    """The engine is handed the object formats/coco.py parsed (not the file again): the official numbers."""
    exp = expected(case)
    options = fixture_options(case)
    gt = load_instances(case / exp["gt"], check_boxes=options.get("iou_type") == "bbox")
    assert gt.source is not None
    result = evaluate_instance(case / exp["gt"], case / exp["pred"], ground_truth=gt, progress=False, **options)
    for name, value in exp["metrics"].items():
        assert math.isclose(result.metrics[name], value, abs_tol=1e-6), name


def test_the_one_polygon_rasteriser() -> None:
    """masks.polygons_to_rle: pycocotools' annToRLE (polygons merged), or PSALM's cv2.fillPoly on int32 vertices."""
    import cv2
    from pycocotools import mask as mask_api

    from psalm_bench.masks import MaskFormatError, decode, polygons_to_rle, to_rle

    polys = [[1.5, 1.5, 12.2, 2.0, 9.9, 14.7], [15.0, 3.0, 25.0, 3.0, 25.0, 9.5, 15.0, 9.5]]
    want = mask_api.merge(mask_api.frPyObjects(polys, 20, 30))
    assert polygons_to_rle(polys, 20, 30)["counts"] == want["counts"] == to_rle(polys, 20, 30)["counts"]
    one = polys[:1]
    assert polygons_to_rle(one, 20, 30)["counts"] == mask_api.merge(mask_api.frPyObjects(one, 20, 30))["counts"]
    canvas = np.zeros((20, 30), np.uint8)
    for p in polys:
        cv2.fillPoly(canvas, [np.asarray(p).astype(np.int32).reshape(-1, 2)], 1)
    cv2_mask = decode(polygons_to_rle(polys, 20, 30, "cv2"))
    assert np.array_equal(cv2_mask, canvas) and not np.array_equal(cv2_mask, mask_api.decode(want))
    for bad, words in (([], "empty polygon list"), ([[1, 2, 3, 4]], "even number (>= 6)"), ([[1, 2, 3, 4, 5, float("nan")]], "finite"),
                       ([[1, 2, 3, 4, 5, "6"]], "finite")):
        with pytest.raises(MaskFormatError, match=re.escape(words)):
            polygons_to_rle(bad, 20, 30)


def test_one_parse_of_a_coco_file_and_its_one_line_errors(tmp_path: Path) -> None:
    from psalm_bench.formats.coco import read_coco_json

    data = _instances()
    path = write_coco_json(tmp_path / "i.json", data)
    assert read_coco_json(path) == data and read_coco_json(path, ("images", "annotations")) == data
    for body, words in ((b"[]", "expected a COCO instances object with images, annotations"), (b'{"images": []}', "missing 'annotations'"),
                        (b'{"images": [], "annotations": {}, "categories": []}', "'annotations' must be a list")):
        (tmp_path / "bad.json").write_bytes(body)
        with pytest.raises(InputError, match=re.escape(words)) as info:
            read_coco_json(tmp_path / "bad.json")
        assert "\n" not in str(info.value) and "bad.json" in str(info.value)
