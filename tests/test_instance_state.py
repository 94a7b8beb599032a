"""The per-image COCOeval state and its numpy accumulate: the engine's numbers, bit for bit."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, needs_fixtures
from psalm_bench.evaluators.instance_state import InstanceState, accumulate, from_eval_imgs, state_from_engine, summarize

pytestmark = needs_fixtures

CASES = [("basic", "segm"), ("crowd_and_edge", "segm"), ("crowd_and_edge_bbox", "bbox")]


def _engine(gt: Path, pred: Path, iou_type: str):
    import hotcoco

    coco_gt = hotcoco.COCO(str(gt))
    engine = hotcoco.COCOeval(coco_gt, coco_gt.load_res(str(pred)), iou_type)
    engine.evaluate()
    engine.accumulate()
    with contextlib.redirect_stdout(io.StringIO()):
        engine.summarize()
    return engine


@pytest.mark.parametrize("case,iou_type", CASES)
def test_state_reaccumulates_to_the_engine_and_the_official_numbers(case: str, iou_type: str) -> None:
    folder = FIXTURES / "instance" / case
    engine = _engine(folder / "gt.json", folder / "pred.json", iou_type)
    state = state_from_engine(engine)
    acc = accumulate(state, engine.params.cat_ids)
    assert np.array_equal(acc.precision, np.asarray(engine.eval["precision"]))
    assert np.array_equal(acc.recall, np.asarray(engine.eval["recall"]))
    stats = summarize(acc)
    assert stats == [float(v) for v in engine.stats]  # bit for bit
    expected = json.loads((folder / "expected.json").read_text())["metrics"]
    for name, value in zip(expected, stats):
        assert abs(value * 100.0 - expected[name]) < 1e-6, name


@pytest.mark.parametrize("case,iou_type", CASES)
def test_pycocotools_eval_imgs_give_the_same_state(case: str, iou_type: str) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    folder = FIXTURES / "instance" / case
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(folder / "gt.json"))
        reference = COCOeval(gt, gt.loadRes(str(folder / "pred.json")), iou_type)
        reference.evaluate()
        reference.accumulate()
        reference.summarize()
    ours = state_from_engine(_engine(folder / "gt.json", folder / "pred.json", iou_type))
    theirs = from_eval_imgs(reference.evalImgs, reference.params.areaRng, reference.params.imgIds, reference.params.catIds)
    for name in ("pair_image", "pair_category", "pair_dets", "pair_gt", "score", "tp", "ignored"):
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name
    assert summarize(accumulate(theirs, reference.params.catIds)) == [float(v) for v in reference.stats]


def test_states_of_image_shards_concatenate_to_the_whole(tmp_path: Path) -> None:
    from psalm_bench.generators.coco_workload import main as make_workload

    make_workload([str(tmp_path), "--n-images", "40", "--n-panoptic", "0", "--dets-per-image", "30",
                   "--height", "96", "--width", "128", "--no-progress"])
    engine = _engine(tmp_path / "instances_gt.json", tmp_path / "instances_pred.json", "segm")
    whole = state_from_engine(engine)
    assert summarize(accumulate(whole, engine.params.cat_ids)) == [float(v) for v in engine.stats]
    images = sorted(engine.params.img_ids)
    parts = []
    for chunk in (images[:7], images[7:8], images[8:]):
        engine.params.img_ids = chunk
        engine.evaluate()
        parts.append(state_from_engine(engine))
    merged = InstanceState.concat(parts)
    for name in ("pair_image", "pair_category", "pair_dets", "pair_gt", "score", "tp", "ignored"):
        assert np.array_equal(getattr(merged, name), getattr(whole, name)), name
    # a changed flag changes the numbers: the state is what the metrics come from
    merged.tp[np.flatnonzero(merged.tp[:, 0])[0], 0] = 0
    assert summarize(accumulate(merged, engine.params.cat_ids))[0] != summarize(accumulate(whole, engine.params.cat_ids))[0]
