"""Open-vocabulary evaluation as PSALM reports it (ECCV 2024, Table 4).

Semantic mIoU on ADE20K-150, Cityscapes, PASCAL Context-59/459 and PASCAL
VOC-20, and instance mask mAP on ADE20K-150 and Cityscapes, read from each
benchmark's *official* label layout and scored by the ordinary semantic and
instance evaluators. Nothing here re-implements a metric: this module owns the
class lists (``psalm_bench/classes/*.json``, one per benchmark, each naming its
source) and the conversion of each official ground-truth layout to contiguous
class indices 0..K-1 plus an ignore label, as the data-preparation scripts of
the open-vocabulary segmentation literature do (Mask2Former / ODISE / SAN /
FC-CLIP ``prepare_*`` scripts, whose output PSALM's evaluation reads).

Ground-truth layouts (``layout="official"``, the default):

- ``a150``: ``ADEChallengeData2016/annotations/*.png``; 0 = "other" -> ignore,
  k in 1..150 -> k-1 (mmseg's ``reduce_zero_label``).
- ``cityscapes``: ``gtFine/SPLIT/CITY/*_gtFine_labelIds.png`` (found
  recursively); labelId -> trainId of the 19 evaluated classes, every other
  labelId (0..33) -> ignore. Predictions are matched on the ``city_seq_frame``
  prefix of their file name (``frankfurt_000000_000294_leftImg8bit.png`` and
  ``frankfurt_000000_000294_gtFine_labelIds.png`` are one image).
- ``pc59``: the 60-class label PNGs written by the Detail API /
  mmsegmentation's ``convert_datasets/pascal_context.py``
  (``SegmentationClassContext``): 0 = background -> ignore, k in 1..59 -> k-1.
- ``pc459``: uint16 TIFF or PNG of the ``trainval/*.mat`` ``LabelMap`` (a
  ``.mat`` file is read directly with scipy): 0 -> ignore, k in 1..459 -> k-1.
- ``pas20``: VOC2012 ``SegmentationClass/*.png`` palette PNGs: 0 background
  and 255 border -> ignore, k in 1..20 -> k-1.

``layout="prepared"`` reads the detectron2 layout those scripts produce (and
PSALM's evaluation code loads): values already 0..K-1, ignore 255 (65535 for
pc459's uint16 TIFFs). Values outside a layout's range are an error naming
the file, never silently ignored.

Predictions are label PNGs in the benchmark's contiguous indices 0..K-1 with
255 = no prediction; for pc459 (459 classes do not fit 8 bits) 16-bit PNG or
TIFF with 65535 = no prediction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.evaluators.semantic import PROTOCOLS, SemanticEvaluator
from psalm_bench.formats.semantic import LabelMap
from psalm_bench.results import EvalResult
from psalm_bench.specs import OV_INSTANCE as OV_INSTANCE_SPEC  # noqa: F401 - the tasks' specs, importable here as before
from psalm_bench.specs import OV_SEMANTIC as OV_SEMANTIC_SPEC  # noqa: F401

if TYPE_CHECKING:
    from psalm_bench.formats.coco import CocoInstances

BENCHMARKS = ("a150", "cityscapes", "pc59", "pc459", "pas20")
INSTANCE_BENCHMARKS = ("a150", "cityscapes")
LAYOUTS = ("official", "prepared")


_GT_SUFFIXES = {".png"}
_GT_SUFFIXES_16BIT = {".png", ".tif", ".tiff", ".mat"}
_PRED_SUFFIXES_16BIT = {".png", ".tif", ".tiff"}


# ---------------------------------------------------------------- class lists


@lru_cache(maxsize=None)
def load_benchmark(benchmark: str) -> dict[str, Any]:
    """The shipped description of one benchmark: ``classes``, ``layout``,
    ``source`` (and ``instance_classes`` where it has an instance track)."""
    check_benchmark(benchmark)
    text = resources.files("psalm_bench").joinpath("classes", f"{benchmark}.json").read_text(encoding="utf-8")
    return json.loads(text)


def class_names(benchmark: str) -> list[str]:
    """The benchmark's class names, index = contiguous class id."""
    return list(load_benchmark(benchmark)["classes"])


def check_benchmark(benchmark: str, allowed: tuple[str, ...] = BENCHMARKS, what: str = "open-vocabulary") -> None:
    if benchmark not in allowed:
        raise InputError(f"unknown --benchmark {benchmark!r} for {what} evaluation; choose one of {', '.join(allowed)}")


# ---------------------------------------------------------- layout conversion


@dataclass(frozen=True)
class Layout:
    """How one benchmark's ground-truth values become contiguous indices.

    ``table[v]`` is the contiguous index (or ``ignore``) of raw value v;
    ``valid[v]`` says whether v may occur at all. Raw values beyond the table
    are out of range."""

    benchmark: str
    name: str
    rule: str
    table: np.ndarray
    valid: np.ndarray
    ignore: int
    num_classes: int

    def convert(self, raw: np.ndarray, source: str) -> np.ndarray:
        raw = np.asarray(raw)
        if raw.ndim != 2:
            raise InputError(f"ground-truth label map must be single-channel, got shape {raw.shape}", file=source)
        if raw.dtype.kind not in "ui":
            raw = _integral(raw, source)
        if raw.dtype.kind == "i" and raw.size and raw.min() < 0:
            raise InputError(f"label {int(raw.min())} is outside the {self.benchmark} {self.name} layout ({self.rule})", file=source)
        size = self.table.size
        if raw.size and int(raw.max()) >= size:
            raise InputError(f"label {int(raw.max())} is outside the {self.benchmark} {self.name} layout ({self.rule})", file=source)
        if raw.dtype.itemsize > 2 or raw.dtype.kind == "i":
            raw = raw.astype(np.uint16 if size > 256 else np.uint8)
        if not self.valid[raw].all():
            bad = np.setdiff1d(np.unique(raw), np.flatnonzero(self.valid))
            raise InputError(f"label {int(bad[0])} is outside the {self.benchmark} {self.name} layout ({self.rule})", file=source)
        return self.table[raw]


def _integral(raw: np.ndarray, source: str) -> np.ndarray:
    if raw.dtype.kind == "b":
        return raw.astype(np.uint8)
    if raw.dtype.kind == "f" and np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)):
        return raw.astype(np.int64)
    raise InputError(f"label map holds non-integer values ({raw.dtype})", file=source)


def _layout(benchmark: str, name: str, rule: str, size: int, mapping: dict[int, int], ignore: int, num_classes: int) -> Layout:
    dtype = np.uint16 if size > 256 else np.uint8
    table = np.full(size, ignore, dtype=dtype)
    valid = np.zeros(size, dtype=bool)
    for raw, target in mapping.items():
        table[raw] = target
        valid[raw] = True
    return Layout(benchmark, name, rule, table, valid, ignore, num_classes)


@lru_cache(maxsize=None)
def get_layout(benchmark: str, layout: str = "official") -> Layout:
    """The conversion of ``benchmark``'s ground truth in ``layout``."""
    check_benchmark(benchmark)
    if layout not in LAYOUTS:
        raise InputError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    meta = load_benchmark(benchmark)
    k = len(meta["classes"])
    rule = meta["layout"][layout]
    if benchmark == "pc459":
        ignore = k  # 459: the first value past the classes keeps the confusion table small
        if layout == "official":
            mapping = {0: ignore, **{v: v - 1 for v in range(1, k + 1)}}
        else:
            mapping = {**{v: v for v in range(k)}, 65535: ignore}
        return _layout(benchmark, layout, rule, 65536, mapping, ignore, k)
    ignore = 255
    if layout == "prepared":
        mapping = {**{v: v for v in range(k)}, 255: ignore}
    elif benchmark == "cityscapes":
        to_train = {label_id: train_id for train_id, label_id in enumerate(meta["label_ids"])}
        mapping = {v: to_train.get(v, ignore) for v in range(34)}
    elif benchmark == "pas20":
        mapping = {0: ignore, 255: ignore, **{v: v - 1 for v in range(1, k + 1)}}
    else:  # a150, pc59: 0 is "other"/background
        mapping = {0: ignore, **{v: v - 1 for v in range(1, k + 1)}}
    return _layout(benchmark, layout, rule, 256, mapping, ignore, k)


# ------------------------------------------------------------------- reading


def read_labels(path: str | Path) -> np.ndarray:
    """A label map from PNG (8/16-bit, grey or palette), TIFF or ``.mat``
    (PASCAL Context's ``LabelMap``)."""
    from psalm_bench.pngio import read_label_map

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        return read_label_map(path)
    if not path.is_file():
        raise InputError("label file not found", file=path)
    if suffix in (".tif", ".tiff"):
        try:
            import tifffile

            labels = tifffile.imread(path)
        except ImportError:  # pragma: no cover - tifffile is optional
            from PIL import Image

            labels = np.asarray(Image.open(path))
        except Exception as exc:
            raise InputError(f"TIFF does not decode ({exc})", file=path) from None
        if labels.ndim == 3 and labels.shape[-1] == 1:
            labels = labels[..., 0]
        return labels
    if suffix == ".mat":
        try:
            from scipy.io import loadmat

            data = loadmat(path)
        except ImportError:  # pragma: no cover
            raise InputError("reading .mat files needs scipy", file=path) from None
        except Exception as exc:
            raise InputError(f".mat file does not load ({exc})", file=path) from None
        if "LabelMap" not in data:
            raise InputError("the .mat file has no 'LabelMap' (PASCAL Context annotation expected)", file=path)
        return np.asarray(data["LabelMap"])
    raise InputError(f"unsupported label file type {suffix!r}", file=path)


def image_key(benchmark: str, path: Path) -> str:
    """The name pairing a GT file with its prediction: the file stem, or for
    Cityscapes its ``city_seq_frame`` prefix."""
    stem = path.stem
    if benchmark == "cityscapes":
        parts = stem.split("_")
        return "_".join(parts[:3]) if len(parts) >= 3 else stem
    return stem


def _list_files(folder: Path, suffixes: set[str], recursive: bool, what: str, benchmark: str, pattern: str | None = None) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError(f"{what} folder not found", file=folder)
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    found: dict[str, Path] = {}
    for path in sorted(candidates):
        if path.suffix.lower() not in suffixes or not path.is_file():
            continue
        if pattern is not None and not path.name.endswith(pattern):
            continue
        key = image_key(benchmark, path)
        if key in found:
            raise InputError(f"two {what} files for image {key}: {found[key].name} and {path.name}", file=path)
        found[key] = path
    if not found:
        wanted = f"*{pattern}" if pattern else "/".join(sorted(suffixes))
        raise InputError(f"{what} folder holds no {wanted} files", file=folder)
    return found


@dataclass(frozen=True)
class OVSample:
    name: str
    gt: Path
    pred: Path


def ov_samples(gt: Path, pred: Path, benchmark: str, layout: str = "official", *, image_list: str | Path | None = None, ignore_extra: bool = False) -> list[OVSample]:
    """Pair the benchmark's GT files with prediction files."""
    wide = benchmark == "pc459"
    if benchmark == "cityscapes":
        pattern = "_gtFine_labelIds.png" if layout == "official" else "_gtFine_labelTrainIds.png"
        gts = _list_files(gt, {".png"}, True, "ground-truth", benchmark, pattern)
    else:
        gts = _list_files(gt, _GT_SUFFIXES_16BIT if wide else _GT_SUFFIXES, False, "ground-truth", benchmark)
    if image_list is not None:
        wanted = _read_image_list(Path(image_list), benchmark)
        missing = [name for name in wanted if name not in gts]
        if missing:
            raise InputError(f"{len(missing)} image(s) of the list have no ground-truth file, e.g. {missing[0]}", file=image_list)
        gts = {name: gts[name] for name in wanted}
    preds = _list_files(pred, _PRED_SUFFIXES_16BIT if wide else {".png"}, benchmark == "cityscapes", "prediction", benchmark)
    names = sorted(gts)
    for name in names:
        if name not in preds:
            raise InputError("prediction missing", file=pred / f"{name}.png", record=f"image {name}")
    if not ignore_extra:
        extra = sorted(set(preds) - set(gts))
        if extra:
            raise InputError(f"{len(extra)} prediction file(s) have no ground truth (use --ignore-extra to skip them)", file=preds[extra[0]], record=f"image {extra[0]}")
    return [OVSample(name, gts[name], preds[name]) for name in names]


def _read_image_list(path: Path, benchmark: str) -> list[str]:
    try:
        lines = path.read_text().split()
    except OSError as exc:
        raise InputError(f"cannot read image list: {exc.strerror}", file=path) from None
    names = [image_key(benchmark, Path(line.strip())) for line in lines if line.strip()]
    if not names:
        raise InputError("image list is empty", file=path)
    return list(dict.fromkeys(names))


class OVLoader:
    """Decodes one sample into (GT, prediction) label maps in contiguous
    indices with the evaluator's ignore label (picklable, for the pool)."""

    def __init__(self, benchmark: str, layout: str = "official"):
        self.benchmark = benchmark
        self.layout = layout

    def __call__(self, sample: OVSample) -> tuple[LabelMap, LabelMap]:
        conversion = get_layout(self.benchmark, self.layout)
        gt = LabelMap(conversion.convert(read_labels(sample.gt), str(sample.gt)), str(sample.gt))
        pred = LabelMap(self._prediction(read_labels(sample.pred), str(sample.pred), conversion), str(sample.pred))
        if gt.labels.shape != pred.labels.shape:
            raise InputError(
                f"prediction size {pred.labels.shape[0]}x{pred.labels.shape[1]} differs from ground truth {gt.labels.shape[0]}x{gt.labels.shape[1]}",
                file=pred.source,
                record=f"image {sample.name}",
            )
        return gt, pred

    @staticmethod
    def _prediction(labels: np.ndarray, source: str, conversion: Layout) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.ndim != 2:
            raise InputError(f"prediction label map must be single-channel, got shape {labels.shape}", file=source)
        if labels.dtype.kind not in "ui":
            labels = _integral(labels, source)
        n = conversion.num_classes
        none = 65535 if conversion.ignore != 255 else 255
        in_range = (labels < n) | (labels == none)
        if not in_range.all():
            bad = labels[~in_range]
            raise InputError(f"label {int(bad.min())} is not a class index (0..{n - 1}) nor the no-prediction value {none}", file=source)
        if none == 255:
            return labels.astype(np.uint8, copy=False)
        out = labels.astype(np.uint16, copy=True)
        out[out == none] = conversion.ignore
        return out


# ------------------------------------------------------------- ov-semantic


class OVSemanticEvaluator(SemanticEvaluator):
    """The semantic evaluator over one benchmark's classes; its results are
    the ``ov-semantic`` task's and record the benchmark and layout."""

    task = "ov-semantic"

    def __init__(self, benchmark: str, layout: str = "official", protocol: str = "detectron2"):
        conversion = get_layout(benchmark, layout)
        super().__init__(class_names(benchmark), conversion.ignore, protocol)
        self.benchmark = benchmark
        self.layout = layout

    def config(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "layout": self.layout, "protocol": self.protocol}

    def update(self, gt: LabelMap | np.ndarray, pred: LabelMap | np.ndarray) -> None:
        super().update(gt, pred)
        gt_source = gt.source if isinstance(gt, LabelMap) else None
        if gt_source:
            # records key images by the GT name (Cityscapes' stems differ)
            self.records[-1]["image"] = image_key(self.benchmark, Path(gt_source))

    def compute(self) -> EvalResult:
        result = super().compute()
        meta = load_benchmark(self.benchmark)
        result.params.update(
            {
                "benchmark": self.benchmark,
                "layout": self.layout,
                "layout_rule": meta["layout"][self.layout],
                "classes_source": meta["source"],
            }
        )
        return result


def evaluate_ov_semantic(
    gt: str | Path,
    pred: str | Path,
    *,
    benchmark: str,
    layout: str = "official",
    protocol: str = "detectron2",
    image_list: str | Path | None = None,
    ignore_extra: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> EvalResult:
    """Open-vocabulary semantic mIoU on ``benchmark`` (a150, cityscapes, pc59,
    pc459, pas20).

    ``gt``: the folder of the benchmark's GT label files in ``layout``
    (module docstring); ``pred``: a folder of predicted label PNGs in the
    benchmark's contiguous class indices. ``image_list``: a file of image
    names (e.g. VOC's ``ImageSets/Segmentation/val.txt``) restricting the GT
    folder to one split, for folders that hold several splits.
    """
    from psalm_bench.parallel import run_sharded

    check_benchmark(benchmark)
    OV_SEMANTIC_SPEC.check_protocol(protocol)
    get_layout(benchmark, layout)  # validates layout
    samples = ov_samples(Path(gt), Path(pred), benchmark, layout, image_list=image_list, ignore_extra=ignore_extra)
    evaluator = OVSemanticEvaluator(benchmark, layout, protocol)
    run_sharded(evaluator, samples, OVLoader(benchmark, layout), workers=workers, desc=f"ov-semantic {benchmark}", progress=progress)
    return evaluator.compute()


# ------------------------------------------------------------- ov-instance


def _normalise(name: str) -> str:
    return name.split(",")[0].strip().lower()


def check_instance_categories(gt: str | Path | CocoInstances, benchmark: str) -> list[str]:
    """Check the COCO GT's categories against the benchmark's instance
    classes; returns warnings (classes the file lacks), raises on a category
    that is not one of them.

    A category matches by name: the instance class name (for ADE20K-150 as
    Mask2Former's prepare_ade20k_ins_seg.py writes them) or, for ADE20K-150,
    any synonym of the class's 150-class name. Category ids are the file's
    own (COCO evaluation keys on them, not on the benchmark's order).
    ``gt``: the file, or its :class:`CocoInstances` as formats/coco.py loaded it."""
    from psalm_bench.formats.coco import CocoInstances, load_instances

    check_benchmark(benchmark, INSTANCE_BENCHMARKS, "open-vocabulary instance")
    meta = load_benchmark(benchmark)
    if not isinstance(gt, CocoInstances):
        gt = load_instances(gt, check_boxes=False)
    data, gt = gt.source or {}, gt.path
    if not isinstance(data.get("categories"), list):
        raise InputError("expected a COCO instances JSON with a 'categories' list", file=gt)
    expected: dict[str, str] = {}  # any accepted spelling -> the benchmark's instance name
    for entry in meta["instance_classes"]:
        name = entry["name"]
        expected[_normalise(name)] = name
        if benchmark == "a150":
            for synonym in meta["classes"][entry["id"]].split(","):
                expected.setdefault(synonym.strip().lower(), name)
    seen: set[str] = set()
    for index, category in enumerate(data["categories"]):
        if not isinstance(category, dict) or "name" not in category:
            raise InputError("category without a name", file=gt, record=f"categories[{index}]")
        name = str(category["name"])
        match = expected.get(_normalise(name))
        if match is None:
            for synonym in name.split(","):
                match = expected.get(synonym.strip().lower())
                if match is not None:
                    break
        if match is None:
            raise InputError(f"category {name!r} is not one of the {len(meta['instance_classes'])} {benchmark} instance classes", file=gt, record=f"category id {category.get('id')}")
        if match in seen:
            raise InputError(f"category {name!r} duplicates {match!r}", file=gt, record=f"category id {category.get('id')}")
        seen.add(match)
    missing = [entry["name"] for entry in meta["instance_classes"] if entry["name"] not in seen]
    if missing:
        return [f"the ground truth has {len(seen)} of the {len(meta['instance_classes'])} {benchmark} instance classes; missing: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"]
    return []


def evaluate_ov_instance(
    gt: str | Path,
    pred: str | Path,
    *,
    benchmark: str,
    iou_type: str = "segm",
    workers: Any = None,
    records: bool | None = None,
    progress: bool = True,
) -> EvalResult:
    """Open-vocabulary instance mAP on ``benchmark`` (a150 or cityscapes).

    ``gt``: the benchmark's COCO instances JSON (ADE20K: Mask2Former's
    ``prepare_ade20k_ins_seg.py`` output; Cityscapes: its 8 instance classes
    in COCO format); ``pred``: a COCO results JSON. Scored by the instance
    evaluator (pycocotools-identical), after checking the categories."""
    from psalm_bench.evaluators.instance import evaluate_instance
    from psalm_bench.formats.coco import load_instances

    check_benchmark(benchmark, INSTANCE_BENCHMARKS, "open-vocabulary instance")
    ground_truth = load_instances(gt, check_boxes=iou_type == "bbox")  # parsed once, for both
    warnings = check_instance_categories(ground_truth, benchmark)
    result = evaluate_instance(gt, pred, iou_type=iou_type, workers=workers, records=records, progress=progress, ground_truth=ground_truth)
    result.task = "ov-instance"
    result.params.update({"benchmark": benchmark, "classes_source": load_benchmark(benchmark)["source"]})
    result.warnings = warnings + list(result.warnings)
    return result


__all__ = [
    "BENCHMARKS",
    "INSTANCE_BENCHMARKS",
    "LAYOUTS",
    "Layout",
    "OVLoader",
    "OVSample",
    "OVSemanticEvaluator",
    "check_instance_categories",
    "class_names",
    "evaluate_ov_instance",
    "evaluate_ov_semantic",
    "get_layout",
    "load_benchmark",
    "ov_samples",
    "read_labels",
]
