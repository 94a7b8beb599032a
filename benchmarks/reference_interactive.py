"""A plain reference for COCO-Interactive's released prompts, done the way the
PSALM authors' released generator does each step: decode the full mask,
scikit-image ``label`` + ``regionprops`` over the whole image, one Python loop
per component and per try, ``scipy.ndimage.gaussian_filter`` on the full image,
``skimage.draw.line`` for the scribble, and an RLE encode of four full-size masks.

It is not the authors' file (their randomness is Python's unseeded
``random``): each ``random.uniform`` / ``random.choice`` here reads the same
stream block the builder reads (``psalm_bench.generators.interactive``'s
layout), so both give the same prompts for the same draws and can be compared
pixel for pixel. Only ``mode="released"`` is covered: it is the authors'
algorithm.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_api
from scipy.ndimage import gaussian_filter
from skimage.draw import line
from skimage.measure import label, regionprops

from psalm_bench.generators.interactive import BOX_AT, CURVE_AT, JITTER_AT, POINT_AT, prompt_stream


class SiteRandom:
    """``random.uniform`` and ``random.choice`` over one block of an annotation's stream."""

    def __init__(self, seed: int, ann_id: int, component: int, at: int):
        self.rng = prompt_stream(seed, ann_id, component, at)

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.rng.random()

    def choice(self, seq: list[Any]) -> Any:
        return seq[min(int(self.rng.random() * len(seq)), len(seq) - 1)]


def calculate_iou(box1: tuple[int, ...], box2: tuple[int, ...]) -> float:
    x_a, y_a = max(box1[1], box2[1]), max(box1[0], box2[0])
    x_b, y_b = min(box1[3], box2[3]), min(box1[2], box2[2])
    inter = max(0, x_b - x_a + 1) * max(0, y_b - y_a + 1)
    area1 = (box1[2] - box1[0] + 1) * (box1[3] - box1[1] + 1)
    area2 = (box2[2] - box2[0] + 1) * (box2[3] - box2[1] + 1)
    return inter / float(area1 + area2 - inter)


def _jittered(prop_bbox: tuple[int, int, int, int], centroid: tuple[float, float], rnd: SiteRandom, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    min_row, min_col, max_row, max_col = prop_bbox
    new_h = (max_row - min_row) * rnd.uniform(0.5, 1.2)
    new_w = (max_col - min_col) * rnd.uniform(0.5, 1.2)
    r0, c0 = int(centroid[0] - new_h / 2), int(centroid[1] - new_w / 2)
    r1, c1 = int(centroid[0] + new_h / 2), int(centroid[1] + new_w / 2)
    return max(r0, 0), max(c0, 0), min(r1, shape[0]), min(c1, shape[1])


def reference_prompts(mask: np.ndarray, seed: int, ann_id: int) -> dict[str, np.ndarray]:
    """Full-size point, scribble, box and mask prompts of one instance mask."""
    props = [p for p in regionprops(label(mask)) if p.area > 5]
    order = sorted(range(len(props)), key=lambda i: props[i].coords[0].tolist())  # raster order of first pixel
    props = [props[i] for i in order]

    point = np.zeros_like(mask, dtype=np.uint8)
    for j, prop in enumerate(props):
        rnd = SiteRandom(seed, ann_id, j, POINT_AT)
        min_row, min_col, max_row, max_col = prop.bbox
        centroid = prop.centroid
        for _ in range(1000):
            radius = min(max_row - min_row, max_col - min_col) * 0.5
            angle = rnd.uniform(0, 2 * np.pi)
            offset = (rnd.uniform(0, radius) * np.cos(angle), rnd.uniform(0, radius) * np.sin(angle))
            pr, pc = int(centroid[0] + offset[0]), int(centroid[1] + offset[1])
            pr, pc = np.clip(pr, min_row, max_row - 1), np.clip(pc, min_col, max_col - 1)
            if mask[pr, pc] > 0:
                point[pr, pc] = 1
                break

    blurred = gaussian_filter(mask.astype(float), sigma=2)
    mask_prompt = (blurred > blurred.mean()).astype(np.uint8)

    box = np.zeros_like(mask, dtype=np.uint8)
    for j, prop in enumerate(props):
        rnd = SiteRandom(seed, ann_id, j, BOX_AT)
        min_row, min_col, max_row, max_col = prop.bbox
        scale = rnd.uniform(0.9, 1.1)
        dh, dw = (max_row - min_row) * (scale - 1), (max_col - min_col) * (scale - 1)
        r0, c0 = max(0, int(min_row - dh / 2)), max(0, int(min_col - dw / 2))
        r1, c1 = min(mask.shape[0], int(max_row + dh / 2)), min(mask.shape[1], int(max_col + dw / 2))
        box[r0:r1, c0:c1] = 1

    scribble = np.zeros_like(mask, dtype=np.uint8)
    for j, prop in enumerate(props):
        rnd = SiteRandom(seed, ann_id, j, JITTER_AT)
        new_box = _jittered(prop.bbox, prop.centroid, rnd, mask.shape)
        found = False
        for _ in range(1000):
            if calculate_iou(new_box, prop.bbox) < 0.5:
                new_box = _jittered(prop.bbox, prop.centroid, rnd, mask.shape)
            else:
                found = True
                break
        if not found:
            continue
        r0, c0, r1, c1 = new_box
        curve = SiteRandom(seed, ann_id, j, CURVE_AT)
        corners = [(r0, c0), (r0, c1), (r1, c0), (r1, c1)]
        start = curve.choice(corners)
        if start in [(r0, c0), (r1, c1)]:
            end = (r1 if start[0] == r0 else r0, c1 if start[1] == c0 else c0)
        else:
            end = (r1 if start[0] == r0 else r0, c0 if start[1] == c1 else c1)
        rr, cc = line(start[0], start[1], end[0], end[1])
        rr = np.array(rr, dtype=np.float32)
        cc = np.array(cc, dtype=np.float32)
        amplitude = curve.uniform(10, 20)
        frequency = curve.uniform(0.2, 1)
        phase = curve.uniform(0, 2 * np.pi)
        rr += amplitude * np.sin(2 * np.pi * frequency * np.linspace(0, 1, len(rr)) + phase)
        rr = np.clip(rr, 0, mask.shape[0] - 1).astype(np.int32)
        cc = np.clip(cc, 0, mask.shape[1] - 1).astype(np.int32)
        scribble[rr, cc] = 1
    return {"point": point, "scribble": scribble, "box": box, "mask": mask_prompt}


def _encode(m: np.ndarray) -> dict[str, Any]:
    rle = mask_api.encode(np.asfortranarray(m))
    return {"counts": rle["counts"].decode("ascii"), "size": rle["size"]}


def reference_annotation(ann: dict[str, Any], height: int, width: int, seed: int) -> dict[str, Any]:
    """The annotation with its four prompts, as the released generator makes it."""
    seg = ann["segmentation"]
    if isinstance(seg, list):
        rle = mask_api.merge(mask_api.frPyObjects(seg, height, width))
    elif isinstance(seg["counts"], list):
        rle = mask_api.frPyObjects(seg, height, width)
    else:
        rle = seg
    mask = mask_api.decode(rle)
    prompts = reference_prompts(mask, seed, ann["id"])
    out = dict(ann)
    for name in ("point", "scribble", "box", "mask"):
        out[f"{name}_visual_prompt_mask"] = _encode(prompts[name])
    return out


def reference_build(instances: Path, out: Path, seed: int = 0) -> int:
    """The whole file, the released generator's way (json.load, per-image loop,
    json.dump with indent 2). Returns the number of instances."""
    data = json.loads(Path(instances).read_text())
    anns_by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in data["annotations"]:
        anns_by_image.setdefault(ann["image_id"], []).append(ann)
    records, n = [], 0
    for image in data["images"]:
        anns = anns_by_image.get(image["id"], [])
        if not anns:
            continue
        done = [reference_annotation(a, image["height"], image["width"], seed) for a in anns]
        n += len(done)
        records.append({"image": image["file_name"], "image_info": image, "new_img_id": len(records), "anns": done})
    with open(out, "w") as handle:
        json.dump(records, handle, indent=2)
    return n
