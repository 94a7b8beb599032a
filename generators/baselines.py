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

Ego-Exo4D correspondence (``write_copy_baseline``): the query view's mask
copied to the other view, stretched to its evaluation size, always said to
be visible: what "same place in the other camera" scores.

MUSE (``write_muse_whole_image_baseline``): every question answered with one
object, the whole image. GCG (``write_gcg_whole_image_baseline``): one fixed
caption per image with one phrase grounded to the whole image.

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
from psalm_bench.formats.interactive import PROMPTS, prediction_record
from psalm_bench.formats.jsonl import write_jsonl

POINT_RADIUS = 10


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
    """One JSONL prediction line per (instance, prompt) of a COCO-Interactive file,
    read and checked as `eval` reads it (formats.interactive: any JSON layout, not
    only build-interactive's line per record); a null prompt gives an empty mask."""
    from psalm_bench.formats.interactive import load_interactive_gt

    for image in load_interactive_gt(interactive_json).images:
        empty: dict | None = None
        for ann in image.anns:
            for kind in PROMPTS:
                rle = ann.prompts[kind]
                if rle is None:
                    empty = empty or masks.encode(np.zeros((image.height, image.width), np.uint8))
                    rle = empty
                segmentation = baseline_mask(kind, rle)
                if isinstance(segmentation.get("counts"), bytes):
                    segmentation = {"size": segmentation["size"], "counts": segmentation["counts"].decode("ascii")}
                yield orjson.dumps(prediction_record(image.image_id, ann.id, kind, segmentation))


def write_prompt_baseline(interactive_json: str | Path, out: str | Path) -> Path:
    """Write the prompt-as-mask predictions for every instance and prompt type."""
    return write_jsonl(out, baseline_lines(Path(interactive_json)))


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


def copy_baseline_results(gt_json: str | Path) -> dict:
    """Per direction, the result layout (formats/egoexo.py) of the copy baseline:
    every frame of the query view's masks, for every view pair of each object."""
    from psalm_bench.formats.egoexo import DIRECTIONS, eval_size, is_ego, load_egoexo_gt

    gt = load_egoexo_gt(gt_json)
    results: dict = {d: {} for d in DIRECTIONS}
    for take, record in gt.takes.items():
        cam_size = {cam: tuple(rle["size"]) for cams in record.masks.values() for cam, frames in cams.items() for rle in frames.values()}
        for direction in DIRECTIONS:
            objects: dict = {}
            for obj, cams in record.masks.items():
                objects[obj] = {}
                ego = next((cam for cam in cams if is_ego(cam)), None)
                if ego is None:
                    continue
                for exo in (cam for cam in cams if cam != ego):
                    query, target = (ego, exo) if direction == "ego-exo" else (exo, ego)
                    frames = {}
                    for frame, rle in cams[query].items():
                        query_mask = masks.decode(masks.to_rle(rle, rle["size"][0], rle["size"][1]))
                        h, w = eval_size(*cam_size.get(target, query_mask.shape))
                        copied = cv2.resize(query_mask, (w, h), interpolation=cv2.INTER_NEAREST)
                        frames[frame] = {"pred_mask": masks.encode(copied), "confidence": 1.0 if copied.any() else 0.0}
                    objects[obj][f"{query}_{target}"] = frames
            results[direction][take] = {"masks": objects, "subsample_idx": list(record.subsample_idx)}
    return results


def write_copy_baseline(gt_json: str | Path, out: str | Path) -> Path:
    """Write the query-mask-copy predictions, both directions in one file."""
    from psalm_bench.formats.egoexo import write_egoexo_predictions

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_egoexo_predictions(out, copy_baseline_results(gt_json))
    return out


def _whole_image(h: int, w: int) -> dict:
    rle = masks.encode(np.ones((h, w), np.uint8))
    counts = rle["counts"]
    return {"size": [h, w], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def write_muse_whole_image_baseline(muse_json: str | Path, out: str | Path) -> Path:
    """MUSE: every question answered with one object, the whole image (PixelLM's
    release layout or psalm-bench's in, read and checked by formats.multi_target;
    psalm-bench's MUSE JSON Lines out)."""
    from psalm_bench.formats.multi_target import load_muse_gt

    lines = [{"id": s.id, "questions": [{"masks": [_whole_image(s.height, s.width)]} for _ in s.questions]} for s in load_muse_gt(muse_json)]
    return write_jsonl(Path(out), lines)


def write_gcg_whole_image_baseline(caption_gt: str | Path, out_dir: str | Path, split: str | None = None) -> Path:
    """GCG: the same caption for every image, "A picture of an object.", its one
    phrase grounded to the whole image (GLaMM's infer.py folder out). The ground
    truth is what ``eval --task gcg`` reads (formats.multi_target.load_gcg_gt):
    GLaMM's caption or mask file (its companion beside it), their folder with
    ``split``, or psalm-bench's GCG file."""
    from psalm_bench.formats.multi_target import load_gcg_gt

    samples = load_gcg_gt(caption_gt, split)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for sample in samples:
        rec = {"image_id": sample.id, "caption": "A picture of an object.", "phrases": ["an object"],
               "pred_masks": [_whole_image(sample.height, sample.width)]}
        (out_dir / f"{sample.id}.json").write_bytes(orjson.dumps(rec))
    return out_dir
