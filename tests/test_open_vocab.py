"""Open-vocabulary evaluation: class lists, official label layouts, ov-instance."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from psalm_bench.errors import InputError
from psalm_bench.evaluators import open_vocab as ov
from psalm_bench.evaluators.semantic import SemanticEvaluator


def _png(path: Path, labels: np.ndarray, palette: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    if labels.dtype == np.uint16:
        Image.fromarray(labels).save(path)  # 16-bit grey PNG
        return path
    image = Image.fromarray(labels.astype(np.uint8), mode="L")
    if palette:  # VOC style: palette PNG whose indices are the labels
        colours = np.zeros((256, 3), dtype=np.uint8)
        colours[1:21] = np.random.default_rng(0).integers(0, 255, (20, 3))
        colours[255] = (224, 224, 192)
        image = Image.fromarray(labels.astype(np.uint8), mode="P")
        image.putpalette(colours.ravel().tolist())
    image.save(path)
    return path


# ----------------------------------------------------------------- class lists


@pytest.mark.parametrize("benchmark, n", [("a150", 150), ("cityscapes", 19), ("pc59", 59), ("pc459", 459), ("pas20", 20)])
def test_class_lists_ship_with_the_package(benchmark: str, n: int) -> None:
    meta = ov.load_benchmark(benchmark)
    names = ov.class_names(benchmark)
    assert len(names) == n
    assert len(set(names)) == n
    assert all(isinstance(name, str) and name == name.strip() and name for name in names)
    assert meta["source"] and set(meta["layout"]) == {"official", "prepared"}


def test_known_class_positions() -> None:
    assert ov.class_names("a150")[:3] == ["wall", "building", "sky"] and ov.class_names("a150")[149] == "flag"
    assert ov.class_names("cityscapes")[0] == "road" and ov.class_names("cityscapes")[18] == "bicycle"
    assert ov.class_names("pas20")[14] == "person"
    assert ov.class_names("pc59")[36] == "person" and ov.class_names("pc59")[58] == "wood"
    pc459 = ov.class_names("pc459")
    assert pc459[0] == "accordion" and pc459[-1] == "wool" and "person" in pc459
    things = ov.load_benchmark("a150")["instance_classes"]
    assert len(things) == 100 and things[0] == {"id": 7, "name": "bed"}
    assert [c["name"] for c in ov.load_benchmark("cityscapes")["instance_classes"]] == ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]


# ----------------------------------------------------------- layout conversion


def test_cityscapes_label_ids_map_to_train_ids() -> None:
    layout = ov.get_layout("cityscapes")
    raw = np.array([[7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]], dtype=np.uint8)
    assert layout.convert(raw, "x").tolist() == [list(range(19))]
    voids = np.array([[0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30]], dtype=np.uint8)
    assert (layout.convert(voids, "x") == 255).all()
    with pytest.raises(InputError, match="label 34"):
        layout.convert(np.array([[34]], dtype=np.uint8), "x")


def test_simple_layouts() -> None:
    assert ov.get_layout("a150").convert(np.array([[0, 1, 150]], dtype=np.uint8), "x").tolist() == [[255, 0, 149]]
    assert ov.get_layout("pc59").convert(np.array([[0, 1, 59]], dtype=np.uint8), "x").tolist() == [[255, 0, 58]]
    assert ov.get_layout("pc59", "prepared").convert(np.array([[0, 58, 255]], dtype=np.uint8), "x").tolist() == [[0, 58, 255]]
    assert ov.get_layout("pas20").convert(np.array([[0, 1, 20, 255]], dtype=np.uint8), "x").tolist() == [[255, 0, 19, 255]]
    pc459 = ov.get_layout("pc459")
    assert pc459.convert(np.array([[0, 1, 459]], dtype=np.uint16), "x").tolist() == [[459, 0, 458]]
    prepared = ov.get_layout("pc459", "prepared")
    assert prepared.convert(np.array([[0, 458, 65535]], dtype=np.uint16), "x").tolist() == [[0, 458, 459]]
    for benchmark, layout, bad in [("a150", "official", 151), ("pc59", "official", 60), ("pas20", "official", 21), ("pc459", "official", 460), ("a150", "prepared", 150)]:
        with pytest.raises(InputError, match=f"label {bad} is outside"):
            ov.get_layout(benchmark, layout).convert(np.array([[1, bad]], dtype=np.uint16), "file.png")


def test_voc_palette_png_gives_the_expected_confusion(tmp_path: Path) -> None:
    gt = np.array([[0, 0, 255, 255], [1, 1, 1, 1], [15, 15, 15, 15], [20, 20, 0, 255]], dtype=np.uint8)
    pred = np.array([[0, 3, 5, 255], [0, 0, 14, 255], [14, 14, 14, 14], [19, 0, 19, 19]], dtype=np.uint8)
    _png(tmp_path / "gt" / "2007_000033.png", gt, palette=True)
    assert Image.open(tmp_path / "gt" / "2007_000033.png").mode == "P"
    _png(tmp_path / "pred" / "2007_000033.png", pred)
    evaluator = ov.OVSemanticEvaluator("pas20")
    sample = ov.ov_samples(tmp_path / "gt", tmp_path / "pred", "pas20")[0]
    evaluator.update(*ov.OVLoader("pas20")(sample))
    expected = np.zeros((20, 21), dtype=np.int64)
    expected[0, 0], expected[0, 14], expected[0, 20] = 2, 1, 1  # aeroplane: 2 right, 1 as person, 1 none
    expected[14, 14] = 4  # person
    expected[19, 19], expected[19, 0] = 1, 1  # tvmonitor
    assert np.array_equal(evaluator.confusion, expected)

    result = ov.evaluate_ov_semantic(tmp_path / "gt", tmp_path / "pred", benchmark="pas20", progress=False)
    assert result.task == "ov-semantic"
    assert result.params["benchmark"] == "pas20" and result.params["layout"] == "official"
    assert "255 = border -> ignore" in result.params["layout_rule"]
    assert math.isclose(result.breakdown["aeroplane"]["IoU"], 40.0)
    assert math.isclose(result.breakdown["person"]["IoU"], 80.0)
    assert math.isclose(result.breakdown["tvmonitor"]["IoU"], 50.0)
    assert math.isclose(result.metrics["mIoU"], (40.0 + 80.0 + 50.0) / 3)


def test_same_numbers_as_the_semantic_evaluator_on_converted_maps(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    gt_raw = rng.integers(0, 151, (3, 24, 32)).astype(np.uint8)  # ADE official: 0..150
    preds = rng.integers(0, 150, (3, 24, 32)).astype(np.uint8)
    preds[:, :2] = 255
    plain = SemanticEvaluator(ov.class_names("a150"))
    for k in range(3):
        _png(tmp_path / "annotations" / f"ADE_val_{k:08d}.png", gt_raw[k])
        _png(tmp_path / "pred" / f"ADE_val_{k:08d}.png", preds[k])
        converted = np.where(gt_raw[k] == 0, 255, gt_raw[k] - 1).astype(np.uint8)
        plain.update(converted, preds[k])
    for workers in (1, 2):
        result = ov.evaluate_ov_semantic(tmp_path / "annotations", tmp_path / "pred", benchmark="a150", workers=workers, progress=False)
        assert result.metrics == plain.compute().metrics
        assert result.n_samples == 3


def test_ade_zero_is_ignored(tmp_path: Path) -> None:
    _png(tmp_path / "gt" / "a.png", np.array([[0, 0, 1, 2]], dtype=np.uint8))
    _png(tmp_path / "pred" / "a.png", np.array([[5, 6, 0, 1]], dtype=np.uint8))
    result = ov.evaluate_ov_semantic(tmp_path / "gt", tmp_path / "pred", benchmark="a150", progress=False)
    assert result.metrics["mIoU"] == 100.0 and result.metrics["pACC"] == 100.0
    assert set(result.breakdown) == {"wall", "building"}


def test_cityscapes_nested_gt_matches_predictions_on_the_frame_prefix(tmp_path: Path) -> None:
    gt = np.array([[7, 26, 0, 33], [1, 24, 24, 7]], dtype=np.uint8)
    _png(tmp_path / "gtFine" / "val" / "frankfurt" / "frankfurt_000000_000294_gtFine_labelIds.png", gt)
    _png(tmp_path / "gtFine" / "val" / "frankfurt" / "frankfurt_000000_000294_gtFine_instanceIds.png", gt)  # not a label file
    pred = np.array([[0, 13, 5, 18], [9, 11, 12, 0]], dtype=np.uint8)
    _png(tmp_path / "pred" / "frankfurt_000000_000294_leftImg8bit.png", pred)
    result = ov.evaluate_ov_semantic(tmp_path / "gtFine" / "val", tmp_path / "pred", benchmark="cityscapes", progress=False)
    assert result.n_samples == 1
    assert result.records[0]["image"] == "frankfurt_000000_000294"
    assert result.breakdown["road"]["pixels"] == 2 and result.breakdown["road"]["IoU"] == 100.0
    assert result.breakdown["car"]["IoU"] == 100.0 and result.breakdown["bicycle"]["IoU"] == 100.0
    assert result.breakdown["person"]["pixels"] == 2 and result.breakdown["person"]["IoU"] == 50.0
    # prepared layout: labelTrainIds
    _png(tmp_path / "prepared" / "frankfurt" / "frankfurt_000000_000294_gtFine_labelTrainIds.png", ov.get_layout("cityscapes").convert(gt, "x"))
    again = ov.evaluate_ov_semantic(tmp_path / "prepared", tmp_path / "pred", benchmark="cityscapes", layout="prepared", progress=False)
    assert again.metrics == result.metrics


def test_pc459_sixteen_bit_png_and_prepared_tiff(tmp_path: Path) -> None:
    import tifffile

    gt = np.array([[0, 1, 459, 300]], dtype=np.uint16)
    pred = np.array([[7, 0, 458, 65535]], dtype=np.uint16)
    _png(tmp_path / "gt" / "2008_000002.png", gt)
    _png(tmp_path / "pred" / "2008_000002.png", pred)
    result = ov.evaluate_ov_semantic(tmp_path / "gt", tmp_path / "pred", benchmark="pc459", progress=False)
    assert set(result.breakdown) == {"accordion", "wool", ov.class_names("pc459")[299]}
    assert result.breakdown["accordion"]["IoU"] == 100.0 and result.breakdown["wool"]["IoU"] == 100.0
    assert result.breakdown[ov.class_names("pc459")[299]]["ACC"] == 0.0  # no prediction
    assert math.isclose(result.metrics["mIoU"], 200.0 / 3)
    prepared = np.array([[65535, 0, 458, 299]], dtype=np.uint16)
    (tmp_path / "tif").mkdir()
    tifffile.imwrite(tmp_path / "tif" / "2008_000002.tif", prepared)
    again = ov.evaluate_ov_semantic(tmp_path / "tif", tmp_path / "pred", benchmark="pc459", layout="prepared", progress=False)
    assert again.metrics == result.metrics


def test_image_list_restricts_the_gt_folder(tmp_path: Path) -> None:
    for name in ("2007_000032", "2007_000033"):
        _png(tmp_path / "SegmentationClass" / f"{name}.png", np.array([[1, 2]], dtype=np.uint8), palette=True)
    _png(tmp_path / "pred" / "2007_000033.png", np.array([[0, 1]], dtype=np.uint8))
    (tmp_path / "val.txt").write_text("2007_000033\n")
    result = ov.evaluate_ov_semantic(tmp_path / "SegmentationClass", tmp_path / "pred", benchmark="pas20", image_list=tmp_path / "val.txt", progress=False)
    assert result.n_samples == 1 and result.metrics["mIoU"] == 100.0


# ----------------------------------------------------------------- bad input


def test_unknown_benchmark_and_layout(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown --benchmark 'coco'"):
        ov.evaluate_ov_semantic(tmp_path, tmp_path, benchmark="coco", progress=False)
    with pytest.raises(InputError, match="--layout"):
        ov.evaluate_ov_semantic(tmp_path, tmp_path, benchmark="a150", layout="mmseg", progress=False)
    with pytest.raises(InputError, match="--protocol"):
        ov.evaluate_ov_semantic(tmp_path, tmp_path, benchmark="a150", protocol="nope", progress=False)
    with pytest.raises(InputError, match="unknown --benchmark 'pc59' for open-vocabulary instance"):
        ov.evaluate_ov_instance(tmp_path / "gt.json", tmp_path / "pred.json", benchmark="pc59", progress=False)


@pytest.mark.parametrize(
    "benchmark, gt_value, pred_value, bad_file, fragment",
    [
        ("a150", 151, 0, "gt", "label 151 is outside the a150 official layout"),
        ("pas20", 21, 0, "gt", "label 21 is outside the pas20 official layout"),
        ("pc59", 60, 0, "gt", "label 60 is outside the pc59 official layout"),
        ("cityscapes", 40, 0, "gt", "label 40 is outside the cityscapes official layout"),
        ("pas20", 1, 20, "pred", "label 20 is not a class index (0..19)"),
        ("pc59", 1, 59, "pred", "label 59 is not a class index (0..58)"),
    ],
)
def test_label_out_of_range_names_the_file(tmp_path: Path, benchmark: str, gt_value: int, pred_value: int, bad_file: str, fragment: str) -> None:
    name = "aachen_000000_000019_gtFine_labelIds" if benchmark == "cityscapes" else "img"
    gt_path = _png(tmp_path / "gt" / f"{name}.png", np.array([[gt_value, 0]], dtype=np.uint8))
    pred_name = "aachen_000000_000019_leftImg8bit" if benchmark == "cityscapes" else "img"
    pred_path = _png(tmp_path / "pred" / f"{pred_name}.png", np.array([[pred_value, 0]], dtype=np.uint8))
    with pytest.raises(InputError) as info:
        ov.evaluate_ov_semantic(tmp_path / "gt", tmp_path / "pred", benchmark=benchmark, progress=False)
    message = str(info.value)
    assert fragment in message
    assert str(gt_path if bad_file == "gt" else pred_path) in message


def test_pc459_prediction_above_range(tmp_path: Path) -> None:
    _png(tmp_path / "gt" / "a.png", np.array([[1, 2]], dtype=np.uint16))
    pred_path = _png(tmp_path / "pred" / "a.png", np.array([[459, 0]], dtype=np.uint16))
    with pytest.raises(InputError, match="label 459 is not a class index") as info:
        ov.evaluate_ov_semantic(tmp_path / "gt", tmp_path / "pred", benchmark="pc459", progress=False)
    assert str(pred_path) in str(info.value)


def test_missing_and_extra_predictions(tmp_path: Path) -> None:
    _png(tmp_path / "gt" / "a.png", np.array([[1, 2]], dtype=np.uint8))
    (tmp_path / "pred").mkdir()
    _png(tmp_path / "pred" / "b.png", np.array([[1, 2]], dtype=np.uint8))
    with pytest.raises(InputError, match="prediction missing"):
        ov.evaluate_ov_semantic(tmp_path / "gt", tmp_path / "pred", benchmark="a150", progress=False)
    _png(tmp_path / "pred" / "a.png", np.array([[0, 1]], dtype=np.uint8))
    with pytest.raises(InputError, match="--ignore-extra"):
        ov.evaluate_ov_semantic(tmp_path / "gt", tmp_path / "pred", benchmark="a150", progress=False)
    result = ov.evaluate_ov_semantic(tmp_path / "gt", tmp_path / "pred", benchmark="a150", ignore_extra=True, progress=False)
    assert result.metrics["mIoU"] == 100.0


# ----------------------------------------------------------------- ov-instance


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode()
    return rle


def _coco_case(tmp_path: Path, categories: list[dict]) -> tuple[Path, Path]:
    h, w = 20, 30
    images, annotations, results = [], [], []
    ann_id = 1
    for image_id in (1, 2):
        images.append({"id": image_id, "width": w, "height": h, "file_name": f"{image_id}.png"})
        for k, category in enumerate(categories[:2]):
            mask = np.zeros((h, w), dtype=np.uint8)
            mask[2 + 8 * k: 8 + 8 * k, 3 + image_id: 12 + image_id] = 1
            rle = _rle(mask)
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": category["id"], "segmentation": rle,
                                "area": float(mask.sum()), "bbox": [float(v) for v in mask_utils.toBbox(rle)], "iscrowd": 0})
            results.append({"image_id": image_id, "category_id": category["id"], "segmentation": rle, "score": 0.9})
            ann_id += 1
    gt = tmp_path / "instances.json"
    gt.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    pred = tmp_path / "results.json"
    pred.write_text(json.dumps(results))
    return gt, pred


def test_ov_instance_cityscapes(tmp_path: Path) -> None:
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"])]
    gt, pred = _coco_case(tmp_path, categories)
    result = ov.evaluate_ov_instance(gt, pred, benchmark="cityscapes", progress=False)
    assert result.task == "ov-instance"
    assert result.params["benchmark"] == "cityscapes" and result.params["protocol"] == "pycocotools"
    assert math.isclose(result.metrics["AP"], 100.0) and math.isclose(result.metrics["AP50"], 100.0)
    assert set(result.breakdown) == {"person", "rider"}
    assert not [w for w in result.warnings if "instance classes" in w]


def test_ov_instance_ade_checks_categories(tmp_path: Path) -> None:
    things = ov.load_benchmark("a150")["instance_classes"]
    gt, pred = _coco_case(tmp_path, [dict(c) for c in things[:5]])
    result = ov.evaluate_ov_instance(gt, pred, benchmark="a150", progress=False)
    assert math.isclose(result.metrics["AP"], 100.0)
    assert any("5 of the 100 a150 instance classes" in w for w in result.warnings)
    full, _ = _coco_case(tmp_path, [dict(c) for c in things])
    assert ov.check_instance_categories(full, "a150") == []
    # a 150-class synonym is accepted for the instance name
    synonyms, _ = _coco_case(tmp_path, [{"id": 7, "name": "bed"}, {"id": 8, "name": "window"}])
    assert len(ov.check_instance_categories(synonyms, "a150")) == 1

    bad, bad_pred = _coco_case(tmp_path, [{"id": 1, "name": "person"}, {"id": 2, "name": "wall"}])
    with pytest.raises(InputError, match="'wall' is not one of the 100 a150 instance classes") as info:
        ov.evaluate_ov_instance(bad, bad_pred, benchmark="a150", progress=False)
    assert str(bad) in str(info.value) and "category id 2" in str(info.value)
    with pytest.raises(InputError, match="not one of the 8 cityscapes instance classes"):
        ov.evaluate_ov_instance(bad, bad_pred, benchmark="cityscapes", progress=False)


def test_pc459_reads_the_official_mat_label_map(tmp_path: Path) -> None:
    from scipy.io import savemat

    (tmp_path / "trainval").mkdir()
    savemat(tmp_path / "trainval" / "2008_000002.mat", {"LabelMap": np.array([[0, 1, 459, 300]], dtype=np.uint16)})
    _png(tmp_path / "pred" / "2008_000002.png", np.array([[7, 0, 458, 299]], dtype=np.uint16))
    result = ov.evaluate_ov_semantic(tmp_path / "trainval", tmp_path / "pred", benchmark="pc459", progress=False)
    assert result.metrics["mIoU"] == 100.0 and result.n_samples == 1
    savemat(tmp_path / "other.mat", {"Labels": np.zeros((1, 1))})
    with pytest.raises(InputError, match="no 'LabelMap'"):
        ov.read_labels(tmp_path / "other.mat")


def test_cli_scores_a_voc_layout_and_names_bad_benchmarks(tmp_path: Path) -> None:
    from conftest import assert_one_line_error, run_cli
    from PIL import Image

    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    gt = np.zeros((6, 8), dtype=np.uint8)
    gt[1:4, 1:4] = 15  # person
    gt[0, :] = 255  # border
    image = Image.fromarray(gt, mode="P")
    image.putpalette([0, 0, 0] * 256)
    image.save(gt_dir / "2007_000001.png")
    pred = np.full((6, 8), 255, dtype=np.uint8)
    pred[1:4, 1:4] = 14  # person, 0-based
    Image.fromarray(pred).save(pred_dir / "2007_000001.png")
    out = tmp_path / "r.json"
    run = run_cli("eval", "--task", "ov-semantic", "--benchmark", "pas20", "--gt", gt_dir, "--pred", pred_dir, "--json", out)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())["metrics"]["mIoU"] == 100.0
    bad = run_cli("eval", "--task", "ov-semantic", "--benchmark", "nope", "--gt", gt_dir, "--pred", pred_dir)
    assert_one_line_error(bad, "nope")
