"""Short fine-tunes of a released model on the world's train stream (e.g. no-target sentences).

``psalm-bench train`` starts from scratch; a variant that only adds a kind of training
sample (model/data.py ``no_target_fraction``) is cheaper to measure as a few hundred steps
from the bundled weights. The result is a normal release folder whose provenance keeps the
base model's record and says what the fine-tune added, so a table can label it (a model
fine-tuned on no-target sentences is not zero-shot on gRefCOCO).

    python -m psalm_bench.model.finetune --out DIR --no-target-fraction 0.3 --max-minutes 14
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from psalm_bench.errors import InputError

from .checkpoint import load_model, save_model
from .criterion import PSALMCriterion
from .data import WorldSampleSource
from .samples import collate

LOG_FILE = "finetune_log.jsonl"


@dataclass(frozen=True)
class FinetuneRecipe:
    """What a fine-tune changes (recorded in the provenance under ``finetune``)."""

    steps: int = 300
    batch_size: int = 8
    lr: float = 1e-4
    warmup_steps: int = 10
    grad_clip: float = 1.0
    seed: int = 1
    world_seed: int = 0
    tasks: tuple[str, ...] = ("referring",)
    no_target_fraction: float = 0.3


@dataclass
class FinetuneSummary:
    out_dir: Path
    steps_done: int
    wall_seconds: float
    cpu_seconds: float


def finetune(base: str | Path, out_dir: str | Path, recipe: FinetuneRecipe = FinetuneRecipe(), *,
             max_seconds: float | None = None, threads: int | None = None, progress: bool = True,
             log_every: int = 10) -> FinetuneSummary:
    """Fine-tune the release folder ``base`` (``bundled`` for the shipped model) and write
    a release folder to ``out_dir``; stops after ``recipe.steps`` or the first step past
    ``max_seconds`` (the provenance records the steps done)."""
    from .predict import resolve_model_dir

    if recipe.steps < 1 or recipe.lr <= 0:
        raise InputError(f"fine-tune needs steps >= 1 and lr > 0, got steps {recipe.steps}, lr {recipe.lr}")
    base_dir = resolve_model_dir(base)
    model, tokenizer, base_prov = load_model(base_dir)
    model = model.float()
    model.train()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(threads)
    source = WorldSampleSource(seed=recipe.world_seed, batch_size=recipe.batch_size, tasks=recipe.tasks,
                               sample_seed=recipe.seed, no_target_fraction=recipe.no_target_fraction)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=0.0)
    warm = max(recipe.warmup_steps, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    criterion = PSALMCriterion(model.config.loss)
    t0, c0 = time.monotonic(), time.process_time()
    step = 0
    bar = tqdm(total=recipe.steps, disable=not progress, desc="finetune", dynamic_ncols=True)
    with open(out / LOG_FILE, "w") as log:
        for step in range(1, recipe.steps + 1):
            torch.manual_seed(recipe.seed * 1_000_003 + step)
            samples = source(step - 1)
            batch = collate(samples, model.config, tokenizer, True, np.random.default_rng([recipe.seed, step]))
            loss = criterion(model(batch), batch)
            opt.zero_grad(set_to_none=True)
            loss.total.backward()
            torch.nn.utils.clip_grad_norm_(params, recipe.grad_clip)
            opt.step()
            sched.step()
            if step % log_every == 0 or step == recipe.steps:
                n_none = sum(int(s.target_masks.shape[0] == 0) for s in samples)
                rec = {"step": step, "task": batch.task, "loss": round(float(loss.total.detach()), 5),
                       **{k: round(v, 5) for k, v in loss.terms.items()}, "no_target_samples": n_none,
                       "seconds": round(time.monotonic() - t0, 1)}
                log.write(json.dumps(rec) + "\n")
                log.flush()
            bar.update(1)
            if max_seconds is not None and time.monotonic() - t0 >= max_seconds:
                break
    bar.close()
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    prov = {**base_prov, "finetune": {"base": str(base), "base_config_name": base_prov.get("config_name"),
                                      **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(recipe).items()},
                                      "steps_done": step, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
                                      "device": "cpu", "zero_shot_gref": recipe.no_target_fraction == 0.0}}
    save_model(model.eval(), out, prov, tokenizer=tokenizer)
    return FinetuneSummary(out, step, wall, cpu)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m psalm_bench.model.finetune", description=__doc__.split("\n")[0])
    ap.add_argument("--base", default="bundled")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--steps", type=int, default=FinetuneRecipe.steps)
    ap.add_argument("--lr", type=float, default=FinetuneRecipe.lr)
    ap.add_argument("--no-target-fraction", type=float, default=FinetuneRecipe.no_target_fraction)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)
    recipe = FinetuneRecipe(steps=a.steps, lr=a.lr, no_target_fraction=a.no_target_fraction)
    s = finetune(a.base, a.out, recipe, max_seconds=None if a.max_minutes is None else a.max_minutes * 60, threads=a.threads)
    print(f"wrote {s.out_dir}: {s.steps_done} steps, {s.wall_seconds:.0f} s wall, {s.cpu_seconds:.0f} s CPU")


if __name__ == "__main__":
    main()
