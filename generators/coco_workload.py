"""Synthetic COCO-format workloads: scenes, ground truth and realistic predictions.

The speed benchmarks need COCO val2017-sized inputs and the package needs a
few small examples that any machine can score without downloading COCO. Both
come from here, in the official formats (COCO instances + results JSON, COCO
panoptic JSON + PNGs, semantic label PNGs).

Every image is a pure function of ``(seed, image index)`` and the scene
parameters: the files are byte-identical whatever the worker count or order.
Masks are handled as tight crops (``_Region``) so that drawing, corrupting and
RLE-encoding 100 detections per image stays cheap.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import orjson
from pycocotools import mask as mask_utils
from scipy import ndimage
from tqdm import tqdm

# COCO's 80 thing categories: (id, name, supercategory), ids 1..90 with COCO's gaps.
THING_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"),
    (4, "motorcycle", "vehicle"), (5, "airplane", "vehicle"), (6, "bus", "vehicle"),
    (7, "train", "vehicle"), (8, "truck", "vehicle"), (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"),
    (13, "stop sign", "outdoor"), (14, "parking meter", "outdoor"), (15, "bench", "outdoor"),
    (16, "bird", "animal"), (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"),
    (20, "sheep", "animal"), (21, "cow", "animal"), (22, "elephant", "animal"),
    (23, "bear", "animal"), (24, "zebra", "animal"), (25, "giraffe", "animal"),
    (27, "backpack", "accessory"), (28, "umbrella", "accessory"), (31, "handbag", "accessory"),
    (32, "tie", "accessory"), (33, "suitcase", "accessory"), (34, "frisbee", "sports"),
    (35, "skis", "sports"), (36, "snowboard", "sports"), (37, "sports ball", "sports"),
    (38, "kite", "sports"), (39, "baseball bat", "sports"), (40, "baseball glove", "sports"),
    (41, "skateboard", "sports"), (42, "surfboard", "sports"), (43, "tennis racket", "sports"),
    (44, "bottle", "kitchen"), (46, "wine glass", "kitchen"), (47, "cup", "kitchen"),
    (48, "fork", "kitchen"), (49, "knife", "kitchen"), (50, "spoon", "kitchen"),
    (51, "bowl", "kitchen"), (52, "banana", "food"), (53, "apple", "food"),
    (54, "sandwich", "food"), (55, "orange", "food"), (56, "broccoli", "food"),
    (57, "carrot", "food"), (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"),
    (61, "cake", "food"), (62, "chair", "furniture"), (63, "couch", "furniture"),
    (64, "potted plant", "furniture"), (65, "bed", "furniture"), (67, "dining table", "furniture"),
    (70, "toilet", "furniture"), (72, "tv", "electronic"), (73, "laptop", "electronic"),
    (74, "mouse", "electronic"), (75, "remote", "electronic"), (76, "keyboard", "electronic"),
    (77, "cell phone", "electronic"), (78, "microwave", "appliance"), (79, "oven", "appliance"),
    (80, "toaster", "appliance"), (81, "sink", "appliance"), (82, "refrigerator", "appliance"),
    (84, "book", "indoor"), (85, "clock", "indoor"), (86, "vase", "indoor"),
    (87, "scissors", "indoor"), (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"),
    (90, "toothbrush", "indoor"),
)

# COCO panoptic's 53 stuff categories: ids 92..200 with gaps.
STUFF_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (92, "banner", "textile"), (93, "blanket", "textile"), (95, "bridge", "building"),
    (100, "cardboard", "raw-material"), (107, "counter", "furniture-stuff"),
    (109, "curtain", "textile"), (112, "door-stuff", "furniture-stuff"),
    (118, "floor-wood", "floor"), (119, "flower", "plant"), (122, "fruit", "food-stuff"),
    (125, "gravel", "ground"), (128, "house", "building"), (130, "light", "furniture-stuff"),
    (133, "mirror-stuff", "furniture-stuff"), (138, "net", "structural"),
    (141, "pillow", "textile"), (144, "platform", "ground"), (145, "playingfield", "ground"),
    (147, "railroad", "ground"), (148, "river", "water"), (149, "road", "ground"),
    (151, "roof", "building"), (154, "sand", "ground"), (155, "sea", "water"),
    (156, "shelf", "furniture-stuff"), (159, "snow", "ground"), (161, "stairs", "furniture-stuff"),
    (166, "tent", "building"), (168, "towel", "textile"), (171, "wall-brick", "wall"),
    (175, "wall-stone", "wall"), (176, "wall-tile", "wall"), (177, "wall-wood", "wall"),
    (178, "water-other", "water"), (180, "window-blind", "window"),
    (181, "window-other", "window"), (184, "tree-merged", "plant"),
    (185, "fence-merged", "structural"), (186, "ceiling-merged", "ceiling"),
    (187, "sky-other-merged", "sky"), (188, "cabinet-merged", "furniture-stuff"),
    (189, "table-merged", "furniture-stuff"), (190, "floor-other-merged", "floor"),
    (191, "pavement-merged", "ground"), (192, "mountain-merged", "solid"),
    (193, "grass-merged", "plant"), (194, "dirt-merged", "ground"),
    (195, "paper-merged", "raw-material"), (196, "food-other-merged", "food-stuff"),
    (197, "building-other-merged", "building"), (198, "rock-merged", "solid"),
    (199, "wall-other-merged", "wall"), (200, "rug-merged", "textile"),
)

SEMANTIC_IGNORE = 255
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


def categories_instances() -> list[dict[str, Any]]:
    """COCO instances ``categories``: the 80 things."""
    return [{"id": i, "name": n, "supercategory": s} for i, n, s in THING_CATEGORIES]


def categories_panoptic() -> list[dict[str, Any]]:
    """COCO panoptic ``categories``: 80 things then 53 stuff, sorted by id."""
    things = [{"id": i, "name": n, "supercategory": s, "isthing": 1} for i, n, s in THING_CATEGORIES]
    stuff = [{"id": i, "name": n, "supercategory": s, "isthing": 0} for i, n, s in STUFF_CATEGORIES]
    return things + stuff


def semantic_classes() -> list[str]:
    """Semantic class names; index i is the i-th panoptic category."""
    return [c["name"] for c in categories_panoptic()]


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

    # prediction: moved stuff boundaries, wrong/merged stuff, corrupted, missed,
    # split, merged and invented things; new segment ids; no crowd
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
    gt_ann = {"image_id": image_id, "file_name": f"{stem}.png", "segments_info": gt_segments}
    pred_ann = {"image_id": image_id, "file_name": f"{stem}.png", "segments_info": pred_segments}
    return gt_ann, pred_ann


def _boxes_touch(a: _Region, b: _Region) -> bool:
    ah, aw = a.m.shape
    bh, bw = b.m.shape
    return a.x0 <= b.x0 + bw and b.x0 <= a.x0 + aw and a.y0 <= b.y0 + bh and b.y0 <= a.y0 + ah


# ------------------------------------------------------------------- driver


def _generate_image(task: tuple[SceneParams, int, bool, WorkloadPaths]) -> _ImageResult:
    """Everything for one image; runs in a worker and writes that image's PNGs."""
    p, index, panoptic, paths = task
    image_id = image_id_of(index)
    stem = f"{image_id:012d}"
    image = {"id": image_id, "file_name": f"{stem}.jpg", "height": p.height, "width": p.width}
    objects = _make_scene(_rng(p.seed, index, _STREAM_SCENE), p)
    gt = [_gt_annotation(o, image_id, p.height, p.width) for o in objects]
    preds = _instance_predictions(_rng(p.seed, index, _STREAM_INSTANCE_PRED), objects, image_id, p)
    pan_gt = pan_pred = None
    if panoptic:
        pan_gt, pan_pred = _panoptic(objects, p, index, stem, paths, image_id)
    return _ImageResult(image, gt, orjson.dumps(preds), pan_gt, pan_pred)


def _results(tasks: list[tuple[SceneParams, int, bool, WorkloadPaths]], workers: int
             ) -> Iterator[_ImageResult]:
    if workers <= 1:
        yield from map(_generate_image, tasks)
        return
    with Pool(workers) as pool:
        yield from pool.imap(_generate_image, tasks, chunksize=4)


def write_workload(out: Path, n_images: int, n_panoptic: int, seed: int = 0, height: int = 480,
                   width: int = 640, gt_per_image: float = 7, dets_per_image: int = 100,
                   progress: bool = True, workers: int = 1) -> WorkloadPaths:
    """Write a COCO-format workload under ``out``; see the module docstring for the files.

    Panoptic and semantic files cover the first ``n_panoptic`` images.
    """
    if n_panoptic > n_images:
        raise ValueError(f"n_panoptic ({n_panoptic}) exceeds n_images ({n_images})")
    out = Path(out)
    paths = WorkloadPaths.under(out)
    for d in (paths.panoptic_gt_dir, paths.panoptic_pred_dir, paths.semantic_gt_dir, paths.semantic_pred_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    params = SceneParams(seed, height, width, float(gt_per_image), dets_per_image)
    tasks = [(params, i, i < n_panoptic, paths) for i in range(n_images)]
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    pan_gt: list[dict[str, Any]] = []
    pan_pred: list[dict[str, Any]] = []
    next_ann_id = 1
    info = {"description": f"psalm-bench synthetic COCO workload (seed {seed})", "version": "1.0"}
    with open(paths.instances_pred, "wb") as pred_file:
        pred_file.write(b"[")
        first = True
        for res in tqdm(_results(tasks, workers), total=n_images, desc="workload", unit="img",
                        disable=not progress):
            images.append(res.image)
            for ann in res.gt_annotations:
                annotations.append({"id": next_ann_id, **ann})
                next_ann_id += 1
            body = res.predictions[1:-1]
            if body:
                if not first:
                    pred_file.write(b",")
                pred_file.write(body)
                first = False
            if res.panoptic_gt is not None and res.panoptic_pred is not None:
                pan_gt.append(res.panoptic_gt)
                pan_pred.append(res.panoptic_pred)
        pred_file.write(b"]")
    paths.instances_gt.write_bytes(orjson.dumps(
        {"info": info, "licenses": [], "images": images, "annotations": annotations,
         "categories": categories_instances()}))
    pan_images = images[:n_panoptic]
    for path, anns in ((paths.panoptic_gt_json, pan_gt), (paths.panoptic_pred_json, pan_pred)):
        path.write_bytes(orjson.dumps({"info": info, "licenses": [], "images": pan_images,
                                       "annotations": anns, "categories": categories_panoptic()}))
    paths.semantic_classes.write_bytes(orjson.dumps(semantic_classes()))
    return paths


def write_examples(out: Path) -> None:
    """The small example data shipped in ``psalm_bench/examples`` (instance, panoptic, semantic)."""
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        # seed 2039: its 8 images include crowd regions and RLE-annotated objects
        w = write_workload(Path(tmp), n_images=8, n_panoptic=8, seed=2039, height=240, width=320,
                           gt_per_image=4, dets_per_image=6, progress=False, workers=1)
        inst, pan, sem = out / "instance", out / "panoptic", out / "semantic"
        for d in (inst, pan, sem):
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
        shutil.copyfile(w.instances_gt, inst / "gt.json")
        shutil.copyfile(w.instances_pred, inst / "pred.json")
        # panoptic JSON file_name entries name PNGs, so the folders move as they are
        shutil.copyfile(w.panoptic_gt_json, pan / "gt.json")
        shutil.copyfile(w.panoptic_pred_json, pan / "pred.json")
        shutil.copytree(w.panoptic_gt_dir, pan / "gt")
        shutil.copytree(w.panoptic_pred_dir, pan / "pred")
        shutil.copytree(w.semantic_gt_dir, sem / "gt")
        shutil.copytree(w.semantic_pred_dir, sem / "pred")
        shutil.copyfile(w.semantic_classes, sem / "classes.json")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, help="output folder for a workload")
    ap.add_argument("--examples", type=Path, help="write the packaged example data to this folder instead")
    ap.add_argument("--n-images", type=int, default=5000)
    ap.add_argument("--n-panoptic", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--gt-per-image", type=float, default=7)
    ap.add_argument("--dets-per-image", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.examples is not None:
        write_examples(args.examples)
        return
    if args.out is None:
        ap.error("give an output folder or --examples DIR")
    write_workload(args.out, args.n_images, min(args.n_panoptic, args.n_images), seed=args.seed,
                   height=args.height, width=args.width, gt_per_image=args.gt_per_image,
                   dets_per_image=args.dets_per_image, progress=not args.no_progress,
                   workers=args.workers)


if __name__ == "__main__":
    main()
