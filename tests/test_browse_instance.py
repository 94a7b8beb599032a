"""The instance browse view: images ordered by their own AP50 (equal to pycocotools' on
that image), the drawn matching equal to the result's records, and its pages and plots."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, assert_one_line_error, needs_fixtures, run_cli
from psalm_bench import evaluate
from psalm_bench.errors import InputError
from psalm_bench.formats.result_json import read_result
from psalm_bench.leaderboard.browse import BrowseInputs, browse
from psalm_bench.leaderboard.browse_instance import InstanceView


def _boxes_case(tmp: Path, seed: int = 0) -> tuple[Path, Path]:
    """One category, 6 images of boxes; detections jittered, some missing, some spurious."""
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "width": 320, "height": 240, "file_name": f"{i + 1}.jpg"} for i in range(6)]
    anns, dets = [], []
    for image in images:
        for _ in range(int(rng.integers(1, 6))):
            x, y, w, h = rng.uniform(0, 200), rng.uniform(0, 150), rng.uniform(15, 110), rng.uniform(15, 80)
            anns.append({"id": len(anns) + 1, "image_id": image["id"], "category_id": 1, "bbox": [x, y, w, h], "area": w * h,
                         "iscrowd": 0, "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
            if rng.random() < 0.8:
                j = rng.normal(0, 6, 4)
                dets.append({"image_id": image["id"], "category_id": 1, "bbox": [x + j[0], y + j[1], max(2.0, w + j[2]), max(2.0, h + j[3])],
                             "score": round(float(rng.random()), 3)})
        for _ in range(int(rng.integers(0, 3))):
            dets.append({"image_id": image["id"], "category_id": 1, "bbox": [*rng.uniform(0, 200, 2), 30.0, 30.0], "score": round(float(rng.random()), 3)})
    gt, pred = tmp / "gt.json", tmp / "pred.json"
    gt.write_text(json.dumps({"images": images, "categories": [{"id": 1, "name": "box"}], "annotations": anns}))
    pred.write_text(json.dumps(dets))
    return gt, pred


def test_image_ap50_is_pycocotools_ap50_of_that_image(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, pred = _boxes_case(tmp_path)
    result = evaluate("instance", gt, pred, iou_type="bbox", records=True, progress=False)
    result.write_json(tmp_path / "r.json", gt, pred)
    view = InstanceView(BrowseInputs("instance", gt, pred, None, {"iou_type": "bbox"}))
    samples = view.samples(read_result(tmp_path / "r.json"), tmp_path / "r.json")
    assert len(samples) == 6 and len({round(s.score, 6) for s in samples}) > 2
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt))
        dt = coco.loadRes(str(pred))
        for sample in samples:
            engine = COCOeval(coco, dt, "bbox")
            engine.params.imgIds = [sample.handle]
            engine.evaluate()
            engine.accumulate()
            engine.summarize()
            assert sample.score == pytest.approx(engine.stats[1], abs=1e-12), sample.title
    for sample in samples:  # boxes drawn and matched again: the same true positives as the records
        picture = view.draw(sample)
        assert not [n for n in picture.notes if "matches drawn" in n]
        assert sum(row[0] == "matched" for row in picture.table[1:]) == sample.metrics["TP@0.5"]
        assert sum(row[0] == "missed (FN)" for row in picture.table[1:]) == sample.metrics["FN@0.5"]


@pytest.fixture(scope="module")
def crowd_case(tmp_path_factory) -> dict[str, Path]:
    case = FIXTURES / "instance" / "crowd_and_edge"
    if not case.is_dir():
        pytest.skip("fixtures absent")
    work = tmp_path_factory.mktemp("browse-instance")
    result = work / "result.json"
    evaluate("instance", case / "gt.json", case / "pred.json", records=True, progress=False).write_json(result, case / "gt.json", case / "pred.json")
    plain = work / "plain.json"
    evaluate("instance", case / "gt.json", case / "pred.json", progress=False).write_json(plain, case / "gt.json", case / "pred.json")
    return {"case": case, "result": result, "plain": plain}


@needs_fixtures
def test_masks_with_crowd_match_as_the_records_say_and_pages_are_reproducible(crowd_case, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    report = browse(crowd_case["result"], None, None, first, worst=5)
    browse(crowd_case["result"], None, None, second, worst=5)
    assert report.shown == report.n_samples == 5
    pages = [p.read_text() for p in sorted((first / "s").glob("*.html"))]
    scores = [float(re.search(r'<th scope="row" class="left">image AP50</th><td class="right"[^>]*>([-0-9.e]+)</td>', p).group(1)) for p in pages]
    assert scores == sorted(scores)
    assert not any("matches drawn" in p for p in pages)
    joined = "".join(pages)
    assert "matched</td>" in joined and "unmatched (FP)" in joined and "ignored (on a crowd region)" in joined
    index = (first / "index.html").read_text()
    assert 'src="plots/pr-iou.png"' in index and 'src="plots/pr-classes.png"' in index
    for path in sorted(p for p in first.rglob("*") if p.is_file()):
        assert path.read_bytes() == (second / path.relative_to(first)).read_bytes(), path.name


@needs_fixtures
def test_an_instance_result_without_records_asks_for_them(crowd_case, tmp_path):
    with pytest.raises(InputError, match="--records"):
        browse(crowd_case["plain"], None, None, tmp_path / "out")
    run = run_cli("browse", str(crowd_case["plain"]), "--out", str(tmp_path / "cli"))
    assert_one_line_error(run, "--records")


def test_a_box_result_of_mask_detections_draws_their_boxes(tmp_path):
    """--iou-type bbox on detections that give only masks: eval scores their boxes
    (pycocotools' loadRes derives them); browse drew a KeyError traceback, now the
    same boxes, matched to the records' true positives."""
    examples = Path(__file__).resolve().parents[1] / "psalm_bench" / "examples" / "instance"
    gt, pred = examples / "gt.json", examples / "pred.json"
    assert not any("bbox" in d for d in json.loads(pred.read_text()))
    result = evaluate("instance", gt, pred, iou_type="bbox", records=True, progress=False)
    result.write_json(tmp_path / "r.json", gt, pred)
    view = InstanceView(BrowseInputs("instance", gt, pred, None, {"iou_type": "bbox"}))
    samples = view.samples(read_result(tmp_path / "r.json"), tmp_path / "r.json")
    assert len(samples) == 8
    for sample in samples:
        picture = view.draw(sample)
        assert not [n for n in picture.notes if "matches drawn" in n], picture.notes
        assert sum(row[0] == "matched" for row in picture.table[1:]) == sample.metrics["TP@0.5"]
