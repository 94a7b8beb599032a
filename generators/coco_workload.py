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
import shutil
import tempfile
from multiprocessing import Pool
from pathlib import Path
from typing import Any, Iterator

import orjson
from tqdm import tqdm

from psalm_bench.generators.coco_categories import categories_instances, categories_panoptic, semantic_classes
from psalm_bench.generators.coco_scene import _gt_annotation, image_id_of, _ImageResult, _make_scene, _rng, SceneParams, _STREAM_INSTANCE_PRED, _STREAM_SCENE, WorkloadPaths
from psalm_bench.generators.coco_predictions import _instance_predictions
from psalm_bench.generators.coco_panoptic_scene import _panoptic


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
