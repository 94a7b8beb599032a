"""Shape-only toy scenes and the held-out thing cross-entropy: the class head's shape check.

The benchmark world's thing classes differ only by shape (colour is drawn per object), so
a class head that cannot see shape stays at chance (cross-entropy ln C). These scenes keep
just that property at toy size: one to two filled shapes of random colour, size and place
on a random dark background, named by shape alone. ``thing_ce`` scores a model on held-out
scenes with the training loss's own matching, so it measures what training optimises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Iterator, Sequence

import numpy as np
import torch

from .config import PSALMConfig
from .criterion import PSALMCriterion
from .psalm import PSALM
from .samples import TrainSample, collate
from .tokenizer import PSALMTokenizer

SHAPE_CLASSES = ["square", "disc", "triangle", "cross"]


def _shape_mask(kind: int, size: int, cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    dy, dx = yy - cy, xx - cx
    if kind == 0:
        return (np.abs(dy) <= r) & (np.abs(dx) <= r)
    if kind == 1:
        return dy * dy + dx * dx <= r * r
    if kind == 2:  # apex up: half-width grows from 0 at the top to r at the bottom
        return (dy >= -r) & (dy <= r) & (np.abs(dx) * 2 <= dy + r)
    arm = max(1, r // 3)
    return ((np.abs(dy) <= r) & (np.abs(dx) <= arm)) | ((np.abs(dx) <= r) & (np.abs(dy) <= arm))


def shape_scene(seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image uint8 HxWx3, masks bool NxHxW, labels N): 1-2 non-overlapping shapes."""
    rng = np.random.default_rng([seed, 7])
    img = np.empty((size, size, 3), np.uint8)
    img[:] = rng.integers(0, 60, 3)
    masks, labels = [], []
    taken = np.zeros((size, size), bool)
    for _ in range(int(rng.integers(1, 3))):
        for _attempt in range(10):
            r = int(rng.integers(size // 8, size // 4))
            cy, cx = (int(v) for v in rng.integers(r, size - r, 2))
            kind = int(rng.integers(len(SHAPE_CLASSES)))
            m = _shape_mask(kind, size, cy, cx, r)
            if not (m & taken).any():
                break
        else:
            continue
        taken |= m
        img[m] = rng.integers(90, 256, 3)
        masks.append(m)
        labels.append(kind)
    return img, np.stack(masks), np.asarray(labels, np.int64)


def shape_sample(seed: int, size: int = 64) -> TrainSample:
    img, masks, labels = shape_scene(seed, size)
    return TrainSample("instance", img, masks, class_names=list(SHAPE_CLASSES), target_labels=labels)


@dataclass(frozen=True)
class ShapeSource:
    """step -> one category-only batch of fresh training scenes (seeds from 10**6 up; held-out below)."""

    batch: int = 8
    size: int = 64

    def __call__(self, step: int) -> list[TrainSample]:
        return [shape_sample(10**6 + step * self.batch + j, self.size) for j in range(self.batch)]


def matched_batches(model: PSALM, config: PSALMConfig, tokenizer: PSALMTokenizer, samples: Sequence[TrainSample], batch: int,
                    matcher: PSALMCriterion) -> Iterator[tuple[Any, Any, list, torch.Tensor]]:
    """(batch, outputs, final-layer matches, class log-probs (B,Q,C+1)) of ``samples`` in
    eval mode without gradients, ``batch`` at a time; the model's mode is restored after.
    The one loop under the held-out class measures (thing_ce, category_probe)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(samples), batch):
                b = collate(samples[i : i + batch], config, tokenizer, False)
                out = model(b)
                yield b, out, matcher(out, b).matches[-1], out.final.class_logits.float().log_softmax(-1)
    finally:
        model.train(was_training)


def thing_ce(model: PSALM, config: PSALMConfig, tokenizer: PSALMTokenizer, samples: Sequence[TrainSample],
             batch: int = 8, labels: Collection[int] | None = None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the final layer's class logits for every target of
    ``samples`` whose label is in ``labels`` (all when None), at the query the training loss
    matches to it (background column included), in eval mode."""
    losses: list[float] = []
    hits = 0
    for b, _out, match, logp in matched_batches(model, config, tokenizer, samples, batch, PSALMCriterion(config.loss)):
        for k, (q, t) in enumerate(match):
            lab = b.target_labels[k][torch.as_tensor(t, dtype=torch.long)]
            lp = logp[k, torch.as_tensor(q, dtype=torch.long)]
            keep = torch.ones_like(lab, dtype=torch.bool) if labels is None else torch.isin(lab, torch.tensor(sorted(labels)))
            losses += (-lp.gather(1, lab[:, None])[:, 0])[keep].tolist()
            hits += int(((lp.argmax(-1) == lab) & keep).sum())
    if not losses:
        raise ValueError("thing_ce: no target with a scored label")
    return float(np.mean(losses)), hits / len(losses)
