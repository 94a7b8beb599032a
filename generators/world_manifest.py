"""What a benchmark world holds: sizes, layout, tasks, the manifest and the card.

``world.json`` (written last by ``build_world``) lists, per task and split,
the evaluation task of the registry (``psalm_bench.tasks``) that scores it,
its ground truth and runner options (paths relative to the world root; see
``task_inputs``) and its headline metric, plus the training files, the
categories and the counts. ``README.md`` is the dataset card.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError
from psalm_bench.generators.world_scene import CATEGORIES, COLOURS, IMAGE_SHAPES, SIZE_WORDS, TEXTURES, Category
from psalm_bench.generators.world_video import VIDEO_SHAPE
from psalm_bench.jsonio import load_json

WORLD_NAME = "psalm-bench-world"
WORLD_VERSION = "1.1.0"  # 1.1.0: MUSE-style and GCG-style splits (world_multi)
MANIFEST = "world.json"
JPEG_QUALITY = 95
#: manifest options whose values are paths (relative to the world root)
PATH_OPTIONS = ("classes", "gt_dir", "pred_dir", "image_list")


@dataclass(frozen=True)
class SizeSpec:
    """Images per split, and videos x frames."""

    train: int
    val: int
    refval: int
    testA: int
    testB: int
    ov: int
    videos: int
    frames: int

    def images(self, split: str) -> int:
        return int(getattr(self, split))


SIZE_SPECS: dict[str, SizeSpec] = {
    "tiny": SizeSpec(train=24, val=12, refval=8, testA=6, testB=6, ov=8, videos=2, frames=6),
    "small": SizeSpec(train=2000, val=200, refval=120, testA=60, testB=60, ov=100, videos=10, frames=20),
    "full": SizeSpec(train=20000, val=2000, refval=1200, testA=600, testB=600, ov=1000, videos=100, frames=20),
}

#: where each image split lives, relative to the world root
IMAGE_DIRS = {"train": "coco/train2017", "val": "coco/val2017", "refval": "coco/refer2017", "testA": "coco/refer2017", "testB": "coco/refer2017", "ov": "ov/images"}
PANOPTIC_DIRS = {"train": "coco/annotations/panoptic_train2017", "val": "coco/annotations/panoptic_val2017", "ov": "ov/panoptic"}
SEMANTIC_DIRS = {"train": "coco/semantic_train2017", "val": "coco/semantic_val2017", "ov": "ov/semantic"}
REFER_SPLITS = {"train": "train", "refval": "val", "testA": "testA", "testB": "testB"}
TEST_GROUPS = {"testA": "curved", "testB": "angular"}


# ----------------------------------------------------------------- manifest and card


def tasks() -> dict[str, dict[str, dict[str, Any]]]:
    """Per task and split: the registry task that scores it, the ground truth,
    the images a model reads, the headline metric and the runner options.
    The open-vocabulary entries use the plain semantic / instance / panoptic
    tasks with the world's own class list: the registry's ov-* tasks are
    tied to the ADE20K, Cityscapes and Pascal class lists."""

    def entry(task: str, gt: str, images: str, metric: str, **options: Any) -> dict[str, Any]:
        return {"task": task, "gt": gt, "images": images, "metric": metric, "options": options}

    refer_splits = ("val", "testA", "testB")
    return {
        "panoptic": {"val": entry("panoptic", "coco/annotations/panoptic_val2017.json", "coco/val2017", "PQ")},
        "instance": {"val": entry("instance", "coco/annotations/instances_val2017.json", "coco/val2017", "AP")},
        "semantic": {"val": entry("semantic", "coco/semantic_val2017", "coco/val2017", "mIoU", classes="coco/semantic_classes.json")},
        "refcoco": {s: entry("refcoco", "refcoco", "coco", "cIoU", dataset="refcoco", split_by="unc", split=s) for s in refer_splits},
        "gref": {s: entry("gref", "grefcoco", "coco", "cIoU", split=s) for s in refer_splits},
        "interactive": {"val": entry("interactive", "coco/coco_interactive_val.json", "coco/val2017", "mIoU")},
        "vos": {"val": entry("vos", "davis", "davis/JPEGImages/480p", "J&F", split="val")},
        "ov-semantic": {"val": entry("semantic", "ov/semantic", "ov/images", "mIoU", classes="ov/classes.json")},
        "ov-instance": {"val": entry("instance", "ov/instances.json", "ov/images", "AP")},
        "ov-panoptic": {"val": entry("panoptic", "ov/panoptic.json", "ov/images", "PQ")},
        "muse": {"val": entry("muse", "muse/muse_val.json", "coco/refer2017", "gIoU")},
        "gcg": {"val": entry("gcg", "gcg/val_gcg_coco_mask_gt.json", "coco/val2017", "AP50")},
    }


def train_paths() -> dict[str, str]:
    """The training files (RefCOCO: its ``train`` split; image file names in
    the REFER instances are relative to ``refcoco_images``)."""
    return {
        "images": "coco/train2017",
        "instances": "coco/annotations/instances_train2017.json",
        "panoptic": "coco/annotations/panoptic_train2017.json",
        "panoptic_dir": "coco/annotations/panoptic_train2017",
        "semantic": "coco/semantic_train2017",
        "classes": "coco/semantic_classes.json",
        "refcoco": "refcoco",
        "refcoco_images": "coco",
        "interactive": "coco/coco_interactive_train.json",
    }


def category_manifest() -> dict[str, Any]:
    """Every category with its id, kind and whether it is held out, and the
    attribute values objects are drawn with."""

    def row(c: Category) -> dict[str, Any]:
        return {"id": c.id, "name": c.name, "supercategory": c.supercategory, "isthing": int(c.isthing), "novel": c.novel,
                **({"group": c.group} if c.isthing else {})}

    return {"things": [row(c) for c in CATEGORIES.things], "stuff": [row(c) for c in CATEGORIES.stuff],
            "in_domain": [c.name for c in CATEGORIES.known], "novel": [c.name for c in CATEGORIES.novel],
            "colours": list(COLOURS), "sizes": list(SIZE_WORDS), "textures": list(TEXTURES),
            "test_groups": dict(TEST_GROUPS)}


def task_inputs(root: str | Path, entry: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """(ground truth path, runner options) of a manifest entry, paths resolved
    against the world root: ``get_task(entry["task"]).run(gt, pred, **options)``."""
    root = Path(root)
    options = {k: (str(root / v) if k in PATH_OPTIONS else v) for k, v in entry.get("options", {}).items()}
    return root / entry["gt"], options


def load_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of a world folder; InputError when it is not a complete world."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise InputError("no world.json: not a complete psalm-bench world (build one with psalm-bench synth --out DIR)", file=path)
    data = load_json(path)
    if not isinstance(data, dict) or data.get("name") != WORLD_NAME:
        raise InputError(f"not a psalm-bench world manifest (expected name {WORLD_NAME!r})", file=path)
    for key, kind in (("version", str), ("seed", int), ("size", str), ("counts", dict), ("categories", dict), ("tasks", dict), ("train", dict)):
        if not isinstance(data.get(key), kind):
            raise InputError(f"'{key}' missing or not a {kind.__name__}", file=path)
    for task, splits in data["tasks"].items():
        if not isinstance(splits, dict) or not splits:
            raise InputError("task entry must map splits to entries", file=path, record=f"task {task}")
        for split, entry in splits.items():
            if not (isinstance(entry, dict) and isinstance(entry.get("task"), str) and isinstance(entry.get("gt"), str) and isinstance(entry.get("options"), dict)):
                raise InputError("entry needs 'task', 'gt' and 'options'", file=path, record=f"task {task}, split {split}")
    return data


def _flags(options: dict[str, Any]) -> str:
    """Runner options as the CLI flags that pass them."""
    return " ".join(f"--{key.replace('_', '-')} {value}" for key, value in options.items()) or "-"


def card(seed: int, size: str, counts: dict[str, int]) -> str:  # long: one f-string, the card's Markdown as the file reads
    """The world's README.md. Over 80 lines on purpose: it is one f-string, the card's Markdown as
    the file reads top to bottom, with the few tables it fills in computed just above it."""
    spec = SIZE_SPECS[size]
    things = ", ".join(f"{c.name} ({c.id}, {c.supercategory})" for c in CATEGORIES.things if not c.novel)
    stuff = ", ".join(f"{c.name} ({c.id})" for c in CATEGORIES.stuff if not c.novel)
    novel = ", ".join(f"{c.name} ({c.id}, {'thing' if c.isthing else 'stuff'})" for c in CATEGORIES.novel)
    count_rows = "\n".join(f"| {k} | {v} |" for k, v in counts.items())
    task_rows = "\n".join(
        f"| {name} | {split} | `{e['task']}` | `{e['gt']}` | {_flags(e['options'])} | {e['metric']} |"
        for name, splits in tasks().items() for split, e in splits.items()
    )
    return f"""# psalm-bench world (version {WORLD_VERSION}, seed {seed}, size {size})

A synthetic benchmark in the official formats of COCO (instances, panoptic,
semantic), RefCOCO, gRefCOCO, COCO-Interactive and DAVIS-2017, a MUSE-style
multi-target split (PixelLM's layout, `muse/`) and a GCG-style captioned split
(GLaMM's GranD-f layout, `gcg/`), plus an open-vocabulary set, written by `psalm-bench synth --out DIR --seed {seed} --size {size}`.
Every file is a pure function of the seed: the same command gives the same
bytes on any machine and with any number of workers.

## Scenes

Each image ({', '.join('x'.join(map(str, s)) for s in IMAGE_SHAPES)} px, JPEG quality {JPEG_QUALITY})
has a background of 1-3 *stuff* regions (outdoor: sky over a ground with
wavy horizons; indoor: wall over floor; top-down: a ground with a patch of
another), each with its own texture, and 2-8 *thing* objects: shapes with a
colour ({', '.join(COLOURS)}), a size (small, medium, large), a texture
(solid, striped, dotted), a rotation, placed so that they may hide each other
(each keeps at least 60% of its area visible). About one image in seven
holds a *crowd*: a clump of tiny shapes of one category, annotated once with
`iscrowd: 1`. Lighting gradients, blur and sensor noise make the pixels less
clean than the masks.

Masks are exact: an unoccluded polygon shape's mask is pycocotools'
rasterisation of the polygon in its annotation; rings (a hole) and partly
hidden objects are annotated with compressed RLE of their visible pixels,
crowds with uncompressed RLE, as in COCO. `area` and `bbox` are those of the
mask. Panoptic PNGs, semantic maps and instance annotations describe the
same pixels.

## Categories

- In-domain things: {things}
- In-domain stuff: {stuff}
- Held out for open vocabulary: {novel}. They appear in no training file and
  in no in-domain evaluation file, only in `ov/` (images that mix known and
  held-out categories).

Semantic class indices are positions in the category lists: things then
stuff, by id (`coco/semantic_classes.json`: {len(CATEGORIES.known)} in-domain classes;
`ov/classes.json`: all {len(CATEGORIES.all)}). 255 is unlabelled.

## Splits

| split | images | used by |
|---|---|---|
| train | {spec.train} | COCO train2017 files, RefCOCO `train` refs, COCO-Interactive train |
| val | {spec.val} | COCO val2017 files (panoptic, instance, semantic), COCO-Interactive val |
| refval | {spec.refval} | RefCOCO and gRefCOCO `val` |
| testA | {spec.testA} | RefCOCO and gRefCOCO `testA`: scenes rich in curved shapes (circle, ring, heart, crescent); RefCOCO testA refs target curved shapes only |
| testB | {spec.testB} | RefCOCO and gRefCOCO `testB`: scenes rich in angular shapes (square, triangle, hexagon, diamond, star, cross); RefCOCO testB refs target angular shapes only |
| ov | {spec.ov} | open-vocabulary instance, semantic and panoptic val |
| DAVIS val | {spec.videos} videos x {spec.frames} frames | video object segmentation |

As in RefCOCO, testA and testB split by the kind of object referred to
(people vs. other objects there; curved vs. angular shapes here).
Referring images (refval, testA, testB) are never training images.

Referring sentences (RefCOCO) each name exactly one object: a noun phrase
(category or "shape"/"object"/"one", with colour, size and texture words)
and at most one qualifier: an extreme ("on the left", "the lowest"), an
ordinal ("the second ... from the top"), an image zone ("in the top left
corner"), a relation to another object ("left of", "above", "in front of",
"behind") or the stuff under it ("on the grass"). Every sentence is checked
against the scene with margins: no other object fits it, even borderline.
gRefCOCO sentences add multi-target ("all the red shapes", "both circles",
"the star and the blue ring") and no-target sentences (an attribute
combination or placement that fits nothing in the image: `ann_id: [-1]`,
`no_target: true`), about two single-target refs, two multi-target refs
and one no-target ref per image (each with one or two sentences).

Videos are DAVIS-2017 style: 2-4 shapes moving, turning and occluding each
other over a panning background. Frames are {VIDEO_SHAPE[0]}x{VIDEO_SHAPE[1]} (smaller than
DAVIS's 480x854, to stay fast) but the folder names are DAVIS's
(`JPEGImages/480p`, `Annotations/480p`: palette PNGs, 0 background, 1..K
objects; every object is visible in frame 0).

## Counts

| what | count |
|---|---|
{count_rows}

## Layout

    world.json                         manifest: tasks, options, paths, counts
    coco/train2017/ val2017/           JPEG images (file name = 12-digit image id)
    coco/refer2017/                    referring evaluation images
    coco/annotations/instances_{{train,val}}2017.json
    coco/annotations/panoptic_{{train,val}}2017.json + panoptic_{{train,val}}2017/*.png
    coco/semantic_{{train,val}}2017/*.png, coco/semantic_classes.json
    coco/coco_interactive_{{train,val}}.json
    refcoco/refs(unc).p, refcoco/instances.json   (file_name relative to coco/)
    grefcoco/grefs(unc).json, grefcoco/instances.json   (file_name relative to coco/)
    ov/images/, ov/instances.json, ov/panoptic.json + ov/panoptic/, ov/semantic/, ov/classes.json
    davis/JPEGImages/480p/SEQ/NNNNN.jpg, davis/Annotations/480p/SEQ/NNNNN.png, davis/ImageSets/2017/val.txt

## Evaluation

| task | split | eval task | ground truth | options | headline |
|---|---|---|---|---|---|
{task_rows}

For example: `psalm-bench eval --task refcoco --gt DIR/refcoco --split testA --pred PRED.jsonl`,
or `psalm-bench eval --task semantic --gt DIR/ov/semantic --classes DIR/ov/classes.json --pred PRED_DIR`.
Prediction formats are those of FORMATS.md. Option paths in `world.json` are
relative to this folder.
"""


__all__ = [
    "IMAGE_DIRS", "JPEG_QUALITY", "MANIFEST", "PANOPTIC_DIRS", "REFER_SPLITS", "SEMANTIC_DIRS", "TEST_GROUPS", "PATH_OPTIONS", "SIZE_SPECS", "SizeSpec", "WORLD_NAME", "WORLD_VERSION",
    "card", "category_manifest", "load_manifest", "task_inputs", "tasks", "train_paths",
]
