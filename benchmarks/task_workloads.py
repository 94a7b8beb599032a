"""The referring, generalized referring, interactive and VOS workloads that
``benchmarks/run.py`` times whole commands on, beside the COCO ones.

Each is a pure function of (seed, size), written in the official layout:

- ``refcoco/``: REFER ``refs(unc).p`` + ``instances.json`` over ``images``
  images, and ``pred.jsonl`` (one line per val sentence); the world of
  ``referring_speed.make_world``.
- ``gref/``: gRefCOCO ``grefs(unc).json`` over the same images and objects,
  with single-, multi- and no-target refs, and ``pred.jsonl`` (perturbed
  target unions, ``"no_target": true`` lines, wrong masks, missing lines).
- ``interactive/``: a COCO-Interactive ``gt.json`` with ``per_image``
  instances per image, four prompts each, and ``pred.jsonl``; the world of
  ``vos_speed.make_interactive``.
- ``davis/``: a DAVIS-2017 root with ``frames`` frames at 480x854 in
  ``frames // 67`` sequences (DAVIS-2017 val: 30 sequences, 1999 frames),
  predictions under ``davis/pred``; the world of ``vos_speed.make_davis``.

    python benchmarks/task_workloads.py OUT --images 1000 [--only refcoco gref interactive vos]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_api

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import referring_speed  # noqa: E402
import vos_speed  # noqa: E402

TASKS = ("refcoco", "gref", "interactive", "vos")
INTERACTIVE_PER_IMAGE = 5
FRAMES_PER_IMAGE = 2  # vos: frames per "image" of the size asked for (1000 -> 2000 frames, DAVIS-2017 val)


def _decode(segmentation: object, height: int, width: int) -> np.ndarray:
    if isinstance(segmentation, list):
        return mask_api.decode(mask_api.merge(mask_api.frPyObjects(segmentation, height, width)))
    return mask_api.decode(segmentation)


def _perturb(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dx, dy = (int(v) for v in rng.integers(-12, 13, 2))
    out = np.roll(mask, (dy, dx), axis=(0, 1))
    k = int(rng.integers(1, 4)) * 2 + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return cv2.dilate(out, kernel) if rng.random() < 0.5 else cv2.erode(out, kernel)


def _rle_line(record: dict, mask: np.ndarray) -> str:
    rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
    h, w = mask.shape
    return json.dumps({**record, "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")}})


def write_gref(folder: Path, instances: Path, seed: int) -> tuple[Path, Path]:
    """grefs(unc).json over the objects of ``instances`` (a REFER instances.json) and pred.jsonl."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    coco = json.loads(instances.read_text())
    (folder / "instances.json").write_text(json.dumps(coco))
    by_image: dict[int, list[dict]] = {}
    for ann in coco["annotations"]:
        if not ann["iscrowd"]:
            by_image.setdefault(ann["image_id"], []).append(ann)
    sizes = {img["id"]: (img["height"], img["width"]) for img in coco["images"]}
    refs, lines = [], []
    ref_id = sent_id = 0
    for image in coco["images"]:
        anns = by_image.get(image["id"], [])
        if not anns:
            continue
        h, w = sizes[image["id"]]
        split = "train" if rng.random() < 0.1 else "val"
        for _ in range(int(rng.integers(1, 4))):
            roll = rng.random()
            if roll < 0.12:
                targets: list[dict] = []
            elif roll < 0.42 and len(anns) > 1:
                pick = rng.permutation(len(anns))[: int(rng.integers(2, min(3, len(anns)) + 1))]
                targets = [anns[int(i)] for i in pick]
            else:
                targets = [anns[int(rng.integers(len(anns)))]]
            ref_id += 1
            sentences = []
            for _ in range(int(rng.integers(1, 4))):
                sent_id += 1
                words = ["the", str(rng.choice(["left", "right", "two", "all", "red"])), "things"]
                sentences.append({"tokens": words, "raw": " ".join(words), "sent_id": sent_id, "sent": " ".join(words)})
            refs.append({"ref_id": ref_id, "image_id": image["id"], "split": split,
                         "ann_id": [int(a["id"]) for a in targets] or [-1], "no_target": not targets,
                         "category_id": [int(a["category_id"]) for a in targets], "sent_ids": [s["sent_id"] for s in sentences],
                         "sentences": sentences, "file_name": f"{image['id']:012d}.jpg"})
            if split != "val":
                continue
            union = np.zeros((h, w), np.uint8)
            for a in targets:
                union |= _decode(a["segmentation"], h, w)
            for s in sentences:
                roll = rng.random()
                if roll < 0.02:
                    continue  # no line: scored as an empty mask
                if not targets:
                    if roll < 0.75:
                        lines.append(json.dumps({"sent_id": s["sent_id"], "no_target": True}))
                    else:  # a mask where there is nothing to find
                        lines.append(_rle_line({"sent_id": s["sent_id"]}, _perturb(_decode(anns[0]["segmentation"], h, w), rng)))
                elif roll < 0.07:
                    lines.append(json.dumps({"sent_id": s["sent_id"], "no_target": True}))
                else:
                    lines.append(_rle_line({"sent_id": s["sent_id"]}, _perturb(union, rng)))
    (folder / "grefs(unc).json").write_text(json.dumps(refs))
    pred = folder / "pred.jsonl"
    order = rng.permutation(len(lines))
    pred.write_text("".join(lines[i] + "\n" for i in order))
    return folder, pred


def write(out: Path, images: int, tasks: tuple[str, ...] = TASKS, seed: int = 0) -> dict[str, float]:
    """Write the asked task folders under ``out``; returns seconds per task."""
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    if "refcoco" in tasks or "gref" in tasks:
        start = time.perf_counter()
        referring_speed.make_world(out / "refcoco", 0, seed, n_images=images)
        seconds["refcoco"] = time.perf_counter() - start
    if "gref" in tasks:
        start = time.perf_counter()
        write_gref(out / "gref", out / "refcoco" / "instances.json", seed + 1)
        seconds["gref"] = time.perf_counter() - start
    if "interactive" in tasks:
        start = time.perf_counter()
        (out / "interactive").mkdir(parents=True, exist_ok=True)
        vos_speed.make_interactive(out / "interactive", images, INTERACTIVE_PER_IMAGE, seed + 7)
        seconds["interactive"] = time.perf_counter() - start
    if "vos" in tasks:
        start = time.perf_counter()
        frames = images * FRAMES_PER_IMAGE
        vos_speed.make_davis(out / "davis", max(1, round(frames / 67)), frames, seed + 2017)
        seconds["vos"] = time.perf_counter() - start
    return seconds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--only", nargs="+", choices=TASKS, default=list(TASKS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    seconds = write(args.out, args.images, tuple(args.only), args.seed)
    print("wrote " + ", ".join(f"{k} in {v:.1f}s" for k, v in seconds.items()))


if __name__ == "__main__":
    main()
