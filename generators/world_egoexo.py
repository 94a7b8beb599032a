"""Ego-Exo4D-style takes of the benchmark world, for zero-shot correspondence.

A take is a pure function of ``(seed, index)``: two to four shapes move over
a stuff background (the scene, drawn once per frame at 360x640), and three
synchronised cameras look at it:

- ``aria01``, the ego camera (256x256): a zoomed, slightly rotated square
  window that wanders over the scene like a head, so objects enter and leave
  its view; a "hand" in the lower part of the frame hides what is behind it.
- ``cam01``, an exo camera (216x384): the whole scene from a tripod, smaller.
- ``cam02``, a second exo camera (216x384): a mirrored, closer view of part of
  the scene with a pillar in front, so objects are cut off or hidden.

Each view is the scene warped by the camera's affine map (image bilinear,
object ids nearest) and then given its own occluder, light fall-off and
sensor noise, so an object's masks in two views are the same object under a
known change of viewpoint, scale and crop. An object is annotated in a view
at every frame (``annotated_frames`` lists them all); where fewer than
``MIN_AREA`` of its pixels show, it has no mask there: not visible.

Written in the Ego-Exo4D correspondence layout (formats/egoexo.py,
docs/correspondence.md): ``correspondence-gt.json`` and the processed frames
``takes/TAKE/CAM/FRAME.jpg`` (frame = source index, one a second at 30 fps),
plus ``egoexo.json`` (what was built). The random streams are keyed
``[seed, 8, index, stream]`` (8: after the scene splits' 1-7 of
world_scene), so no other part of the world draws the same numbers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from psalm_bench.progress import tqdm  # a bar on a terminal, lines in a log

from psalm_bench.errors import InputError
from psalm_bench.formats.egoexo import DIRECTIONS, write_egoexo_gt
from psalm_bench.generators.world_render import COLOURS, finish_image, light_direction, paint, sample_look, shape_mask, shape_polygon, stuff_layout, stuff_texture
from psalm_bench.generators.world_scene import KNOWN_THINGS, SIZE_RANGE, SIZE_WORDS, TEXTURES
from psalm_bench.jsonio import dump_json
from psalm_bench.masks import encode

EGOEXO_VERSION = "1.0.0"
EGOEXO_STREAM = 8
SCENE_SHAPE = (360, 640)
EGO_CAM, EXO_CAMS = "aria01", ("cam01", "cam02")
CAMERA_SHAPES = {"aria01": (256, 256), "cam01": (216, 384), "cam02": (216, 384)}
MIN_AREA = 24  # pixels of the camera frame: below it the object is not visible there
FRAME_STEP = 30  # subsample_idx: one frame a second of a 30 fps take
JPEG_QUALITY = 90
GT_NAME = "correspondence-gt.json"
MANIFEST = "egoexo.json"


@dataclass(frozen=True)
class TakeSize:
    takes: int
    frames: int


SIZE_SPECS = {"tiny": TakeSize(2, 4), "small": TakeSize(12, 8), "full": TakeSize(120, 8)}


@dataclass
class TakeObject:
    object_id: int
    name: str  # "red star_0": the Ego-Exo4D style "noun_k"
    category: str
    colour: str


@dataclass
class Take:
    """``views``: camera -> (frames (T, H, W, 3) uint8, ids (T, H, W) uint8)."""

    name: str
    index: int
    frame_idx: list[int]
    objects: list[TakeObject]
    views: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def take_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    if type(seed) is not int or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence([seed, EGOEXO_STREAM, index, stream]))


def take_name(index: int) -> str:
    return f"take-{index:04d}"


def _bounce(start: float, velocity: float, lo: float, hi: float, n: int) -> np.ndarray:
    span = max(hi - lo, 1e-6)
    folded = np.mod((start - lo) + velocity * np.arange(n), 2 * span)
    return lo + np.where(folded > span, 2 * span - folded, folded)


def _inverse_maps(rng: np.random.Generator, n: int) -> dict[str, list[np.ndarray]]:
    """Per camera and frame, the 2x3 map from a view pixel to the scene."""
    sh, sw = SCENE_SHAPE
    maps: dict[str, list[np.ndarray]] = {}
    # ego: a square window of side `side` scene px, centre wandering, slight roll
    side = float(rng.uniform(150, 230))
    start = np.array([rng.uniform(0.2, 0.8) * sw, rng.uniform(0.25, 0.75) * sh])
    stop = np.array([rng.uniform(0.2, 0.8) * sw, rng.uniform(0.25, 0.75) * sh])
    roll0, roll1 = float(rng.uniform(-0.2, 0.2)), float(rng.uniform(-0.2, 0.2))
    eh, ew = CAMERA_SHAPES[EGO_CAM]
    maps[EGO_CAM] = []
    for f in range(n):
        t = f / max(n - 1, 1)
        centre = start + (stop - start) * t
        roll = roll0 + (roll1 - roll0) * t
        s = side / ew
        c, si = math.cos(roll) * s, math.sin(roll) * s
        # scene = centre + R(roll) * s * (view - view_centre)
        vx, vy = (ew - 1) / 2.0, (eh - 1) / 2.0
        maps[EGO_CAM].append(np.array([[c, -si, centre[0] - c * vx + si * vy], [si, c, centre[1] - si * vx - c * vy]], dtype=np.float64))
    # cam01: the whole scene, scaled down
    h1, w1 = CAMERA_SHAPES["cam01"]
    m1 = np.array([[sw / w1, 0.0, 0.0], [0.0, sh / h1, 0.0]], dtype=np.float64)
    maps["cam01"] = [m1] * n
    # cam02: mirrored, a window of `frac` of the scene
    h2, w2 = CAMERA_SHAPES["cam02"]
    frac = float(rng.uniform(0.45, 0.65))
    x0, y0 = float(rng.uniform(0, (1 - frac) * sw)), float(rng.uniform(0, (1 - frac) * sh))
    s2 = frac * sw / w2
    m2 = np.array([[-s2, 0.0, x0 + s2 * (w2 - 1)], [0.0, s2, y0]], dtype=np.float64)
    maps["cam02"] = [m2] * n
    return maps


def _hand(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """The ego view's occluder per frame: an ellipse rising from the bottom edge."""
    eh, ew = CAMERA_SHAPES[EGO_CAM]
    cx0, cx1 = rng.uniform(0.2, 0.8) * ew, rng.uniform(0.2, 0.8) * ew
    rx, ry = rng.uniform(0.12, 0.2) * ew, rng.uniform(0.2, 0.32) * eh
    yy, xx = np.mgrid[0:eh, 0:ew]
    out = []
    for f in range(n):
        cx = cx0 + (cx1 - cx0) * f / max(n - 1, 1)
        out.append(((xx - cx) / rx) ** 2 + ((yy - eh * 1.02) / ry) ** 2 <= 1.0)
    return out


def _pillar(rng: np.random.Generator) -> np.ndarray:
    h2, w2 = CAMERA_SHAPES["cam02"]
    x = rng.uniform(0.25, 0.75) * w2
    half = rng.uniform(0.06, 0.12) * w2
    xx = np.arange(w2)[None, :]
    return np.broadcast_to(np.abs(xx - x) <= half, (h2, w2)).copy()


def generate_take(seed: int, index: int, n_frames: int = 8) -> Take:
    """One take of the world (see the module docstring)."""
    rng = take_rng(seed, index)
    sh, sw = SCENE_SHAPE
    layout, names = stuff_layout(rng, sh, sw, None)
    background = np.zeros((sh, sw, 3), dtype=np.float32)
    for k, name in enumerate(names):
        np.copyto(background, stuff_texture(name, rng, sh, sw), where=(layout == k)[:, :, None])
    light = light_direction(rng)
    specs = []
    for _ in range(int(rng.integers(2, 5))):
        category = str(rng.choice(KNOWN_THINGS))
        size = str(rng.choice(SIZE_WORDS, p=(0.2, 0.45, 0.35)))
        colour = str(rng.choice(list(COLOURS)))
        texture = str(rng.choice(TEXTURES, p=(0.5, 0.25, 0.25)))
        lo, hi = SIZE_RANGE[size]
        radius = float(rng.uniform(lo, hi) * sh)
        speed = float(rng.uniform(8.0, 30.0))  # scene px per subsampled frame (one second)
        heading = float(rng.uniform(0, 2 * math.pi))
        x0, y0 = float(rng.uniform(radius, sw - radius)), float(rng.uniform(radius, sh - radius))
        angle0, spin = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(-0.3, 0.3))
        specs.append((category, colour, radius, speed, heading, x0, y0, angle0, spin, sample_look(rng, colour, texture, radius)))
    maps = _inverse_maps(rng, n_frames)
    hands = _hand(rng, n_frames)
    pillar = _pillar(rng)
    skin = np.array(rng.uniform([170, 120, 95], [225, 170, 140]), dtype=np.float32)
    stone = np.array(rng.uniform([95, 95, 100], [150, 145, 140]), dtype=np.float32)
    views = {cam: (np.empty((n_frames, *CAMERA_SHAPES[cam], 3), np.uint8), np.zeros((n_frames, *CAMERA_SHAPES[cam]), np.uint8)) for cam in CAMERA_SHAPES}
    view_rngs = {cam: take_rng(seed, index, 1 + k) for k, cam in enumerate(CAMERA_SHAPES)}
    for f in range(n_frames):
        canvas = background.copy()
        ids = np.zeros((sh, sw), dtype=np.uint8)
        for k, (category, _colour, radius, speed, heading, x0, y0, angle0, spin, look) in enumerate(specs):
            x = float(_bounce(x0, speed * math.cos(heading), radius, sw - radius, f + 1)[f])
            y = float(_bounce(y0, speed * math.sin(heading), radius, sh - radius, f + 1)[f])
            a = angle0 + spin * f
            mask = shape_mask(category, shape_polygon(category, x, y, radius, a), x, y, radius, sh, sw)
            paint(canvas, mask, look, x, y, radius, a, light)
            ids[mask] = k + 1
        for cam, (h, w) in CAMERA_SHAPES.items():
            m = maps[cam][f]
            img = cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
            lab = cv2.warpAffine(ids, m, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            cover = hands[f] if cam == EGO_CAM else pillar if cam == "cam02" else None
            if cover is not None:
                img[cover] = skin if cam == EGO_CAM else stone
                lab[cover] = 0
            views[cam][0][f] = finish_image(view_rngs[cam], img, light)
            views[cam][1][f] = lab
    objects = [TakeObject(k + 1, f"{s[1]} {s[0]}_{k}", s[0], s[1]) for k, s in enumerate(specs)]
    return Take(take_name(index), index, [FRAME_STEP * f for f in range(n_frames)], objects, views)


def take_annotation(take: Take) -> dict[str, Any]:
    """The take's entry of ``correspondence-gt.json``."""
    frames = [str(f) for f in take.frame_idx]
    masks: dict[str, Any] = {}
    annotated: dict[str, Any] = {}
    for obj in take.objects:
        masks[obj.name] = {}
        annotated[obj.name] = {}
        for cam in CAMERA_SHAPES:
            labels = take.views[cam][1]
            masks[obj.name][cam] = {}
            for f, frame in enumerate(frames):
                m = labels[f] == obj.object_id
                if int(np.count_nonzero(m)) >= MIN_AREA:
                    masks[obj.name][cam][frame] = encode(m)
            annotated[obj.name][cam] = list(take.frame_idx)
    return {"masks": masks, "subsample_idx": list(take.frame_idx), "annotated_frames": annotated}


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    Image.fromarray(image).save(path, format="JPEG", quality=JPEG_QUALITY)


def _render_take(seed: int, index: int, n_frames: int, root: str) -> tuple[str, dict[str, Any]]:
    take = generate_take(seed, index, n_frames)
    for cam in CAMERA_SHAPES:
        folder = Path(root) / "takes" / take.name / cam
        folder.mkdir(parents=True, exist_ok=True)
        for f, frame in enumerate(take.frame_idx):
            _write_jpeg(folder / f"{frame}.jpg", take.views[cam][0][f])
    return take.name, take_annotation(take)


@dataclass(frozen=True)
class EgoExoSummary:
    root: Path
    seed: int
    size: str
    counts: dict[str, int]
    seconds: float


def count_samples(annotations: dict[str, Any]) -> dict[str, int]:
    """Scored frames per direction and how many show the object (evaluate_take's rule)."""
    counts = {"takes": len(annotations), "objects": 0}
    for direction in DIRECTIONS:
        counts[f"{direction}_samples"] = counts[f"{direction}_visible"] = 0
    for take in annotations.values():
        for obj, cams in take["masks"].items():
            counts["objects"] += 1
            for exo in EXO_CAMS:
                for direction, query, target in (("ego-exo", EGO_CAM, exo), ("exo-ego", exo, EGO_CAM)):
                    listed = set(take["annotated_frames"][obj][target])
                    scored = [f for f in cams[query] if int(f) in listed]
                    counts[f"{direction}_samples"] += len(scored)
                    counts[f"{direction}_visible"] += sum(f in cams[target] for f in scored)
    return counts


def build_egoexo(out: str | Path, *, seed: int = 0, size: str = "small", workers: int = 1, progress: bool = True) -> EgoExoSummary:
    """Write the takes, their frames and ``correspondence-gt.json`` under ``out``."""
    from psalm_bench.parallel import worker_pool

    started = time.perf_counter()
    if size not in SIZE_SPECS:
        raise InputError(f"unknown size {size!r}; choose one of {', '.join(SIZE_SPECS)}")
    take_rng(seed, 0)  # validates the seed
    spec = SIZE_SPECS[size]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    args = ([seed] * spec.takes, list(range(spec.takes)), [spec.frames] * spec.takes, [str(out)] * spec.takes)
    annotations: dict[str, Any] = {}
    bar = tqdm(total=spec.takes, desc="egoexo takes", unit="take", disable=not progress, leave=False, dynamic_ncols=True)
    pool = worker_pool(workers) if workers > 1 else None
    try:
        for name, annotation in (pool.map(_render_take, *args) if pool is not None else map(_render_take, *args)):
            annotations[name] = annotation
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    write_egoexo_gt(out / GT_NAME, annotations, version=EGOEXO_VERSION, challenge="correspondence")  # formats.egoexo's writer
    counts = count_samples(annotations)
    dump_json({"name": "psalm-bench-egoexo", "version": EGOEXO_VERSION, "seed": seed, "size": size, "gt": GT_NAME, "frames": "takes",
               "cameras": {cam: list(shape) for cam, shape in CAMERA_SHAPES.items()}, "counts": counts}, out / MANIFEST)
    return EgoExoSummary(out, seed, size, counts, time.perf_counter() - started)


def egoexo_dir(cache_dir: Path | None = None, *, seed: int = 0, size: str = "small") -> Path:
    from psalm_bench.generators.embedded import default_cache_dir

    return (cache_dir or default_cache_dir()) / f"egoexo-v{EGOEXO_VERSION}-{size}-seed{seed}"


def ensure_egoexo(cache_dir: Path | None = None, *, seed: int = 0, size: str = "small", progress: bool = True, workers: int = 1) -> Path:
    """The takes' root in the cache, built on first use (the embedded world's
    rule: ``egoexo.json`` is written last, so a half-built folder is rebuilt;
    a file lock makes concurrent first uses build it once)."""
    import fcntl
    import shutil

    root = egoexo_dir(cache_dir, seed=seed, size=size)
    if (root / MANIFEST).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / MANIFEST).is_file():
            return root
        if root.exists():
            shutil.rmtree(root)  # an interrupted build
        build_egoexo(root, seed=seed, size=size, workers=workers, progress=progress)
    return root


def frame_path(root: str | Path, take: str, cam: str, frame: str) -> Path:
    """Where a processed frame lies (SegSwap's ``{take}/{cam}/{frame}.jpg``)."""
    return Path(root) / "takes" / take / cam / f"{frame}.jpg"


__all__ = ["CAMERA_SHAPES", "EGO_CAM", "EXO_CAMS", "GT_NAME", "MANIFEST", "SIZE_SPECS", "Take", "TakeObject", "build_egoexo", "count_samples",
           "egoexo_dir", "ensure_egoexo", "frame_path", "generate_take", "take_annotation"]
