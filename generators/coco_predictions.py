"""The instance predictions of the synthetic COCO workloads: prediction-like copies
of the ground truth (shifted, eroded, dilated, noisy boundary) and false
positives, scored so that AP spreads over COCO's IoU thresholds."""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from psalm_bench.generators.coco_categories import THING_CATEGORIES
from psalm_bench.generators.coco_scene import _blob, _category_weights, _clip_region, _compressed_rle, _ellipse_kernel, _fill_polygons, _Object, _Region, _sample_area, SceneParams, _shape_vertices, _smooth, _tighten


def _corrupt(rng: np.random.Generator, reg: _Region, severity: float, H: int, W: int) -> _Region:
    """A prediction-like copy of a mask: shifted, eroded or dilated, with a noisy boundary.

    ``severity`` in [0, 1] scales every perturbation with the object's size, so
    IoU with the original spreads over COCO's 0.5..0.95 thresholds.
    """
    area = max(reg.area, 1)
    s = math.sqrt(area)
    shift = rng.normal(0, 0.10 * severity * s + 0.3, 2)
    morph = int(round(abs(rng.normal(0, 0.05 * severity * s))))
    dilate = rng.random() < 0.5
    pad = int(np.ceil(np.abs(shift).max())) + morph + 3
    h, w = reg.m.shape
    big = np.zeros((h + 2 * pad, w + 2 * pad), np.uint8)
    big[pad : pad + h, pad : pad + w] = reg.m
    if morph > 0:
        op = cv2.dilate if dilate else cv2.erode
        big = op(big, _ellipse_kernel(morph))
    if s > 5 and severity > 0.05:
        f = _smooth(big.astype(np.float32), 0.8 + 0.04 * s)
        gh, gw = max(2, big.shape[0] // 8), max(2, big.shape[1] // 8)
        noise = cv2.resize(rng.normal(0, 1, (gh, gw)).astype(np.float32), (big.shape[1], big.shape[0]),
                           interpolation=cv2.INTER_LINEAR)
        big = (f + 0.35 * severity * noise > 0.5).astype(np.uint8)
    x0 = reg.x0 - pad + int(round(shift[0]))
    y0 = reg.y0 - pad + int(round(shift[1]))
    out = _tighten(_clip_region(x0, y0, big, H, W))
    return out if out.area > 0 else reg


def _random_region(rng: np.random.Generator, H: int, W: int, area: float | None = None) -> _Region:
    """A false-positive shape somewhere in the image."""
    for _ in range(10):
        a = _sample_area(rng, H, W) if area is None else area
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        if rng.random() < 0.3:
            reg = _blob(rng, cx, cy, a, H, W, int(rng.integers(1, 4)))
        else:
            reg = _fill_polygons([np.clip(_shape_vertices(rng, cx, cy, a), 0, [W, H])], H, W)
        if reg.area > 0:
            return reg
    return _Region(int(rng.integers(0, W - 2)), int(rng.integers(0, H - 2)), np.ones((2, 2), np.uint8))


def _instance_predictions(rng: np.random.Generator, objects: list[_Object], image_id: int,
                          p: SceneParams) -> list[dict[str, Any]]:
    """``dets_per_image`` scored detections: good copies of GT, duplicates, wrong classes, FPs."""
    H, W = p.height, p.width
    cat_ids = np.array([c[0] for c in THING_CATEGORIES])
    weights = _category_weights()
    dets: list[tuple[int, _Region, float]] = []
    for obj in objects:
        if obj.kind == "crowd":  # detections inside a crowd are ignored by COCOeval
            for _ in range(int(rng.integers(1, 4))):
                sub = _Region(obj.region.x0, obj.region.y0, obj.region.m)
                sub = _corrupt(rng, sub, 0.3, H, W)
                dets.append((obj.category_id, sub, float(rng.uniform(0.05, 0.7))))
            continue
        if rng.random() < 0.88:  # detected
            severity = float(rng.beta(1.4, 3.0))
            score = 0.97 - 0.75 * severity + rng.normal(0, 0.12)
            dets.append((obj.category_id, _corrupt(rng, obj.region, severity, H, W), score))
            for _ in range(int(rng.poisson(0.6))):  # duplicates
                sev = min(1.0, severity + float(rng.uniform(0.1, 0.6)))
                dets.append((obj.category_id, _corrupt(rng, obj.region, sev, H, W),
                             score * float(rng.uniform(0.15, 0.8))))
        if rng.random() < 0.15:  # confused with another class
            wrong = int(rng.choice(cat_ids, p=weights))
            if wrong != obj.category_id:
                dets.append((wrong, _corrupt(rng, obj.region, float(rng.uniform(0, 0.6)), H, W),
                             float(rng.uniform(0.05, 0.75))))
    dets = dets[: p.dets_per_image]
    present = sorted({o.category_id for o in objects})
    near = [o for o in objects if o.kind != "crowd"]
    while len(dets) < p.dets_per_image:
        u = rng.random()
        if present and u < 0.5:
            cat = int(rng.choice(present))
        else:
            cat = int(rng.choice(cat_ids, p=weights))
        if near and rng.random() < 0.3:  # poorly localised: overlaps a GT with IoU < 0.5 mostly
            obj = near[int(rng.integers(len(near)))]
            s = math.sqrt(max(obj.region.area, 1))
            moved = _Region(obj.region.x0 + int(rng.normal(0, 0.8 * s)),
                            obj.region.y0 + int(rng.normal(0, 0.8 * s)), obj.region.m)
            reg = _tighten(_clip_region(moved.x0, moved.y0, moved.m, H, W))
            if reg.area == 0:
                reg = _random_region(rng, H, W)
        else:
            reg = _random_region(rng, H, W)
        dets.append((cat, reg, float(rng.beta(1.2, 6.0))))
    out = []
    for cat, reg, score in dets:
        score = float(np.clip(score, 1e-4, 1 - 1e-4))
        out.append({"image_id": image_id, "category_id": cat,
                    "segmentation": _compressed_rle(reg, H, W), "score": score})
    out.sort(key=lambda d: -d["score"])
    return out
