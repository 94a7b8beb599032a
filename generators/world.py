"""The embedded benchmark world: ``psalm-bench synth --out DIR``.

``build_world`` writes a self-contained benchmark in the official formats of
the real ones (COCO instances and panoptic, semantic label maps, REFER refs,
gRefCOCO grefs, COCO-Interactive, DAVIS-2017, and an open-vocabulary set), so
every task's loader, evaluator and the reference model run on it unchanged.
``DIR/world.json`` says which file each task scores against, with which
options; ``DIR/README.md`` is the dataset card.

Determinism: every image and video is a pure function of (seed, split,
index) (:mod:`world_scene`, :mod:`world_video`), its sentences of (seed,
split, index, stream) (:mod:`world_text`); files are assembled in index
order, so the same seed gives byte-identical files for any ``workers``.
Everything is written into a sibling ``.NAME.partial`` folder, ``world.json``
last, and the folder is renamed into place only when complete.

In-memory generation for training (``generate_scene``,
``referring_expressions``, ``generalized_expressions``, ``generate_video``)
is re-exported here.
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import orjson
from PIL import Image
from pycocotools import mask as mask_api
from psalm_bench.progress import tqdm  # a bar on a terminal, lines in a log

from psalm_bench.errors import InputError
from psalm_bench.parallel import worker_pool
from psalm_bench.generators.world_scene import (
    CATEGORIES, COLOURS, SCENE_SPLITS, SIZE_WORDS, SIZES, TEXTURES, Category, CategorySet, Scene, StuffRegion, ThingObject,
    generate_scene, scene_rng,
)
from psalm_bench.generators.world_text import (
    Expression, GExpression, NounPhrase, generalized_expressions, referring_expressions, world_vocabulary,
)
from psalm_bench.generators.world_manifest import (
    IMAGE_DIRS, JPEG_QUALITY, MANIFEST, PANOPTIC_DIRS, PATH_OPTIONS, REFER_SPLITS, SEMANTIC_DIRS, SIZE_SPECS, TEST_GROUPS,
    WORLD_NAME, WORLD_VERSION, SizeSpec, card, category_manifest, load_manifest, task_inputs, tasks, train_paths,
)
from psalm_bench.formats.coco import write_coco_json
from psalm_bench.formats.davis import write_frame
from psalm_bench.formats.refer import write_refs_file
from psalm_bench.generators.world_multi import gcg_files, muse_records, write_multi_target
from psalm_bench.generators.world_video import Video, VideoObject, generate_video

_CHUNK = 16  # images per task sent to a worker


@dataclass
class WorldSummary:
    """What ``build_world`` wrote: the folder, its seed and size, the counts
    of the manifest, and the build time in seconds."""

    root: Path
    seed: int
    size: str
    counts: dict[str, int]
    seconds: float


# ----------------------------------------------------------------- per-image records


@dataclass
class _ImageRecord:
    """What one image contributes to the JSON files (its pixels are written
    by the worker that rendered it)."""

    split: str
    image: dict[str, Any]
    annotations: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    refs: list[tuple[int, list[str]]] = field(default_factory=list)  # (ann id, sentences)
    grefs: list[tuple[list[int], list[str]]] = field(default_factory=list)  # (ann ids, [] = none; sentences)
    phrases: list[str] = field(default_factory=list)  # per annotation: "the red circle" (the GCG split's captions)


def annotation_id(image_id: int, thing_index: int) -> int:
    return image_id * 100 + thing_index + 1


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO's crowd encoding: run lengths in column-major order, starting
    with a run of zeros."""
    flat = mask.ravel(order="F").astype(np.int8)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"counts": counts, "size": [int(mask.shape[0]), int(mask.shape[1])]}


def _segmentation(thing: ThingObject) -> Any:
    if thing.iscrowd:
        return uncompressed_rle(thing.mask)
    if thing.polygon is not None and not thing.occluded:
        return [thing.polygon]
    rle = mask_api.encode(np.asfortranarray(thing.mask.astype(np.uint8)))
    return {"size": [int(thing.mask.shape[0]), int(thing.mask.shape[1])], "counts": rle["counts"].decode("ascii")}


def _coco_annotations(scene: Scene) -> list[dict[str, Any]]:
    return [
        {"id": annotation_id(scene.image_id, k), "image_id": scene.image_id, "category_id": t.category_id,
         "segmentation": _segmentation(t), "area": float(t.area), "bbox": [float(v) for v in t.bbox], "iscrowd": int(t.iscrowd)}
        for k, t in enumerate(scene.things)
    ]


def _panoptic_segments(scene: Scene) -> list[dict[str, Any]]:
    return [{"id": s.segment_id, "category_id": s.category_id, "iscrowd": int(s.iscrowd), "bbox": list(s.bbox), "area": s.area} for s in scene.segments]


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    Image.fromarray(image).save(path, format="JPEG", quality=JPEG_QUALITY)


def _write_png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(path, format="PNG", compress_level=6)


def _panoptic_rgb(ids: np.ndarray) -> np.ndarray:
    return np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], axis=-1).astype(np.uint8)


def _class_names(novel: bool) -> list[str]:
    return [c.name for c in CATEGORIES.all if novel or not c.novel]


def _render_images(seed: int, split: str, indices: range, root: str) -> list[_ImageRecord]:
    """Worker: render, write the pixels of, and describe a chunk of images."""
    cv2.setNumThreads(1)
    root_path = Path(root)
    records = []
    classes = _class_names(novel=split == "ov")
    for index in indices:
        scene = generate_scene(seed, split, index)
        _write_jpeg(root_path / IMAGE_DIRS[split] / scene.file_name, scene.image)
        stem = scene.file_name[:-4]
        if split in PANOPTIC_DIRS:
            _write_png(root_path / PANOPTIC_DIRS[split] / f"{stem}.png", _panoptic_rgb(scene.panoptic))
            _write_png(root_path / SEMANTIC_DIRS[split] / f"{stem}.png", scene.label_map(classes))
        image = {"id": scene.image_id, "file_name": scene.file_name, "height": scene.height, "width": scene.width}
        record = _ImageRecord(split, image, _coco_annotations(scene), _panoptic_segments(scene), phrases=[f"the {t.colour} {t.category}" for t in scene.things])
        if split in REFER_SPLITS:
            group = TEST_GROUPS.get(split)
            targets = [k for k, t in enumerate(scene.things) if not t.iscrowd and (group is None or CATEGORIES.by_name(t.category).group == group)]
            by_target: dict[int, list[str]] = {}
            for e in referring_expressions(scene, scene_rng(seed, split, index, 1), targets=targets):
                by_target.setdefault(e.target, []).append(e.sentence)
            record.refs = [(annotation_id(scene.image_id, k), sents) for k, sents in by_target.items()]
        if split in ("refval", "testA", "testB"):
            by_set: dict[tuple[int, ...], list[str]] = {}
            for g in generalized_expressions(scene, scene_rng(seed, split, index, 2)):
                by_set.setdefault(g.targets, []).append(g.sentence)
            record.grefs = [([annotation_id(scene.image_id, k) for k in targets], sents) for targets, sents in by_set.items()]
        records.append(record)
    return records


def _render_video(seed: int, index: int, n_frames: int, root: str) -> tuple[str, int, int]:
    cv2.setNumThreads(1)
    video = generate_video(seed, index, n_frames)
    root_path = Path(root) / "davis"
    frames_dir = root_path / "JPEGImages" / "480p" / video.name
    labels_dir = root_path / "Annotations" / "480p" / video.name
    frames_dir.mkdir(parents=True, exist_ok=True)
    labels_dir.mkdir(parents=True, exist_ok=True)
    for f in range(n_frames):
        _write_jpeg(frames_dir / f"{f:05d}.jpg", video.frames[f])
        write_frame(labels_dir / f"{f:05d}.png", video.labels[f])
    return video.name, n_frames, len(video.objects)


# ----------------------------------------------------------------- JSON assembly


_INFO_YEAR = 2024


def _info(seed: int, size: str, what: str) -> dict[str, Any]:
    return {"description": f"psalm-bench world {WORLD_VERSION}: {what} (seed {seed}, size {size})", "version": WORLD_VERSION,
            "year": _INFO_YEAR, "contributor": "psalm-bench synth", "url": "", "date_created": ""}


def _categories(novel: bool) -> list[Category]:
    return [c for c in CATEGORIES.all if novel or not c.novel]


def _dump(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(obj))


def _instances_json(records: list[_ImageRecord], seed: int, size: str, what: str, novel: bool, image_prefix: dict[str, str] | None = None) -> dict[str, Any]:
    images = []
    for r in records:
        image = dict(r.image)
        if image_prefix is not None:
            image["file_name"] = f"{image_prefix[r.split]}/{image['file_name']}"
        images.append(image)
    return {"info": _info(seed, size, what), "licenses": [], "images": images,
            "annotations": [a for r in records for a in r.annotations],
            "categories": [c.coco() for c in _categories(novel) if c.isthing]}


def _panoptic_json(records: list[_ImageRecord], seed: int, size: str, what: str, novel: bool) -> dict[str, Any]:
    return {"info": _info(seed, size, what), "licenses": [], "images": [r.image for r in records],
            "annotations": [{"image_id": r.image["id"], "file_name": r.image["file_name"][:-4] + ".png", "segments_info": r.segments} for r in records],
            "categories": [c.panoptic() for c in _categories(novel)]}


def _sentences(texts: list[str], next_id: Iterator[int]) -> list[dict[str, Any]]:
    return [{"tokens": text.split(), "raw": text, "sent_id": next(next_id), "sent": text} for text in texts]


def _category_of(ann_id: int, anns: dict[int, dict[str, Any]]) -> int:
    return int(anns[ann_id]["category_id"])


def _counter(start: int = 0) -> Iterator[int]:
    n = start
    while True:
        yield n
        n += 1


def _refer_refs(records: list[_ImageRecord]) -> list[dict[str, Any]]:
    anns = {a["id"]: a for r in records for a in r.annotations}
    refs, ref_ids, sent_ids = [], _counter(), _counter()
    for r in records:
        for ann_id, texts in r.refs:
            sentences = _sentences(texts, sent_ids)
            refs.append({"image_id": r.image["id"], "split": REFER_SPLITS[r.split], "sentences": sentences,
                         "file_name": f"{r.image['file_name'][:-4]}_{ann_id}.jpg", "category_id": _category_of(ann_id, anns),
                         "ann_id": ann_id, "sent_ids": [s["sent_id"] for s in sentences], "ref_id": next(ref_ids)})
    return refs


def _gref_refs(records: list[_ImageRecord]) -> list[dict[str, Any]]:
    anns = {a["id"]: a for r in records for a in r.annotations}
    refs, ref_ids, sent_ids = [], _counter(), _counter()
    for r in records:
        for ann_ids, texts in r.grefs:
            sentences = _sentences(texts, sent_ids)
            refs.append({"image_id": r.image["id"], "split": REFER_SPLITS[r.split], "sentences": sentences,
                         "file_name": f"{r.image['file_name'][:-4]}.jpg", "category_id": [_category_of(a, anns) for a in ann_ids] or [-1],
                         "ann_id": ann_ids or [-1], "sent_ids": [s["sent_id"] for s in sentences], "ref_id": next(ref_ids),
                         "no_target": not ann_ids})
    return refs


# ----------------------------------------------------------------- the build


def _chunks(n: int) -> list[range]:
    return [range(start, min(n, start + _CHUNK)) for start in range(0, n, _CHUNK)]


_WORLD_ENTRIES = frozenset({MANIFEST, "README.md", "coco", "refcoco", "grefcoco", "ov", "davis", "muse", "gcg"})


def _prepare(out: Path) -> Path:
    """Check that ``out`` may be written (new, empty, or a world holding
    nothing else, which is replaced) and make the partial folder beside it."""
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", file=out)
    if out.is_dir() and any(out.iterdir()):
        if not (out / MANIFEST).is_file():
            raise InputError("exists, is not empty and holds no world.json; give a new or empty folder, or an existing world to replace", file=out)
        load_manifest(out)
        extra = sorted(p.name for p in out.iterdir() if p.name not in _WORLD_ENTRIES)
        if extra:
            raise InputError(f"is a world but also holds {extra[0]!r}, which rebuilding would delete; move it out first", file=out)
    partial = out.parent / f".{out.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    dirs = {*IMAGE_DIRS.values(), *PANOPTIC_DIRS.values(), *SEMANTIC_DIRS.values(), "refcoco", "grefcoco", "davis/ImageSets/2017"}
    for d in sorted(dirs):
        (partial / d).mkdir(parents=True, exist_ok=True)
    return partial


def _swap_in(partial: Path, out: Path) -> None:
    """Put the finished world at ``out``, replacing an old world or an empty folder."""
    if out.is_dir():
        trash = out.parent / f".{out.name}.old"
        if trash.exists():
            shutil.rmtree(trash)
        out.rename(trash)
        partial.rename(out)
        shutil.rmtree(trash)
    else:
        partial.rename(out)


def build_world(out: str | Path, *, seed: int = 0, size: str = "small", workers: int = 1, progress: bool = True,
                executor: Executor | None = None) -> WorldSummary:
    """Write the world to ``out`` (module docstring) and return what was written."""
    from psalm_bench.generators.interactive import build_interactive

    started = time.perf_counter()
    if type(seed) is not int or seed < 0:
        raise InputError(f"--seed must be an integer >= 0, got {seed!r}")
    if size not in SIZE_SPECS:
        raise InputError(f"unknown --size {size!r}; choose one of {', '.join(SIZES)}")
    workers = max(1, int(workers))
    out = Path(out)
    spec = SIZE_SPECS[size]
    partial = _prepare(out)
    cv_threads = cv2.getNumThreads()  # workers draw with one OpenCV thread each; restored below
    # executor: e.g. psalm_bench.ray_engine.RayExecutor; results are consumed in order either way
    pool: Executor | None = executor if executor is not None else worker_pool(workers) if workers > 1 else None
    records: dict[str, list[_ImageRecord]] = {}
    try:
        for split in SCENE_SPLITS:
            n = spec.images(split)
            bar = tqdm(total=n, desc=f"world {split}", unit="img", disable=not progress, leave=False, dynamic_ncols=True)
            chunks = _chunks(n)
            args = ([seed] * len(chunks), [split] * len(chunks), chunks, [str(partial)] * len(chunks))
            results = pool.map(_render_images, *args) if pool is not None else map(_render_images, *args)
            records[split] = []
            for chunk_records in results:
                records[split].extend(chunk_records)
                bar.update(len(chunk_records))
            bar.close()
        bar = tqdm(total=spec.videos, desc="world videos", unit="video", disable=not progress, leave=False, dynamic_ncols=True)
        vargs = ([seed] * spec.videos, list(range(spec.videos)), [spec.frames] * spec.videos, [str(partial)] * spec.videos)
        videos = []
        for result in (pool.map(_render_video, *vargs) if pool is not None else map(_render_video, *vargs)):
            videos.append(result)
            bar.update(1)
        bar.close()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        cv2.setNumThreads(cv_threads)

    counts = _write_annotations(partial, records, videos, seed, size)
    for split in ("train", "val"):
        summary = build_interactive(partial / f"coco/annotations/instances_{split}2017.json", partial / f"coco/coco_interactive_{split}.json",
                                    seed=seed, workers=workers, progress=False, executor=executor)
        counts[f"interactive_{split}_instances"] = summary.instances
    (partial / "README.md").write_text(card(seed, size, counts), encoding="utf-8")
    manifest = {"name": WORLD_NAME, "version": WORLD_VERSION, "seed": seed, "size": size, "counts": counts,
                "categories": category_manifest(), "path_options": list(PATH_OPTIONS), "tasks": tasks(), "train": train_paths()}
    (partial / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    _swap_in(partial, out)
    return WorldSummary(out, seed, size, counts, time.perf_counter() - started)


def _write_annotations(root: Path, records: dict[str, list[_ImageRecord]], videos: list[tuple[str, int, int]], seed: int, size: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for split in ("train", "val"):
        recs = records[split]
        write_coco_json(root / f"coco/annotations/instances_{split}2017.json", _instances_json(recs, seed, size, f"instances {split}2017", novel=False))
        write_coco_json(root / f"coco/annotations/panoptic_{split}2017.json", _panoptic_json(recs, seed, size, f"panoptic {split}2017", novel=False))
        counts[f"coco_{split}_images"] = len(recs)
        counts[f"coco_{split}_annotations"] = sum(len(r.annotations) for r in recs)
        counts[f"coco_{split}_crowd"] = sum(a["iscrowd"] for r in recs for a in r.annotations)
    _dump(root / "coco/semantic_classes.json", _class_names(novel=False))
    ov = records["ov"]
    write_coco_json(root / "ov/instances.json", _instances_json(ov, seed, size, "open-vocabulary val", novel=True))
    write_coco_json(root / "ov/panoptic.json", _panoptic_json(ov, seed, size, "open-vocabulary val", novel=True))
    _dump(root / "ov/classes.json", _class_names(novel=True))
    counts["ov_val_images"] = len(ov)
    counts["ov_val_annotations"] = sum(len(r.annotations) for r in ov)
    novel_ids = {c.id for c in CATEGORIES.novel}
    counts["ov_val_novel_annotations"] = sum(a["category_id"] in novel_ids for r in ov for a in r.annotations)

    refer_records = records["train"] + records["refval"] + records["testA"] + records["testB"]
    prefix = {s: IMAGE_DIRS[s].split("/", 1)[1] for s in IMAGE_DIRS}
    refer_instances = _instances_json(refer_records, seed, size, "RefCOCO images", novel=False, image_prefix=prefix)
    refs = _refer_refs(refer_records)
    write_coco_json(root / "refcoco/instances.json", refer_instances)
    write_refs_file(root / "refcoco/refs(unc).p", refs)
    for split in ("train", "val", "testA", "testB"):
        chosen = [r for r in refs if r["split"] == split]
        counts[f"refcoco_{split}_refs"] = len(chosen)
        counts[f"refcoco_{split}_sentences"] = sum(len(r["sentences"]) for r in chosen)
    gref_records = records["refval"] + records["testA"] + records["testB"]
    grefs = _gref_refs(gref_records)
    write_coco_json(root / "grefcoco/instances.json", _instances_json(gref_records, seed, size, "gRefCOCO images", novel=False, image_prefix=prefix))
    write_refs_file(root / "grefcoco/grefs(unc).json", grefs)
    for split in ("val", "testA", "testB"):
        chosen = [r for r in grefs if r["split"] == split]
        counts[f"gref_{split}_refs"] = len(chosen)
        counts[f"gref_{split}_sentences"] = sum(len(r["sentences"]) for r in chosen)
        counts[f"gref_{split}_no_target_sentences"] = sum(len(r["sentences"]) for r in chosen if r["no_target"])
        counts[f"gref_{split}_multi_target_sentences"] = sum(len(r["sentences"]) for r in chosen if len(r["ann_id"]) > 1)
    names = {c.id: c.name for c in _categories(novel=False)}
    refval = records["refval"]
    val = records["val"]
    counts.update(write_multi_target(root, muse_records([r.image for r in refval], [a for r in refval for a in r.annotations], grefs, names),
                                     gcg_files([r.image for r in val], [a for r in val for a in r.annotations],
                                               {a["id"]: p for r in val for a, p in zip(r.annotations, r.phrases)})))
    (root / "davis/ImageSets/2017/val.txt").write_text("".join(f"{name}\n" for name, _, _ in videos), encoding="utf-8")
    counts["davis_val_sequences"] = len(videos)
    counts["davis_val_frames"] = sum(n for _, n, _ in videos)
    counts["davis_val_objects"] = sum(k for _, _, k in videos)
    return counts


__all__ = [
    "annotation_id", "build_world", "CATEGORIES", "Category", "CategorySet", "COLOURS", "Expression",
    "generalized_expressions", "generate_scene", "generate_video", "GExpression", "load_manifest", "MANIFEST",
    "NounPhrase", "PATH_OPTIONS", "referring_expressions", "Scene", "SCENE_SPLITS", "SIZE_SPECS", "SIZE_WORDS", "SIZES",
    "SizeSpec", "StuffRegion", "task_inputs", "TEXTURES", "ThingObject", "Video", "VideoObject", "WORLD_NAME",
    "WORLD_VERSION", "world_vocabulary", "WorldSummary",
]
