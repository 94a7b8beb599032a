"""Training data from the synthetic world: scenes rendered on the fly.

The world generator is a pure function of (seed, split, index), so a training
sample is too: step and slot pick the scene, the task and every random choice.
That gives resumable, worker-independent training with no dataset on disk,
and scenes from the train split's distribution only (the val, referring-test
and open-vocabulary splits use other RNG streams and never show up here; the
held-out categories never appear in train scenes by construction).

Images pass through a JPEG round trip at the world's quality, so the model
trains on the same kind of pixels it is scored on (the world's files are JPEG).

Tasks, as PSALM trains them (one task per batch, round-robin):
- ``panoptic``: the in-domain categories (things and stuff) as the condition,
  every non-crowd object and every stuff region as a target;
- ``referring``: one sentence that names exactly one object; with
  ``no_target_fraction > 0`` (off by default, and never part of the released
  recipe or of ``swinb-phi15``), that fraction of referring samples is instead
  a sentence that fits nothing in the scene (an absent category, a changed
  attribute or a false placement, from the world's gRefCOCO grammar) with no
  target mask. They are supervised as a Mask2Former-style set loss supervises
  an image without objects (ReLA's gRefCOCO training likewise gives them an
  empty target): no query is matched, so every query's SEG logit is pushed
  to "no" and no mask term is added. A model trained so is not zero-shot on
  gRefCOCO;
- ``interactive``: up to ``max_prompts`` objects, each with one prompt type
  drawn at random (as the released code does), made by the same generator as
  COCO-Interactive.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from psalm_bench.generators.interactive import Crop, make_prompts
from psalm_bench.generators.world import annotation_id
from psalm_bench.generators.world_scene import CATEGORIES, MAX_INDEX, Scene, generate_scene
from psalm_bench.generators.world_text import generalized_expressions, referring_expressions
from psalm_bench.specs import PROMPTS

from .samples import TrainSample

TRAIN_TASKS = ("panoptic", "referring", "interactive")
PROMPT_KINDS = PROMPTS  # the task's prompt types, defined once (psalm_bench.specs)
JPEG_QUALITY = 95


def jpeg_round_trip(image: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def known_class_names() -> list[str]:
    """The in-domain categories, things then stuff, as the world lists them."""
    return [c.name for c in CATEGORIES.known]


def _objects(scene: Scene) -> list[int]:
    """Indices of the scene's non-crowd things with a visible part."""
    return [i for i, t in enumerate(scene.things) if not t.iscrowd and t.area > 0]


def panoptic_sample(scene: Scene, image: np.ndarray, class_names: Sequence[str]) -> TrainSample:
    index = {name: k for k, name in enumerate(class_names)}
    segments = [scene.things[i] for i in _objects(scene)] + [s for s in scene.stuff if s.area > 0]
    masks = np.stack([s.mask for s in segments]) if segments else np.zeros((0, *image.shape[:2]), bool)
    labels = np.array([index[s.category] for s in segments], dtype=np.int64)
    return TrainSample("panoptic", image, masks, class_names=list(class_names), target_labels=labels)


def referring_sample(scene: Scene, image: np.ndarray, rng: np.random.Generator) -> TrainSample | None:
    expressions = referring_expressions(scene, rng)
    if not expressions:
        return None
    expr = expressions[int(rng.integers(len(expressions)))]
    target = scene.things[expr.target].mask[None]
    return TrainSample("referring", image, target, sentence=expr.sentence)


def no_target_sample(scene: Scene, image: np.ndarray, rng: np.random.Generator) -> TrainSample | None:
    """A sentence that fits nothing in the scene, with an empty ``(0, H, W)`` target."""
    nones = [e for e in generalized_expressions(scene, rng, n_single=0, n_multi=0, n_none=1) if not e.targets]
    if not nones:
        return None
    expr = nones[int(rng.integers(len(nones)))]
    return TrainSample("referring", image, np.zeros((0, *image.shape[:2]), bool), sentence=expr.sentence)


def interactive_sample(scene: Scene, image: np.ndarray, rng: np.random.Generator, seed: int, max_prompts: int) -> TrainSample | None:
    objects = _objects(scene)
    if not objects:
        return None
    if len(objects) > max_prompts:
        objects = sorted(rng.choice(objects, size=max_prompts, replace=False).tolist())
    h, w = scene.height, scene.width
    prompts, targets, kinds = [], [], []
    for i in objects:
        thing = scene.things[i]
        made = make_prompts(Crop(0, 0, thing.mask.astype(np.uint8)), h, w, seed=seed, ann_id=annotation_id(scene.image_id, i))
        for kind in rng.permutation(PROMPT_KINDS):
            if not made.is_empty(str(kind)):
                prompts.append(made.crop(str(kind)).full(h, w).astype(bool))
                targets.append(thing.mask)
                kinds.append(str(kind))
                break
    if not prompts:
        return None
    return TrainSample("interactive", image, np.stack(targets), prompt_masks=np.stack(prompts), prompt_kinds=kinds)


@dataclass
class WorldSampleSource:
    """``source(step)`` -> one batch of ``batch_size`` samples of one task.

    ``scenes``: how many train-split scenes to draw from (the world size's
    train count reproduces the stored split exactly; ``None`` draws from the
    whole train stream, the same distribution with more variety).
    """

    seed: int = 0
    batch_size: int = 8
    tasks: tuple[str, ...] = TRAIN_TASKS
    scenes: int | None = None
    max_prompts: int = 8
    sample_seed: int = 0
    no_target_fraction: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.no_target_fraction <= 1.0:
            raise ValueError(f"no_target_fraction must be in [0, 1], got {self.no_target_fraction!r}")

    def task_of(self, step: int) -> str:
        return self.tasks[step % len(self.tasks)]

    def _no_target(self, step: int, slot: int, attempt: int) -> bool:
        """Whether this referring slot is a no-target sentence: its own RNG stream, so
        the default (0.0) draws exactly the samples it drew before the option existed."""
        if self.no_target_fraction <= 0.0:
            return False
        return bool(np.random.default_rng([self.sample_seed, step, slot, attempt, 1]).random() < self.no_target_fraction)

    def __call__(self, step: int) -> list[TrainSample]:
        task = self.task_of(step)
        class_names = known_class_names()
        out: list[TrainSample] = []
        attempt = 0
        while len(out) < self.batch_size:
            rng = np.random.default_rng([self.sample_seed, step, len(out), attempt])
            limit = self.scenes if self.scenes else MAX_INDEX + 1
            scene = generate_scene(self.seed, "train", int(rng.integers(limit)))
            image = jpeg_round_trip(scene.image)
            if task == "panoptic":
                sample: TrainSample | None = panoptic_sample(scene, image, class_names)
            elif task == "referring" and self._no_target(step, len(out), attempt):
                sample = no_target_sample(scene, image, rng)
            elif task == "referring":
                sample = referring_sample(scene, image, rng)
            elif task == "interactive":
                sample = interactive_sample(scene, image, rng, self.seed, self.max_prompts)
            else:
                raise ValueError(f"unknown training task {task!r}")
            attempt += 1
            if sample is not None:
                out.append(sample)
        return out
