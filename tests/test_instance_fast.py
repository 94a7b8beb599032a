"""The instance task's fast paths give what the plain ones gave: the
vectorised precision curves, and the results file read in one C pass."""

import json

import numpy as np
import pytest

from psalm_bench.evaluators.instance import CURVE_DECIMALS, format_curve, pr_curves
from psalm_bench.formats.coco import Category

from conftest import fixture_cases, needs_fixtures


def _curves_one_by_one(precision: np.ndarray, cat_ids: list[int], categories: dict[int, Category]) -> list:
    """The curves as they were written before, one curve at a time (the reference)."""
    precision = precision[:, :, :, 0, -1]
    classes = []
    for k, cat_id in enumerate(cat_ids):
        curves = []
        for t in range(precision.shape[0]):
            values = precision[t, :, k]
            if (values < 0).any():
                curves = None
                break
            curves.append(format_curve(np.round(values.astype(np.float64), CURVE_DECIMALS)))
        classes.append({"id": int(cat_id), "name": categories[cat_id].name, "precision": curves})
    return classes


def _random_precision(rng: np.random.Generator, K: int) -> np.ndarray:
    """COCOeval-shaped precision: non-increasing runs, zero tails, -1 classes, values that round alike."""
    T, R = 10, 101
    p = np.zeros((T, R, K, 4, 3))
    for k in range(K):
        for t in range(T):
            steps = np.sort(rng.choice([1.0, 0.99996, 0.99994, 0.5, 1 / 3, 0.25, 0.123449, 0.123451, 0.0], size=R))[::-1]
            cut = rng.integers(0, R + 1)
            steps[cut:] = 0
            p[t, :, k, 0, -1] = steps
    p[:, :, rng.integers(0, K), 0, -1] = -1  # a class without ground truth
    p[3, 7, rng.integers(0, K), 0, -1] = -1  # one -1 value among real ones
    return p


def test_vectorised_curves_equal_the_one_by_one_curves() -> None:
    rng = np.random.default_rng(0)
    for K in (1, 3, 17):
        precision = _random_precision(rng, K)
        cat_ids = [int(c) for c in rng.choice(1000, size=K, replace=False)]
        categories = {c: Category(c, f"c{c}") for c in cat_ids}
        out = pr_curves(precision, cat_ids, np.linspace(0.5, 0.95, 10), categories)
        assert out["classes"] == _curves_one_by_one(precision, cat_ids, categories)
    empty = np.zeros((10, 101, 2, 4, 3))
    cats = {1: Category(1, "a"), 2: Category(2, "b")}
    assert [c["precision"] for c in pr_curves(empty, [1, 2], np.linspace(0.5, 0.95, 10), cats)["classes"]] == [[""] * 10] * 2


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("instance"), ids=lambda p: p.name)
def test_vectorised_curves_on_the_fixtures(case) -> None:
    import contextlib
    import io

    import hotcoco

    from conftest import expected
    from psalm_bench.formats.coco import load_instances

    exp = expected(case)
    iou_type = exp.get("args", {}).get("--iou-type", "segm")
    gt = load_instances(case / exp["gt"])
    coco_gt = hotcoco.COCO(str(case / exp["gt"]))
    engine = hotcoco.COCOeval(coco_gt, coco_gt.load_res(str(case / exp["pred"])), iou_type)
    engine.evaluate()
    engine.accumulate()
    with contextlib.redirect_stdout(io.StringIO()):
        engine.summarize()
    precision = np.asarray(engine.eval["precision"])
    cat_ids = list(engine.params.cat_ids)
    out = pr_curves(precision, cat_ids, np.asarray(engine.params.iou_thrs), gt.categories)
    assert out["classes"] == _curves_one_by_one(precision, cat_ids, gt.categories)
    assert any(c["precision"] and any(c["precision"]) for c in out["classes"])


# ---- the results file read into columns in one C pass


def _native_columns():
    from psalm_bench import _native

    if not hasattr(_native, "coco_results_columns"):
        pytest.skip("C extension without coco_results_columns")
    return _native.coco_results_columns


def _edge_masks(rng: np.random.Generator, h: int, w: int) -> list[np.ndarray]:
    """Masks whose boxes are easy to get wrong: empty, full, corner pixels, last
    row and column, a run that wraps into the next column, random blobs."""
    masks = []
    for cells in ([], "full", [(0, 0)], [(h - 1, w - 1)], [(h - 1, 0), (0, 1)], [(0, w - 1)], [(h - 1, 3), (0, 4)], [(2, 2)]):
        m = np.zeros((h, w), dtype=np.uint8)
        if cells == "full":
            m[:] = 1
            cells = []
        for y, x in cells:
            m[y, x] = 1
        masks.append(m)
    for _ in range(60):
        m = np.zeros((h, w), dtype=np.uint8)
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        m[y0:y0 + rng.integers(1, h), x0:x0 + rng.integers(1, w)] = 1
        m &= rng.random((h, w)) < rng.choice([0.3, 0.9, 1.0])
        masks.append(m)
    return masks


def _world(tmp_path, rng):
    """A ground truth of two image sizes and results with every edge mask, as pycocotools.mask.encode writes them."""
    from pycocotools import mask as mask_utils

    images = [{"id": 1, "height": 23, "width": 17, "file_name": "a.jpg"}, {"id": 7, "height": 9, "width": 31, "file_name": "b.jpg"}]
    gt = {"images": images, "categories": [{"id": 1, "name": "a"}, {"id": 3, "name": "b"}], "annotations": []}
    dets = []
    for image in images:
        for k, m in enumerate(_edge_masks(rng, image["height"], image["width"])):
            rle = mask_utils.encode(np.asfortranarray(m))
            rle["counts"] = rle["counts"].decode("ascii")
            if k % 3 == 0 and m.any():
                gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": image["id"], "category_id": 1 + 2 * (k % 2),
                                          "segmentation": rle, "area": float(m.sum()), "bbox": list(mask_utils.toBbox(rle)), "iscrowd": 0})
            dets.append({"image_id": image["id"], "category_id": 1 + 2 * (k % 2), "segmentation": rle, "score": float(rng.random())})
    assert any("\\" in d["segmentation"]["counts"] for d in dets)  # the one escape of COCO strings occurs
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(dets))
    return gt, dets


def _engine_anns(coco_dt) -> list[dict]:
    return sorted(coco_dt.dataset["annotations"], key=lambda a: a["id"])


def test_columns_give_the_engine_what_its_own_parse_gives(tmp_path) -> None:
    import hotcoco
    from pycocotools import mask as mask_utils

    from psalm_bench.evaluators.instance import _engine_load_columns
    from psalm_bench.formats.coco import load_instances, results_columns

    _native_columns()
    gt, dets = _world(tmp_path, np.random.default_rng(1))
    data = (tmp_path / "pred.json").read_bytes()
    columns = results_columns(data, load_instances(tmp_path / "gt.json"))
    assert columns is not None and len(columns.segmentation) == len(dets)
    rles = [dict(d["segmentation"], counts=d["segmentation"]["counts"].encode()) for d in dets]
    np.testing.assert_array_equal(columns.bbox, mask_utils.toBbox(rles))  # pycocotools' rleToBbox, quirks included
    np.testing.assert_array_equal(columns.area, mask_utils.area(rles))
    np.testing.assert_array_equal(columns.score, [d["score"] for d in dets])
    coco_gt = hotcoco.COCO(str(tmp_path / "gt.json"))
    assert _engine_anns(_engine_load_columns(coco_gt, columns)) == _engine_anns(coco_gt.load_res(str(tmp_path / "pred.json")))


def test_columns_read_any_spacing_and_key_order(tmp_path) -> None:
    columns = _native_columns()
    _, dets = _world(tmp_path, np.random.default_rng(2))
    compact = columns(json.dumps(dets, separators=(",", ":")).encode())
    shuffled = [dict(reversed(list(d.items())), segmentation=dict(reversed(list(d["segmentation"].items())))) for d in dets]
    for text in (json.dumps(dets, indent=2), "\n\t " + json.dumps(shuffled, indent="\t") + " \r\n"):
        assert columns(text.encode()) == compact


@pytest.mark.parametrize("text", [
    "[]", "{}", "", "[1]",
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}, "bbox": [0, 0, 1, 1]}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}, "extra": 1}]',
    '[{"image_id": 1, "image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}}]',
    '[{"category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}}]',
    '[{"image_id": 1.0, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}}]',
    '[{"image_id": 01, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}}]',
    '[{"image_id": 1, "category_id": 1, "score": 1e999, "segmentation": {"size": [1, 1], "counts": "01"}}]',
    '[{"image_id": 1, "category_id": 1, "score": NaN, "segmentation": {"size": [1, 1], "counts": "01"}}]',
    '[{"image_id": 1, "category_id": 1, "score": true, "segmentation": {"size": [1, 1], "counts": "01"}}]',
    '[{"image_id": 1, "category_id": 1, "score": "0.5", "segmentation": {"size": [1, 1], "counts": "01"}}]',
    '[{"image_id": 1, "category_id": 1, "score": .5, "segmentation": {"size": [1, 1], "counts": "01"}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": [[0, 0, 1, 0, 1, 1]]}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": [0, 1]}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "0\\n"}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "0\\""}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "02"}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "0"}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": ""}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [0, 1], "counts": "0"}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "001"}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01", "counts": "01"}}]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}}] x',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}},]',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}}',
    '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01',
    '[{"image_id": 1234567890123456, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}}]',
])
def test_columns_refuse_anything_but_the_plain_layout(text: str) -> None:
    """None sends the file down the general path, which names a bad record."""
    columns = _native_columns()
    good = '[{"image_id": 1, "category_id": 1, "score": 0.5, "segmentation": {"size": [1, 1], "counts": "01"}}]'
    assert columns(good.encode()) is not None
    assert columns(text.encode()) is None


def _outcome(gt, pred) -> tuple:
    from psalm_bench import InputError, evaluate

    try:
        result = evaluate("instance", gt, pred)
    except InputError as exc:
        return ("error", str(exc))
    return ("ok", result.metrics, result.warnings, result.curves)


@needs_fixtures
@pytest.mark.parametrize("edit", [
    lambda p: None,
    lambda p: p[3].update(image_id=987654321),
    lambda p: p[2].update(category_id=4242),
    lambda p: p[1].update(score=-3.5),
    lambda p: p[1].update(score=True),
    lambda p: p[4]["segmentation"].update(size=[10, 10]),
    lambda p: p[4]["segmentation"].update(counts="0" + p[4]["segmentation"]["counts"]),
    lambda p: p[5]["segmentation"].update(counts="\n"),
    lambda p: p[0].update(bbox=[1, 2, 3, 4]),
    lambda p: p[0].update(extra={"image_id": 5}),
    lambda p: p.append(dict(p[0], image_id=1.0 * p[0]["image_id"])),
], ids=["plain", "unknown-image", "unknown-category", "negative-score", "bool-score", "mask-size", "bad-counts",
        "control-char", "bbox", "extra-key", "float-id"])
def test_same_verdicts_with_and_without_the_columns(tmp_path, monkeypatch, edit) -> None:
    """Every file, plain or hostile, ends as it ended before the C reader: the
    same metrics and warnings, or the same one-line error."""
    import shutil

    import psalm_bench.evaluators.instance as instance_module

    case = fixture_cases("instance")[0]
    shutil.copytree(case, tmp_path / "case")
    preds = json.loads((tmp_path / "case" / "pred.json").read_text())
    edit(preds)
    (tmp_path / "case" / "pred.json").write_text(json.dumps(preds))
    gt, pred = tmp_path / "case" / "gt.json", tmp_path / "case" / "pred.json"
    fast = _outcome(gt, pred)
    monkeypatch.setattr(instance_module, "results_columns", lambda data, ground_truth: None)
    assert _outcome(gt, pred) == fast


def test_ground_truth_loading_restores_the_gc(tmp_path) -> None:
    """The cyclic GC is paused while the GT is parsed and validated, and left as it was, also after a bad file."""
    import gc

    from psalm_bench import InputError
    from psalm_bench.formats.coco import load_instances

    _world(tmp_path, np.random.default_rng(3))
    (tmp_path / "bad.json").write_text('{"images": [], "categories": [], "annotations": []}')
    for enabled in (True, False):
        gc.enable() if enabled else gc.disable()
        try:
            assert load_instances(tmp_path / "gt.json").images
            with pytest.raises(InputError, match="categories"):
                load_instances(tmp_path / "bad.json")
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
