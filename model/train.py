"""Training loop: AdamW, linear warm-up + cosine, bf16 autocast on CUDA, clipping, resumable chunks.

A run can be cut into chunks (``max_seconds``): each chunk saves ``train_state.pt`` and a
later call continues to the same final step. Every step's randomness is derived from
``(seed, step)`` (batch assembly through a numpy Generator, the model's through
``torch.manual_seed``), so on CPU a chunked run ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import platform
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from psalm_bench.errors import InputError
from psalm_bench.progress import tqdm

from .checkpoint import STATE_FILE, load_training_state, save_model, save_training_state
from .config import PSALMConfig
from .criterion import LOSS_TERMS, PSALMCriterion
from .prefetch import batches
from .psalm import PSALM
from .samples import Batch, TrainSample, collate
from .tokenizer import PSALMTokenizer, tokenizer_from_str

LOG_FILE = "train_log.jsonl"


@dataclass
class TrainSummary:
    out_dir: Path
    steps: int  # the run's final step
    step: int  # steps done so far (== steps when completed)
    completed: bool
    wall_seconds: float  # summed over all chunks
    last_losses: dict[str, float] = field(default_factory=dict)
    chunks: int = 1
    device: str = "cpu"


def _lr_lambda(steps: int, warmup: int) -> Callable[[int], float]:
    def f(s: int) -> float:
        if warmup > 0 and s < warmup:
            return (s + 1) / warmup
        progress = (s - warmup) / max(1, steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return f


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return platform.processor() or platform.machine() or "cpu"


def _step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step) % (2**63)


def _truncate_log(path: Path, last_step: int) -> None:
    if not path.is_file():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= last_step]
    path.write_text("".join(ln + "\n" for ln in keep))


def _check_hyper(*, steps: int, lr: float, weight_decay: float, warmup_steps: int, grad_clip: float | None,
                 checkpoint_every: int, max_seconds: float | None) -> None:
    """Refuse settings that would train on garbage (a NaN rate trains NaN weights silently)."""
    def finite(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    if not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps must be a whole number >= 1, got {steps!r}")
    if not finite(lr) or lr <= 0:
        raise InputError(f"learning rate (--lr) must be a finite number > 0, got {lr!r}")
    if not finite(weight_decay) or weight_decay < 0:
        raise InputError(f"weight decay must be a finite number >= 0, got {weight_decay!r}")
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise InputError(f"warm-up steps (--warmup) must be a whole number >= 0, got {warmup_steps!r}")
    if grad_clip is not None and (not finite(grad_clip) or grad_clip < 0):
        raise InputError(f"gradient clip must be a finite number >= 0, got {grad_clip!r}")
    if not isinstance(checkpoint_every, int) or checkpoint_every < 0:
        raise InputError(f"checkpoint interval must be a whole number >= 0, got {checkpoint_every!r}")
    if max_seconds is not None and (not finite(max_seconds) or max_seconds < 0):  # 0: stop after one step
        raise InputError(f"time limit must be a finite number of seconds >= 0 (--max-minutes >= 0), got {max_seconds!r} s")


def train(config: PSALMConfig, sample_source: Callable[[int], list[TrainSample]], out_dir: str | Path, *,
          tokenizer: PSALMTokenizer, steps: int, lr: float = 3e-4, weight_decay: float = 0.0,
          warmup_steps: int = 0, grad_clip: float | None = 1.0, checkpoint_every: int = 500,
          resume: bool = True, device: str = "auto", seed: int = 0, max_seconds: float | None = None,
          progress: bool = True, log_every: int = 10, threads: int | None = None,
          loader_workers: int = 0, extra_provenance: dict[str, Any] | None = None) -> TrainSummary:
    """Train PSALM on ``sample_source(step)`` batches (one task per batch; the caller picks tasks).

    Writes ``out_dir/train_state.pt`` (resume), ``out_dir/train_log.jsonl`` (step, task,
    loss terms, lr, seconds) and, at the final step, the release files (``save_model``).
    Returns after the final step or after the first step past ``max_seconds``. ``threads``
    sets torch's CPU threads for the run (restored afterwards); tiny models on a busy machine
    run far faster on 1 thread than on 2. ``loader_workers`` processes render batches ahead
    (model/prefetch.py; the same batches, so the same weights, as rendering in the loop).
    """
    _check_hyper(steps=steps, lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, grad_clip=grad_clip,
                 checkpoint_every=checkpoint_every, max_seconds=max_seconds)
    if loader_workers < 0:
        raise InputError(f"loader_workers must be >= 0, got {loader_workers}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = _device(device)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _train(config, sample_source, out, dev, tokenizer=tokenizer, steps=steps, lr=lr,
                      weight_decay=weight_decay, warmup_steps=warmup_steps, grad_clip=grad_clip,
                      checkpoint_every=checkpoint_every, resume=resume, seed=seed, max_seconds=max_seconds,
                      progress=progress, log_every=log_every, loader_workers=loader_workers,
                      extra_provenance=extra_provenance)
    finally:
        torch.set_num_threads(previous_threads)


@dataclass
class _Run:
    """The model, its optimiser and scheduler, and the run's bookkeeping so far."""

    model: PSALM
    params: list[torch.nn.Parameter]
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    start: int = 0
    wall: float = 0.0
    chunks: int = 1
    last: dict[str, float] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)


def _build_run(config: PSALMConfig, tokenizer: PSALMTokenizer, dev: torch.device, *, steps: int, lr: float,
               weight_decay: float, warmup_steps: int, seed: int) -> _Run:
    torch.manual_seed(seed)
    model = PSALM(config, tokenizer).to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    # no decay on biases and norm scales (1-D); matrices, embeddings and queries decay
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(steps, warmup_steps))
    return _Run(model, params, opt, sched)


def _resume(run: _Run, state_path: Path, config: PSALMConfig, tokenizer: PSALMTokenizer, hyper: dict[str, Any]) -> None:
    """Continue from ``train_state.pt`` after checking it holds this very run."""
    st = load_training_state(state_path)
    if st["config"] != config.to_dict():
        raise InputError("holds a run with a different model config; use another out_dir or resume=False", file=state_path)
    if st["hyper"] != hyper:
        diffs = [f"{k} {st['hyper'].get(k)} vs {v}" for k, v in hyper.items() if st["hyper"].get(k) != v]
        raise InputError(f"holds a run with different settings ({', '.join(diffs)})", file=state_path)
    if tokenizer_from_str(st["tokenizer"]) != tokenizer:
        raise InputError("holds a run with a different tokenizer", file=state_path)
    try:
        run.model.load_state_dict(st["model"])
        run.opt.load_state_dict(st["optimizer"])
        run.sched.load_state_dict(st["scheduler"])
        run.start, run.wall, run.chunks = int(st["step"]), float(st["wall_seconds"]), int(st["chunks"]) + 1
        run.last, run.devices = st.get("last_losses", {}), st.get("devices", [])
        torch.set_rng_state(st["rng"]["torch"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:  # wrong shapes, damaged entries
        reason = " ".join(str(exc).split())[:300]
        raise InputError(f"training state does not fit this run ({reason})", file=state_path) from None


def _snapshot(run: _Run, state_path: Path, step: int, wall: float, config: PSALMConfig, tokenizer: PSALMTokenizer,
              hyper: dict[str, Any]) -> None:
    save_training_state(state_path, {
        "model": run.model.state_dict(), "optimizer": run.opt.state_dict(), "scheduler": run.sched.state_dict(),
        "step": step, "wall_seconds": wall, "chunks": run.chunks,
        "config": config.to_dict(), "hyper": hyper, "tokenizer": tokenizer.to_str(),
        "last_losses": run.last, "devices": run.devices,
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
    })


def _step(run: _Run, criterion: PSALMCriterion, batch: Batch, dev: torch.device, grad_clip: float | None) -> float:
    """One optimiser step on ``batch``; returns the learning rate it used (``run.last`` gets the losses)."""
    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        outputs = run.model(batch)
    loss = criterion(outputs, batch)
    run.opt.zero_grad(set_to_none=True)
    loss.total.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(run.params, grad_clip)
    run.opt.step()
    cur_lr = run.sched.get_last_lr()[0]
    run.sched.step()
    run.last = {"loss": float(loss.total.detach()), **{k: loss.terms[k] for k in LOSS_TERMS}}
    return cur_lr


def _train(config: PSALMConfig, sample_source: Callable[[int], list[TrainSample]], out: Path, dev: torch.device, *,
           tokenizer: PSALMTokenizer, steps: int, lr: float, weight_decay: float, warmup_steps: int,
           grad_clip: float | None, checkpoint_every: int, resume: bool, seed: int, max_seconds: float | None,
           progress: bool, log_every: int, loader_workers: int,
           extra_provenance: dict[str, Any] | None) -> TrainSummary:
    hyper = {"steps": steps, "lr": lr, "weight_decay": weight_decay, "warmup_steps": warmup_steps,
             "grad_clip": grad_clip, "seed": seed}
    state_path, log_path = out / STATE_FILE, out / LOG_FILE
    run = _build_run(config, tokenizer, dev, steps=steps, lr=lr, weight_decay=weight_decay,
                     warmup_steps=warmup_steps, seed=seed)
    criterion = PSALMCriterion(config.loss)
    if resume and state_path.is_file():
        _resume(run, state_path, config, tokenizer, hyper)
        _truncate_log(log_path, run.start)
    elif log_path.exists():
        log_path.unlink()
    dev_desc = f"{dev.type}:{_device_name(dev)}"
    if dev_desc not in run.devices:
        run.devices.append(dev_desc)

    t0 = time.monotonic()
    run.model.train()
    bar = tqdm(total=steps, initial=run.start, disable=not progress, desc="train", dynamic_ncols=True)
    step = run.start
    with open(log_path, "a") as log, closing(batches(sample_source, run.start, steps, workers=loader_workers)) as stream:
        for step, samples in stream:
            torch.manual_seed(_step_seed(seed, step))
            batch = collate(samples, config, tokenizer, True, np.random.default_rng([seed, step])).to(dev)
            cur_lr = _step(run, criterion, batch, dev, grad_clip)
            step += 1
            if step % log_every == 0 or step == steps:
                rec = {"step": step, "task": batch.task, **run.last, "lr": cur_lr,
                       "seconds": round(run.wall + time.monotonic() - t0, 3)}
                log.write(json.dumps(rec) + "\n")
                log.flush()
            # postfix first, without a redraw: in a CI log a redraw is a line, so lines come only at update's interval
            bar.set_postfix(loss=f"{run.last['loss']:.3f}", task=batch.task, refresh=False)
            bar.update(1)
            timed_out = max_seconds is not None and time.monotonic() - t0 >= max_seconds
            if step == steps or timed_out or (checkpoint_every and step % checkpoint_every == 0):
                _snapshot(run, state_path, step, run.wall + (time.monotonic() - t0), config, tokenizer, hyper)
            if timed_out:
                break
    bar.close()
    total_wall = run.wall + time.monotonic() - t0
    completed = step >= steps
    if completed and (step > run.start or not (out / "model.safetensors").is_file()):
        prov = {"arch": config.arch, "config_name": config.name, "config": config.to_dict(), **hyper,
                "devices": run.devices, "device_kind": dev.type, "device_name": _device_name(dev),
                "wall_seconds": round(total_wall, 1), "chunks": run.chunks, "final_losses": run.last,
                "torch": torch.__version__, "transformers": __import__("transformers").__version__,
                **(extra_provenance or {})}
        save_model(run.model.float(), out, prov, tokenizer=tokenizer)
    return TrainSummary(out, steps, step, completed, total_wall, run.last, run.chunks, dev_desc)
