"""The instance task's fast paths give what the plain ones gave: the
vectorised precision curves, and the results file read in one C pass."""

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
