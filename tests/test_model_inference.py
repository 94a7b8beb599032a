"""PSALM post-processing on hand-made logits: every task's released rule and threshold."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from psalm_bench.model.inference import (  # noqa: E402
    davis_frame_inference,
    gref_inference,
    instance_inference,
    interactive_inference,
    mask_scores,
    panoptic_inference,
    referring_inference,
    semantic_inference,
    upsample_masks,
)
from psalm_bench.model.preprocess import ImageGeometry  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")

BIG = 20.0


def logits_for(probs: list[list[float]]) -> torch.Tensor:
    """Class logits whose softmax is exactly ``probs`` (rows sum to 1)."""
    return torch.tensor(probs).log()


def masks(*regions: tuple[slice, slice], size: int = 8) -> torch.Tensor:
    out = torch.full((len(regions), size, size), -BIG)
    for q, (ys, xs) in enumerate(regions):
        out[q, ys, xs] = BIG
    return out


def test_upsample_crops_the_valid_area_and_resizes():
    geo = ImageGeometry(orig_size=(6, 12), valid_size=(8, 16), padded_size=(16, 16))
    m = torch.full((1, 4, 4), -BIG)
    m[0, :2, :] = BIG  # the valid (top) half of the padded square
    up = upsample_masks(m, geo)
    assert up.shape == (1, 6, 12) and bool((up > 0).all())
    assert upsample_masks(m, geo, size=(3, 3)).shape == (1, 3, 3)


def test_mask_scores():
    m = torch.tensor([[[0.0, 2.0], [-1.0, 4.0]]])
    expect = (torch.sigmoid(torch.tensor(2.0)) + torch.sigmoid(torch.tensor(4.0))) / 2
    torch.testing.assert_close(mask_scores(m), expect.view(1), rtol=1e-5, atol=1e-6)


def test_panoptic_thresholds_overlap_and_stuff_merge():
    # classes: 0 = thing "square", 1 = stuff "sky"; column 2 = background
    cls = logits_for([
        [0.95, 0.03, 0.02],  # q0: square, left columns
        [0.02, 0.90, 0.08],  # q1: sky, top-right block
        [0.02, 0.88, 0.10],  # q2: sky, bottom-right block -> merged into q1's segment
        [0.75, 0.05, 0.20],  # q3: square but score 0.75 <= 0.8 -> dropped
        [0.05, 0.05, 0.90],  # q4: background -> dropped
        [0.85, 0.05, 0.10],  # q5: square, mostly under q0 (overlap < 0.8) -> dropped
    ])
    m = masks(
        (slice(0, 8), slice(0, 3)),
        (slice(0, 4), slice(4, 8)),
        (slice(4, 8), slice(4, 8)),
        (slice(0, 8), slice(3, 4)),
        (slice(0, 8), slice(0, 8)),
        (slice(0, 8), slice(1, 4)),
    )
    res = panoptic_inference(cls, m, isthing=[True, False])
    assert [(s.category, s.isthing) for s in res.segments] == [(0, True), (1, False)]
    square, sky = res.segments
    assert (res.seg[:, :3] == square.id).all() and (res.seg[:, 4:] == sky.id).all()
    assert square.area == 24 and sky.area == 32
    # column 3 is won by q5 (only kept query there) but q5 covers 8 of its 24 pixels -> dropped -> void
    assert (res.seg[:, 3] == 0).all()
    # a lower overlap threshold keeps q5 (8/24 = 0.33 of its own mask), which then owns column 3
    res2 = panoptic_inference(cls, m, isthing=[True, False], overlap_threshold=0.3)
    assert len(res2.segments) == 3 and res2.segments[2].category == 0
    assert (res2.seg[:, 3] == res2.segments[2].id).all()


def test_panoptic_nothing_kept():
    res = panoptic_inference(logits_for([[0.1, 0.1, 0.8]]), masks((slice(0, 4), slice(0, 4))), isthing=[True, True])
    assert res.segments == [] and not res.seg.any()


def test_instance_topk_scores_and_things():
    cls = logits_for([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    m = masks((slice(0, 4), slice(0, 4)), (slice(4, 8), slice(4, 8)))
    res = instance_inference(cls, m, topk=3)
    assert len(res.scores) == 3
    assert res.labels.tolist() == [1, 0, 1] and res.masks[0].sum() == 16
    s = torch.sigmoid(torch.tensor(BIG)).item()
    np.testing.assert_allclose(res.scores, [0.7 * s, 0.6 * s, 0.3 * s], rtol=1e-5)
    things = instance_inference(cls, m, topk=100, isthing=[True, False])
    assert things.labels.tolist() == [0, 0] and len(things.scores) == 2  # 2 queries x 1 thing class


def test_semantic_is_class_weighted_sigmoid():
    cls = logits_for([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    m = masks((slice(0, 8), slice(0, 4)), (slice(0, 8), slice(4, 8)))
    sem = semantic_inference(cls, m)
    assert sem.shape == (2, 8, 8)
    assert (sem.argmax(0)[:, :4] == 0).all() and (sem.argmax(0)[:, 4:] == 1).all()
    torch.testing.assert_close(sem[0, 0, 0], torch.tensor(0.6) * torch.sigmoid(torch.tensor(BIG)) + 0.2 * torch.sigmoid(torch.tensor(-BIG)))


def test_referring_top1_and_gref_union_fallback_no_target():
    m = masks((slice(0, 2), slice(0, 2)), (slice(4, 6), slice(4, 6)), (slice(6, 8), slice(0, 2)))
    seg = torch.tensor([3.0, 2.0, -4.0])  # sigmoid: 0.95, 0.88, 0.018
    r = referring_inference(seg, m)
    assert r.query == 0 and r.mask.sum() == 4
    g = gref_inference(seg, m)
    assert g.mask.sum() == 8 and g.mask[0, 0] and g.mask[5, 5] and not g.mask[7, 0]  # union of 2 above 0.6
    low = torch.tensor([-1.0, 0.0, -3.0])  # nothing above 0.6
    fb = gref_inference(low, m)
    assert not fb.no_target and fb.query == 1 and fb.mask.sum() == 4  # released: fall back to top-1
    nt = gref_inference(low, m, no_target=True)
    assert nt.no_target and nt.query == -1 and not nt.mask.any()
    assert gref_inference(low, m, threshold=0.45).mask.sum() == 4  # only q1 (0.5) passes


def test_interactive_top1_per_prompt():
    m = masks((slice(0, 4), slice(0, 4)), (slice(4, 8), slice(4, 8)), (slice(0, 8), slice(0, 8)))
    region = torch.tensor([[5.0, -5.0, 1.0], [-5.0, 5.0, 1.0]])
    res = interactive_inference(region, m)
    assert res.queries.tolist() == [0, 1] and res.masks.shape == (2, 8, 8)
    assert res.masks[0, :4, :4].all() and not res.masks[0, 4:].any()


def test_davis_unique_assignment_overwrite_and_memory_rule():
    m = masks((slice(0, 4), slice(0, 4)), (slice(4, 8), slice(4, 8)), (slice(0, 4), slice(0, 5)))
    # both objects prefer q0; object 1 must take its next best (q2), not q0
    region = torch.tensor([[6.0, -6.0, 0.0], [5.0, -6.0, 4.0]])
    fr = davis_frame_inference(region, m)
    assert fr.queries.tolist() == [0, 2]
    assert fr.label_map[0, 0] == 2 and fr.label_map[0, 4] == 2  # later object overwrites
    assert not fr.update_memory  # IoU(q0, q2) = 16/20 > 0.4 -> keep the older prompts
    region = torch.tensor([[6.0, -6.0, 0.0], [-6.0, 6.0, 0.0]])
    fr = davis_frame_inference(region, m)
    assert fr.queries.tolist() == [0, 1] and fr.update_memory
    assert fr.label_map[0, 0] == 1 and fr.label_map[5, 5] == 2 and fr.label_map[5, 0] == 0
    # top-k restricts the candidates: with top-1 only, a taken query falls back to the object's best
    region = torch.tensor([[6.0, -6.0, 0.0], [5.0, -6.0, 4.0]])
    assert davis_frame_inference(region, m, topk=1).queries.tolist() == [0, 0]
