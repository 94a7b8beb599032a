"""The panoptic and semantic files of the synthetic COCO workloads: stuff as noisy
Voronoi cells, things painted over them, segment ids, and the predictions'
perturbed copies, written as COCO panoptic PNGs and semantic label PNGs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from psalm_bench.generators.coco_categories import categories_panoptic, SEMANTIC_IGNORE, STUFF_CATEGORIES, THING_CATEGORIES
from psalm_bench.generators.coco_scene import _MAX_SEGMENT_ID, _Object, _Region, _rng, SceneParams, _STREAM_PANOPTIC_GT, _STREAM_PANOPTIC_PRED, WorkloadPaths
from psalm_bench.generators.coco_predictions import _corrupt, _random_region


# ------------------------------------------------------------ panoptic files


@dataclass
class _StuffLayout:
    """Noisy Voronoi cells, each a stuff category; perturbable for predictions."""

    points: np.ndarray  # (k, 2) in [0, 1]
    bias: np.ndarray  # (k,)
    waves: np.ndarray  # (k, n, 4): amplitude, fx, fy, phase
    categories: list[int]


def _stuff_layout(rng: np.random.Generator) -> _StuffLayout:
    k = int(rng.integers(2, 6))
    stuff_ids = [c[0] for c in STUFF_CATEGORIES]
    cats = [int(c) for c in rng.choice(stuff_ids, size=k, replace=False)]
    if k >= 3 and rng.random() < 0.2:  # one category in two places: one segment
        cats[-1] = cats[0]
    waves = np.stack([rng.uniform(0.01, 0.04, (k, 3)), rng.uniform(2, 12, (k, 3)),
                      rng.uniform(2, 12, (k, 3)), rng.uniform(0, 2 * np.pi, (k, 3))], axis=-1)
    return _StuffLayout(rng.random((k, 2)), rng.uniform(-0.05, 0.05, k), waves, cats)


def _perturb_layout(rng: np.random.Generator, lay: _StuffLayout) -> _StuffLayout:
    waves = lay.waves.copy()
    waves[..., 3] += rng.normal(0, 0.4, waves.shape[:-1])
    return _StuffLayout(lay.points + rng.normal(0, 0.03, lay.points.shape), lay.bias.copy(), waves,
                        list(lay.categories))


def _render_layout(lay: _StuffLayout, H: int, W: int) -> np.ndarray:
    """Cell index per pixel (computed at half resolution, upsampled)."""
    h2, w2 = max(1, H // 2), max(1, W // 2)
    ys = (np.arange(h2, dtype=np.float32) + 0.5)[:, None] / h2
    xs = (np.arange(w2, dtype=np.float32) + 0.5)[None, :] / w2
    d = np.empty((len(lay.points), h2, w2), np.float32)
    for i, (px, py) in enumerate(lay.points):
        di = (xs - px) ** 2 + (ys - py) ** 2 + lay.bias[i]
        for amp, fx, fy, ph in lay.waves[i]:
            di = di + amp * np.sin(fx * xs + fy * ys + ph)
        d[i] = di
    cells = np.argmin(d, axis=0).astype(np.uint8)
    return cv2.resize(cells, (W, H), interpolation=cv2.INTER_NEAREST)


def _distinct_ids(rng: np.random.Generator, n: int, exclude: set[int]) -> list[int]:
    out: list[int] = []
    seen = set(exclude)
    while len(out) < n:
        for v in rng.integers(1, _MAX_SEGMENT_ID + 1, n - len(out)):
            v = int(v)
            if v not in seen:
                seen.add(v)
                out.append(v)
    return out


def _paint(lab: np.ndarray, reg: _Region, value: int) -> None:
    h, w = reg.m.shape
    view = lab[reg.y0 : reg.y0 + h, reg.x0 : reg.x0 + w]
    view[reg.m.astype(bool)] = value


@dataclass
class _Segments:
    """Segments of one panoptic map, by index; the map stores indices (0 = void), not ids.

    Working on small indices keeps per-image statistics to bincounts instead
    of sorting 24-bit ids.
    """

    ids: list[int] = field(default_factory=lambda: [0])
    categories: list[int] = field(default_factory=lambda: [0])
    crowd: list[int] = field(default_factory=lambda: [0])

    def add(self, seg_id: int, category_id: int, iscrowd: int = 0) -> int:
        self.ids.append(seg_id)
        self.categories.append(category_id)
        self.crowd.append(iscrowd)
        return len(self.ids) - 1

    def info(self, lab: np.ndarray) -> list[dict[str, Any]]:
        """segments_info with exact areas and boxes from the final map; empty segments dropped."""
        counts = np.bincount(lab.ravel(), minlength=len(self.ids))
        slices = ndimage.find_objects(lab.astype(np.int32), max_label=len(self.ids) - 1)
        out = []
        for k in range(1, len(self.ids)):
            if counts[k] == 0:
                continue
            sy, sx = slices[k - 1]
            out.append({"id": self.ids[k], "category_id": self.categories[k], "area": int(counts[k]),
                        "bbox": [sx.start, sy.start, sx.stop - sx.start, sy.stop - sy.start],
                        "iscrowd": self.crowd[k]})
        return out

    def id_map(self, lab: np.ndarray) -> np.ndarray:
        return np.array(self.ids, np.uint32)[lab]

    def class_map(self, lab: np.ndarray) -> np.ndarray:
        """Semantic class index per pixel (position in the panoptic categories), void = 255."""
        index_of = {c["id"]: i for i, c in enumerate(categories_panoptic())}
        lut = np.array([SEMANTIC_IGNORE] + [index_of[c] for c in self.categories[1:]], np.uint8)
        return lut[lab]


def _write_png_ids(path: Path, ids: np.ndarray) -> None:
    bgr = np.stack([(ids >> 16) & 255, (ids >> 8) & 255, ids & 255], axis=-1).astype(np.uint8)
    if not cv2.imwrite(str(path), bgr):
        raise OSError(f"could not write {path}")


def _write_png_labels(path: Path, labels: np.ndarray) -> None:
    if not cv2.imwrite(str(path), labels.astype(np.uint8)):
        raise OSError(f"could not write {path}")


def _split_region(rng: np.random.Generator, reg: _Region) -> tuple[_Region, _Region]:
    """Cut a mask in two along a random line through its centre (an over-segmentation)."""
    h, w = reg.m.shape
    yy, xx = np.mgrid[0:h, 0:w]
    a = rng.uniform(0, np.pi)
    side = (np.cos(a) * (xx - w / 2) + np.sin(a) * (yy - h / 2)) > 0
    return (_Region(reg.x0, reg.y0, (reg.m * side).astype(np.uint8)),
            _Region(reg.x0, reg.y0, (reg.m * ~side).astype(np.uint8)))


def _panoptic(objects: list[_Object], p: SceneParams, index: int, stem: str, paths: WorkloadPaths,
              image_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the panoptic and semantic PNGs of one image, GT and prediction."""
    layout, gt, things, gt_segments = _panoptic_gt(objects, p, index, stem, paths)
    pred_segments = _panoptic_pred(layout, gt, things, p, index, stem, paths)
    gt_ann = {"image_id": image_id, "file_name": f"{stem}.png", "segments_info": gt_segments}
    pred_ann = {"image_id": image_id, "file_name": f"{stem}.png", "segments_info": pred_segments}
    return gt_ann, pred_ann


def _panoptic_gt(objects: list[_Object], p: SceneParams, index: int, stem: str, paths: WorkloadPaths
                 ) -> tuple[_StuffLayout, _Segments, list[_Object], list[dict[str, Any]]]:
    """The ground truth: stuff cells, things painted largest first, void bands and patches."""
    H, W = p.height, p.width
    rng = _rng(p.seed, index, _STREAM_PANOPTIC_GT)
    layout = _stuff_layout(rng)
    cells = _render_layout(layout, H, W)
    stuff_cats = list(dict.fromkeys(layout.categories))  # stuff: one segment per category
    things = sorted(objects, key=lambda o: -o.region.area)  # small objects end up on top
    ids = _distinct_ids(rng, len(stuff_cats) + len(things), set())
    gt = _Segments()
    stuff_index = {c: gt.add(ids[i], c) for i, c in enumerate(stuff_cats)}
    lab = np.array([stuff_index[c] for c in layout.categories], np.uint16)[cells]
    bordered = np.zeros(len(stuff_cats) + len(things) + 1, bool)
    for sid, obj in zip(ids[len(stuff_cats) :], things):
        k = gt.add(sid, obj.category_id, 1 if obj.kind == "crowd" else 0)
        _paint(lab, obj.region, k)
        bordered[k] = obj.kind != "crowd" and rng.random() < 0.5
    # void: a 1-px band around about half of the things, and now and then an unlabeled patch
    if bordered.any():
        edge = np.zeros((H, W), bool)
        dv, dh = lab[1:] != lab[:-1], lab[:, 1:] != lab[:, :-1]
        edge[1:] |= dv
        edge[:-1] |= dv
        edge[:, 1:] |= dh
        edge[:, :-1] |= dh
        lab[edge & bordered[lab]] = 0
    if rng.random() < 0.3:
        _paint(lab, _random_region(rng, H, W, area=float(rng.uniform(50, 0.02 * H * W))), 0)
    gt_segments = gt.info(lab)
    _write_png_ids(paths.panoptic_gt_dir / f"{stem}.png", gt.id_map(lab))
    _write_png_labels(paths.semantic_gt_dir / f"{stem}.png", gt.class_map(lab))
    return layout, gt, things, gt_segments


def _panoptic_pred(layout: _StuffLayout, gt: _Segments, things: list[_Object], p: SceneParams, index: int, stem: str,
                   paths: WorkloadPaths) -> list[dict[str, Any]]:
    """The prediction: moved stuff boundaries, wrong/merged stuff, corrupted, missed,
    split, merged and invented things; new segment ids; no crowd."""
    H, W = p.height, p.width
    prng = _rng(p.seed, index, _STREAM_PANOPTIC_PRED)
    play = _perturb_layout(prng, layout)
    stuff_ids = [c[0] for c in STUFF_CATEGORIES]
    for i in range(len(play.categories)):
        u = prng.random()
        if u < 0.1:
            play.categories[i] = int(prng.choice(stuff_ids))
        elif u < 0.2 and len(play.categories) > 1:
            play.categories[i] = play.categories[int(prng.integers(len(play.categories)))]
    pcells = _render_layout(play, H, W)
    taken = set(gt.ids)
    pred = _Segments()
    cell_index: list[int] = []
    first_of_cat: dict[int, int] = {}
    for c in play.categories:
        if c in first_of_cat and prng.random() < 0.5:
            cell_index.append(first_of_cat[c])  # same category, same segment
            continue
        k = pred.add(_distinct_ids(prng, 1, taken)[0], c)
        taken.add(pred.ids[k])
        first_of_cat.setdefault(c, k)
        cell_index.append(k)
    plab = np.array(cell_index, np.uint16)[pcells]
    stuff_fill = pred.class_map(plab)  # the stuff under everything, for semantic void
    cat_ids = [c[0] for c in THING_CATEGORIES]
    painted: list[tuple[int, _Region]] = []  # (segment index, region)
    for obj in things:
        if obj.kind != "crowd" and prng.random() < 0.1:  # missed; sometimes left void
            if prng.random() < 0.3:
                _paint(plab, obj.region, 0)
            continue
        cat = obj.category_id
        if obj.kind != "crowd" and prng.random() < 0.08:
            cat = int(prng.choice(cat_ids))
        reg = _corrupt(prng, obj.region, float(prng.beta(1.4, 3.0)), H, W)
        parts = [reg]
        if reg.area > 200 and prng.random() < 0.05:
            parts = [r for r in _split_region(prng, reg) if r.area > 0]
        for part in parts:
            k = 0
            if prng.random() < 0.1:  # merged with an earlier segment of the same class nearby
                for pk, preg in painted:
                    if pred.categories[pk] == cat and _boxes_touch(preg, part):
                        k = pk
                        break
            if k == 0:
                k = pred.add(_distinct_ids(prng, 1, taken)[0], cat)
                taken.add(pred.ids[k])
                painted.append((k, part))
            _paint(plab, part, k)
    for _ in range(int(prng.poisson(1.0))):  # invented things
        reg = _random_region(prng, H, W)
        k = pred.add(_distinct_ids(prng, 1, taken)[0], int(prng.choice(cat_ids)))
        taken.add(pred.ids[k])
        _paint(plab, reg, k)
    pred_segments = pred.info(plab)
    _write_png_ids(paths.panoptic_pred_dir / f"{stem}.png", pred.id_map(plab))
    sem_pred = np.where(plab == 0, stuff_fill, pred.class_map(plab)).astype(np.uint8)
    _write_png_labels(paths.semantic_pred_dir / f"{stem}.png", sem_pred)
    return pred_segments


def _boxes_touch(a: _Region, b: _Region) -> bool:
    ah, aw = a.m.shape
    bh, bw = b.m.shape
    return a.x0 <= b.x0 + bw and b.x0 <= a.x0 + aw and a.y0 <= b.y0 + bh and b.y0 <= a.y0 + ah
