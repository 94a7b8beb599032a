"""Speed of `--task vos` (J&F) and `--task interactive` against the code users
would otherwise run, on synthetic data at the real benchmarks' scale.

VOS: a DAVIS-2017-val-sized world (30 sequences, ~2000 frames at 480x854,
~2 objects per sequence; moving, deforming shapes that occlude each other
and leave the frame, written as indexed PNGs in the DAVIS layout) and
predictions that are perturbed ground truth (shifted, scaled, lagging,
ragged boundaries, an object lost for a stretch, a few false masks).
The reference is a plain re-implementation of the official
``davis2017-evaluation`` semi-supervised procedure (the package is not on
PyPI, so it cannot be installed here): PIL decoding of every frame into
float64 sequence arrays, one boolean array per object, ``db_eval_iou`` on
the stacked frames, and per object-frame the official ``f_measure``
(``seg2bmap`` on the full frame, two ``cv2.dilate`` with the skimage disk),
then ``db_statistics``. Both must give the same numbers (checked to 1e-9).

Interactive: ~5000 (instance, prompt) samples on 480x640 images (polygon and
RLE ground truth, four prompts per instance) against the loop users write
by hand: for every prediction line decode the ground truth and the
prediction with pycocotools and count I and U with numpy.

    python benchmarks/vos_speed.py [--keep DIR] [--workers N] [--skip-reference]

Times are CPU seconds of this process (``time.process_time``; with
``--workers`` > 1 the pool's children are added from ``getrusage``) and wall
seconds, each tool run once after the data is written (cold page cache is not
forced).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from glob import glob
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_api

# ---------------------------------------------------------------------------
# Synthetic DAVIS world

HEIGHT, WIDTH = 480, 854


def davis_palette() -> list[int]:
    """The usual PASCAL/DAVIS colour map (bit-interleaved), 256 entries."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette += [r, g, b]
    return palette


PALETTE = davis_palette()


def write_indexed(path: Path, labels: np.ndarray) -> None:
    image = Image.fromarray(labels, mode="P")
    image.putpalette(PALETTE)
    image.save(path)


def shape_points(cx: float, cy: float, rx: float, ry: float, angle: float, wobble: np.ndarray, phase: float) -> np.ndarray:
    """A closed, star-ish outline: an ellipse whose radius is modulated by a
    few harmonics (so boundaries are not trivially smooth)."""
    t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    radius = 1.0 + sum(a * np.sin((k + 2) * t + phase * (k + 1)) for k, a in enumerate(wobble))
    x = rx * radius * np.cos(t)
    y = ry * radius * np.sin(t)
    ca, sa = math.cos(angle), math.sin(angle)
    pts = np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], axis=1)
    return np.round(pts).astype(np.int32)


def make_davis(root: Path, n_sequences: int, total_frames: int, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    (root / "ImageSets" / "2017").mkdir(parents=True, exist_ok=True)
    lengths = rng.integers(40, 100, n_sequences).astype(float)
    lengths = np.maximum(25, np.round(lengths * total_frames / lengths.sum())).astype(int)
    names = [f"synth-{k:02d}" for k in range(n_sequences)]
    (root / "ImageSets" / "2017" / "val.txt").write_text("\n".join(names) + "\n")
    stats = {"sequences": n_sequences, "frames": 0, "objects": 0}
    for name, n in zip(names, lengths):
        n_obj = int(rng.choice([1, 2, 2, 2, 3, 3]))
        stats["frames"] += int(n)
        stats["objects"] += n_obj
        objs = []
        for _ in range(n_obj):
            objs.append({
                "c0": rng.uniform([150, 120], [WIDTH - 150, HEIGHT - 120]),
                "v": rng.uniform(-4, 4, 2),
                "r": rng.uniform(35, 110, 2),
                "angle": rng.uniform(0, np.pi),
                "spin": rng.uniform(-0.03, 0.03),
                "wobble": rng.uniform(0, 0.12, 3),
                "pulse": rng.uniform(0.02, 0.08),
            })
        gt_dir = root / "Annotations" / "480p" / name
        pred_dir = root / "pred" / name
        gt_dir.mkdir(parents=True)
        pred_dir.mkdir(parents=True)
        lost = rng.integers(0, n_obj), rng.integers(5, max(6, n - 15)), rng.integers(3, 10)
        for t in range(n):
            gt = np.zeros((HEIGHT, WIDTH), np.uint8)
            pred = np.zeros((HEIGHT, WIDTH), np.uint8)
            for k, o in enumerate(objs):
                obj_id = k + 1
                c = o["c0"] + o["v"] * t + 30 * np.sin(t / 9 + k)
                scale = 1 + o["pulse"] * math.sin(t / 5 + k)
                pts = shape_points(c[0], c[1], o["r"][0] * scale, o["r"][1] * scale, o["angle"] + o["spin"] * t, o["wobble"], t / 7)
                cv2.fillPoly(gt, [pts], obj_id)
                if t > 0 and k == lost[0] and lost[1] <= t < lost[1] + lost[2]:
                    continue  # the model loses this object for a while
                lag = 2 if k % 2 else 0
                cp = o["c0"] + o["v"] * (t - lag) + 30 * np.sin((t - lag) / 9 + k) + rng.normal(0, 3, 2)
                noisy = o["wobble"] + rng.normal(0, 0.03, 3)
                sp = scale * rng.uniform(0.92, 1.08)
                pts = shape_points(cp[0], cp[1], o["r"][0] * sp, o["r"][1] * sp, o["angle"] + o["spin"] * t + rng.normal(0, 0.05), noisy, t / 7 + rng.normal(0, 0.2))
                cv2.fillPoly(pred, [pts], obj_id)
            if t % 17 == 5:  # a false blob of object 1
                cx, cy = rng.integers(40, WIDTH - 40), rng.integers(40, HEIGHT - 40)
                cv2.circle(pred, (int(cx), int(cy)), int(rng.integers(5, 25)), 1, -1)
            if t == 0:
                pred = gt.copy()  # semi-supervised: the first mask is given
            write_indexed(gt_dir / f"{t:05d}.png", gt)
            write_indexed(pred_dir / f"{t:05d}.png", pred)
    return stats


# ---------------------------------------------------------------------------
# The official semi-supervised procedure, re-implemented plainly


def ref_iou(annotation: np.ndarray, segmentation: np.ndarray, void: np.ndarray) -> np.ndarray:
    annotation = annotation.astype(bool)
    segmentation = segmentation.astype(bool)
    keep = np.logical_not(void.astype(bool))
    inter = np.sum((segmentation & annotation) & keep, axis=(-2, -1))
    union = np.sum((segmentation | annotation) & keep, axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        j = inter / union
    j[np.isclose(union, 0)] = 1
    return j


def ref_bmap(seg: np.ndarray) -> np.ndarray:
    seg = seg.astype(bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    southeast = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    southeast[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ east) | (seg ^ south) | (seg ^ southeast)
    b[-1, :] = seg[-1, :] ^ east[-1, :]
    b[:, -1] = seg[:, -1] ^ south[:, -1]
    b[-1, -1] = 0
    return b


def ref_f_measure(fg: np.ndarray, gt: np.ndarray, void: np.ndarray, bound_th: float = 0.008) -> float:
    from skimage.morphology import disk

    void = void.astype(bool)
    bound_pix = bound_th if bound_th >= 1 else np.ceil(bound_th * np.linalg.norm(fg.shape))
    fg_b = ref_bmap(fg * np.logical_not(void))
    gt_b = ref_bmap(gt * np.logical_not(void))
    fg_dil = cv2.dilate(fg_b.astype(np.uint8), disk(bound_pix).astype(np.uint8))
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), disk(bound_pix).astype(np.uint8))
    gt_match = gt_b * fg_dil
    fg_match = fg_b * gt_dil
    n_fg = np.sum(fg_b)
    n_gt = np.sum(gt_b)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision = np.sum(fg_match) / float(n_fg)
        recall = np.sum(gt_match) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def ref_statistics(values: np.ndarray) -> tuple[float, float, float]:
    mean = np.nanmean(values)
    recall = np.nanmean(values > 0.5)
    ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(np.uint8)
    bins = [values[ids[i]:ids[i + 1] + 1] for i in range(4)]
    return mean, recall, np.nanmean(bins[0]) - np.nanmean(bins[3])


def ref_read_stack(paths: list[str]) -> np.ndarray:
    first = np.array(Image.open(paths[0]))
    stack = np.zeros((len(paths), *first.shape))
    for i, path in enumerate(paths):
        stack[i, ...] = np.array(Image.open(path))
    return stack


def ref_split_objects(stack: np.ndarray, n_objects: int) -> np.ndarray:
    tmp = np.ones((n_objects, *stack.shape)) * np.arange(1, n_objects + 1)[:, None, None, None]
    return tmp == stack[None, ...]


def reference_vos(root: Path, pred_root: Path, split: str = "val") -> dict[str, float]:
    names = [n.strip() for n in (root / "ImageSets" / "2017" / f"{split}.txt").read_text().splitlines() if n.strip()]
    res = {"J": {"M": [], "R": [], "D": []}, "F": {"M": [], "R": [], "D": []}}
    for seq in names:
        gt_paths = sorted(glob(str(root / "Annotations" / "480p" / seq / "*.png")))
        frame_ids = [Path(p).stem for p in gt_paths]
        gt = ref_read_stack(gt_paths)
        gt[gt == 255] = 0
        gt_masks = ref_split_objects(gt, int(np.max(gt[0])))[:, 1:-1] > 0
        frame_ids = frame_ids[1:-1]
        pred = ref_read_stack([str(pred_root / seq / f"{f}.png") for f in frame_ids])
        pred_masks = ref_split_objects(pred, int(np.max(pred))) > 0
        if pred_masks.shape[0] < gt_masks.shape[0]:
            pad = np.zeros((gt_masks.shape[0] - pred_masks.shape[0], *pred_masks.shape[1:]), dtype=bool)
            pred_masks = np.concatenate([pred_masks, pad], axis=0)
        for ii in range(gt_masks.shape[0]):
            void = gt_masks[ii] == 255
            j = ref_iou(gt_masks[ii], pred_masks[ii], void)
            f = np.array([ref_f_measure(pred_masks[ii, t], gt_masks[ii, t], void[t]) for t in range(gt_masks.shape[1])])
            for key, values in (("J", j), ("F", f)):
                m, r, d = ref_statistics(values)
                res[key]["M"].append(m)
                res[key]["R"].append(r)
                res[key]["D"].append(d)
    jm, fm = np.mean(res["J"]["M"]), np.mean(res["F"]["M"])
    return {
        "J&F": 100 * (jm + fm) / 2, "J": 100 * jm, "J-recall": 100 * np.mean(res["J"]["R"]), "J-decay": 100 * np.mean(res["J"]["D"]),
        "F": 100 * fm, "F-recall": 100 * np.mean(res["F"]["R"]), "F-decay": 100 * np.mean(res["F"]["D"]),
    }


# ---------------------------------------------------------------------------
# Synthetic COCO-Interactive world


def make_interactive(folder: Path, n_images: int, per_image: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    h, w = 480, 640
    records = []
    lines = []
    ann_id = 0
    for image_index in range(n_images):
        image_id = 500000 + image_index
        anns = []
        for _ in range(per_image):
            ann_id += 1
            cx, cy = rng.uniform(60, w - 60), rng.uniform(60, h - 60)
            rx, ry = rng.uniform(15, 120, 2)
            pts = shape_points(cx, cy, rx, ry, rng.uniform(0, np.pi), rng.uniform(0, 0.1, 3), rng.uniform(0, 6))
            pts = np.clip(pts, 0, [w - 1, h - 1])
            gt = np.zeros((h, w), np.uint8)
            cv2.fillPoly(gt, [pts], 1)
            if ann_id % 3:
                segmentation = [pts.astype(float).ravel().tolist()]
            else:
                rle = mask_api.encode(np.asfortranarray(gt))
                segmentation = {"size": [h, w], "counts": rle["counts"].decode()}
            x0, y0 = pts.min(0)
            x1, y1 = pts.max(0)
            ann = {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "segmentation": segmentation,
                   "area": float(gt.sum()), "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]}
            for prompt in ("point", "scribble", "box", "mask"):
                vp = np.zeros((h, w), np.uint8)
                if prompt == "point":
                    vp[int(cy), int(cx)] = 1
                elif prompt == "scribble":
                    cv2.line(vp, (int(x0), int(y0)), (int(x1), int(y1)), 1, 1)
                elif prompt == "box":
                    vp[int(y0):int(y1) + 1, int(x0):int(x1) + 1] = 1
                else:
                    vp = gt
                rle = mask_api.encode(np.asfortranarray(vp))
                ann[f"{prompt}_visual_prompt_mask"] = {"size": [h, w], "counts": rle["counts"].decode()}
                shift = rng.integers(-12, 13, 2)
                pred = np.roll(gt, tuple(shift), axis=(0, 1))
                if rng.random() < 0.3:
                    pred = cv2.dilate(pred, np.ones((5, 5), np.uint8))
                prle = mask_api.encode(np.asfortranarray(pred))
                lines.append(json.dumps({"image_id": image_id, "ann_id": ann_id, "prompt": prompt, "segmentation": {"size": [h, w], "counts": prle["counts"].decode()}}))
            anns.append(ann)
        records.append({"image": f"{image_id:012d}.jpg", "image_info": {"id": image_id, "file_name": f"{image_id:012d}.jpg", "height": h, "width": w},
                        "new_img_id": image_index, "anns": anns})
    (folder / "gt.json").write_text(json.dumps(records))
    (folder / "pred.jsonl").write_text("\n".join(lines) + "\n")
    return len(lines)


def reference_interactive(gt_path: Path, pred_path: Path) -> dict[str, float]:
    """The hand-written loop: per prediction line, decode both masks, count."""
    records = json.load(open(gt_path))
    anns = {}
    for record in records:
        info = record["image_info"]
        for ann in record["anns"]:
            anns[ann["id"]] = (ann, info["height"], info["width"])
    sums = {p: [0, 0, []] for p in ("point", "scribble", "box", "mask")}
    with open(pred_path) as handle:
        for line in handle:
            if not line.strip():
                continue
            pred = json.loads(line)
            ann, h, w = anns[pred["ann_id"]]
            seg = ann["segmentation"]
            if isinstance(seg, list):
                gt = mask_api.decode(mask_api.merge(mask_api.frPyObjects(seg, h, w)))
            else:
                gt = mask_api.decode(mask_api.frPyObjects(seg, h, w) if isinstance(seg["counts"], list) else seg)
            pm = mask_api.decode(pred["segmentation"])
            inter = int(np.logical_and(gt, pm).sum())
            union = int(np.logical_or(gt, pm).sum())
            s = sums[pred["prompt"]]
            s[0] += inter
            s[1] += union
            s[2].append(inter / union if union else 1.0)
    out = {}
    for prompt, (i, u, ious) in sums.items():
        out[f"{prompt}_mIoU"] = 100 * float(np.mean(ious))
        out[f"{prompt}_cIoU"] = 100 * i / u
    return out


# ---------------------------------------------------------------------------


def cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn, *args, **kwargs):
    c0, w0 = cpu_seconds(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, cpu_seconds() - c0, time.perf_counter() - w0


def compare(ours: dict, ref: dict, names: list[str]) -> float:
    return max(abs(ours[n] - ref[n]) for n in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, help="write the data here and keep it (default: a temp dir, removed)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--sequences", type=int, default=30)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--interactive-images", type=int, default=250)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--only", choices=("vos", "interactive"))
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args()

    from psalm_bench.evaluators.interactive import evaluate_interactive
    from psalm_bench.evaluators.vos import METRICS as VOS_METRICS, evaluate_vos
    from psalm_bench.evaluators.interactive import METRICS as INTERACTIVE_METRICS

    base = args.keep or Path(tempfile.mkdtemp(prefix="psalm-bench-vos-speed-"))
    report: dict = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        if args.only in (None, "vos"):
            davis = base / "davis"
            if not (davis / "ImageSets").is_dir():
                t = time.perf_counter()
                stats = make_davis(davis, args.sequences, args.frames, seed=2017)
                print(f"vos data: {stats} written in {time.perf_counter() - t:.1f} s", flush=True)
            ours, cpu, wall = timed(evaluate_vos, davis, davis / "pred", split="val", workers=args.workers, progress=False)
            print(f"psalm-bench vos (workers={args.workers}): {cpu:.2f} CPU-s, {wall:.2f} s wall; J&F {ours.metrics['J&F']:.3f}"
                  f" over {ours.params['objects']} objects, {ours.params['object_frames']} object-frames", flush=True)
            report["vos"] = {"psalm_bench": {"cpu_s": cpu, "wall_s": wall, "workers": args.workers, "metrics": ours.metrics, "params": ours.params}}
            if not args.skip_reference:
                ref, rcpu, rwall = timed(reference_vos, davis, davis / "pred")
                diff = compare(ours.metrics, ref, VOS_METRICS)
                print(f"official procedure (re-implemented): {rcpu:.2f} CPU-s, {rwall:.2f} s wall; J&F {ref['J&F']:.3f}; "
                      f"max |diff| {diff:.2e}; speed-up {rcpu / cpu:.1f}x CPU, {rwall / wall:.1f}x wall", flush=True)
                report["vos"]["reference"] = {"cpu_s": rcpu, "wall_s": rwall, "metrics": ref, "max_abs_diff": diff, "speedup_cpu": rcpu / cpu}
        if args.only in (None, "interactive"):
            folder = base / "interactive"
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / "gt.json").is_file():
                t = time.perf_counter()
                n = make_interactive(folder, args.interactive_images, 5, seed=7)
                print(f"interactive data: {n} samples written in {time.perf_counter() - t:.1f} s", flush=True)
            ours, cpu, wall = timed(evaluate_interactive, folder / "gt.json", folder / "pred.jsonl", workers=args.workers, progress=False)
            print(f"psalm-bench interactive (workers={args.workers}): {cpu:.2f} CPU-s, {wall:.2f} s wall; {ours.n_samples} samples, mIoU {ours.metrics['mIoU']:.3f}", flush=True)
            report["interactive"] = {"psalm_bench": {"cpu_s": cpu, "wall_s": wall, "workers": args.workers, "samples": ours.n_samples, "metrics": ours.metrics}}
            if not args.skip_reference:
                ref, rcpu, rwall = timed(reference_interactive, folder / "gt.json", folder / "pred.jsonl")
                names = [m for m in INTERACTIVE_METRICS if m in ref]
                diff = compare(ours.metrics, ref, names)
                print(f"decode-and-count loop: {rcpu:.2f} CPU-s, {rwall:.2f} s wall; max |diff| {diff:.2e}; speed-up {rcpu / cpu:.1f}x CPU, {rwall / wall:.1f}x wall", flush=True)
                report["interactive"]["reference"] = {"cpu_s": rcpu, "wall_s": rwall, "metrics": ref, "max_abs_diff": diff, "speedup_cpu": rcpu / cpu}
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
