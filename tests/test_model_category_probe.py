"""model/category_probe.py: held-out thing / stuff / background class scores on world val scenes.

An oracle with known answers (exact masks in a shuffled query order, a chosen class per
segment) checks the matching on masks alone and the bookkeeping; a tiny real model checks the
counts on the world's own val scenes; the command's bad input is one line, exit 2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch.nn.functional as F  # noqa: E402

from psalm_bench.generators.world_scene import CATEGORIES  # noqa: E402
from psalm_bench.model.category_probe import category_probe, main, val_category_samples  # noqa: E402
from psalm_bench.model.config import get_config  # noqa: E402
from psalm_bench.model.data import known_class_names  # noqa: E402
from psalm_bench.model.predictor import PredictionSet  # noqa: E402
from psalm_bench.model.psalm import PSALM, PSALMOutputs  # noqa: E402
from psalm_bench.model.recipe import world_tokenizer  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_THINGS = sum(c.isthing for c in CATEGORIES.known)


class _Oracle(torch.nn.Module):
    """Query 2k+1 holds segment k's exact mask (even queries are empty); a thing's class logits
    name its true class, a stuff segment's name the next thing class (wrong), empty queries say
    background, so every figure of the probe is known in advance."""

    def __init__(self, mask_size: int, queries: int = 40):
        super().__init__()
        self.mask_size, self.queries = mask_size, queries

    def forward(self, batch):
        B, Q, C = batch.size, self.queries, len(batch.class_names[0]) + 1
        masks = torch.full((B, Q, self.mask_size, self.mask_size), -9.0)
        logits = torch.zeros(B, Q, C)
        logits[:, :, C - 1] = 8.0
        for b in range(B):
            gt = F.adaptive_avg_pool2d(batch.target_masks[b].float()[:, None], self.mask_size)[:, 0] > 0.5
            for k, lab in enumerate(batch.target_labels[b].tolist()):
                q = 2 * k + 1
                masks[b, q][gt[k]] = 9.0
                logits[b, q] = 0.0
                logits[b, q, lab if lab < N_THINGS else (lab + 1) % N_THINGS] = 8.0
        return PSALMOutputs(batch.task, [PredictionSet(masks, logits, None, None)])


def test_val_samples_are_panoptic_over_the_known_classes_and_deterministic():
    a, b = val_category_samples(3), val_category_samples(3)
    assert [s.task for s in a] == ["panoptic"] * 3
    assert a[0].class_names == known_class_names()
    assert all(np.array_equal(x.image, y.image) and np.array_equal(x.target_labels, y.target_labels) for x, y in zip(a, b))
    labels = np.concatenate([s.target_labels for s in a])
    assert (labels < N_THINGS).any() and (labels >= N_THINGS).any()  # things and stuff both present


def test_oracle_scores_are_what_it_was_built_to_say():
    cfg = get_config("bundled")  # 64 x 64 masks: every val thing of these scenes keeps pixels at 1/4
    samples = val_category_samples(4)
    res = category_probe(_Oracle(cfg.mask_size), cfg, world_tokenizer(), samples, batch=3)
    labels = np.concatenate([s.target_labels for s in samples])
    n_th, n_st = int((labels < N_THINGS).sum()), int((labels >= N_THINGS).sum())
    assert (res.thing.n, res.stuff.n, res.background.n) == (n_th, n_st, 4 * 40 - n_th - n_st)
    assert res.thing.acc == 1.0 and res.thing_acc_among_things == 1.0 and res.thing.ce < 1e-2
    names = known_class_names()
    assert res.thing_recall == {names[k]: 1.0 for k in sorted(set(labels[labels < N_THINGS].tolist()))}
    assert res.stuff.acc == 0.0 and res.stuff.ce > 7.0  # named as a thing: wrong on purpose
    assert res.background.acc == 1.0 and res.background.ce < 1e-2
    assert res.thing_iou > 0.99  # the mask-only matcher found each segment's own query
    assert res.chance_ce == pytest.approx(math.log(N_THINGS))
    th = labels[labels < N_THINGS]
    assert res.thing_majority_acc == pytest.approx(np.bincount(th).max() / th.size)


def test_tiny_model_on_val_scenes_counts_every_segment_once():
    cfg = get_config("tiny")
    tok = world_tokenizer()
    torch.manual_seed(0)
    model = PSALM(cfg, tok).train()
    samples = val_category_samples(3)
    res = category_probe(model, cfg, tok, samples, batch=2)
    Q = cfg.decoder.num_queries
    matched = sum(min(Q, len(s.target_labels)) for s in samples)
    assert res.thing.n + res.stuff.n == matched
    assert res.background.n == 3 * Q - matched
    assert all(math.isfinite(v) for v in (res.thing.ce, res.stuff.ce, res.background.ce, res.thing_iou))
    assert 0.0 <= res.thing.acc <= 1.0 and 0.0 <= res.thing_acc_among_things <= 1.0
    assert model.training  # the probe leaves the mode as it found it
    assert set(res.thing_recall) <= set(known_class_names()[:N_THINGS]) and all(0.0 <= v <= 1.0 for v in res.thing_recall.values())


def test_command_on_a_missing_folder_is_one_line_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--scenes", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such model directory" in err[0]
