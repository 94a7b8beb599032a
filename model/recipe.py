"""The training recipe: a named config trained jointly on the world's train split.

Joint multi-task training as PSALM does it (one task per batch, round-robin
panoptic -> referring -> interactive), from scratch (no package ships vision
weights), with the word-level tokenizer built from the world's vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import PSALMConfig, get_config
from .data import TRAIN_TASKS, WorldSampleSource
from .tokenizer import PSALMTokenizer, build_tokenizer, template_words


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one training run (recorded in the provenance)."""

    steps: int = 6000
    batch_size: int = 8
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_steps: int = 200
    grad_clip: float = 1.0
    checkpoint_every: int = 200
    seed: int = 0
    world_seed: int = 0
    tasks: tuple[str, ...] = TRAIN_TASKS
    no_target_fraction: float = 0.0  # referring samples that fit nothing (model/data.py); > 0 is not zero-shot on gRefCOCO


def world_tokenizer() -> PSALMTokenizer:
    from psalm_bench.generators.world_text import world_vocabulary

    return build_tokenizer([*template_words(), *world_vocabulary()])


def train_on_world(
    config: str | PSALMConfig,
    out_dir: str | Path,
    recipe: Recipe = Recipe(),
    *,
    device: str = "auto",
    max_seconds: float | None = None,
    progress: bool = True,
    threads: int | None = None,
    loader_workers: int = 0,
):
    """Train (or resume) ``config`` on the world; returns ``TrainSummary``."""
    from psalm_bench.generators.world import WORLD_VERSION

    from .train import train

    cfg = get_config(config) if isinstance(config, str) else config
    tokenizer = world_tokenizer()
    source = WorldSampleSource(seed=recipe.world_seed, batch_size=recipe.batch_size, tasks=recipe.tasks, sample_seed=recipe.seed,
                               no_target_fraction=recipe.no_target_fraction)
    provenance: dict[str, Any] = {
        "config_name": config if isinstance(config, str) else "custom",
        "data": {"world_version": WORLD_VERSION, "world_seed": recipe.world_seed, "split": "train",
                 "scenes": "drawn on the fly from the train split's stream", "tasks": list(recipe.tasks),
                 "schedule": "one task per batch, round-robin",
                 "no_target_fraction": recipe.no_target_fraction},
        "batch_size": recipe.batch_size,
    }
    return train(
        cfg, source, out_dir, tokenizer=tokenizer, steps=recipe.steps, lr=recipe.lr,
        weight_decay=recipe.weight_decay, warmup_steps=recipe.warmup_steps, grad_clip=recipe.grad_clip,
        checkpoint_every=recipe.checkpoint_every, device=device, seed=recipe.seed, max_seconds=max_seconds,
        progress=progress, threads=threads, loader_workers=loader_workers, extra_provenance=provenance,
    )


def export_paused_run(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Release files from a run's last checkpoint, before its final step: to
    look at a long run part-way. The provenance says which step it stopped at."""
    from psalm_bench.errors import InputError

    from .checkpoint import STATE_FILE, load_training_state, save_model
    from .psalm import PSALM
    from .tokenizer import tokenizer_from_str

    state_path = Path(run_dir) / STATE_FILE
    if not state_path.is_file():
        raise InputError("no training checkpoint here", file=state_path)
    state = load_training_state(state_path)
    config = PSALMConfig.from_dict(state["config"], source=str(state_path))
    tokenizer = tokenizer_from_str(state["tokenizer"])
    model = PSALM(config, tokenizer)
    model.load_state_dict(state["model"])
    provenance = {"config_name": config.name, "config": config.to_dict(), **state["hyper"],
                  "stopped_at_step": state["step"], "completed": state["step"] >= state["hyper"]["steps"],
                  "wall_seconds": round(state["wall_seconds"], 1), "final_losses": state.get("last_losses", {}),
                  "devices": state.get("devices", []), "device_kind": (state.get("devices") or ["cpu"])[0].split(":")[0]}
    return save_model(model.float(), out_dir, provenance, tokenizer=tokenizer)
