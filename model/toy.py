"""Toy scenes for smoke tests, speed measurements and learning checks (not the benchmark world).

Each scene: a dark background with a red square and a blue circle at seeded positions.
``toy_source`` cycles panoptic -> referring -> interactive, one task per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .samples import TrainSample

TOY_CLASSES = ["square", "circle"]
TOY_WORDS = TOY_CLASSES + ["the red square", "the blue circle"]
TASK_CYCLE = ("panoptic", "referring", "interactive")


def toy_scene(seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 HxWx3, masks bool 2xHxW: square, circle)."""
    r = np.random.default_rng(seed)
    img = np.full((size, size, 3), 30, np.uint8)
    m = np.zeros((2, size, size), bool)
    s = size // 3
    x, y = r.integers(0, size - s, 2)
    m[0, y : y + s, x : x + s] = True
    yy, xx = np.mgrid[:size, :size]
    cx, cy = r.integers(size // 4, 3 * size // 4, 2)
    m[1] = ((xx - cx) ** 2 + (yy - cy) ** 2 < (size // 6) ** 2) & ~m[0]
    img[m[0]] = (200, 40, 40)
    img[m[1]] = (40, 40, 200)
    return img, m


def toy_sample(task: str, seed: int, size: int = 64) -> TrainSample:
    img, m = toy_scene(seed, size)
    if task == "referring":
        which = seed % 2
        return TrainSample(task, img, m[which : which + 1], sentence=["the red square", "the blue circle"][which])
    if task == "interactive":
        return TrainSample(task, img, m, prompt_masks=m, prompt_kinds=["mask", "box"])
    return TrainSample(task, img, m, class_names=list(TOY_CLASSES), target_labels=np.array([0, 1]))


@dataclass(frozen=True)
class ToySource:
    """step -> one batch over a fixed pool of ``scenes`` scenes, tasks round-robin
    (a picklable record, so batches can be rendered in worker processes)."""

    batch: int = 4
    size: int = 64
    scenes: int = 4

    def __call__(self, step: int) -> list[TrainSample]:
        task = TASK_CYCLE[step % len(TASK_CYCLE)]
        return [toy_sample(task, (step * self.batch + j) % self.scenes, self.size) for j in range(self.batch)]


def toy_source(batch: int = 4, size: int = 64, scenes: int = 4) -> Callable[[int], list[TrainSample]]:
    return ToySource(batch, size, scenes)


def random_samples(task: str, n: int, size: int, seed: int = 0, targets: int = 4,
                   classes: list[str] | None = None) -> list[TrainSample]:
    """Random images with random rectangles: for timing, where content does not matter."""
    rng = np.random.default_rng(seed)
    classes = classes or TOY_CLASSES
    out = []
    for _ in range(n):
        img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        m = np.zeros((targets, size, size), bool)
        for t in range(targets):
            y, x = rng.integers(0, size // 2, 2)
            h, w = rng.integers(size // 8, size // 2, 2)
            m[t, y : y + h, x : x + w] = True
        if task in ("panoptic", "semantic", "instance"):
            out.append(TrainSample(task, img, m, class_names=list(classes), target_labels=rng.integers(0, len(classes), targets)))
        elif task == "referring":
            out.append(TrainSample(task, img, m[:1], sentence="the red circle left of the big blue square"))
        else:
            out.append(TrainSample(task, img, m, prompt_masks=m, prompt_kinds=["box"] * targets))
    return out
