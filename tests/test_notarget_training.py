"""No-target sentences in the referring training stream (off by default) and the short fine-tune."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from psalm_bench.generators.world_scene import generate_scene  # noqa: E402
from psalm_bench.generators.world_text import referring_expressions  # noqa: E402
from psalm_bench.model.checkpoint import load_model  # noqa: E402
from psalm_bench.model.config import get_config  # noqa: E402
from psalm_bench.model.criterion import PSALMCriterion  # noqa: E402
from psalm_bench.model.data import WorldSampleSource, no_target_sample  # noqa: E402
from psalm_bench.model.finetune import LOG_FILE, FinetuneRecipe, finetune  # noqa: E402
from psalm_bench.model.psalm import PSALM  # noqa: E402
from psalm_bench.model.recipe import Recipe, train_on_world, world_tokenizer  # noqa: E402
from psalm_bench.model.samples import collate  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny_cfg():
    cfg = get_config("tiny")
    cfg.llm.vocab_size = 256  # room for the world's words
    return cfg


def test_default_stream_has_no_no_target_samples_and_is_unchanged_by_a_zero_fraction():
    default, zero = WorldSampleSource(batch_size=4), WorldSampleSource(batch_size=4, no_target_fraction=0.0)
    for step in (1, 4):  # referring steps
        for a, b in zip(default(step), zero(step)):
            assert a.sentence == b.sentence and a.target_masks.shape[0] == 1 and np.array_equal(a.target_masks, b.target_masks)


def test_no_target_samples_have_no_target_and_fit_nothing_in_their_scene():
    source = WorldSampleSource(batch_size=4, no_target_fraction=1.0)
    for step in (1, 4):
        for sample in source(step):
            assert sample.task == "referring" and sample.sentence
            assert sample.target_masks.shape == (0, *sample.image.shape[:2])
    # the sentence is none of the scene's single-object sentences (it names nothing there)
    scene = generate_scene(0, "train", 5)
    singles = {e.sentence for e in referring_expressions(scene, np.random.default_rng(0), max_sentences=3)}
    sample = no_target_sample(scene, scene.image, np.random.default_rng(3))
    assert sample is not None and sample.sentence not in singles


def test_a_fraction_mixes_both_kinds_and_leaves_other_tasks_alone():
    mixed = WorldSampleSource(batch_size=8, no_target_fraction=0.5)
    kinds = [s.target_masks.shape[0] for step in (1, 4, 7) for s in mixed(step)]
    assert 0 < kinds.count(0) < len(kinds) and set(kinds) <= {0, 1}
    plain = WorldSampleSource(batch_size=2)
    for step in (0, 2):  # panoptic and interactive batches are the default's
        for a, b in zip(mixed(step)[:2], plain(step)):
            assert np.array_equal(a.image, b.image) and np.array_equal(a.target_masks, b.target_masks)
    with pytest.raises(ValueError, match="no_target_fraction"):
        WorldSampleSource(no_target_fraction=1.5)


def test_no_target_loss_lowers_every_seg_score():
    """Nothing is matched, so the SEG BCE pushes every query to "no" and the mask terms are zero."""
    cfg, tok = _tiny_cfg(), world_tokenizer()
    torch.manual_seed(0)
    model = PSALM(cfg, tok)
    samples = WorldSampleSource(batch_size=2, no_target_fraction=1.0)(1)
    batch = collate(samples, cfg, tok, False)
    crit = PSALMCriterion(cfg.loss)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def max_seg() -> float:
        with torch.no_grad():
            return float(model(batch).predictions[-1].seg_logits.sigmoid().max())

    before = max_seg()
    for _ in range(8):
        loss = crit(model(batch), batch)
        assert loss.terms["mask"] == 0.0 and loss.terms["dice"] == 0.0 and loss.terms["seg"] > 0.0
        opt.zero_grad()
        loss.total.backward()
        opt.step()
    assert max_seg() < before - 0.05, (before, max_seg())


def test_recipe_and_finetune_record_the_option(tmp_path):
    base = tmp_path / "base"
    train_on_world(_tiny_cfg(), base, Recipe(steps=2, batch_size=2, warmup_steps=1, checkpoint_every=0, no_target_fraction=0.5),
                   progress=False, threads=1)
    assert json.loads((base / "provenance.json").read_text())["data"]["no_target_fraction"] == 0.5
    out = tmp_path / "ft"
    s = finetune(base, out, FinetuneRecipe(steps=2, batch_size=2, no_target_fraction=1.0), progress=False, log_every=1)
    assert s.steps_done == 2
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["finetune"]["no_target_fraction"] == 1.0 and prov["finetune"]["zero_shot_gref"] is False
    assert prov["config_name"] == json.loads((base / "provenance.json").read_text())["config_name"]
    log = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and all(r["no_target_samples"] == 2 for r in log)
    a, _, _ = load_model(base)
    b, _, _ = load_model(out)
    changed = [k for k, v in a.state_dict().items() if v.is_floating_point() and not torch.equal(v, b.state_dict()[k])]
    assert changed  # the fine-tune moved the weights
