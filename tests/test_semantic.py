import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psalm_bench import InputError, evaluate
from psalm_bench.evaluators.semantic import SemanticEvaluator

from conftest import FIXTURES, assert_one_line_error, expected, fixture_cases, fixture_options, needs_fixtures, run_cli


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("semantic"), ids=lambda p: p.name)
@pytest.mark.parametrize("workers", [1, 2])
def test_fixture_matches_detectron2(case: Path, workers: int) -> None:
    exp = expected(case)
    result = evaluate("semantic", case / exp["gt"], case / exp["pred"], workers=workers, progress=False, **fixture_options(case))
    for name, value in exp["metrics"].items():
        assert math.isclose(result.metrics[name], value, abs_tol=1e-6), name


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("semantic"), ids=lambda p: p.name)
def test_mmseg_protocol_counts_predicted_only_classes_as_zero(case: Path) -> None:
    """The mmseg protocol equals hotcoco's (mmseg-style) semantic evaluator and
    is lower than detectron2's wherever a class is only predicted."""
    import hotcoco.semantic

    exp = expected(case)
    options = fixture_options(case)
    ours = evaluate("semantic", case / exp["gt"], case / exp["pred"], protocol="mmseg", progress=False, **options)
    classes = json.loads(options["classes"].read_text()) if "classes" in options else options["num_classes"]
    reference = hotcoco.semantic.SemanticEval(classes, ignore_index=255)
    reference.update_folders(str(case / exp["gt"]), str(case / exp["pred"]))
    assert math.isclose(ours.metrics["mIoU"], reference.results()["mIoU"] * 100, abs_tol=1e-6)
    assert ours.metrics["mIoU"] < exp["metrics"]["mIoU"] - 1.0
    assert math.isclose(ours.metrics["pACC"], exp["metrics"]["pACC"], abs_tol=1e-9)


def test_hand_computed_confusion() -> None:
    """Two classes, one void pixel, one pixel predicted as a class absent from GT."""
    gt = np.array([[0, 0, 1, 255]], dtype=np.uint8)
    pred = np.array([[0, 2, 1, 1]], dtype=np.uint8)
    evaluator = SemanticEvaluator(["a", "b", "c"])
    evaluator.update(gt, pred)
    result = evaluator.compute()
    # a: tp 1, gt 2, pred 1 -> IoU 1/2; b: tp 1, gt 1, pred 1 -> 1; c only predicted
    assert result.metrics["mIoU"] == pytest.approx(75.0)
    assert result.metrics["pACC"] == pytest.approx(200 / 3)
    assert result.metrics["mACC"] == pytest.approx(75.0)
    assert result.metrics["fwIoU"] == pytest.approx(100 * (2 / 3 * 0.5 + 1 / 3 * 1.0))
    assert result.breakdown["c"]["IoU"] is None
    mmseg = SemanticEvaluator(["a", "b", "c"], protocol="mmseg")
    mmseg.update(gt, pred)
    assert mmseg.compute().metrics["mIoU"] == pytest.approx(50.0)


def test_unlabelled_prediction_counts_as_a_miss() -> None:
    evaluator = SemanticEvaluator(["a", "b"])
    evaluator.update(np.array([[0, 1]], dtype=np.uint8), np.array([[255, 1]], dtype=np.uint8))
    result = evaluator.compute()
    assert result.breakdown["a"]["IoU"] == 0.0
    assert result.metrics["pACC"] == pytest.approx(50.0)


def test_merge_equals_one_pass() -> None:
    rng = np.random.default_rng(0)
    maps = [(rng.integers(0, 5, (20, 30), dtype=np.uint8), rng.integers(0, 5, (20, 30), dtype=np.uint8)) for _ in range(6)]
    names = list("abcde")
    whole, left, right = (SemanticEvaluator(names) for _ in range(3))
    for k, (g, p) in enumerate(maps):
        whole.update(g, p)
        (left if k < 3 else right).update(g, p)
    assert left.merge(right).compute().metrics == whole.compute().metrics


def test_uint16_maps_match_uint8() -> None:
    rng = np.random.default_rng(1)
    g = rng.integers(0, 4, (16, 16), dtype=np.uint8)
    p = rng.integers(0, 4, (16, 16), dtype=np.uint8)
    small, wide = SemanticEvaluator(list("abcd")), SemanticEvaluator(list("abcd"))
    small.update(g, p)
    wide.update(g.astype(np.uint16), p.astype(np.uint16))
    assert small.compute().metrics == wide.compute().metrics


@pytest.fixture
def voc_copy(tmp_path: Path) -> Path:
    source = FIXTURES / "semantic" / "voc21_palette"
    if not source.is_dir():
        pytest.skip("fixtures absent")
    shutil.copytree(source, tmp_path / "case")
    return tmp_path / "case"


def _first_pred(case: Path) -> Path:
    return sorted((case / "pred").glob("*.png"))[0]


def test_label_above_class_count(voc_copy: Path, tmp_path: Path) -> None:
    target = _first_pred(voc_copy)
    labels = np.array(Image.open(target))
    labels[0, 0] = 30
    Image.fromarray(labels).save(target)
    out = tmp_path / "r.json"
    run = run_cli("eval", "--task", "semantic", "--gt", voc_copy / "gt", "--pred", voc_copy / "pred", "--num-classes", "21", "--json", out)
    assert_one_line_error(run, target.name, "label 30 is not a class index")
    assert not out.exists()


def test_missing_prediction_png(voc_copy: Path) -> None:
    target = _first_pred(voc_copy)
    target.unlink()
    run = run_cli("eval", "--task", "semantic", "--gt", voc_copy / "gt", "--pred", voc_copy / "pred", "--num-classes", "21")
    assert_one_line_error(run, target.name, f"image {target.stem}", "prediction PNG missing")


def test_prediction_of_another_size(voc_copy: Path) -> None:
    target = _first_pred(voc_copy)
    Image.fromarray(np.array(Image.open(target))[:-2]).save(target)
    run = run_cli("eval", "--task", "semantic", "--gt", voc_copy / "gt", "--pred", voc_copy / "pred", "--num-classes", "21")
    assert_one_line_error(run, target.name, "differs from ground truth")


def test_extra_prediction_needs_ignore_extra(voc_copy: Path) -> None:
    shutil.copy(_first_pred(voc_copy), voc_copy / "pred" / "not_in_gt.png")
    run = run_cli("eval", "--task", "semantic", "--gt", voc_copy / "gt", "--pred", voc_copy / "pred", "--num-classes", "21")
    assert_one_line_error(run, "not_in_gt.png", "--ignore-extra")
    result = evaluate("semantic", voc_copy / "gt", voc_copy / "pred", num_classes=21, ignore_extra=True, progress=False)
    assert math.isclose(result.metrics["mIoU"], expected(voc_copy)["metrics"]["mIoU"], abs_tol=1e-9)


def test_ignore_label_must_not_be_a_class(voc_copy: Path) -> None:
    with pytest.raises(InputError, match="ignore-label 3"):
        evaluate("semantic", voc_copy / "gt", voc_copy / "pred", num_classes=21, ignore_label=3)


def test_classes_are_required(voc_copy: Path) -> None:
    run = run_cli("eval", "--task", "semantic", "--gt", voc_copy / "gt", "--pred", voc_copy / "pred")
    assert_one_line_error(run, "--classes FILE or --num-classes N")


@needs_fixtures
def test_ground_truth_derived_from_panoptic(tmp_path: Path) -> None:
    """--gt panoptic.json: segments of one class merged, void ignored; a
    prediction equal to the derived map scores 100, and one class wrong
    everywhere lowers exactly that class."""
    from psalm_bench.formats.panoptic import load_panoptic_gt
    from psalm_bench.formats.semantic import load_sample, samples_from_panoptic

    case = FIXTURES / "panoptic" / "coco_davis"
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    panoptic = load_panoptic_gt(case / "gt.json")
    for image in panoptic.images:
        (pred_dir / (Path(image.file_name).stem + ".png")).write_bytes(b"")
    names, samples = samples_from_panoptic(case / "gt.json", pred_dir)
    assert names == [c.name for c in panoptic.categories.values()]
    for sample in samples:
        from psalm_bench.formats.semantic import read_panoptic_as_labels

        labels = read_panoptic_as_labels(sample.gt, 255)
        assert (labels != 255).any()
        Image.fromarray(labels).save(sample.pred)
    perfect = evaluate("semantic", case / "gt.json", pred_dir, progress=False)
    assert perfect.metrics["mIoU"] == 100.0 and perfect.metrics["pACC"] == 100.0
    gt_map, _ = load_sample(samples[0])
    assert gt_map.labels.dtype == np.uint8


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("semantic"), ids=lambda p: p.name)
def test_pure_python_fallbacks_give_the_same_numbers(case: Path, monkeypatch) -> None:
    import psalm_bench.pixelops as pixelops
    import psalm_bench.pngdecode as pngdecode

    exp = expected(case)
    with_native = evaluate("semantic", case / exp["gt"], case / exp["pred"], progress=False, **fixture_options(case))
    monkeypatch.setattr(pixelops, "_native", None)
    monkeypatch.setattr(pngdecode, "_filters", None)
    without = evaluate("semantic", case / exp["gt"], case / exp["pred"], progress=False, **fixture_options(case))
    assert without.metrics == with_native.metrics


@needs_fixtures
def test_panoptic_derived_labels_equal_with_and_without_the_fast_decoder(monkeypatch) -> None:
    import psalm_bench.pngdecode as pngdecode
    from psalm_bench.formats.semantic import read_panoptic_as_labels, samples_from_panoptic

    case = FIXTURES / "panoptic" / "coco_davis"
    _, samples = samples_from_panoptic(case / "gt.json", case / "pred", ignore_extra=True)
    fast = [read_panoptic_as_labels(s.gt, 255) for s in samples]
    monkeypatch.setattr(pngdecode, "_filters", None)
    slow = [read_panoptic_as_labels(s.gt, 255) for s in samples]
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)


def test_per_image_records_add_up_to_the_confusion() -> None:
    rng = np.random.default_rng(4)
    evaluator = SemanticEvaluator(list("abc"))
    for _ in range(3):
        evaluator.update(rng.integers(0, 3, (8, 9), dtype=np.uint8), rng.integers(0, 3, (8, 9), dtype=np.uint8))
    result = evaluator.compute()
    total = np.zeros(evaluator.confusion.size, dtype=np.int64)
    for record in result.records:
        total[record["cells"]] += record["counts"]
    np.testing.assert_array_equal(total.reshape(evaluator.confusion.shape), evaluator.confusion)
    assert len(result.records) == 3
