"""The panoptic evaluator's C matching (one call per image) against its numpy
steps: the same state bit for bit, records included, on random images with
crowd, void, unlisted and absent GT ids, wrong GT areas and IoUs near 0.5."""

from __future__ import annotations

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.evaluators import panoptic as panoptic_module
from psalm_bench.evaluators.panoptic import PanopticEvaluator
from psalm_bench.formats.panoptic import PanopticCategory, PanopticFrame

pytestmark = pytest.mark.skipif(panoptic_module._native is None, reason="built without the C extension")

CATEGORIES = [PanopticCategory(1, "person", True), PanopticCategory(2, "car", True), PanopticCategory(10, "sky", False),
              PanopticCategory(11, "grass", False), PanopticCategory(3, "dog", True)]


def _random_pair(rng: np.random.Generator, image_id: int) -> tuple[PanopticFrame, PanopticFrame]:
    h, w = int(rng.integers(6, 30)), int(rng.integers(6, 30))
    n = int(rng.integers(1, 8))
    gt_ids = rng.choice((1 << 24) - 1, n + 1, replace=False) + 1
    cats = rng.choice([1, 2, 3, 10, 11], n)
    crowd = (rng.random(n) < 0.3) & (cats < 10)
    blocks = rng.integers(0, n + 2, (h // 3 + 1, w // 3 + 1))  # n: void, n + 1: an id segments_info lacks
    lab = np.kron(blocks, np.ones((3, 3), dtype=np.int64))[:h, :w]
    gt_map = np.where(lab < n, gt_ids[np.minimum(lab, n)], 0)
    if rng.random() < 0.5:
        gt_map = np.where(lab == n + 1, gt_ids[n], gt_map)  # unlisted GT id (scored with a warning)
    else:
        gt_map = np.where(lab == n + 1, 0, gt_map)
    areas = np.array([(gt_map == gt_ids[i]).sum() for i in range(n)], dtype=np.float64)
    areas = np.where(rng.random(n) < 0.15, areas * rng.uniform(0.0, 2.0, n), areas)  # wrong JSON areas: union may be <= 0
    gt = PanopticFrame(gt_map.astype(np.uint32), gt_ids[:n].astype(np.int64), cats.astype(np.int64), areas, crowd,
                       image_id=image_id)
    m = n + 2
    shift = np.roll(lab, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
    plab = np.where(rng.random((h, w)) < 0.08, n + 1, np.minimum(shift, m - 1))
    pred_ids = rng.choice((1 << 24) - 1, m, replace=False) + 1
    pcats = np.concatenate([np.where(rng.random(n) < 0.2, rng.choice([1, 2, 3, 10, 11], n), cats), rng.choice([1, 2, 3, 10, 11], 2)])
    pred_map = pred_ids[plab]
    present = [i for i in range(m) if (plab == i).any()]
    pred = PanopticFrame(pred_map.astype(np.uint32), pred_ids[present].astype(np.int64), pcats[present].astype(np.int64),
                         image_id=image_id)
    return gt, pred


def _state(evaluator: PanopticEvaluator) -> dict:
    return {
        "sums": [a.tobytes() for a in (evaluator.tp, evaluator.fp, evaluator.fn, evaluator.iou)],
        "records": [bytes(memoryview(a)) for a in (evaluator._img_id, evaluator._img_counts, evaluator._img_has_pred,
                                                    evaluator._seg_img, evaluator._seg_cat, evaluator._seg_outcome, evaluator._seg_iou)],
        "warnings": (list(evaluator.gt_unlisted), list(evaluator.gt_absent), list(evaluator.missing)),
        "n": evaluator.n_images,
    }


def test_c_matching_equals_numpy_steps_bit_for_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    pairs = [_random_pair(rng, i) for i in range(200)]
    calls = []
    original = PanopticEvaluator._match_in_c

    def counted(self, *args):
        done = original(self, *args)
        calls.append(done)
        return done

    monkeypatch.setattr(PanopticEvaluator, "_match_in_c", counted)
    fast = PanopticEvaluator(CATEGORIES)
    for gt, pred in pairs:
        fast.update(gt, pred)
    assert len(calls) == 200 and all(calls)  # every image went through C
    monkeypatch.setattr(PanopticEvaluator, "_match_in_c", lambda self, *args: False)
    slow = PanopticEvaluator(CATEGORIES)
    for gt, pred in pairs:
        slow.update(gt, pred)
    assert _state(fast) == _state(slow)
    assert fast.gt_unlisted and fast.gt_absent and int(np.count_nonzero(fast.records()["segments"]["outcome"] == 3))
    assert fast.compute().metrics == slow.compute().metrics


def test_c_matching_leaves_input_errors_to_the_numpy_path() -> None:
    """A predicted id that segments_info lacks, or a listed segment with no
    pixel: C changes nothing and the numpy path names the problem."""
    ids = np.array([[5, 5, 0], [6, 6, 0]], dtype=np.uint32)
    gt = PanopticFrame(ids, np.array([5, 6]), np.array([1, 10]), np.array([2.0, 2.0]), np.array([False, False]), image_id=1)
    evaluator = PanopticEvaluator(CATEGORIES)
    before = _state(evaluator)
    with pytest.raises(InputError, match="holds segment id 6 not in segments_info"):
        evaluator.update(gt, PanopticFrame(ids, np.array([5]), np.array([1]), image_id=1))
    with pytest.raises(InputError, match="lists segment id 9 not present"):
        evaluator.update(gt, PanopticFrame(ids, np.array([5, 6, 9]), np.array([1, 10, 2]), image_id=1))
    assert _state(evaluator) == before
    evaluator.update(gt, PanopticFrame(ids, np.array([5, 6]), np.array([1, 10]), image_id=1))
    assert evaluator.tp.sum() == 2 and evaluator.iou.tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
