"""The panoptic class confusion: each ground-truth segment paired with the predicted
segment of any class it overlaps at IoU > 0.5 (unique, as in PQ), or with none.

A panoptic result's records say which segments matched within their class, not
what an unmatched segment was taken for, so this reads the GT and prediction
files (the ones the result was scored on) once, image by image. IoU and the
ignore rule are panopticapi's: the union leaves out predicted pixels on GT void,
crowd segments are never matched, and an unmatched prediction more than half on
void plus its own class's crowd is ignored. The diagonal is then PQ's TP per class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.formats.panoptic import PanopticSegment, load_panoptic_gt, load_panoptic_pred
from psalm_bench.pixelops import joint_histogram
from psalm_bench.progress import tqdm


def panoptic_confusion(gt_json: Path, pred_json: Path, progress: bool = False, *, gt_dir: Path | None = None,
                       pred_dir: Path | None = None) -> tuple[np.ndarray, list[str], list[int]]:
    """(C+1) x (C+1) segment counts, rows GT class, columns predicted class, the last
    row/column "none" (a missed GT segment / a false-positive prediction), and the class names and ids.
    Both JSONs are read and checked as `eval` reads them (formats.panoptic); the PNG folders
    are ``gt_dir`` / ``pred_dir``, by default each JSON's path without .json."""
    from psalm_bench.pngio import read_panoptic_ids

    gt = load_panoptic_gt(gt_json, gt_dir)
    pred = load_panoptic_pred(pred_json, gt, pred_dir)
    categories = sorted(gt.categories.values(), key=lambda c: c.id)
    ids = [c.id for c in categories]
    position = {c: k for k, c in enumerate(ids)}
    n = len(ids)
    counts = np.zeros((n + 1, n + 1), dtype=np.int64)
    for gt_ann in tqdm(gt.images, desc="panoptic confusion", unit="image", disable=not progress):
        gt_segs = gt_ann.segments
        pred_ann = pred.by_image.get(gt_ann.image_id)
        pred_segs = pred_ann.segments if pred_ann is not None else []
        if pred_ann is None or not pred_segs:
            for s in gt_segs:
                if not s.iscrowd:
                    counts[position[s.category_id], n] += 1
            continue
        gt_ids = read_panoptic_ids(gt.png_path(gt_ann))
        pred_ids = read_panoptic_ids(pred.png_path(pred_ann), expect=gt_ids.shape)
        _add_image(counts, position, n, gt_ids, pred_ids, gt_segs, pred_segs)
    return counts, [c.name for c in categories], ids


def _dense(ids: np.ndarray, segment_ids: np.ndarray) -> np.ndarray:
    """Per pixel (uint16): 0 an id not listed, 1 void, 2 + k the k-th listed segment;
    one C pass where the native module is built (as the panoptic evaluator indexes)."""
    ids32 = np.ascontiguousarray(ids, dtype=np.uint32)
    segments32 = np.ascontiguousarray(segment_ids, dtype=np.uint32)
    try:
        from psalm_bench import _native
    except ImportError:
        _native = None
    if _native is not None:
        return np.frombuffer(_native.dense_index(ids32, segments32, 2), dtype=np.uint16).reshape(ids.shape)
    dense = np.zeros(ids.shape, dtype=np.uint16)
    dense[ids32 == 0] = 1
    if segments32.size:
        order = np.argsort(segments32)
        ordered = segments32[order]
        at = np.minimum(np.searchsorted(ordered, ids32), ordered.size - 1)
        known = ordered[at] == ids32
        dense[known] = (order[at[known]] + 2).astype(np.uint16)
    return dense


def _add_image(counts: np.ndarray, position: dict[int, int], n: int, gt_ids: np.ndarray, pred_ids: np.ndarray,
               gt_segs: list[PanopticSegment], pred_segs: list[PanopticSegment]) -> None:
    if len(gt_segs) > 60000 or len(pred_segs) > 60000:
        raise InputError(f"{max(len(gt_segs), len(pred_segs))} segments in one image: more than the confusion plot indexes")
    gi = _dense(gt_ids, np.array([s.id for s in gt_segs], dtype=np.uint32))
    pi = _dense(pred_ids, np.array([s.id for s in pred_segs], dtype=np.uint32))
    cols = len(pred_segs) + 2
    table = joint_histogram(gi, pi, cols, (len(gt_segs) + 2) * cols).reshape(len(gt_segs) + 2, cols)
    on_void = table[1]  # predicted pixels on GT void
    pred_area = table.sum(axis=0)
    gt_area = np.array([float(s.area or 0) for s in gt_segs])
    crowd = np.array([s.iscrowd for s in gt_segs], dtype=bool)
    gt_cat = [position[s.category_id] for s in gt_segs]
    pred_cat = [position[s.category_id] for s in pred_segs]
    matched_gt, matched_pred = set(), set()
    for g in range(len(gt_segs)):
        if crowd[g]:
            continue
        for p in np.flatnonzero(table[g + 2, 2:]).tolist():
            inter = float(table[g + 2, p + 2])
            union = pred_area[p + 2] + gt_area[g] - inter - on_void[p + 2]
            if union > 0 and inter / union > 0.5:
                counts[gt_cat[g], pred_cat[p]] += 1
                matched_gt.add(g)
                matched_pred.add(p)
                break
    for g in range(len(gt_segs)):
        if not crowd[g] and g not in matched_gt:
            counts[gt_cat[g], n] += 1
    crowd_of = {gt_cat[g]: g for g in range(len(gt_segs)) if crowd[g]}  # the last crowd segment of a class, as panopticapi keeps
    for p in range(len(pred_segs)):
        if p in matched_pred or not pred_area[p + 2]:
            continue
        covered = on_void[p + 2]
        if pred_cat[p] in crowd_of:
            covered += table[crowd_of[pred_cat[p]] + 2, p + 2]
        if covered / pred_area[p + 2] > 0.5:
            continue  # ignored, as panopticapi ignores it
        counts[n, pred_cat[p]] += 1
