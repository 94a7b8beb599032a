"""Regression guard: the class head must learn classes that differ only by shape.

The world names its things by shape alone (colour is random per object); a class head that
cannot see shape stays near chance, as the bundled model did (thing CE ~ ln 10). This is the
same problem at toy size (model/shape_toy.py: 4 shapes of random colour, 64 px, one to two
per scene): a tiny category-only run with ``decoder.class_shape_descriptor`` on must bring the
held-out thing cross-entropy well under chance, and the same run with it off must not.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from psalm_bench.errors import InputError  # noqa: E402
from psalm_bench.model.checkpoint import load_model  # noqa: E402
from psalm_bench.model.config import get_config  # noqa: E402
from psalm_bench.model.predictor import mask_shape_crops  # noqa: E402
from psalm_bench.model.shape_toy import SHAPE_CLASSES, ShapeSource, shape_sample, shape_scene, thing_ce  # noqa: E402
from psalm_bench.model.tokenizer import build_tokenizer  # noqa: E402
from psalm_bench.model.train import train  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHANCE = math.log(len(SHAPE_CLASSES))  # 1.386: uniform over the four shapes
GUARD_STEPS = 200
# Measured at 200 steps (tiny config, batch 8, lr 1e-3, 64 held-out scenes), training seeds 0/1/2:
# descriptor on: held-out thing CE 0.618 / 0.444 / 0.378; off: 1.098 / 0.578 / 1.060. The runs are
# deterministic on CPU, so the tests use seed 0: the bound is 0.54 below chance (ln 4 = 1.386),
# 0.23 above seed 0 with the descriptor on (and above every seed on) and 0.25 below seed 0 off.
# Off, seed 1 also got there (0.578): at toy scale the descriptor speeds shape learning up.
GUARD_CE = 0.85


def _run(tmp_path, descriptor: int, seed: int = 0) -> tuple[float, float]:
    tok = build_tokenizer(SHAPE_CLASSES)
    cfg = get_config("tiny")
    cfg = replace(cfg, decoder=replace(cfg.decoder, class_shape_descriptor=descriptor)).validate()
    out = tmp_path / f"d{descriptor}s{seed}"
    train(cfg, ShapeSource(batch=8), out, tokenizer=tok, steps=GUARD_STEPS, lr=1e-3, warmup_steps=10,
          progress=False, seed=seed, threads=1, checkpoint_every=0)
    model, _, _ = load_model(out)
    return thing_ce(model, model.config, tok, [shape_sample(i) for i in range(64)])


def test_shape_descriptor_makes_held_out_thing_ce_fall(tmp_path):
    ce, acc = _run(tmp_path, 16)
    assert ce < GUARD_CE, f"held-out thing CE {ce:.3f} (chance {CHANCE:.3f}): the class head no longer learns shape"
    assert acc > 0.5  # chance is 0.25


def test_without_the_descriptor_the_same_run_stays_above_the_guard(tmp_path):
    """The guard can fail: the PSALM head alone does not get there in the same steps."""
    ce, _ = _run(tmp_path, 0)
    assert ce > GUARD_CE


def test_shape_crops_follow_the_mask_box():
    logits = torch.full((1, 3, 16, 16), -9.0)
    logits[0, 0, 2:6, 9:13] = 9.0  # a 4x4 square: its crop is all on
    logits[0, 1, 4:12, 4:12] = 9.0
    logits[0, 1, 4:8, 4:8] = -9.0  # an L: the crop's top-left quarter is off
    crops = mask_shape_crops(logits, 4)  # query 2 is empty: the whole (all-off) map
    assert crops.shape == (1, 3, 4, 4)
    assert torch.all(crops[0, 0] > 0.99)
    assert torch.all(crops[0, 1, :2, :2] < 0.01) and torch.all(crops[0, 1, 2:, 2:] > 0.99)
    assert torch.all(crops[0, 2] < 0.01)


def test_descriptor_is_off_in_every_shipped_config_but_the_opt_in_one_and_checked():
    for name in ("tiny", "tiny-paper", "bundled", "bundled-lite0", "swinb-phi15"):
        assert get_config(name).decoder.class_shape_descriptor == 0
    assert get_config("bundled-shape").decoder.class_shape_descriptor == 16  # the named opt-in variant
    cfg = get_config("tiny")
    with pytest.raises(InputError, match="class_shape_descriptor"):
        replace(cfg, decoder=replace(cfg.decoder, class_shape_descriptor=2)).validate()


def test_shape_scenes_are_seeded_and_named_by_shape():
    a, b = shape_scene(5), shape_scene(5)
    assert all((x == y).all() for x, y in zip(a, b))
    img, masks, labels = shape_scene(5)
    assert masks.shape[0] == labels.shape[0] >= 1 and labels.max() < len(SHAPE_CLASSES)
    assert not (masks.sum(0) > 1).any()  # shapes never overlap


def test_bundled_shape_is_bundled_with_the_two_shape_options_only():
    """The opt-in variant measured in model/config.py's docstring; the shipped ``bundled`` stays PSALM's recipe."""
    a, b = get_config("bundled-shape").to_dict(), get_config("bundled").to_dict()
    diffs = {(k, s) for k in a if isinstance(a[k], dict) for s in a[k] if a[k][s] != b[k][s]}
    assert diffs == {("decoder", "class_shape_descriptor"), ("loss", "pixel_class_weight")}
    assert a["name"] == "bundled-shape" and {k: v for k, v in a.items() if not isinstance(v, dict) and k != "name"} == \
        {k: v for k, v in b.items() if not isinstance(v, dict) and k != "name"}
