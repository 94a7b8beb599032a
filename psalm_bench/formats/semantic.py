"""Semantic segmentation label maps: PNG folders and class lists.

Ground truth is a folder of PNG label maps (class index per pixel, an ignore
label for void), or is derived from a COCO panoptic ground truth the way
Mask2Former builds its COCO semantic benchmark: the segments of one category
merged into that category's contiguous index (its position in the panoptic
JSON's category list), unlabelled pixels ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.paths import require_folder
from psalm_bench.jsonio import load_json
from psalm_bench.pngdecode import decode_panoptic_dense_fast, label_stream
from psalm_bench.pngio import label_map_from_png, read_label_map, read_panoptic_ids, read_png_bytes


@dataclass(frozen=True)
class LabelMap:
    """A decoded label map and where it came from (for error messages)."""

    labels: np.ndarray
    source: str

    @property
    def shape(self) -> tuple[int, ...]:
        return self.labels.shape


@dataclass(frozen=True)
class InflatedLabelMap:
    """An 8-bit one-channel PNG label map, its zlib stream not yet inflated.

    The semantic evaluator inflates two of these a block of rows at a time and
    counts (GT, prediction) pixel pairs straight from the scanlines, so
    neither image is ever written out (the unfiltering and a second pass over
    both maps were half of mIoU's time; whole 300 KB scanline buffers, page
    faults). ``labels`` decodes the map, exactly as ``read_label_map`` would,
    when an array is needed after all."""

    stream: bytes  # the IDAT chunks' zlib stream
    height: int
    width: int
    png: bytes
    source: str

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @cached_property
    def labels(self) -> np.ndarray:
        return label_map_from_png(self.png, Path(self.source))


@dataclass(frozen=True)
class PanopticLabelSource:
    """How to turn one panoptic PNG into a label map: its segment ids (sorted)
    and each segment's contiguous class index."""

    png: Path
    segment_ids: np.ndarray
    class_index: np.ndarray


@dataclass(frozen=True)
class SemanticSample:
    name: str
    gt: Path | PanopticLabelSource
    pred: Path


def load_class_names(path: str | Path) -> list[str]:
    """A JSON list of class names (index = label value)."""
    names = load_json(path)
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InputError("expected a non-empty JSON list of class names", file=path)
    return names


def list_pngs(folder: str | Path, what: str) -> dict[str, Path]:
    folder = require_folder(folder, what)
    pngs = {p.stem: p for p in folder.iterdir() if p.suffix.lower() == ".png"}
    if not pngs:
        raise InputError(f"{what} folder holds no PNG files", file=folder)
    return pngs


def pair_with_predictions(gt_names: list[str], pred_dir: str | Path, *, ignore_extra: bool = False) -> dict[str, Path]:
    """Each GT stem's prediction PNG; a missing one is an error, an extra one
    too unless ``ignore_extra``."""
    preds = list_pngs(pred_dir, "prediction")
    pred_dir = Path(pred_dir)
    for name in gt_names:
        if name not in preds:
            raise InputError("prediction PNG missing", file=pred_dir / f"{name}.png", record=f"image {name}")
    if not ignore_extra:
        extra = sorted(set(preds) - set(gt_names))
        if extra:
            raise InputError(f"{len(extra)} prediction PNG(s) have no ground truth (use --ignore-extra to skip them)", file=preds[extra[0]], record=f"image {extra[0]}")
    return preds


def samples_from_folders(gt_dir: str | Path, pred_dir: str | Path, *, ignore_extra: bool = False) -> list[SemanticSample]:
    gts = list_pngs(gt_dir, "ground-truth")
    names = sorted(gts)
    preds = pair_with_predictions(names, pred_dir, ignore_extra=ignore_extra)
    return [SemanticSample(name, gts[name], preds[name]) for name in names]


def samples_from_panoptic(gt_json: str | Path, pred_dir: str | Path, *, gt_dir: str | Path | None = None, ignore_extra: bool = False) -> tuple[list[str], list[SemanticSample]]:
    """Class names (panoptic category order) and samples whose GT label maps
    are derived from the panoptic PNGs."""
    from psalm_bench.formats.panoptic import load_panoptic_gt

    panoptic = load_panoptic_gt(gt_json, gt_dir)
    categories = list(panoptic.categories.values())
    if len(categories) > 255:
        raise InputError(f"{len(categories)} categories do not fit 8-bit label maps with ignore label 255", file=gt_json)
    contiguous = {cat.id: index for index, cat in enumerate(categories)}
    samples = []
    names = []
    for image in panoptic.images:
        name = Path(image.file_name).stem
        names.append(name)
        ids = np.array([s.id for s in image.segments], dtype=np.uint32)
        classes = np.array([contiguous[s.category_id] for s in image.segments], dtype=np.uint8)
        order = np.argsort(ids)
        source = PanopticLabelSource(panoptic.png_path(image), ids[order], classes[order])
        samples.append(SemanticSample(name, source, Path()))
    preds = pair_with_predictions(names, pred_dir, ignore_extra=ignore_extra)
    samples = [SemanticSample(s.name, s.gt, preds[s.name]) for s in samples]
    return [cat.name for cat in categories], samples


def read_panoptic_as_labels(source: PanopticLabelSource, ignore_label: int) -> np.ndarray:
    """The label map of one panoptic PNG: each pixel its segment's class,
    void (id 0) and any id that segments_info lacks the ignore label, as
    Mask2Former's prepare_coco_semantic_annos_from_panoptic_annos.py writes it."""
    n = source.segment_ids.size
    dense = None
    if n:
        dense = decode_panoptic_dense_fast(read_png_bytes(source.png), source.segment_ids, np.uint8 if n + 2 <= 256 else np.uint16)
    if dense is not None:
        # dense index: 0 unknown id, 1 void, 2 + k the k-th segment (sorted order)
        to_label = np.concatenate([[ignore_label, ignore_label], source.class_index]).astype(np.uint8)
        return to_label[dense]
    ids = read_panoptic_ids(source.png)
    labels = np.full(ids.shape, ignore_label, dtype=np.uint8)
    if n:
        position = np.minimum(np.searchsorted(source.segment_ids, ids), n - 1)
        known = source.segment_ids[position] == ids
        labels[known] = source.class_index[position[known]]
    return labels


class SampleLoader:
    """Decodes samples for an evaluator, one after another (a process pool
    gives each worker its own copy). The label maps are decoded into two
    reusable buffers: each pair is consumed by ``update`` before the next
    sample is loaded, and fresh 300 KB buffers per image would cost more in
    page faults than the decoding itself."""

    def __init__(self, ignore_label: int = 255):
        self.ignore_label = ignore_label
        self._buffers: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"ignore_label": self.ignore_label, "_buffers": {}}

    def __call__(self, sample: SemanticSample) -> tuple[LabelMap | InflatedLabelMap, LabelMap | InflatedLabelMap]:
        gt: LabelMap | InflatedLabelMap
        pred: LabelMap | InflatedLabelMap
        if isinstance(sample.gt, PanopticLabelSource):
            gt = LabelMap(read_panoptic_as_labels(sample.gt, self.ignore_label), str(sample.gt.png))
        else:
            gt = self._inflated(sample.gt) or LabelMap(self._read("gt", sample.gt), str(sample.gt))
        shape = gt.shape[:2]
        pred = self._inflated(sample.pred, shape) if isinstance(gt, InflatedLabelMap) else None
        if pred is None:
            pred = LabelMap(self._read("pred", sample.pred, shape), str(sample.pred))
        if gt.shape != pred.shape:
            raise InputError(f"prediction size {pred.shape[0]}x{pred.shape[1]} differs from ground truth {gt.shape[0]}x{gt.shape[1]}", file=pred.source, record=f"image {sample.name}")
        return gt, pred

    @staticmethod
    def _inflated(path: Path, expect: tuple[int, ...] | None = None) -> InflatedLabelMap | None:
        """The PNG's stream, when it is an 8-bit one-channel map; else None (read it the general way)."""
        data = read_png_bytes(path, expect)
        stream = label_stream(data)
        if stream is None:
            return None
        idat, height, width = stream
        return InflatedLabelMap(idat, height, width, data, str(path))

    def _read(self, role: str, path: Path, expect: tuple[int, int] | None = None) -> np.ndarray:
        labels = read_label_map(path, self._buffers.get(role), expect)
        if labels.base is None or labels.base is not self._buffers.get(role):
            # not decoded into the buffer (first image, another size, a fallback
            # decoder): keep a buffer of this size for the next image
            if labels.dtype == np.uint8 and labels.ndim == 2:
                self._buffers[role] = np.empty(labels.size, dtype=np.uint8)
        return labels


def load_sample(sample: SemanticSample, ignore_label: int = 255) -> tuple[LabelMap, LabelMap]:
    """Decode one sample (fresh arrays; see SampleLoader for the reusing one)."""
    gt, pred = SampleLoader(ignore_label)(sample)
    return LabelMap(gt.labels, gt.source), LabelMap(pred.labels, pred.source)
