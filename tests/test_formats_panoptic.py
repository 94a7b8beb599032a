"""formats/panoptic.py: COCO panoptic JSON (formats/coco.write_coco_json) + PNGs (pngio), written and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.formats.coco import write_coco_json
from psalm_bench.formats.panoptic import PanopticSegment, load_panoptic_gt, load_panoptic_pred, read_frame
from psalm_bench.pngio import read_panoptic_ids, write_panoptic_ids

CATS = [{"id": 1, "name": "person", "isthing": 1}, {"id": 2, "name": "sky", "isthing": 0}]


def _write(root: Path, name: str, ids: np.ndarray, segments: list[PanopticSegment], image_id: int = 7) -> Path:
    (root / name).mkdir(parents=True, exist_ok=True)
    write_panoptic_ids(root / name / "7.png", ids)
    infos = [{"id": s.id, "category_id": s.category_id, **({"area": s.area, "iscrowd": int(s.iscrowd)} if s.area is not None else {})} for s in segments]
    return write_coco_json(root / f"{name}.json", {"images": [{"id": 7, "height": 10, "width": 12, "file_name": "7.jpg"}],
                                                   "annotations": [{"image_id": image_id, "file_name": "7.png", "segments_info": infos}],
                                                   "categories": CATS})


def _ids() -> np.ndarray:
    ids = np.zeros((10, 12), np.uint32)
    ids[:4] = 5 + 256 * 3  # a sky segment whose id needs two channels
    ids[5:9, 2:7] = 70000  # a person, all three channels
    return ids


def test_ground_truth_round_trip(tmp_path: Path) -> None:
    ids = _ids()
    segments = [PanopticSegment(5 + 256 * 3, 2, 48.0, False), PanopticSegment(70000, 1, 20.0, True)]
    gt = load_panoptic_gt(_write(tmp_path, "gt", ids, segments))
    assert {c.id: (c.name, c.isthing) for c in gt.categories.values()} == {1: ("person", True), 2: ("sky", False)}
    [ann] = gt.images
    assert ann.image_id == 7 and ann.segments == segments
    png = gt.png_path(ann)
    assert np.array_equal(read_panoptic_ids(png), ids)
    frame = read_frame(png, ann, ground_truth=True)
    assert frame.segment_ids.tolist() == [768 + 5, 70000] and frame.category_ids.tolist() == [2, 1]
    assert frame.areas.tolist() == [48.0, 20.0] and frame.iscrowd.tolist() == [False, True]


def test_prediction_round_trip_against_its_ground_truth(tmp_path: Path) -> None:
    ids = _ids()
    gt = load_panoptic_gt(_write(tmp_path, "gt", ids, [PanopticSegment(773, 2, 48.0), PanopticSegment(70000, 1, 20.0)]))
    pred = load_panoptic_pred(_write(tmp_path, "pred", ids, [PanopticSegment(773, 2), PanopticSegment(70000, 1)]), gt)
    [ann] = pred.images
    assert [(s.id, s.category_id, s.area) for s in ann.segments] == [(773, 2, None), (70000, 1, None)]
    assert pred.untrusted and not pred.extra_ids
    other = load_panoptic_pred(_write(tmp_path, "other", ids, [PanopticSegment(773, 2)], image_id=8), gt)
    assert other.extra_ids == [8] and other.images == []
    with pytest.raises(InputError, match="ground truth does not have"):
        load_panoptic_pred(tmp_path / "other.json", gt, ignore_extra=False)


def test_image_files_are_read_beside_the_checked_dataset(tmp_path: Path) -> None:
    """The photos' file names a viewer (browse) draws on: from ``images``, which the dataset itself never reads."""
    from psalm_bench.formats.panoptic import load_panoptic_image_files

    path = _write(tmp_path, "gt", _ids(), [PanopticSegment(5 + 256 * 3, 2, 48.0, False)])
    assert load_panoptic_image_files(path) == {7: "7.jpg"}
    no_images = write_coco_json(tmp_path / "bare.json", {"annotations": [], "categories": CATS})
    assert load_panoptic_image_files(no_images) == {}
    for doc, fragment in (([1, 2], "got a JSON list"), ({"images": {"id": 7}}, "'images' must be a list"),
                          ({"images": [{"file_name": "a.jpg"}]}, "image has no 'id'"),
                          ({"images": [{"id": "7"}]}, "'id' must be an integer"),
                          ({"images": [{"id": 7, "file_name": 3}]}, "'file_name' must be a string")):
        bad = write_coco_json(tmp_path / "bad.json", doc)
        with pytest.raises(InputError, match=fragment):
            load_panoptic_image_files(bad)
