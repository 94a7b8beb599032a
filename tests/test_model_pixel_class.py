"""loss.pixel_class_weight: the auxiliary per-pixel class loss on the pixel decoder's 1/8 map.

A training-only deviation from PSALM (off in every shipped config but the opt-in ``bundled-shape``): in category batches each
pixel of the 1/8 map is scored against the class condition embeddings and trained towards the
classes its area covers. No parameters are added, so checkpoints keep their keys.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from psalm_bench.errors import InputError  # noqa: E402
from psalm_bench.model.config import get_config  # noqa: E402
from psalm_bench.model.criterion import PSALMCriterion  # noqa: E402
from psalm_bench.model.psalm import PSALM  # noqa: E402
from psalm_bench.model.samples import collate  # noqa: E402
from psalm_bench.model.shape_toy import SHAPE_CLASSES, shape_sample  # noqa: E402
from psalm_bench.model.tokenizer import build_tokenizer  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _setup(weight: float):
    cfg = get_config("tiny")
    cfg = replace(cfg, loss=replace(cfg.loss, pixel_class_weight=weight)).validate()
    tok = build_tokenizer(SHAPE_CLASSES)
    torch.manual_seed(0)
    model = PSALM(cfg, tok)
    batch = collate([shape_sample(i) for i in range(3)], cfg, tok, True, np.random.default_rng(0))
    return cfg, model, batch


def test_off_in_every_shipped_config_and_checked():
    for name in ("tiny", "tiny-paper", "bundled", "bundled-lite0", "swinb-phi15"):
        assert get_config(name).loss.pixel_class_weight == 0.0
    assert get_config("bundled-shape").loss.pixel_class_weight == 2.0  # the named opt-in variant
    cfg = get_config("tiny")
    for bad in (-1.0, float("nan"), float("inf"), "2"):
        with pytest.raises(InputError, match="pixel_class_weight"):
            replace(cfg, loss=replace(cfg.loss, pixel_class_weight=bad)).validate()


def test_adds_no_parameters():
    _, off, _ = _setup(0.0)
    _, on, _ = _setup(2.0)
    assert list(off.state_dict()) == list(on.state_dict())


def test_term_is_added_in_training_only_and_weighted():
    cfg, model, batch = _setup(2.0)
    model.train()
    torch.manual_seed(1)
    out = model(batch)
    B, C = batch.size, out.final.class_logits.shape[-1]
    assert out.pixel_class_logits.shape == (B, C, cfg.image_size // 8, cfg.image_size // 8)
    on = PSALMCriterion(cfg.loss)(out, batch)
    off = PSALMCriterion(replace(cfg.loss, pixel_class_weight=0.0))(out, batch)
    assert on.terms["pixel_class"] > 0
    assert float(on.total.detach()) == pytest.approx(float(off.total.detach()) + on.terms["pixel_class"], rel=1e-5)
    # the term alone sends gradient into the pixel decoder and the class embeddings' projector
    model.zero_grad()
    (on.total - off.total).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.pixel_decoder.parameters())
    assert model.class_name_projector.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        assert model(batch).pixel_class_logits is None
    _, plain, _ = _setup(0.0)
    plain.train()
    assert plain(batch).pixel_class_logits is None


def test_loss_is_cross_entropy_against_area_coverage():
    _, _, batch = _setup(1.0)
    masks = torch.cat(batch.target_masks).float()
    counts = [int(t.shape[0]) for t in batch.target_masks]
    B, C, h = batch.size, len(SHAPE_CLASSES) + 1, masks.shape[-1] // 8
    uniform = torch.zeros(B, C, h, h)
    assert float(PSALMCriterion.pixel_class_loss(uniform, batch, masks, counts)) == pytest.approx(math.log(C), rel=1e-6)
    # log-coverage logits (each pixel on the classes its area covers, background elsewhere)
    # reach the minimum, the coverage's entropy (near 0: few pixels are split); a wrong class
    # everywhere scores far worse than chance
    cover = torch.nn.functional.adaptive_avg_pool2d(masks[:, None], (h, h))[:, 0]
    target = torch.zeros(B, C, h, h)
    start = 0
    for b, n in enumerate(counts):
        for j in range(n):
            target[b, int(batch.target_labels[b][j])] += cover[start + j]
        start += n
    target[:, -1] = 1 - target[:, :-1].sum(1)
    right = target.clamp_min(1e-9).log()
    good = float(PSALMCriterion.pixel_class_loss(right, batch, masks, counts))
    wrong = torch.full((B, C, h, h), -20.0)
    wrong[:, 0] = 20.0
    bad = float(PSALMCriterion.pixel_class_loss(wrong, batch, masks, counts))
    assert good < 0.5 < math.log(C) < bad
