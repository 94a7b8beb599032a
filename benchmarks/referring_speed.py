"""Speed of `--task refcoco` against the loop users would otherwise run, on
synthetic REFER data at RefCOCO val scale.

The world: ~2000 images at 480x640, each with a few objects drawn as ragged
star-shaped polygons (some in two parts), a crowd region now and then (never
a target), refs of the ``val`` split (and some ``train`` refs, not scored)
with 1-3 sentences each, ~5000 ``val`` sentences in all, written as
``refs(unc).p`` (a protocol-2 pickle, as REFER ships it) and
``instances.json``. Predictions, one JSONL line per sentence: the target
shifted, dilated or eroded, with ragged edges, sometimes the wrong object,
sometimes empty, a few lines missing; compressed RLE strings.

The reference is the loop of the LISA / ReLA evaluation scripts: for every
sentence decode its ground truth from the annotation (pycocotools
``frPyObjects`` + ``merge`` + ``decode``, as ``annToMask``) and its
prediction to numpy arrays, and count I and U with ``np.logical_and`` /
``np.logical_or``. Both must give the same numbers (checked to 1e-9).

    python benchmarks/referring_speed.py [--sentences 5000] [--workers N] [--keep DIR] [--json OUT]

Times are CPU seconds of this process (``time.process_time``; with
``--workers`` > 1 the pool's children are added from ``getrusage``) and wall
seconds; each tool runs once, after the data is written, in this process.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import resource
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_api

HEIGHT, WIDTH = 480, 640
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


# ---------------------------------------------------------------------------
# Synthetic REFER world


def star_polygon(rng: np.random.Generator, cx: float, cy: float, radius: float) -> list[float]:
    """A ragged star-shaped polygon (flat x, y list, COCO style), clipped to the image."""
    n = int(rng.integers(16, 48))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = radius * (0.6 + 0.4 * rng.random(n)) * (1 + 0.25 * np.sin(angles * rng.integers(2, 6)))
    xs = np.clip(cx + radii * np.cos(angles), 0, WIDTH - 1)
    ys = np.clip(cy + radii * np.sin(angles), 0, HEIGHT - 1)
    return [round(float(v), 2) for xy in zip(xs, ys) for v in xy]


def make_world(folder: Path, n_sentences: int, seed: int, n_images: int | None = None) -> tuple[Path, Path]:
    """Write refs(unc).p, instances.json and pred.jsonl; returns (gt folder, pred).

    With ``n_images`` the world has exactly that many images (whatever the
    number of sentences they hold) instead of stopping at ``n_sentences``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images, annotations, refs = [], [], []
    ann_id = ref_id = sent_id = 0
    val_sentences = 0
    image_id = 0
    while (val_sentences < n_sentences) if n_images is None else (image_id < n_images):
        image_id += 1
        images.append({"id": image_id, "height": HEIGHT, "width": WIDTH, "file_name": f"{image_id:012d}.jpg"})
        image_anns = []
        for _ in range(int(rng.integers(2, 6))):
            ann_id += 1
            radius = float(rng.uniform(20, 130))
            cx, cy = rng.uniform(radius * 0.5, WIDTH - radius * 0.5), rng.uniform(radius * 0.5, HEIGHT - radius * 0.5)
            polygons = [star_polygon(rng, cx, cy, radius)]
            if rng.random() < 0.2:  # a second part
                polygons.append(star_polygon(rng, cx + rng.uniform(-1.5, 1.5) * radius, cy + rng.uniform(-1.5, 1.5) * radius, radius * 0.4))
            rle = mask_api.merge(mask_api.frPyObjects(polygons, HEIGHT, WIDTH))
            x, y, w, h = (float(v) for v in mask_api.toBbox(rle))
            ann = {"id": ann_id, "image_id": image_id, "category_id": int(rng.integers(1, 4)), "iscrowd": 0,
                   "segmentation": polygons, "area": float(mask_api.area(rle)), "bbox": [x, y, w, h]}
            annotations.append(ann)
            image_anns.append(ann)
        if rng.random() < 0.1:  # a crowd region, as uncompressed RLE: never a target
            ann_id += 1
            crowd = np.zeros((HEIGHT, WIDTH), np.uint8)
            y0, x0 = int(rng.integers(0, HEIGHT - 100)), int(rng.integers(0, WIDTH - 150))
            crowd[y0:y0 + 100, x0:x0 + 150] = 1
            flat = crowd.ravel(order="F")
            edges = np.flatnonzero(np.diff(flat)) + 1
            counts = np.diff(np.r_[0, edges, flat.size]).tolist()
            if flat[0]:
                counts = [0] + counts
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 1,
                                "segmentation": {"size": [HEIGHT, WIDTH], "counts": counts},
                                "area": float(crowd.sum()), "bbox": [float(x0), float(y0), 150.0, 100.0]})
        split = "train" if rng.random() < 0.1 else "val"
        for ann in rng.permutation(image_anns)[: int(rng.integers(1, 4))]:
            ref_id += 1
            sentences = []
            for _ in range(int(rng.integers(1, 4))):
                sent_id += 1
                words = ["the", str(rng.choice(["left", "right", "big", "small", "red"])), "thing"]
                sentences.append({"tokens": words, "raw": " ".join(words), "sent_id": sent_id, "sent": " ".join(words)})
            refs.append({"sent_ids": [s["sent_id"] for s in sentences], "file_name": f"{image_id:012d}_{ann['id']}.jpg",
                         "ann_id": int(ann["id"]), "ref_id": ref_id, "image_id": image_id, "split": split,
                         "sentences": sentences, "category_id": int(ann["category_id"])})
            if split == "val":
                val_sentences += len(sentences)
    instances = {"info": {}, "licenses": [], "images": images, "annotations": annotations,
                 "categories": [{"id": k, "name": f"class{k}", "supercategory": "thing"} for k in (1, 2, 3)]}
    (folder / "instances.json").write_text(json.dumps(instances))
    with open(folder / "refs(unc).p", "wb") as handle:
        pickle.dump(refs, handle, protocol=2)
    pred = folder / "pred.jsonl"
    write_predictions(pred, refs, annotations, rng)
    return folder, pred


def write_predictions(path: Path, refs: list[dict], annotations: list[dict], rng: np.random.Generator) -> None:
    by_id = {a["id"]: a for a in annotations}
    by_image: dict[int, list[dict]] = {}
    for a in annotations:
        if not a["iscrowd"]:
            by_image.setdefault(a["image_id"], []).append(a)
    lines = []
    for ref in refs:
        if ref["split"] != "val":
            continue  # a model is run on the evaluated split only
        target = mask_api.decode(mask_api.merge(mask_api.frPyObjects(by_id[ref["ann_id"]]["segmentation"], HEIGHT, WIDTH)))
        for sent_id in ref["sent_ids"]:
            roll = rng.random()
            if roll < 0.01:
                continue  # no line: scored as an empty mask
            if roll < 0.03:
                mask = np.zeros((HEIGHT, WIDTH), np.uint8)
            elif roll < 0.10:  # the wrong object of the same image
                other = by_image[ref["image_id"]][int(rng.integers(len(by_image[ref["image_id"]])))]
                mask = mask_api.decode(mask_api.merge(mask_api.frPyObjects(other["segmentation"], HEIGHT, WIDTH)))
            else:
                dx, dy = (int(v) for v in rng.integers(-12, 13, 2))
                mask = np.roll(target, (dy, dx), axis=(0, 1))
                k = int(rng.integers(1, 5)) * 2 + 1
                kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
                mask = cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel)
                noise = cv2.resize((rng.random((HEIGHT // 16, WIDTH // 16)) < 0.5).astype(np.uint8), (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)
                edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8))
                mask = np.where(edge > 0, noise, mask).astype(np.uint8)  # ragged boundary
            rle = mask_api.encode(np.asfortranarray(mask))
            lines.append(json.dumps({"sent_id": sent_id, "segmentation": {"size": [HEIGHT, WIDTH], "counts": rle["counts"].decode("ascii")}}))
    order = rng.permutation(len(lines))
    path.write_text("".join(lines[i] + "\n" for i in order))


# ---------------------------------------------------------------------------
# The decode-and-count loop (LISA / ReLA evaluation scripts)


def reference_refcoco(folder: Path, pred: Path, split: str = "val") -> dict[str, float]:
    with open(folder / "refs(unc).p", "rb") as handle:
        refs = pickle.load(handle)
    with open(folder / "instances.json") as handle:
        coco = json.load(handle)
    anns = {a["id"]: a for a in coco["annotations"]}
    imgs = {i["id"]: i for i in coco["images"]}
    preds = {}
    with open(pred) as handle:
        for line in handle:
            rec = json.loads(line)
            preds[rec["sent_id"]] = rec["segmentation"]
    total_i = total_u = 0
    ious = []
    for ref in refs:
        if ref["split"] != split:
            continue
        ann = anns[ref["ann_id"]]
        img = imgs[ref["image_id"]]
        h, w = img["height"], img["width"]
        for sent_id in ref["sent_ids"]:
            segm = ann["segmentation"]  # annToMask, per sentence
            if isinstance(segm, list):
                rle = mask_api.merge(mask_api.frPyObjects(segm, h, w))
            elif isinstance(segm["counts"], list):
                rle = mask_api.frPyObjects(segm, h, w)
            else:
                rle = segm
            gt = mask_api.decode(rle).astype(bool)
            p = preds.get(sent_id)
            pred_mask = mask_api.decode(p).astype(bool) if p is not None else np.zeros((h, w), bool)
            inter = int(np.logical_and(gt, pred_mask).sum())
            union = int(np.logical_or(gt, pred_mask).sum())
            total_i += inter
            total_u += union
            ious.append(inter / union if union else 1.0)
    n = len(ious)
    out = {"cIoU": 100 * (total_i / total_u), "gIoU": 100 * (math.fsum(ious) / n)}
    for k in THRESHOLDS:
        out[f"Pr@{k}"] = 100 * (sum(1 for v in ious if v >= k) / n)
    out["n"] = n
    return out


# ---------------------------------------------------------------------------


def timed(fn, *args, **kwargs):
    wall = time.perf_counter()
    cpu = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    value = fn(*args, **kwargs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu + (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return value, cpu, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=5000, help="val sentences to generate (default 5000)")
    ap.add_argument("--workers", type=int, default=1, help="psalm-bench worker processes (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="write the data here and keep it (default: a temp dir, removed)")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args()

    from psalm_bench.evaluators.referring import evaluate_refcoco

    root = args.keep or Path(tempfile.mkdtemp(prefix="psalm-bench-refcoco-"))
    try:
        start = time.perf_counter()
        folder, pred = make_world(root / "refcoco", args.sentences, args.seed)
        print(f"data: {folder} ({time.perf_counter() - start:.1f} s to write)")

        ours, ours_cpu, ours_wall = timed(evaluate_refcoco, folder, pred, dataset="refcoco", split="val", workers=args.workers, progress=False)
        ref, ref_cpu, ref_wall = timed(reference_refcoco, folder, pred)

        n = ref.pop("n")
        assert ours.n_samples == n, (ours.n_samples, n)
        worst = max(abs(ours.metrics[k] - v) for k, v in ref.items())
        assert worst < 1e-9, (ours.metrics, ref)
        print(f"samples: {n} sentences at {HEIGHT}x{WIDTH}; metrics agree (max |diff| {worst:.1e})")
        print("  " + "  ".join(f"{k} {v:.3f}" for k, v in ours.metrics.items()))
        print(f"{'tool':34} {'CPU s':>8} {'wall s':>8}")
        print(f"{'psalm-bench (workers=%d)' % args.workers:34} {ours_cpu:8.2f} {ours_wall:8.2f}")
        print(f"{'decode-and-count numpy loop':34} {ref_cpu:8.2f} {ref_wall:8.2f}")
        print(f"speed-up: {ref_cpu / ours_cpu:.1f}x CPU, {ref_wall / ours_wall:.1f}x wall")
        if args.json:
            args.json.write_text(json.dumps({
                "samples": n, "size": [HEIGHT, WIDTH], "workers": args.workers,
                "psalm_bench": {"cpu_s": ours_cpu, "wall_s": ours_wall, "metrics": ours.metrics},
                "numpy_loop": {"cpu_s": ref_cpu, "wall_s": ref_wall, "metrics": ref},
                "cpu_ratio": ref_cpu / ours_cpu, "wall_ratio": ref_wall / ours_wall,
            }, indent=2))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
