import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from psalm_bench import InputError, evaluate
from psalm_bench.evaluators.instance import ImageGT, InstanceEvaluator
from psalm_bench.formats.coco import load_detections, load_instances

from conftest import assert_one_line_error, expected, fixture_cases, fixture_options, needs_fixtures, run_cli


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("instance"), ids=lambda p: p.name)
def test_fixture_matches_pycocotools(case: Path) -> None:
    exp = expected(case)
    result = evaluate("instance", case / exp["gt"], case / exp["pred"], **fixture_options(case))
    for name, value in exp["metrics"].items():
        assert math.isclose(result.metrics[name], value, abs_tol=1e-6), name
    assert result.params["protocol"] == "pycocotools"


@needs_fixtures
def test_sharded_updates_merge_to_the_same_numbers() -> None:
    case = fixture_cases("instance")[0]
    gt = load_instances(case / "gt.json")
    dets = load_detections(case / "pred.json", gt).by_image()
    per_image = gt.annotations_by_image()
    whole = InstanceEvaluator(gt.categories)
    shards = [InstanceEvaluator(gt.categories), InstanceEvaluator(gt.categories)]
    for k, (image_id, anns) in enumerate(sorted(per_image.items())):
        sample = (ImageGT(gt.images[image_id], anns), dets.get(image_id, []))
        whole.update(*sample)
        shards[k % 2].update(*sample)
    merged = shards[0].merge(shards[1]).compute()
    assert merged.metrics == whole.compute().metrics


@pytest.fixture
def case_copy(tmp_path: Path) -> Path:
    if not (fixture_cases("instance") and fixture_cases("instance")[0].is_dir()):
        pytest.skip("fixtures absent")
    target = tmp_path / "case"
    shutil.copytree(fixture_cases("instance")[0], target)
    return target


def _edit_pred(case: Path, edit) -> None:
    preds = json.loads((case / "pred.json").read_text())
    edit(preds)
    (case / "pred.json").write_text(json.dumps(preds))


@needs_fixtures
@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda p: p[3].update(image_id=987654321), ["pred.json", "[3]", "image_id 987654321 is not in the ground truth"]),
        (lambda p: p[1].update(score=float("nan")), ["pred.json", "[1]", "score", "nan"]),
        (lambda p: p[4]["segmentation"].update(size=[10, 10]), ["pred.json", "[4]", "mask size 10x10 differs"]),
    ],
    ids=["unknown-image", "nan-score", "mask-size"],  # unknown categories and negative scores are scored: tests/test_conformance.py
)
def test_bad_predictions_stop_with_one_line(case_copy: Path, tmp_path: Path, edit, fragments) -> None:
    _edit_pred(case_copy, edit)
    out = tmp_path / "result.json"
    run = run_cli("eval", "--task", "instance", "--gt", case_copy / "gt.json", "--pred", case_copy / "pred.json", "--json", out)
    assert_one_line_error(run, *fragments)
    assert not out.exists()


@needs_fixtures
def test_json_that_does_not_parse(case_copy: Path) -> None:
    (case_copy / "pred.json").write_text('[{"image_id": 1,')
    run = run_cli("eval", "--task", "instance", "--gt", case_copy / "gt.json", "--pred", case_copy / "pred.json")
    assert_one_line_error(run, "pred.json", "not valid JSON")


@needs_fixtures
def test_gt_annotation_with_unknown_category(case_copy: Path) -> None:
    gt = json.loads((case_copy / "gt.json").read_text())
    gt["annotations"][0]["category_id"] = 999
    (case_copy / "gt.json").write_text(json.dumps(gt))
    # COCOeval never scores it (getAnnIds over the listed categories): left out, one warning
    result = evaluate("instance", case_copy / "gt.json", case_copy / "pred.json")
    assert any("1 annotation(s) of an image or category not listed in the file ignored" in w for w in result.warnings)


@needs_fixtures
def test_missing_area_range_is_null_with_a_warning(tmp_path: Path) -> None:
    case = fixture_cases("instance")[0]
    gt = json.loads((case / "gt.json").read_text())
    gt["annotations"] = [a for a in gt["annotations"] if a["area"] >= 32 ** 2]  # no small objects left
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    result = evaluate("instance", tmp_path / "gt.json", case / "pred.json")
    assert result.metrics["APs"] is None and result.metrics["ARs"] is None
    assert any("APs" in w for w in result.warnings)


def test_unknown_iou_type_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="iou-type"):
        evaluate("instance", tmp_path / "gt.json", tmp_path / "pred.json", iou_type="keypoints")


@needs_fixtures
@pytest.mark.parametrize("native", [True, False])
def test_size_screen_pairs_each_mask_with_its_image(case_copy: Path, monkeypatch, native: bool) -> None:
    """Images of several sizes: a mask carrying another image's (valid) size is caught."""
    import psalm_bench.formats.coco as coco_module
    from psalm_bench.formats.coco import load_instances, rle_sizes_match_images

    if not native:
        monkeypatch.setattr(coco_module, "_scan_ids_and_sizes", lambda data: (
            np.array(coco_module._IMAGE_ID.findall(data)).astype(np.int64),
            np.array(coco_module._RLE_SIZE.findall(data)).astype(np.int64).reshape(-1, 2),
        ))
    gt = load_instances(case_copy / "gt.json")
    sizes = {(i.height, i.width) for i in gt.images.values()}
    assert len(sizes) > 1
    preds = json.loads((case_copy / "pred.json").read_text())
    assert rle_sizes_match_images(case_copy / "pred.json", gt, len(preds))
    first = gt.images[preds[0]["image_id"]]
    other = next(hw for hw in sizes if hw != (first.height, first.width))
    preds[0]["segmentation"]["size"] = list(other)
    (case_copy / "pred.json").write_text(json.dumps(preds))
    assert not rle_sizes_match_images(case_copy / "pred.json", gt, len(preds))
    with pytest.raises(InputError, match=r"\[0\].*mask size"):
        evaluate("instance", case_copy / "gt.json", case_copy / "pred.json")
