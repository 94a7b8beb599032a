import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_api

from psalm_bench import InputError, evaluate
from psalm_bench.evaluators.interactive import InteractiveEvaluator
from psalm_bench.formats.interactive import PROMPTS, interactive_gt_from_list

from conftest import FIXTURES, assert_one_line_error, expected, fixture_cases, needs_fixtures, run_cli


def _rle(mask: np.ndarray) -> dict:
    rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode()}


def _box(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def _tiny_world(folder: Path, *, h: int = 20, w: int = 30) -> tuple[Path, Path]:
    """Two images; image 7 (new_img_id 0) has a polygon instance and a crowd
    RLE instance whose point prompt is empty; image 9 one RLE instance."""
    full = _box(h, w, 0, h, 0, w)
    poly = [[2.7, 2.2, 12.9, 2.2, 12.9, 10.6, 2.7, 10.6]]
    crowd = _box(h, w, 12, 18, 15, 28)
    other = _box(h, w, 5, 15, 5, 25)
    empty = np.zeros((h, w), np.uint8)

    def ann(ann_id, image_id, segmentation, iscrowd=0, point=full):
        record = {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": iscrowd, "segmentation": segmentation, "area": 1.0, "bbox": [0, 0, 1, 1]}
        for prompt in PROMPTS:
            record[f"{prompt}_visual_prompt_mask"] = _rle(point if prompt == "point" else full)
        return record

    gt = [
        {"image": "a.jpg", "image_info": {"id": 7, "height": h, "width": w, "file_name": "a.jpg"}, "new_img_id": 0,
         "anns": [ann(1, 7, poly), ann(2, 7, {"size": [h, w], "counts": mask_api.encode(np.asfortranarray(crowd))["counts"].decode()}, iscrowd=1, point=empty)]},
        {"image": "b.jpg", "image_info": {"id": 9, "height": h, "width": w, "file_name": "b.jpg"}, "new_img_id": 1, "anns": [ann(3, 9, _rle(other))]},
    ]
    lines = []
    for prompt in PROMPTS:
        lines.append({"image_id": 7, "ann_id": 1, "prompt": prompt, "segmentation": _rle(_box(h, w, 3, 11, 3, 13))})
        lines.append({"image_id": 7, "ann_id": 2, "prompt": prompt, "segmentation": _rle(crowd)})
        if prompt != "mask":  # the (3, mask) line is missing
            lines.append({"image_id": 9, "ann_id": 3, "prompt": prompt, "segmentation": _rle(_box(h, w, 5, 15, 5, 15))})
    gt_path = folder / "gt.json"
    pred_path = folder / "pred.jsonl"
    gt_path.write_text(json.dumps(gt))
    pred_path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return gt_path, pred_path


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("interactive"), ids=lambda p: p.name)
@pytest.mark.parametrize("workers", [1, 2])
def test_fixture_matches_reference(case: Path, workers: int) -> None:
    exp = expected(case)
    result = evaluate("interactive", case / exp["gt"], case / exp["pred"], workers=workers, progress=False)
    for name, value in exp["metrics"].items():
        assert math.isclose(result.metrics[name], value, abs_tol=1e-6), name
    assert result.params["protocol"] == "all-instances"


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("interactive"), ids=lambda p: p.name)
def test_workers_give_identical_numbers_and_records(case: Path) -> None:
    exp = expected(case)
    one = evaluate("interactive", case / exp["gt"], case / exp["pred"], workers=1, progress=False)
    two = evaluate("interactive", case / exp["gt"], case / exp["pred"], workers=2, progress=False)
    assert one.metrics == two.metrics
    assert one.breakdown == two.breakdown
    for key in ("image_id", "ann_id", "I", "U", "IoU"):
        np.testing.assert_array_equal(one.records[key], two.records[key])
    assert one.records["prompt"] == two.records["prompt"]


@needs_fixtures
def test_records_explain_the_numbers() -> None:
    case = FIXTURES / "interactive" / "rle_gt"
    result = evaluate("interactive", case / "gt.json", case / "pred.jsonl", progress=False)
    records = result.records
    prompts = np.array(records["prompt"])
    gt = json.loads((case / "gt.json").read_text())
    n_anns = sum(len(r["anns"]) for r in gt)
    assert result.n_samples == len(prompts) == 4 * n_anns
    for prompt in PROMPTS:
        sel = prompts == prompt
        assert math.isclose(result.metrics[f"{prompt}_mIoU"], 100 * np.mean(records["I"][sel] / records["U"][sel]), abs_tol=1e-9)
        assert math.isclose(result.metrics[f"{prompt}_cIoU"], 100 * records["I"][sel].sum() / records["U"][sel].sum(), abs_tol=1e-9)
    assert math.isclose(result.metrics["mIoU"], 100 * np.mean(records["IoU"]), abs_tol=1e-9)
    assert math.isclose(result.metrics["cIoU"], 100 * records["I"].sum() / records["U"].sum(), abs_tol=1e-9)
    assert result.breakdown["all"]["samples"] == result.n_samples
    assert any("no prediction line" in w for w in result.warnings)


def _psalm_reference(gt_path: Path, pred_path: Path) -> dict[str, float]:
    """PSALM's region_segmentation.py arithmetic, decoding everything."""
    records = json.loads(gt_path.read_text())
    preds = {}
    for line in pred_path.read_text().splitlines():
        if line.strip():
            obj = json.loads(line)
            preds[(obj["ann_id"], obj["prompt"])] = obj["segmentation"]
    out = {}
    for prompt in PROMPTS:
        ious, sum_i, sum_u = [], 0.0, 0.0
        for record in records:
            h, w = record["image_info"]["height"], record["image_info"]["width"]
            for ann in record["anns"]:
                if ann.get("iscrowd", 0):
                    continue
                if mask_api.decode(ann[f"{prompt}_visual_prompt_mask"]).sum() == 0:
                    continue
                seg = ann["segmentation"]
                if isinstance(seg, list):
                    gt = np.zeros((h, w), np.uint8)
                    for poly in seg:
                        cv2.fillPoly(gt, [np.array(poly, dtype=np.int32).reshape(-1, 2)], 1)
                elif isinstance(seg["counts"], list):
                    gt = mask_api.decode(mask_api.frPyObjects(seg, h, w))
                else:
                    gt = mask_api.decode(seg)
                p = preds.get((ann["id"], prompt))
                pm = np.zeros((h, w), np.uint8) if p is None else mask_api.decode(p)
                inter = float(np.logical_and(gt, pm).sum())
                union = float(np.logical_or(gt, pm).sum())
                ious.append(1.0 if union == 0 else inter / (union + 1e-5))
                sum_i += inter
                sum_u += union
        out[f"{prompt}_mIoU"] = 100 * float(np.mean(ious))
        out[f"{prompt}_cIoU"] = 100 * sum_i / (sum_u + 1e-10)
    return out


@needs_fixtures
def test_psalm_protocol_on_polygons_and_crowd() -> None:
    """polygon_gt has a crowd annotation and polygons: the psalm protocol
    drops the crowd, fills polygons with cv2 on int vertices, adds 1e-5."""
    case = FIXTURES / "interactive" / "polygon_gt"
    ours = evaluate("interactive", case / "gt.json", case / "pred.jsonl", protocol="psalm", progress=False)
    reference = _psalm_reference(case / "gt.json", case / "pred.jsonl")
    for name, value in reference.items():
        assert math.isclose(ours.metrics[name], value, abs_tol=1e-9), name
    default = expected(case)["metrics"]
    assert abs(ours.metrics["mask_cIoU"] - default["mask_cIoU"]) > 1.0
    assert ours.params["protocol"] == "psalm"
    assert any("crowd" in w for w in ours.warnings)


def test_psalm_protocol_skips_empty_prompts_and_drops_crowd(tmp_path: Path) -> None:
    gt_path, pred_path = _tiny_world(tmp_path)
    default = evaluate("interactive", gt_path, pred_path, progress=False)
    psalm = evaluate("interactive", gt_path, pred_path, protocol="psalm", progress=False)
    assert default.n_samples == 12
    assert psalm.n_samples == 8  # the crowd instance (2) is dropped
    assert psalm.breakdown["point"]["samples"] == 2
    assert psalm.metrics["mIoU"] != default.metrics["mIoU"]
    reference = _psalm_reference(gt_path, pred_path)
    for name, value in reference.items():
        assert math.isclose(psalm.metrics[name], value, abs_tol=1e-9), name
    # default: the crowd instance is scored, predicted exactly (IoU 1)
    recs = default.records
    crowd = recs["ann_id"] == 2
    assert np.all(recs["IoU"][crowd] == 1.0)
    # the missing (3, mask) line: an empty mask, I = 0, U = GT area
    missing = (recs["ann_id"] == 3) & (np.array(recs["prompt"]) == "mask")
    assert recs["I"][missing][0] == 0 and recs["U"][missing][0] == 200
    assert any("1 (instance, prompt) pair" in w for w in default.warnings)


def test_polygon_decoding_differs_between_protocols(tmp_path: Path) -> None:
    """pycocotools and cv2.fillPoly on truncated vertices rasterise the same
    polygon differently; each protocol uses its own."""
    gt_path, pred_path = _tiny_world(tmp_path)
    default = evaluate("interactive", gt_path, pred_path, progress=False)
    psalm = evaluate("interactive", gt_path, pred_path, protocol="psalm", progress=False)
    d = default.records
    p = psalm.records
    u_default = d["U"][(d["ann_id"] == 1)][0]
    u_psalm = p["U"][(p["ann_id"] == 1)][0]
    poly = [[2.7, 2.2, 12.9, 2.2, 12.9, 10.6, 2.7, 10.6]]
    coco = mask_api.decode(mask_api.merge(mask_api.frPyObjects(poly, 20, 30)))
    pred = _box(20, 30, 3, 11, 3, 13)
    assert u_default == np.logical_or(coco, pred).sum()
    filled = np.zeros((20, 30), np.uint8)
    cv2.fillPoly(filled, [np.array(poly[0], dtype=np.int32).reshape(-1, 2)], 1)
    assert u_psalm == np.logical_or(filled, pred).sum()
    assert u_default != u_psalm


def test_empty_union_counts_one() -> None:
    h, w = 4, 5
    empty = _rle(np.zeros((h, w), np.uint8))
    ann = {"id": 1, "image_id": 3, "segmentation": empty, **{f"{p}_visual_prompt_mask": empty for p in PROMPTS}}
    gt = interactive_gt_from_list([{"image_info": {"id": 3, "height": h, "width": w}, "anns": [ann]}])
    evaluator = InteractiveEvaluator()
    evaluator.update(gt.images[0], {})
    result = evaluator.compute()
    assert result.metrics["mIoU"] == 100.0
    assert result.metrics["cIoU"] is None  # sum U = 0


def test_ignore_extra_skips_unknown_annotations(tmp_path: Path) -> None:
    gt_path, pred_path = _tiny_world(tmp_path)
    extra = {"image_id": 7, "ann_id": 99, "prompt": "box", "segmentation": _rle(np.zeros((20, 30), np.uint8))}
    pred_path.write_text(pred_path.read_text() + json.dumps(extra) + "\n")
    with pytest.raises(InputError, match="ann_id 99"):
        evaluate("interactive", gt_path, pred_path, progress=False)
    result = evaluate("interactive", gt_path, pred_path, ignore_extra=True, progress=False)
    assert result.n_samples == 12
    assert any("--ignore-extra" in w for w in result.warnings)


def test_cli_writes_per_prompt_and_records(tmp_path: Path) -> None:
    gt_path, pred_path = _tiny_world(tmp_path)
    out = tmp_path / "r.json"
    run = run_cli("eval", "--task", "interactive", "--gt", gt_path, "--pred", pred_path, "--json", out, "--per-prompt")
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert set(data["metrics"]) == {f"{p}_{m}" for p in PROMPTS for m in ("mIoU", "cIoU")} | {"mIoU", "cIoU"}
    assert set(data["per_prompt"]) == set(PROMPTS) | {"all"}
    assert len(data["records"]["ann_id"]) == 12 and {"I", "U", "prompt", "image_id"} <= set(data["records"])
    assert data["provenance"]["params"]["protocol"] == "all-instances"
    assert "point_mIoU" in run.stdout and "scribble" in run.stdout


# --- bad input: one line naming file and record, exit 2, no result -------------


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write(path: Path, lines: list) -> None:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")


def _bad_malformed_line(gt: Path, pred: Path) -> tuple[str, ...]:
    lines = _lines(pred)
    _write(pred, [lines[0], '{"image_id": 7, "ann_id": 1,', *lines[1:]])
    return ("pred.jsonl", "line 2", "not valid JSON")


def _bad_duplicate(gt: Path, pred: Path) -> tuple[str, ...]:
    lines = _lines(pred)
    _write(pred, lines + [lines[0]])
    return ("pred.jsonl", f"line {len(lines) + 1}", "duplicate", "first on line 1")


def _bad_size(gt: Path, pred: Path) -> tuple[str, ...]:
    lines = _lines(pred)
    lines[2]["segmentation"] = _rle(np.zeros((21, 30), np.uint8))
    _write(pred, lines)
    return ("pred.jsonl", "line 3", "21x30 differs from image size 20x30")


def _bad_prompt(gt: Path, pred: Path) -> tuple[str, ...]:
    lines = _lines(pred)
    lines[1]["prompt"] = "text"
    _write(pred, lines)
    return ("pred.jsonl", "line 2", "'text' is not one of point, scribble, box, mask")


def _bad_unknown_ann(gt: Path, pred: Path) -> tuple[str, ...]:
    lines = _lines(pred)
    lines[3]["ann_id"] = 1234
    _write(pred, lines)
    return ("pred.jsonl", "line 4", "ann_id 1234 is not in the ground truth")


def _bad_new_img_id(gt: Path, pred: Path) -> tuple[str, ...]:
    lines = _lines(pred)
    lines[2]["image_id"] = 1  # image 9's new_img_id
    _write(pred, lines)
    return ("pred.jsonl", "line 3", "not the image of annotation 3", "new_img_id")


def _bad_gt_prompt_size(gt: Path, pred: Path) -> tuple[str, ...]:
    data = json.loads(gt.read_text())
    data[1]["anns"][0]["box_visual_prompt_mask"] = _rle(np.zeros((20, 31), np.uint8))
    gt.write_text(json.dumps(data))
    return ("gt.json", "annotation 3 (image 9)", "box_visual_prompt_mask", "20x31 differs")


def _bad_gt_not_list(gt: Path, pred: Path) -> tuple[str, ...]:
    gt.write_text(json.dumps({"images": []}))
    return ("gt.json", "must be a JSON list")


def _bad_gt_duplicate_ann(gt: Path, pred: Path) -> tuple[str, ...]:
    data = json.loads(gt.read_text())
    data[1]["anns"][0]["id"] = 1
    gt.write_text(json.dumps(data))
    return ("gt.json", "annotation 1", "listed twice")


BAD_INPUTS = [_bad_malformed_line, _bad_duplicate, _bad_size, _bad_prompt, _bad_unknown_ann, _bad_new_img_id, _bad_gt_prompt_size, _bad_gt_not_list, _bad_gt_duplicate_ann]


@pytest.mark.parametrize("breaker", BAD_INPUTS, ids=lambda f: f.__name__[5:])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, breaker) -> None:
    gt_path, pred_path = _tiny_world(tmp_path)
    fragments = breaker(gt_path, pred_path)
    out = tmp_path / "result.json"
    run = run_cli("eval", "--task", "interactive", "--gt", gt_path, "--pred", pred_path, "--json", out)
    assert_one_line_error(run, *fragments)
    assert not out.exists()


def test_unknown_protocol_is_an_input_error(tmp_path: Path) -> None:
    gt_path, pred_path = _tiny_world(tmp_path)
    with pytest.raises(InputError, match="all-instances, psalm"):
        evaluate("interactive", gt_path, pred_path, protocol="lisa", progress=False)
