"""Scenes of the benchmark world: categories, object placement, ground truth.

A scene is a pure function of ``(seed, split, index)``: one numpy Generator
from ``SeedSequence([seed, split code, index])`` draws the background layout,
the objects and the pixel noise, in a fixed order. Nothing depends on the
world size or on which process renders it, so a tiny world's images are the
first images of the small world's, and any worker count gives the same bytes.

Masks are exact by construction: an object's shape mask *is* pycocotools'
rasterisation of the polygon written to its annotation (:mod:`world_render`),
so polygon annotations, RLE annotations, panoptic PNGs and semantic label
maps all describe the same pixels. Rings (a hole) and partly hidden objects
are annotated as RLE of their visible pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.generators.world_render import (
    COLOURS, Look, finish_image, light_direction, paint, sample_look, shape_mask, shape_polygon, stuff_layout, stuff_texture,
)

# ----------------------------------------------------------------- vocabulary of the world

SIZES = ("tiny", "small", "full")
SCENE_SPLITS = ("train", "val", "refval", "testA", "testB", "ov")
_SPLIT_CODE = {"train": 1, "val": 2, "refval": 3, "testA": 4, "testB": 5, "ov": 6, "video": 7}
#: image id = base + index + 1; annotation id = image id * 100 + k (k = 1 + depth)
IMAGE_ID_BASE = {"train": 0, "val": 1_000_000, "refval": 2_000_000, "testA": 3_000_000, "testB": 4_000_000, "ov": 5_000_000}
MAX_INDEX = 999_999

#: image shapes (height, width): a few around 256 px, as COCO mixes orientations
IMAGE_SHAPES: tuple[tuple[int, int], ...] = ((256, 256), (224, 288), (288, 224), (240, 320))

SIZE_WORDS = ("small", "medium", "large")
TEXTURES = ("solid", "striped", "dotted")
#: circumradius as a fraction of the image's short side, per size word
SIZE_RANGE = {"small": (0.05, 0.075), "medium": (0.095, 0.13), "large": (0.16, 0.23)}
_SIZE_P = (0.35, 0.4, 0.25)
_TEXTURE_P = (0.5, 0.25, 0.25)
HORIZONTAL_WORDS = ("left", "center", "right")
VERTICAL_WORDS = ("top", "middle", "bottom")


@dataclass(frozen=True)
class Category:
    """One category. ``group`` splits things for RefCOCO-style testA/testB
    ("curved" or "angular"); ``novel`` categories are held out of every file
    but the open-vocabulary set."""

    id: int
    name: str
    plural: str
    supercategory: str
    isthing: bool
    novel: bool
    group: str
    color: tuple[int, int, int]

    def coco(self) -> dict:
        return {"id": self.id, "name": self.name, "supercategory": self.supercategory}

    def panoptic(self) -> dict:
        return {"id": self.id, "name": self.name, "supercategory": self.supercategory, "isthing": int(self.isthing), "color": list(self.color)}


@dataclass(frozen=True)
class CategorySet:
    """The world's categories: things (ids 1..) then stuff (ids 101..), the
    order of every category list and class list written."""

    things: tuple[Category, ...]
    stuff: tuple[Category, ...]

    @property
    def all(self) -> tuple[Category, ...]:
        return self.things + self.stuff

    @property
    def known(self) -> tuple[Category, ...]:
        """In-domain categories (train and in-domain val)."""
        return tuple(c for c in self.all if not c.novel)

    @property
    def novel(self) -> tuple[Category, ...]:
        """Held-out categories: only in the open-vocabulary val set."""
        return tuple(c for c in self.all if c.novel)

    def by_name(self, name: str) -> Category:
        for cat in self.all:
            if cat.name == name:
                return cat
        raise InputError(f"unknown world category {name!r}")

    def by_id(self, cat_id: int) -> Category:
        for cat in self.all:
            if cat.id == cat_id:
                return cat
        raise InputError(f"unknown world category id {cat_id}")


def _thing(i: int, name: str, plural: str, sup: str, color: tuple[int, int, int], novel: bool = False) -> Category:
    return Category(i, name, plural, sup, True, novel, "curved" if sup == "round" else "angular", color)


def _stuff(i: int, name: str, sup: str, color: tuple[int, int, int], novel: bool = False) -> Category:
    return Category(i, name, name, sup, False, novel, "", color)


CATEGORIES = CategorySet(
    things=(
        _thing(1, "circle", "circles", "round", (220, 20, 60)),
        _thing(2, "square", "squares", "polygon", (119, 11, 32)),
        _thing(3, "triangle", "triangles", "polygon", (0, 0, 142)),
        _thing(4, "star", "stars", "symbol", (0, 0, 230)),
        _thing(5, "hexagon", "hexagons", "polygon", (106, 0, 228)),
        _thing(6, "ring", "rings", "round", (0, 60, 100)),
        _thing(7, "cross", "crosses", "symbol", (0, 80, 100)),
        _thing(8, "heart", "hearts", "round", (0, 0, 70)),
        _thing(9, "diamond", "diamonds", "polygon", (250, 170, 30)),
        _thing(10, "crescent", "crescents", "round", (100, 170, 30)),
        _thing(11, "pentagon", "pentagons", "polygon", (220, 220, 0), novel=True),
        _thing(12, "arrow", "arrows", "symbol", (175, 116, 175), novel=True),
        _thing(13, "oval", "ovals", "round", (250, 0, 30), novel=True),
    ),
    stuff=(
        _stuff(101, "sky", "sky", (70, 130, 180)),
        _stuff(102, "grass", "plant", (152, 251, 152)),
        _stuff(103, "water", "water", (0, 114, 143)),
        _stuff(104, "sand", "ground", (210, 170, 100)),
        _stuff(105, "wall", "wall", (102, 102, 156)),
        _stuff(106, "floor", "floor", (128, 64, 128)),
        _stuff(107, "road", "ground", (64, 64, 64)),
        _stuff(108, "snow", "ground", (255, 250, 250), novel=True),
        _stuff(109, "carpet", "floor", (150, 100, 100), novel=True),
    ),
)

KNOWN_THINGS = tuple(c.name for c in CATEGORIES.things if not c.novel)
NOVEL_THINGS = tuple(c.name for c in CATEGORIES.things if c.novel)
_GROUP = {c.name: c.group for c in CATEGORIES.things}


def split_code(split: str) -> int:
    try:
        return _SPLIT_CODE[split]
    except KeyError:
        raise InputError(f"unknown world split {split!r}; choose one of {', '.join(SCENE_SPLITS)}") from None


def image_id_of(split: str, index: int) -> int:
    split_code(split)
    if not 0 <= index <= MAX_INDEX:
        raise InputError(f"scene index {index} outside 0..{MAX_INDEX}")
    return IMAGE_ID_BASE[split] + index + 1


def scene_rng(seed: int, split: str, index: int, stream: int = 0) -> np.random.Generator:
    """The Generator of one record: stream 0 draws the scene, others the text."""
    if type(seed) is not int or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence([seed, split_code(split), index, stream]))


# ----------------------------------------------------------------- objects


@dataclass
class ThingObject:
    """One object (or one crowd region) of a scene.

    ``mask`` is the visible part (what every annotation describes); ``full_mask``
    the whole shape as if nothing were in front of it. ``polygon`` is the
    COCO polygon of the whole shape (None for rings and crowds), used as the
    annotation when nothing hides the object. ``depth`` 0 is the bottom."""

    category: str
    category_id: int
    colour: str
    size: str
    texture: str
    mask: np.ndarray
    full_mask: np.ndarray
    polygon: list[float] | None
    depth: int
    center: tuple[float, float]
    bbox: tuple[int, int, int, int]
    area: int
    iscrowd: bool = False
    segment_id: int = 0
    isthing: bool = True

    @property
    def occluded(self) -> bool:
        return int(self.full_mask.sum()) != self.area

    @property
    def position(self) -> tuple[str, str]:
        """(horizontal, vertical) word of the visible centroid, by image thirds."""
        h, w = self.mask.shape
        x, y = self.center
        return HORIZONTAL_WORDS[min(2, int(3 * x / w))], VERTICAL_WORDS[min(2, int(3 * y / h))]

    @property
    def attributes(self) -> dict[str, str]:
        horizontal, vertical = self.position
        return {"shape": self.category, "colour": self.colour, "size": self.size, "texture": self.texture, "horizontal": horizontal, "vertical": vertical}


@dataclass
class StuffRegion:
    """One stuff category's region: ``full_mask`` the background layout,
    ``mask`` what objects leave visible (one panoptic segment)."""

    category: str
    category_id: int
    mask: np.ndarray
    full_mask: np.ndarray
    bbox: tuple[int, int, int, int]
    area: int
    segment_id: int = 0
    isthing: bool = False
    iscrowd: bool = False


@dataclass
class Scene:
    """An image with its complete ground truth (see the module docstring)."""

    seed: int
    split: str
    index: int
    image_id: int
    image: np.ndarray
    things: list[ThingObject]
    stuff: list[StuffRegion]
    panoptic: np.ndarray

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def file_name(self) -> str:
        return f"{self.image_id:012d}.jpg"

    @property
    def segments(self) -> list[ThingObject | StuffRegion]:
        return [*self.things, *self.stuff]

    def label_map(self, classes: Sequence[str], ignore: int = 255) -> np.ndarray:
        """Semantic labels: each pixel the index of its category in ``classes``
        (crowds included), ``ignore`` where unlabelled."""
        index = {name: k for k, name in enumerate(classes)}
        labels = np.full((self.height, self.width), ignore, dtype=np.uint8)
        for seg in self.segments:
            labels[seg.mask] = index[seg.category]
        return labels


def _mask_stats(mask: np.ndarray) -> tuple[tuple[float, float], tuple[int, int, int, int], int]:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return (0.0, 0.0), (0, 0, 0, 0), 0
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
    return (float(xs.mean()), float(ys.mean())), (x0, y0, x1 - x0 + 1, y1 - y0 + 1), int(xs.size)


# ----------------------------------------------------------------- scene sampling


@dataclass
class _Draft:
    """An object before the scene is composed."""

    category: str
    colour: str
    size: str
    texture: str
    mask: np.ndarray
    polygon: np.ndarray | None
    parts: list[tuple[np.ndarray, float, float, float, float]]  # (mask, cx, cy, radius, angle) painted
    look: Look
    iscrowd: bool = False


def _palette(rng: np.random.Generator, names: list[str]) -> list[str]:
    """A few categories an image draws most of its objects from, so that
    objects often share a category (as RefCOCO images are chosen to)."""
    k = min(len(names), 1 + int(rng.choice(4, p=(0.15, 0.35, 0.3, 0.2))))
    return [str(c) for c in rng.choice(names, size=k, replace=False)]


def _from_palette(rng: np.random.Generator, palette: list[str], everything: list[str]) -> str:
    return palette[int(rng.integers(0, len(palette)))] if rng.random() < 0.8 else str(rng.choice(everything))


def _pick_categories(rng: np.random.Generator, split: str, n: int, need_novel: bool) -> list[str]:
    known = list(KNOWN_THINGS)
    if split in ("testA", "testB"):
        group = "curved" if split == "testA" else "angular"
        inside = [c for c in known if _GROUP[c] == group]
        palette = _palette(rng, inside)
        cats = [_from_palette(rng, palette, inside) for _ in range(2)]
        return cats + [_from_palette(rng, palette, inside) if rng.random() < 0.7 else str(rng.choice(known)) for _ in range(n - 2)]
    palette = _palette(rng, known)
    if split == "ov":
        cats = [str(rng.choice(NOVEL_THINGS)) if rng.random() < 0.35 else _from_palette(rng, palette, known) for _ in range(n)]
        if need_novel and not any(c in NOVEL_THINGS for c in cats):
            cats[int(rng.integers(0, n))] = str(rng.choice(NOVEL_THINGS))
        if all(c in NOVEL_THINGS for c in cats):
            cats[int(rng.integers(0, n))] = str(rng.choice(known))
        return cats
    return [_from_palette(rng, palette, known) for _ in range(n)]


def _draft_thing(rng: np.random.Generator, category: str, height: int, width: int) -> tuple[str, str, str, float, float]:
    size = str(rng.choice(SIZE_WORDS, p=_SIZE_P))
    lo, hi = SIZE_RANGE[size]
    radius = float(rng.uniform(lo, hi) * min(height, width))
    angle = float(rng.uniform(-0.35, 0.35)) if category == "heart" else float(rng.uniform(0, 2 * math.pi))
    colour = str(rng.choice(list(COLOURS)))
    texture = str(rng.choice(TEXTURES, p=_TEXTURE_P))
    return colour, size, texture, radius, angle


def _place(rng: np.random.Generator, radius: float, height: int, width: int) -> tuple[float, float]:
    cx = float(rng.uniform(radius + 1, width - radius - 2))
    cy = float(rng.uniform(radius + 1, height - radius - 2))
    return cx, cy


def _crowd(rng: np.random.Generator, height: int, width: int, category: str) -> _Draft | None:
    """A COCO-style crowd: a clump of tiny same-looking shapes, one region."""
    colour = str(rng.choice(list(COLOURS)))
    look = sample_look(rng, colour, "solid", 6.0)
    spread = float(rng.uniform(9, 15))
    ccx = float(rng.uniform(spread * 2 + 8, width - spread * 2 - 8))
    ccy = float(rng.uniform(spread * 2 + 8, height - spread * 2 - 8))
    mask = np.zeros((height, width), dtype=bool)
    parts = []
    for _ in range(int(rng.integers(8, 17))):
        r = float(rng.uniform(3.5, 6.0))
        cx = float(np.clip(ccx + rng.normal(0, spread), r + 1, width - r - 2))
        cy = float(np.clip(ccy + rng.normal(0, spread), r + 1, height - r - 2))
        angle = float(rng.uniform(0, 2 * math.pi))
        part = shape_mask(category, shape_polygon(category, cx, cy, r, angle), cx, cy, r, height, width)
        mask |= part
        parts.append((part, cx, cy, r, angle))
    if mask.sum() < 150:
        return None
    return _Draft(category, colour, "small", "solid", mask, None, parts, look, iscrowd=True)


_N_THINGS_P = (0.1, 0.16, 0.2, 0.18, 0.14, 0.12, 0.1)  # 2..8 objects
MIN_VISIBLE_FRACTION = 0.6
MIN_VISIBLE_AREA = 60


def _sample_objects(rng: np.random.Generator, split: str, height: int, width: int, need_novel: bool) -> list[_Draft]:
    """Objects bottom to top, placed so that each stays mostly visible."""
    drafts: list[_Draft] = []
    top = np.full((height, width), -1, dtype=np.int16)
    known = list(KNOWN_THINGS)
    if rng.random() < 0.15:
        crowd_cat = str(rng.choice(known))
        if split == "ov" and rng.random() < 0.3:
            crowd_cat = str(rng.choice(NOVEL_THINGS))
        crowd = _crowd(rng, height, width, crowd_cat)
        if crowd is not None:
            drafts.append(crowd)
            top[crowd.mask] = 0
    n = 2 + int(rng.choice(len(_N_THINGS_P), p=_N_THINGS_P))
    categories = _pick_categories(rng, split, n, need_novel)
    full_areas = [int(d.mask.sum()) for d in drafts]
    for category in categories:
        colour, size, texture, radius, angle = _draft_thing(rng, category, height, width)
        look = sample_look(rng, colour, texture, radius)
        for _ in range(25):
            cx, cy = _place(rng, radius, height, width)
            poly = shape_polygon(category, cx, cy, radius, angle)
            mask = shape_mask(category, poly, cx, cy, radius, height, width)
            area = int(mask.sum())
            if area < MIN_VISIBLE_AREA:
                continue
            covered = np.bincount(top[mask].astype(np.int64) + 1, minlength=len(drafts) + 1)[1:]
            ok = True
            for k, lost in enumerate(covered):
                if lost:
                    visible = int((top == k).sum()) - int(lost)
                    if visible < MIN_VISIBLE_FRACTION * full_areas[k] or visible < MIN_VISIBLE_AREA:
                        ok = False
                        break
            if ok:
                top[mask] = len(drafts)
                drafts.append(_Draft(category, colour, size, texture, mask, None if category == "ring" else poly, [(mask, cx, cy, radius, angle)], look))
                full_areas.append(area)
                break
    return drafts


def _segment_ids(rng: np.random.Generator, categories: list[str]) -> list[int]:
    """Segment ids as panopticapi makes them: the category colour, jittered
    for things, so PNGs look like COCO's; unique within the image."""
    ids: list[int] = []
    for name in categories:
        cat = CATEGORIES.by_name(name)
        rgb = np.array(cat.color, dtype=np.int64)
        candidate = int(rgb[0] + 256 * rgb[1] + 65536 * rgb[2]) if not cat.isthing else 0
        while candidate == 0 or candidate in ids:
            c = np.clip(rgb + rng.integers(-30, 31, 3), 0, 255)
            candidate = int(c[0] + 256 * c[1] + 65536 * c[2])
        ids.append(candidate)
    return ids


def generate_scene(seed: int, split: str, index: int, size: str = "small") -> Scene:
    """One scene of the world, a pure function of (seed, split, index).

    ``split``: train, val (in-domain), refval / testA / testB (referring
    evaluation images; testA favours curved shapes, testB angular ones) or ov
    (known and held-out categories together). ``size`` is checked but does not
    change the scene, so every world size shares its first images."""
    if size not in SIZES:
        raise InputError(f"unknown world size {size!r}; choose one of {', '.join(SIZES)}")
    image_id = image_id_of(split, index)
    rng = scene_rng(seed, split, index)
    height, width = IMAGE_SHAPES[int(rng.integers(0, len(IMAGE_SHAPES)))]
    novel_stuff = None
    if split == "ov" and rng.random() < 0.5:
        novel_stuff = str(rng.choice([c.name for c in CATEGORIES.stuff if c.novel]))
    layout, names = stuff_layout(rng, height, width, novel_stuff)
    canvas = np.zeros((height, width, 3), dtype=np.float32)
    for k, name in enumerate(names):
        np.copyto(canvas, stuff_texture(name, rng, height, width), where=(layout == k)[:, :, None])
    drafts = _sample_objects(rng, split, height, width, need_novel=split == "ov" and novel_stuff is None)
    light = light_direction(rng)
    for draft in drafts:
        for part, cx, cy, radius, angle in draft.parts:
            paint(canvas, part, draft.look, cx, cy, radius, angle, light)
    image = finish_image(rng, canvas, light)

    top = np.full((height, width), -1, dtype=np.int16)
    for k, draft in enumerate(drafts):
        top[draft.mask] = k
    ids = _segment_ids(rng, [d.category for d in drafts] + names)
    things: list[ThingObject] = []
    for k, draft in enumerate(drafts):
        visible = top == k
        center, bbox, area = _mask_stats(visible)
        cat = CATEGORIES.by_name(draft.category)
        polygon = draft.polygon.ravel().tolist() if draft.polygon is not None else None
        things.append(ThingObject(draft.category, cat.id, draft.colour, draft.size, draft.texture, visible, draft.mask,
                                  polygon, k, center, bbox, area, draft.iscrowd, ids[k]))
    panoptic = np.zeros((height, width), dtype=np.uint32)
    stuff: list[StuffRegion] = []
    for k, name in enumerate(names):
        full = layout == k
        visible = full & (top < 0)
        _, bbox, area = _mask_stats(visible)
        if area == 0:
            continue
        segment_id = ids[len(drafts) + k]
        panoptic[visible] = segment_id
        stuff.append(StuffRegion(name, CATEGORIES.by_name(name).id, visible, full, bbox, area, segment_id))
    for thing in things:
        panoptic[thing.mask] = thing.segment_id
    return Scene(seed, split, index, image_id, image, things, stuff, panoptic)


__all__ = [
    "CATEGORIES", "COLOURS", "Category", "CategorySet", "IMAGE_SHAPES", "SCENE_SPLITS", "SIZES", "SIZE_WORDS", "TEXTURES",
    "Scene", "StuffRegion", "ThingObject", "generate_scene", "image_id_of", "scene_rng", "split_code",
]
