"""PSALM training: matching, losses, learning on toy scenes, chunked resume equivalence."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from safetensors.torch import load_file  # noqa: E402

from psalm_bench.errors import InputError  # noqa: E402
from psalm_bench.model.checkpoint import load_model  # noqa: E402
from psalm_bench.model.config import get_config  # noqa: E402
from psalm_bench.model.criterion import PSALMCriterion  # noqa: E402
from psalm_bench.model.predictor import PredictionSet  # noqa: E402
from psalm_bench.model.psalm import PSALM, PSALMOutputs  # noqa: E402
from psalm_bench.model.samples import collate  # noqa: E402
from psalm_bench.model.toy import toy_sample, toy_source  # noqa: E402
from psalm_bench.model.train import train  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")



def _handmade(batch, cls=None, seg=None, region=None, best_query=2, runner_up=None):
    """Outputs whose query ``best_query`` reproduces target 0 at 1/4 resolution (``runner_up``: almost)."""
    B, Q, h = batch.size, 6, 16
    masks = torch.full((B, Q, h, h), -5.0)
    for b in range(B):
        t = torch.nn.functional.adaptive_avg_pool2d(batch.target_masks[b][:1].float().unsqueeze(0), h)[0, 0]
        masks[b, best_query] = torch.where(t > 0.5, 8.0, -8.0)
        if runner_up is not None:  # the same mask plus two false-positive pixels
            masks[b, runner_up] = masks[b, best_query]
            free = torch.nonzero(t == 0)[:2]
            masks[b, runner_up, free[:, 0], free[:, 1]] = 8.0
    p = PredictionSet(masks, cls, seg, region)
    return PSALMOutputs(batch.task, [p, p], class_valid=batch.cond_valid, region_valid=batch.region_valid)


def test_matching_is_mask_only_for_referring_and_uses_class_for_panoptic(tok):
    cfg = get_config("tiny")
    crit = PSALMCriterion(cfg.loss)
    rb = collate([toy_sample("referring", 0)], cfg, tok, False)
    out = _handmade(rb, seg=torch.zeros(1, 6, 1))
    res = crit(out, rb)
    assert [m[0][0].tolist() for m in res.matches] == [[2], [2]]
    assert res.terms["seg"] > 0 and res.terms["class"] == 0 and res.terms["region"] == 0
    # panoptic: the class cost moves the match from the best mask (q2) to a nearly as good one (q4)
    pb = collate([toy_sample("panoptic", 0)], cfg, tok, False)
    cls = torch.zeros(1, 6, 3)
    cls[0, 4, 0] = 30.0  # q4 is sure it is a square (target 0)
    res = crit(_handmade(pb, cls=cls, runner_up=4), pb)
    q, t = res.matches[-1][0]
    assert dict(zip(t.tolist(), q.tolist()))[0] == 4
    res_no_cls = crit(_handmade(pb, cls=torch.zeros(1, 6, 3), runner_up=4), pb)
    q, t = res_no_cls.matches[-1][0]
    assert dict(zip(t.tolist(), q.tolist()))[0] == 2


def test_region_targets_and_point_sampled_losses(tok):
    cfg = get_config("tiny")
    ib = collate([toy_sample("interactive", 0), toy_sample("interactive", 1)], cfg, tok, False)
    region = torch.full((2, 2, 6), -6.0, requires_grad=True)
    out = _handmade(ib, region=region)
    res = PSALMCriterion(cfg.loss)(out, ib)
    res.total.backward()
    # prompt 0's matched query is q2 in both images: its region logit is pushed up
    assert region.grad[0, 0, 2] < 0 and region.grad[1, 0, 2] < 0 and region.grad[0, 0, 0] > 0
    pts = PSALMCriterion(replace(cfg.loss, mask_loss="points", num_points=256))
    torch.manual_seed(0)
    res_p = pts(_handmade(ib, region=torch.zeros(2, 2, 6)), ib)
    assert np.isfinite(res_p.terms["mask"]) and np.isfinite(res_p.terms["dice"]) and res_p.terms["mask"] > 0


def test_loss_decreases_on_toy_scenes(tmp_path, tok):
    cfg = get_config("tiny")
    s = train(cfg, toy_source(batch=4), tmp_path, tokenizer=tok, steps=30, lr=1e-3, warmup_steps=3,
              progress=False, log_every=1, seed=0, threads=1)
    assert s.completed and s.step == 30
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 31))
    assert set(log[0]) >= {"step", "task", "loss", "class", "seg", "region", "mask", "dice", "lr", "seconds"}
    for task in ("panoptic", "referring", "interactive"):
        losses = [r["loss"] for r in log if r["task"] == task]
        assert np.mean(losses[-3:]) < 0.75 * np.mean(losses[:2]), (task, losses)
    model, tok2, prov = load_model(tmp_path)
    assert prov["steps"] == 30 and prov["seed"] == 0 and prov["device_kind"] == "cpu"
    assert prov["final_losses"]["loss"] == log[-1]["loss"] and prov["config"] == cfg.to_dict()


def test_chunked_training_resumes_bit_identical(tmp_path, tok):
    cfg = get_config("tiny")
    kw = dict(tokenizer=tok, steps=6, lr=1e-3, warmup_steps=2, progress=False, log_every=1, seed=3, threads=1,
              checkpoint_every=0)
    full = train(cfg, toy_source(batch=2), tmp_path / "full", **kw)
    chunks = []
    for _ in range(2):  # max_seconds=0: each call stops after one step and saves
        chunks.append(train(cfg, toy_source(batch=2), tmp_path / "chunked", max_seconds=0, **kw))
    assert [c.step for c in chunks] == [1, 2] and not chunks[-1].completed
    assert not (tmp_path / "chunked" / "model.safetensors").exists()
    rest = train(cfg, toy_source(batch=2), tmp_path / "chunked", **kw)
    assert rest.completed and rest.chunks == 3 and full.completed
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "chunked" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    la = (tmp_path / "full" / "train_log.jsonl").read_text().splitlines()
    lb = (tmp_path / "chunked" / "train_log.jsonl").read_text().splitlines()
    strip = [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in la]
    assert strip == [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in lb]
    with pytest.raises(InputError, match=r"different settings \(lr 0.001 vs 0.002\)"):
        train(cfg, toy_source(batch=2), tmp_path / "chunked", **{**kw, "lr": 2e-3})


def test_train_mode_batchnorm_and_frozen_vision(tok):
    cfg = get_config("tiny")
    cfg.vision.train = False
    model = PSALM(cfg, tok).train()
    assert not model.vision_tower.training and model.mm_projector.training
    assert model.parameter_counts()["trainable"] == model.parameter_counts()["total"] - model.parameter_counts()["vision"]


def test_bf16_autocast_forward_backward(tok):
    """The mixed-precision path train() takes on CUDA, exercised with CPU autocast."""
    torch.manual_seed(0)
    cfg = get_config("tiny-paper")
    model = PSALM(cfg, tok).train()
    crit = PSALMCriterion(replace(cfg.loss, mask_loss="points", num_points=64))
    for task in ("panoptic", "interactive"):
        b = collate([toy_sample(task, i) for i in range(2)], cfg, tok, True, np.random.default_rng(0))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(b)
        assert out.final.masks.dtype == torch.bfloat16
        loss = crit(out, b)
        loss.total.backward()
        assert torch.isfinite(loss.total) and model.seg_query.grad is not None


@pytest.mark.parametrize("name", ["tiny", "tiny-paper", "bundled", "bundled-shape", "swinb-phi15"])
def test_every_shipped_config_holds_the_world_tokenizer(name):
    """`psalm-bench train --config NAME` on the default world must not stop at
    'tokenizer has N tokens but llm.vocab_size is M'."""
    from psalm_bench.model.config import get_config
    from psalm_bench.model.recipe import world_tokenizer

    assert world_tokenizer().vocab_size <= get_config(name).llm.vocab_size


def test_batches_rendered_ahead_in_workers_train_the_same_weights(tmp_path, tok):
    """--loader-workers renders batches in spawned processes; the weights and log are those of the loop."""
    cfg = get_config("tiny")
    kw = dict(tokenizer=tok, steps=5, lr=1e-3, warmup_steps=1, progress=False, log_every=1, seed=4, threads=1,
              checkpoint_every=0)
    inline = train(cfg, toy_source(batch=2), tmp_path / "inline", **kw)
    ahead = train(cfg, toy_source(batch=2), tmp_path / "ahead", loader_workers=2, **kw)
    assert inline.completed and ahead.completed
    a = load_file(str(tmp_path / "inline" / "model.safetensors"))
    b = load_file(str(tmp_path / "ahead" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda p: [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in p.read_text().splitlines()]  # noqa: E731
    assert strip(tmp_path / "inline" / "train_log.jsonl") == strip(tmp_path / "ahead" / "train_log.jsonl")
    with pytest.raises(InputError, match="loader_workers"):
        train(cfg, toy_source(batch=2), tmp_path / "bad", loader_workers=-1, **kw)


def test_prefetch_stops_early_without_rendering_everything():
    from psalm_bench.model.prefetch import batches

    stream = batches(toy_source(batch=1), 0, 10_000, workers=1, ahead=2)
    steps = [next(stream)[0] for _ in range(3)]
    stream.close()  # must return promptly: at most `ahead` batches were in flight
    assert steps == [0, 1, 2]
