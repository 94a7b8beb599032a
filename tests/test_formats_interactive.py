"""formats/interactive.py: COCO-Interactive ground truth (as build-interactive writes it) and prediction lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.formats.coco import write_coco_json
from psalm_bench.formats.interactive import PROMPTS, load_interactive_gt, load_interactive_predictions, prediction_record
from psalm_bench.formats.jsonl import write_jsonl
from psalm_bench.generators.interactive import build_interactive
from psalm_bench.masks import decode, encode

H, W = 40, 48


@pytest.fixture(scope="module")
def interactive_gt(tmp_path_factory) -> Path:
    """A two-image COCO file (a polygon, an RLE and a crowd instance) through build-interactive."""
    root = tmp_path_factory.mktemp("interactive")
    blob = np.zeros((H, W), np.uint8)
    blob[20:34, 25:44] = 1
    coco = {
        "images": [{"id": 3, "height": H, "width": W, "file_name": "3.jpg"}, {"id": 4, "height": H, "width": W, "file_name": "4.jpg"}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": 30, "image_id": 3, "category_id": 1, "segmentation": [[4, 4, 22, 4, 22, 18, 4, 18]], "area": 252.0, "bbox": [4, 4, 18, 14], "iscrowd": 0},
            {"id": 31, "image_id": 3, "category_id": 1, "segmentation": encode(blob), "area": 266, "bbox": [25, 20, 19, 14], "iscrowd": 0},
            {"id": 40, "image_id": 4, "category_id": 1, "segmentation": encode(blob), "area": 266, "bbox": [25, 20, 19, 14], "iscrowd": 1},
        ],
    }
    instances = write_coco_json(root / "instances.json", coco)
    out = root / "coco_interactive.json"
    build_interactive(instances, out, seed=0, progress=False)
    return out


def test_ground_truth_as_build_interactive_writes_it(interactive_gt: Path) -> None:
    gt = load_interactive_gt(interactive_gt)
    assert gt.n_instances() >= 2
    anns = {a.id: a for image in gt.images for a in image.anns}
    assert {30, 31} <= set(anns) and gt.images[0].image_id == 3
    polygon = anns[30]
    assert polygon.polygons is not None and decode(polygon.rle)[4:18, 4:22].all()
    assert anns[31].polygons is None and decode(anns[31].rle).sum() == 14 * 19
    for prompt in PROMPTS:
        mask = polygon.prompts[prompt]
        assert mask is None or tuple(mask["size"]) == (H, W)
    box = decode(polygon.prompts["box"])
    assert box.any()


def test_predictions_round_trip(interactive_gt: Path, tmp_path: Path) -> None:
    gt = load_interactive_gt(interactive_gt)
    mask = np.zeros((H, W), np.uint8)
    mask[5:15, 5:20] = 1
    lines = [prediction_record(3, 30, prompt, encode(mask)) for prompt in PROMPTS]
    assert list(lines[0]) == ["image_id", "ann_id", "prompt", "segmentation"]
    preds = load_interactive_predictions(write_jsonl(tmp_path / "p.jsonl", lines), gt)
    assert sorted(preds.masks) == sorted((30, p) for p in PROMPTS)
    assert np.array_equal(decode(preds.masks[(30, "box")]), mask)
    wrong_image = write_jsonl(tmp_path / "w.jsonl", [prediction_record(4, 30, "box", encode(mask))])
    with pytest.raises(InputError, match="not the image of annotation 30"):
        load_interactive_predictions(wrong_image, gt)
    twice = write_jsonl(tmp_path / "t.jsonl", [lines[0], lines[0]])
    with pytest.raises(InputError, match="duplicate prediction for \\(ann_id 30, point\\), first on line 1"):
        load_interactive_predictions(twice, gt)


def test_polygons_kept_compact_and_given_back_as_read(interactive_gt: Path) -> None:
    """Polygons are stored as float64 arrays (8 bytes a coordinate), handed
    back as the coordinate lists of the file; the records stream from the
    file one image at a time, with the same result as from the parsed list."""
    from array import array

    from psalm_bench.formats.interactive import interactive_gt_from_list
    from psalm_bench.jsonio import load_json

    gt = load_interactive_gt(interactive_gt)
    polygon = next(a for image in gt.images for a in image.anns if a.id == 30)
    assert all(isinstance(c, array) and c.typecode == "d" for c in polygon.polygon_coords)
    assert polygon.polygons == [[4.0, 4.0, 22.0, 4.0, 22.0, 18.0, 4.0, 18.0]]
    assert not hasattr(polygon, "__dict__")
    again = interactive_gt_from_list(load_json(interactive_gt), interactive_gt)
    assert again == gt
