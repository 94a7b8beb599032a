"""Non-learned baselines: the floor a learned model has to clear.

Interactive (``write_prompt_baseline``): the prompt itself as the mask.

A model that reads a visual prompt has to do better than the prompt. Each
prompt type becomes the mask a user would draw from it with no model at all:

- point: a filled disk of radius ``POINT_RADIUS`` (10 px, the size PSALM's
  loader draws the point at) around every stored point pixel;
- scribble: the filled convex hull of the scribble's pixels;
- box: the filled box, as stored;
- mask: the blurred-and-binarised mask prompt, as stored.

Video object segmentation (``write_first_frame_baseline``): the first
frame's ground-truth objects held still in every frame, the usual "no
propagation" floor of semi-supervised VOS.

The outputs are ordinary prediction files (FORMATS.md), scored by the same
evaluators as any model's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import shutil

import cv2
import numpy as np
import orjson

from psalm_bench import masks
from psalm_bench.generators.interactive import iter_records

PROMPTS = ("point", "scribble", "box", "mask")
POINT_RADIUS = 10
BASELINE_NAME = "prompt-as-mask"
VOS_BASELINE_NAME = "first-frame-copy"


def point_disk(prompt: np.ndarray, radius: int = POINT_RADIUS) -> np.ndarray:
    """Disks of ``radius`` around each prompt pixel (exact Euclidean disk)."""
    out = np.zeros(prompt.shape, np.uint8)
    for r, c in zip(*np.nonzero(prompt)):
        cv2.circle(out, (int(c), int(r)), radius, 1, thickness=-1)
    return out.astype(bool)


def scribble_hull(prompt: np.ndarray) -> np.ndarray:
    """The filled convex hull of the scribble's pixels (their pixel squares' corners)."""
    rows, cols = np.nonzero(prompt)
    out = np.zeros(prompt.shape, np.uint8)
    if rows.size == 0:
        return out.astype(bool)
    points = np.stack([cols, rows], axis=1).astype(np.int32)
    hull = cv2.convexHull(points)
    cv2.fillConvexPoly(out, hull, 1)
    return out.astype(bool)


def baseline_mask(kind: str, prompt_rle: dict) -> dict:
    """The baseline's predicted mask (compressed RLE) for one stored prompt."""
    if kind in ("box", "mask"):
        return prompt_rle
    prompt = masks.decode(prompt_rle).astype(bool)
    mask = point_disk(prompt) if kind == "point" else scribble_hull(prompt)
    return masks.encode(mask)


def baseline_lines(interactive_json: Path) -> Iterator[bytes]:
    """One JSONL prediction line per (instance, prompt) of a COCO-Interactive file."""
    for record in iter_records(Path(interactive_json)):
        image_id = record["image_info"]["id"]
        for ann in record["anns"]:
            for kind in PROMPTS:
                rle = dict(ann[f"{kind}_visual_prompt_mask"])
                if isinstance(rle.get("counts"), bytes):
                    rle["counts"] = rle["counts"].decode("ascii")
                segmentation = baseline_mask(kind, rle)
                if isinstance(segmentation.get("counts"), bytes):
                    segmentation = {"size": segmentation["size"], "counts": segmentation["counts"].decode("ascii")}
                yield orjson.dumps({"image_id": image_id, "ann_id": ann["id"], "prompt": kind, "segmentation": segmentation})


def write_prompt_baseline(interactive_json: str | Path, out: str | Path) -> Path:
    """Write the prompt-as-mask predictions for every instance and prompt type."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "wb") as handle:
        for line in baseline_lines(Path(interactive_json)):
            handle.write(line + b"\n")
    tmp.replace(out)
    return out


def write_first_frame_baseline(davis_root: str | Path, out: str | Path, split: str = "val") -> Path:
    """For every sequence of the split, the first annotation PNG copied to
    every frame name (``OUT/SEQ/NNNNN.png``)."""
    from psalm_bench.formats.davis import load_davis

    out = Path(out)
    for seq in load_davis(davis_root, split):
        folder = out / seq.name
        folder.mkdir(parents=True, exist_ok=True)
        for frame in seq.frames:
            shutil.copyfile(seq.frames[0], folder / frame.name)
    return out
