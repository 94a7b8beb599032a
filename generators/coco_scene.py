"""The scenes of the synthetic COCO workloads: the records a worker passes around,
masks as tight crops (``_Region``) and their RLE, and the objects of one image
(random blob shapes, annotated as polygons, RLE or crowd), each a pure function
of (seed, image index)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from psalm_bench.generators.coco_categories import THING_CATEGORIES


_OFFSET_IMAGE_ID = 139  # image ids are non-contiguous, like COCO's
_MAX_SEGMENT_ID = 256**3 - 1

# Random streams per image: independent so that e.g. the panoptic count
# does not change the instance predictions.
_STREAM_SCENE, _STREAM_INSTANCE_PRED, _STREAM_PANOPTIC_GT, _STREAM_PANOPTIC_PRED = 0, 1, 2, 3


@dataclass(frozen=True)
class WorkloadPaths:
    """Where ``write_workload`` put each file."""

    root: Path
    instances_gt: Path
    instances_pred: Path
    panoptic_gt_json: Path
    panoptic_gt_dir: Path
    panoptic_pred_json: Path
    panoptic_pred_dir: Path
    semantic_gt_dir: Path
    semantic_pred_dir: Path
    semantic_classes: Path

    @classmethod
    def under(cls, root: Path) -> WorkloadPaths:
        return cls(
            root=root,
            instances_gt=root / "instances_gt.json",
            instances_pred=root / "instances_pred.json",
            panoptic_gt_json=root / "panoptic_gt.json",
            panoptic_gt_dir=root / "panoptic_gt",
            panoptic_pred_json=root / "panoptic_pred.json",
            panoptic_pred_dir=root / "panoptic_pred",
            semantic_gt_dir=root / "semantic_gt",
            semantic_pred_dir=root / "semantic_pred",
            semantic_classes=root / "semantic_classes.json",
        )


@dataclass(frozen=True)
class SceneParams:
    """Everything an image depends on besides its index (picklable for workers)."""

    seed: int
    height: int
    width: int
    gt_per_image: float
    dets_per_image: int


@dataclass
class _Region:
    """A binary mask stored as a tight-ish crop placed at (x0, y0) in the image."""

    x0: int
    y0: int
    m: np.ndarray  # uint8 0/1, shape (h, w)

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.m))


@dataclass
class _Object:
    """One ground-truth object of a scene and how it is annotated."""

    category_id: int
    region: _Region
    kind: str  # "polygon" | "rle" | "crowd"
    polygons: list[np.ndarray] = field(default_factory=list)  # (k, 2) float vertices


@dataclass
class _ImageResult:
    """What a worker returns for one image; the parent assigns annotation ids."""

    image: dict[str, Any]
    gt_annotations: list[dict[str, Any]]
    predictions: bytes  # orjson list of COCO results, already serialised
    panoptic_gt: dict[str, Any] | None
    panoptic_pred: dict[str, Any] | None



def image_id_of(index: int) -> int:
    """A non-contiguous, order-preserving image id, so no tool can confuse ids with indices."""
    return _OFFSET_IMAGE_ID + 3 * index + (index * 7919) % 3


def _rng(seed: int, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, index, stream])


# --------------------------------------------------------------------- masks


def _clip_region(x0: int, y0: int, m: np.ndarray, height: int, width: int) -> _Region:
    """Cut a crop placed anywhere down to the image."""
    h, w = m.shape
    ax, ay = max(x0, 0), max(y0, 0)
    bx, by = min(x0 + w, width), min(y0 + h, height)
    if bx <= ax or by <= ay:
        return _Region(0, 0, np.zeros((0, 0), np.uint8))
    return _Region(ax, ay, np.ascontiguousarray(m[ay - y0 : by - y0, ax - x0 : bx - x0]))


def _tighten(reg: _Region) -> _Region:
    rows = np.flatnonzero(reg.m.any(axis=1))
    if rows.size == 0:
        return _Region(0, 0, np.zeros((0, 0), np.uint8))
    cols = np.flatnonzero(reg.m.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return _Region(reg.x0 + int(c0), reg.y0 + int(r0), np.ascontiguousarray(reg.m[r0:r1, c0:c1]))


def rle_counts(reg: _Region, height: int, width: int) -> np.ndarray:
    """Uncompressed COCO RLE counts (column-major) of a crop, without a full-size mask.

    Gives the same runs as ``pycocotools.mask.encode`` on the full image.
    """
    h, w = reg.m.shape
    if h == 0 or w == 0:
        return np.array([height * width], np.int64)
    padded = np.zeros((w, h + 2), np.int8)
    padded[:, 1:-1] = reg.m.T
    cols, rows = np.nonzero(np.diff(padded, axis=1))
    pos = (reg.x0 + cols).astype(np.int64) * height + reg.y0 + rows
    if pos.size > 1:
        # A run that ends at the bottom of one column and restarts at the top
        # of the next is a single run in column-major order.
        dup = np.flatnonzero(pos[1:] == pos[:-1])
        if dup.size:
            keep = np.ones(pos.size, bool)
            keep[dup] = False
            keep[dup + 1] = False
            pos = pos[keep]
    counts = np.diff(np.concatenate(([0], pos, [height * width])))
    if counts.size > 1 and counts[-1] == 0:
        counts = counts[:-1]
    return counts


def _compressed_rle(reg: _Region, height: int, width: int) -> dict[str, Any]:
    counts = rle_counts(reg, height, width).astype(np.uint32)
    rle = mask_utils.frPyObjects({"counts": counts, "size": [height, width]}, height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def _mask_bbox(reg: _Region) -> list[float]:
    t = _tighten(reg)
    h, w = t.m.shape
    return [float(t.x0), float(t.y0), float(w), float(h)]


def _smooth(f: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian-like blur whose cost does not grow with sigma (stack blur)."""
    k = 2 * int(round(2 * sigma)) + 1
    return cv2.stackBlur(f, (k, k))


def _ellipse_kernel(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


# -------------------------------------------------------------------- shapes


def _sample_area(rng: np.random.Generator, height: int, width: int) -> float:
    """COCO-like size mix: ~42% small (<32^2), ~34% medium, ~24% large (>96^2)."""
    u = rng.random()
    if u < 0.42:
        lo, hi = 16.0, 1024.0
    elif u < 0.76:
        lo, hi = 1024.0, 9216.0
    else:
        lo, hi = 9216.0, max(9216.0 * 1.5, 0.35 * height * width)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _shape_vertices(rng: np.random.Generator, cx: float, cy: float, area: float) -> np.ndarray:
    """An ellipse or a star-shaped polygon of about ``area`` pixels, as (k, 2) vertices."""
    aspect = float(np.exp(rng.uniform(np.log(0.35), np.log(2.8))))
    theta = rng.uniform(0, np.pi)
    if rng.random() < 0.5:  # ellipse
        a = math.sqrt(area * aspect / math.pi)
        b = area / (math.pi * a)
        k = int(np.clip(math.sqrt(area) / 2.5, 8, 40))
        t = np.linspace(0, 2 * np.pi, k, endpoint=False) + rng.uniform(0, 2 * np.pi)
        rad_x, rad_y = a * np.cos(t), b * np.sin(t)
    else:  # star-shaped polygon
        k = int(rng.integers(3, 8)) if area < 1024 else int(rng.integers(5, 18))
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        radii = rng.uniform(0.55, 1.0, k)
        # mean-square radius chosen so the polygon's area is roughly ``area``
        r = math.sqrt(area / (math.pi * 0.62))
        rad_x = r * radii * np.cos(t) * math.sqrt(aspect)
        rad_y = r * radii * np.sin(t) / math.sqrt(aspect)
    c, s = math.cos(theta), math.sin(theta)
    xs = cx + c * rad_x - s * rad_y
    ys = cy + s * rad_x + c * rad_y
    return np.stack([xs, ys], axis=1)


def _twice_area_e4(v: np.ndarray) -> int:
    """Twice the polygon's area in units of 1e-4 px^2, for vertices on the
    0.01 px grid they are written on: exact integer arithmetic, because a
    float dot product's summation order depends on the CPU's SIMD (BLAS
    kernels), so the same seed wrote different bytes on AVX2 and AVX-512."""
    q = np.rint(np.asarray(v, np.float64) * 100).astype(np.int64)
    x, y = q[:, 0], q[:, 1]
    return abs(int((x * np.roll(y, -1) - y * np.roll(x, -1)).sum()))  # int64: no overflow at image scale


def _shoelace(v: np.ndarray) -> float:
    return _twice_area_e4(v) / 20000


def _fill_polygons(polys: list[np.ndarray], height: int, width: int) -> _Region:
    """Rasterise polygons into a crop (cv2, 4 fractional bits)."""
    allv = np.concatenate(polys)
    x0, y0 = int(np.floor(allv[:, 0].min())), int(np.floor(allv[:, 1].min()))
    x1, y1 = int(np.ceil(allv[:, 0].max())) + 1, int(np.ceil(allv[:, 1].max())) + 1
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = [np.round((p - [x0, y0]) * 16).astype(np.int32) for p in polys]
    cv2.fillPoly(m, pts, 1, lineType=cv2.LINE_8, shift=4)
    return _tighten(_clip_region(x0, y0, m, height, width))


def _blob(rng: np.random.Generator, cx: float, cy: float, area: float, height: int, width: int,
          n_parts: int) -> _Region:
    """A union of ellipses, smoothed: an amorphous object annotated as an RLE."""
    r = math.sqrt(area / math.pi)
    pad = int(2.2 * r) + 4
    size = 2 * pad + 1
    m = np.zeros((size, size), np.uint8)
    part_area = area / max(1.0, 0.6 * n_parts)
    for _ in range(n_parts):
        off = rng.normal(0, 0.45 * r, 2)
        ax = math.sqrt(part_area / math.pi) * float(np.exp(rng.uniform(-0.5, 0.5)))
        ay = part_area / (math.pi * ax)
        center = (int(round(pad + off[0])), int(round(pad + off[1])))
        axes = (max(1, int(round(ax))), max(1, int(round(ay))))
        cv2.ellipse(m, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    if r > 6:
        m = (_smooth(m.astype(np.float32), max(1.0, 0.12 * r)) > 0.5).astype(np.uint8)
    x0, y0 = int(round(cx)) - pad, int(round(cy)) - pad
    return _tighten(_clip_region(x0, y0, m, height, width))


def _category_weights() -> np.ndarray:
    """A long-tailed class frequency with 'person' dominant, as in COCO."""
    w = 1.0 / (np.arange(len(THING_CATEGORIES)) + 3.0)
    w[0] = 1.2
    return w / w.sum()


def _make_scene(rng: np.random.Generator, p: SceneParams) -> list[_Object]:
    """The objects of one image: polygons (most), RLE blobs, sometimes a crowd."""
    H, W = p.height, p.width
    cat_ids = np.array([c[0] for c in THING_CATEGORIES])
    weights = _category_weights()
    objects: list[_Object] = []
    n = int(rng.poisson(p.gt_per_image))
    for _ in range(n):
        cat = int(rng.choice(cat_ids, p=weights))
        for _attempt in range(10):
            area = _sample_area(rng, H, W)
            cx, cy = rng.uniform(0, W), rng.uniform(0, H)
            if rng.random() < 0.12:
                reg = _blob(rng, cx, cy, area, H, W, int(rng.integers(2, 5)))
                if reg.area > 0:
                    objects.append(_Object(cat, reg, "rle"))
                    break
                continue
            polys = [_shape_vertices(rng, cx, cy, area)]
            if area > 1024 and rng.random() < 0.1:  # an object split by an occluder
                r = math.sqrt(area)
                c2 = (cx + rng.normal(0, 0.8 * r), cy + rng.normal(0, 0.8 * r))
                polys.append(_shape_vertices(rng, c2[0], c2[1], area * rng.uniform(0.1, 0.3)))
            polys = [np.round(np.clip(v, 0, [W, H]), 2) for v in polys]
            polys = [v for v in polys if _shoelace(v) >= 1.0]
            if not polys:
                continue
            reg = _fill_polygons(polys, H, W)
            if reg.area > 0:
                objects.append(_Object(cat, reg, "polygon", polys))
                break
    if rng.random() < 0.06:  # a crowd region, mostly people
        cat = 1 if rng.random() < 0.7 else int(rng.choice(cat_ids, p=weights))
        area = float(np.exp(rng.uniform(np.log(3000), np.log(max(4000, 0.25 * H * W)))))
        reg = _blob(rng, rng.uniform(0, W), rng.uniform(0, H), area, H, W, int(rng.integers(3, 8)))
        if reg.area > 0:
            objects.append(_Object(cat, reg, "crowd"))
    return objects


# ------------------------------------------------------------ instance files


def _gt_annotation(obj: _Object, image_id: int, H: int, W: int) -> dict[str, Any]:
    """A COCO instances annotation (without id) for one object."""
    if obj.kind == "polygon":
        seg: Any = [[float(x) for x in v.reshape(-1)] for v in obj.polygons]
        allv = np.concatenate(obj.polygons)
        x0, y0 = float(allv[:, 0].min()), float(allv[:, 1].min())
        bbox = [x0, y0, round(float(allv[:, 0].max()) - x0, 2), round(float(allv[:, 1].max()) - y0, 2)]
        area = sum(_twice_area_e4(v) for v in obj.polygons) / 20000  # exact sum, one correctly rounded division
        iscrowd = 0
    elif obj.kind == "rle":
        seg = _compressed_rle(obj.region, H, W)
        bbox, area, iscrowd = _mask_bbox(obj.region), float(obj.region.area), 0
    else:
        seg = {"counts": [int(c) for c in rle_counts(obj.region, H, W)], "size": [H, W]}
        bbox, area, iscrowd = _mask_bbox(obj.region), float(obj.region.area), 1
    return {"image_id": image_id, "category_id": obj.category_id, "segmentation": seg,
            "area": area, "bbox": bbox, "iscrowd": iscrowd}
