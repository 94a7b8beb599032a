"""Held-out class evidence of the category task on world val scenes: things, stuff, background.

Why: the bundled model's panoptic failure is its class head (thing classes at chance, stuff
learned), and a full ``psalm-bench reproduce`` takes half an hour. This scores a trained
model's class logits directly on the world's val split, with no thresholds and no panoptic
merge: each ground-truth segment gets the query the Hungarian matcher assigns to it on masks
alone (BCE + Dice, the training costs without the class term, so a query is not picked for
saying the right name), and that query's final-layer class distribution is scored. Queries
left unmatched are scored against the background column. Things and stuff are reported apart,
because the world's things differ only by shape while stuff differs by texture and colour.

    python -m psalm_bench.model.category_probe RUN_DIR [--scenes 200] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from psalm_bench.errors import InputError
from psalm_bench.generators.world_scene import CATEGORIES, generate_scene

from .config import PSALMConfig
from .criterion import PSALMCriterion
from .data import jpeg_round_trip, known_class_names, panoptic_sample
from .psalm import PSALM
from .samples import TrainSample
from .shape_toy import matched_batches
from .tokenizer import PSALMTokenizer

VAL_SCENES = 200  # the default ("small") world's val split


@dataclass(frozen=True)
class ClassScore:
    """Mean cross-entropy and top-1 accuracy (over every column, background included) of ``n`` items."""

    n: int
    ce: float
    acc: float


@dataclass(frozen=True)
class CategoryProbe:
    """What the class head says about the val split's segments and its unmatched queries."""

    scenes: int
    chance_ce: float  # ln(number of thing classes): a head that cannot tell things apart
    thing: ClassScore
    thing_acc_among_things: float  # argmax over the thing columns only: shape evidence alone
    thing_majority_acc: float  # share of the commonest thing class: what naming one class for all scores
    thing_recall: dict[str, float]  # per thing class, argmax among things: one class named for all shows here
    thing_iou: float  # mean mask IoU of the query matched to each thing (1/4 resolution)
    stuff: ClassScore
    background: ClassScore  # unmatched queries against the background column

    def to_dict(self) -> dict:
        return asdict(self)


def val_category_samples(scenes: int = VAL_SCENES, world_seed: int = 0, size: str = "small") -> list[TrainSample]:
    """The first ``scenes`` val-split scenes as panoptic samples over the known classes (things, then
    stuff), JPEG round-tripped as the world's files are; never drawn by training (own RNG stream)."""
    names = known_class_names()
    out = []
    for i in range(scenes):
        scene = generate_scene(world_seed, "val", i, size)
        out.append(panoptic_sample(scene, jpeg_round_trip(scene.image), names))
    return out


def _score(losses: list[float], hits: int) -> ClassScore:
    return ClassScore(len(losses), float(np.mean(losses)) if losses else math.nan, hits / len(losses) if losses else math.nan)


def _recall(labels: list[int], hits: list[bool], names: Sequence[str], things: Sequence[int]) -> dict[str, float]:
    lab, hit = np.asarray(labels, np.int64), np.asarray(hits, bool)
    return {names[k]: float(hit[lab == k].mean()) for k in things if (lab == k).any()}


def category_probe(model: PSALM, config: PSALMConfig, tokenizer: PSALMTokenizer, samples: Sequence[TrainSample],
                   batch: int = 8, thing_labels: Sequence[int] | None = None) -> CategoryProbe:
    """Score ``samples`` (panoptic samples sharing one class list) in eval mode. ``thing_labels``:
    the class indices that are things (default: the world's known things, which come first)."""
    if not samples:
        raise InputError("category_probe: no samples to score")
    things = sorted(thing_labels) if thing_labels is not None else [k for k, c in enumerate(CATEGORIES.known) if c.isthing]
    thing_set = set(things)
    matcher = PSALMCriterion(replace(config.loss, class_weight=0.0))  # mask costs only
    th_loss: list[float] = []
    st_loss: list[float] = []
    bg_loss: list[float] = []
    th_hits = st_hits = bg_hits = 0
    th_labels: list[int] = []
    th_among_hits: list[bool] = []
    ious: list[float] = []
    for b, out, match, logp in matched_batches(model, config, tokenizer, samples, batch, matcher):  # logp (B,Q,C+1), background last
        size = tuple(out.final.masks.shape[-2:])
        for k, (q, t) in enumerate(match):
            q_t, t_t = torch.as_tensor(q, dtype=torch.long), torch.as_tensor(t, dtype=torch.long)
            labels = b.target_labels[k][t_t]
            lp = logp[k, q_t]
            ce = (-lp.gather(1, labels[:, None])[:, 0]).tolist()
            top = lp.argmax(-1)
            among = lp[:, things].argmax(-1)
            gt = torch.nn.functional.adaptive_avg_pool2d(b.target_masks[k][t_t].float()[:, None], size)[:, 0] > 0.5
            pred = out.final.masks[k, q_t].float() > 0
            inter = (gt & pred).flatten(1).sum(1).float()
            union = (gt | pred).flatten(1).sum(1).clamp_min(1).float()
            for j, lab in enumerate(labels.tolist()):
                hit = int(top[j]) == lab
                if lab in thing_set:
                    th_loss.append(ce[j])
                    th_hits += hit
                    th_among_hits.append(things[int(among[j])] == lab)
                    th_labels.append(lab)
                    ious.append(float(inter[j] / union[j]))
                else:
                    st_loss.append(ce[j])
                    st_hits += hit
            free = torch.ones(logp.shape[1], dtype=torch.bool)
            free[q_t] = False
            bg = logp[k, free]
            bg_loss += (-bg[:, -1]).tolist()
            bg_hits += int((bg.argmax(-1) == logp.shape[-1] - 1).sum())
    return CategoryProbe(
        scenes=len(samples), chance_ce=math.log(len(things)), thing=_score(th_loss, th_hits),
        thing_acc_among_things=float(np.mean(th_among_hits)) if th_among_hits else math.nan,
        thing_majority_acc=float(np.bincount(th_labels).max() / len(th_labels)) if th_labels else math.nan,
        thing_recall=_recall(th_labels, th_among_hits, samples[0].class_names or [], things),
        thing_iou=float(np.mean(ious)) if ious else math.nan, stuff=_score(st_loss, st_hits),
        background=_score(bg_loss, bg_hits))


def probe_model_dir(model_dir: str | Path, scenes: int = VAL_SCENES, world_seed: int = 0, batch: int = 8) -> CategoryProbe:
    """Load a release folder (``psalm-bench train``'s output) and probe it on ``scenes`` val scenes."""
    from .checkpoint import load_model

    model, tok, _ = load_model(model_dir)
    return category_probe(model, model.config, tok, val_category_samples(scenes, world_seed), batch=batch)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m psalm_bench.model.category_probe", description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--scenes", type=int, default=VAL_SCENES)
    ap.add_argument("--world-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.scenes < 1:
            raise InputError(f"--scenes must be >= 1, got {args.scenes}")
        result = probe_model_dir(args.model_dir, args.scenes, args.world_seed)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(result.to_dict(), indent=2)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
