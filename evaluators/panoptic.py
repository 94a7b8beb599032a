"""Panoptic quality (PQ, SQ, RQ; things and stuff), exactly as panopticapi.

Semantics of panopticapi's ``pq_compute`` (PITFALLS 6), per image:

- a GT segment and a predicted segment of the same category match when
  IoU > 0.5, where the union leaves out the predicted pixels that fall on
  GT void (id 0): ``union = |P| + |G| - |P & G| - |P & void|``; ``|G|`` is
  the GT ``area`` from ``segments_info``, ``|P|`` the predicted pixels;
- crowd GT segments are never matched and never false negatives;
- an unmatched prediction is a false positive unless more than half of it
  lies on GT void plus the crowd segment of its own category (the last one
  listed in ``segments_info``, as panopticapi keeps one per category), in
  which case it is ignored;
- PQ = sum IoU / (TP + FP/2 + FN/2), SQ = sum IoU / TP, RQ = TP / (TP +
  FP/2 + FN/2) per category, averaged over the categories with TP + FP + FN
  > 0 (all, things, stuff); a group with none is null.

Differences by design (FORMATS.md): an image with no prediction counts its
GT segments as false negatives with a warning (panopticapi stops). Ids in a
prediction PNG that ``segments_info`` lacks, and ``segments_info`` ids absent
from the PNG, are input errors as in panopticapi; in the ground truth they are
scored as panopticapi scores them (unlisted pixels neither void nor matched,
absent segments false negatives from their JSON area), with a warning.

Speed: no sort over pixels. The table of (GT dense index, predicted dense
index) pixel counts (0 unknown id, 1 void, 2 + k segment k) gives every
intersection, the void overlaps, the predicted areas and the id checks at
once. From two PNGs it is counted straight from their scanlines, inflated a
block of rows at a time (``pngdecode.panoptic_pair_table``); from id maps, by
one histogram of dense indices. The matching on it is one C call per image
(``_native.panoptic_match``), with the numpy steps below as its reference
and as the path that names any input problem.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.errors import InputError

try:
    from psalm_bench import _native
except ImportError:  # built without a C compiler: numpy fallback
    _native = None
from psalm_bench.evaluators.base import Evaluator, point
from psalm_bench.formats.panoptic import (
    MAX_SEGMENT_ID,
    PanopticAnnotation,
    PanopticCategory,
    PanopticFrame,
    check_pngs_exist,
    index_dtype,
    load_panoptic_gt,
    load_panoptic_pred,
    read_frame,
)
from psalm_bench.parallel import run_sharded
from psalm_bench.pixelops import joint_histogram
from psalm_bench.pngdecode import dense_from_stream, panoptic_pair_table
from psalm_bench.pngio import read_panoptic_ids
from psalm_bench.results import EvalResult
from psalm_bench.specs import PANOPTIC as SPEC

METRICS = list(SPEC.metrics)
PROTOCOL = SPEC.protocols[0]
SUMS = ("tp", "fp", "fn", "iou")  # per category (K columns each): a row of sums is tp | fp | fn | iou
GROUPS = (("", None), ("_th", True), ("_st", False))  # all categories, things, stuff


def category_scores(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, iou: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PQ, SQ, RQ per category (fractions; 0 where the category is unused) and
    which categories have a segment on either side (``used``), as panopticapi."""
    used = (tp + fp + fn) > 0
    denom = np.where(used, tp + 0.5 * fp + 0.5 * fn, 1.0)
    pq = np.where(used, iou / denom, 0.0)
    sq = np.where(used & (tp > 0), iou / np.where(tp > 0, tp, 1.0), 0.0)
    rq = np.where(used, tp / denom, 0.0)
    return pq, sq, rq, used


def panoptic_metrics(sums: np.ndarray, isthing: np.ndarray) -> dict[str, np.ndarray]:
    """PQ/SQ/RQ over all, thing and stuff categories (percent, NaN without a used
    category) from rows of per-category sums (``SUMS``) in the categories' order;
    class averages summed category by category in that order (panopticapi's), so
    ``compute()``'s one row gives its bits and the report's bootstrap one row per resample."""
    S = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    isthing = np.asarray(isthing, dtype=bool)
    K = isthing.size
    pq, sq, rq, used = category_scores(S[:, :K], S[:, K:2 * K], S[:, 2 * K:3 * K], S[:, 3 * K:])
    out: dict[str, np.ndarray] = {}
    for suffix, thing in GROUPS:
        member = used if thing is None else used & (isthing == thing)
        count = member.sum(axis=1)
        for name, values in (("PQ", pq), ("SQ", sq), ("RQ", rq)):
            total = np.zeros(len(S))
            for k in range(K):  # category by category (adding 0.0 for a non-member leaves the sum as it is)
                total += np.where(member[:, k], values[:, k], 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[name + suffix] = np.where(count > 0, 100 * (total / np.where(count > 0, count, 1)), np.nan)
    return {name: out[name] for name in METRICS}

# outcome codes of the per-segment records
TP, FP, FN, IGNORED = 0, 1, 2, 3
OUTCOMES = ("tp", "fp", "fn", "ignored")

# --------------------------------------------------------------------------
# id -> dense index

_UNKNOWN, _VOID = 0, 1  # dense index 0: id not in segments_info; 1: void; 2..: segments


def _id_map(frame: PanopticFrame) -> np.ndarray:
    """The frame's id map as uint32 (decoded again if the reader kept only dense indices)."""
    ids = frame.ids
    if ids is None:
        try:
            ids = read_panoptic_ids(frame.source)
        except InputError as exc:
            raise InputError(exc.problem, file=exc.file or frame.source, record=frame.record) from None
    if ids.ndim != 2:
        raise InputError(f"id map must be 2-D, got shape {ids.shape}", file=frame.source, record=frame.record)
    if ids.dtype in (np.uint32, np.uint16, np.uint8):
        return ids
    if ids.dtype.kind not in "iu":
        raise InputError(f"id map must hold integers, got {ids.dtype}", file=frame.source, record=frame.record)
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) > MAX_SEGMENT_ID):
        raise InputError(f"id map values must be in 0..{MAX_SEGMENT_ID}", file=frame.source, record=frame.record)
    return ids.astype(np.uint32)


def _dense_of(frame: PanopticFrame, dtype: type) -> np.ndarray:
    """The frame's dense index map: the reader's, or computed from its scanlines or ids."""
    if frame.dense is not None and frame.dense.dtype == dtype:
        return frame.dense
    if frame.stream is not None:
        dense = dense_from_stream(frame.stream, frame.segment_ids, dtype)
        if dense is not None:
            return dense
    return _dense(_id_map(frame), frame.segment_ids, dtype)


def _shape_of(frame: PanopticFrame) -> tuple[int, ...]:
    if frame.stream is not None:
        return frame.shape
    return frame.dense.shape if frame.dense is not None else _id_map(frame).shape


def _table_of(gt: PanopticFrame, pred: PanopticFrame, n_gt: int, cols: int) -> np.ndarray:
    """(n_gt + 2) x cols pixel counts of (GT dense index, prediction dense index)."""
    if gt.stream is not None and pred.stream is not None:
        table = panoptic_pair_table(gt.stream, pred.stream, gt.segment_ids, pred.segment_ids)
        if table is not None:  # inflated a block of rows at a time, counted from both PNGs' scanlines: no index map
            return table
    gi = _dense_of(gt, index_dtype(n_gt + 2))
    pi = _dense_of(pred, index_dtype(cols))
    return _pair_counts(gi, pi, cols, (n_gt + 2) * cols).reshape(n_gt + 2, cols)


def _dense(ids: np.ndarray, segment_ids: np.ndarray, dtype: type) -> np.ndarray:
    """Per pixel: 0 unknown id, 1 void, 2 + k for the k-th segment."""
    ids32 = np.ascontiguousarray(ids, dtype=np.uint32)
    segments32 = np.ascontiguousarray(segment_ids, dtype=np.uint32)
    if _native is not None:
        packed = _native.dense_index(ids32, segments32, np.dtype(dtype).itemsize)
        return np.frombuffer(packed, dtype=dtype).reshape(ids.shape)
    dense = np.zeros(ids.shape, dtype=dtype)
    dense[ids32 == 0] = _VOID
    if segments32.size:
        order = np.argsort(segments32)
        ordered = segments32[order]
        position = np.minimum(np.searchsorted(ordered, ids32), ordered.size - 1)
        known = ordered[position] == ids32
        dense[known] = (order[position[known]] + 2).astype(dtype)
    return dense


def _pair_counts(gi: np.ndarray, pi: np.ndarray, cols: int, cells: int) -> np.ndarray:
    """Pixel count of every (gt index, pred index) pair, flattened row-major."""
    return joint_histogram(gi, pi, cols, cells)


def _id_list(values: Iterable[int], limit: int = 5) -> str:
    values = [int(v) for v in values]
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _check_segments(frame: PanopticFrame, what: str) -> None:
    ids = frame.segment_ids
    n = len(ids)
    if len(frame.category_ids) != n:
        raise InputError(f"{what}: {n} segment ids but {len(frame.category_ids)} category ids", file=frame.source, record=frame.record)
    if n == 0:
        return
    if int(ids.min()) < 1 or int(ids.max()) > MAX_SEGMENT_ID:
        raise InputError(f"{what}: segment ids must be in 1..{MAX_SEGMENT_ID}", file=frame.source, record=frame.record)
    if n > 1:
        ordered = np.sort(ids)
        dup = ordered[1:][ordered[1:] == ordered[:-1]]
        if dup.size:
            raise InputError(f"{what}: segment id {_id_list(np.unique(dup))} listed twice in segments_info", file=frame.source, record=frame.record)


def _unknown_ids_error(frame: PanopticFrame, what: str) -> InputError:
    ids = _id_map(frame)
    known = np.concatenate([[0], frame.segment_ids]).astype(np.int64)
    present = np.unique(ids)  # slow, but only on the error path
    bad = np.setdiff1d(present.astype(np.int64), known)
    return InputError(f"{what} PNG holds segment id {_id_list(bad)} not in segments_info", file=frame.source, record=frame.record)


def _absent_ids_error(frame: PanopticFrame, absent: np.ndarray, what: str) -> InputError:
    return InputError(f"{what} segments_info lists segment id {_id_list(frame.segment_ids[absent])} not present in the PNG", file=frame.source, record=frame.record)


def _as_category(cat: PanopticCategory | Mapping[str, Any]) -> PanopticCategory:
    if isinstance(cat, PanopticCategory):
        return cat
    return PanopticCategory(int(cat["id"]), str(cat["name"]), cat.get("isthing", 0) == 1)


# --------------------------------------------------------------------------
# the evaluator


class PanopticEvaluator(Evaluator[PanopticFrame, "PanopticFrame | None"]):
    """Per-category TP / FP / FN / IoU sums plus compact per-segment records.

    ``update(gt, pred)`` takes decoded frames (:class:`PanopticFrame`; ``pred``
    None when the image has no prediction). State is a few arrays of the
    number of categories and columnar records (``array`` buffers), so shards
    pickle small and merge by addition.
    """

    task = "panoptic"

    def __init__(self, categories: Sequence[PanopticCategory | Mapping[str, Any]]):
        self.categories = [_as_category(c) for c in categories]
        ids = np.array([c.id for c in self.categories], dtype=np.int64)
        if len(np.unique(ids)) != len(ids):
            raise ValueError("category ids must be unique")
        self._order = np.argsort(ids, kind="stable")
        self._sorted_ids = ids[self._order]
        self._ids = ids  # category id at each position (the per-segment records' category_id)
        k = len(self.categories)
        self.tp = np.zeros(k, dtype=np.int64)
        self.fp = np.zeros(k, dtype=np.int64)
        self.fn = np.zeros(k, dtype=np.int64)
        self.iou = np.zeros(k, dtype=np.float64)
        self.n_images = 0
        self.missing: list[Any] = []  # image ids with no prediction
        # ground-truth images scored as panopticapi scores them, with a warning:
        self.gt_unlisted: list[Any] = []  # PNG ids not in segments_info (neither void nor matchable)
        self.gt_absent: list[Any] = []  # segments_info ids with no pixel (false negatives unless crowd)
        # per image: id, TP, FP, FN, ignored predictions, has a prediction
        self._img_id = array("q")
        self._img_counts = array("q")  # 4 per image
        self._img_has_pred = array("b")
        # per segment outcome: image id, category id, outcome code, IoU (NaN unless TP)
        self._seg_img = array("q")
        self._seg_cat = array("q")
        self._seg_outcome = array("b")
        self._seg_iou = array("d")

    def config(self) -> dict[str, Any]:
        return {"categories": self.categories}

    # ---- per image

    def _category_index(self, category_ids: np.ndarray, frame: PanopticFrame, what: str) -> np.ndarray:
        pos = np.searchsorted(self._sorted_ids, category_ids)
        pos = np.minimum(pos, len(self._sorted_ids) - 1)
        ok = self._sorted_ids[pos] == category_ids
        if not ok.all():
            bad = category_ids[~ok]
            raise InputError(f"{what} segment category_id {_id_list(np.unique(bad))} not in the ground truth categories", file=frame.source, record=frame.record)
        return self._order[pos]

    def update(self, gt: PanopticFrame, pred: PanopticFrame | None) -> None:
        _check_segments(gt, "ground truth")
        n_gt = len(gt.segment_ids)
        gt_k = self._category_index(gt.category_ids, gt, "ground truth")
        gt_crowd = gt.iscrowd if gt.iscrowd is not None else np.zeros(n_gt, dtype=bool)
        image_id = gt.image_id if gt.image_id is not None else self.n_images

        if pred is None:
            self._update_missing(image_id, gt, gt_k, gt_crowd)
            return

        _check_segments(pred, "prediction")
        pred_shape, gt_shape = _shape_of(pred), _shape_of(gt)
        if pred_shape != gt_shape:
            raise InputError(
                f"PNG size {pred_shape[0]}x{pred_shape[1]} differs from the ground truth's {gt_shape[0]}x{gt_shape[1]}"
                + (f" ({gt.source})" if gt.source else ""),
                file=pred.source, record=pred.record or gt.record)
        n_pred = len(pred.segment_ids)
        pred_k = self._category_index(pred.category_ids, pred, "prediction")

        cols = n_pred + 2
        table = _table_of(gt, pred, n_gt, cols)
        if _native is not None and self._match_in_c(image_id, table, gt_k, gt_crowd, gt, pred_k):
            return
        self._match_numpy(image_id, table, gt_k, gt_crowd, gt, pred, pred_k)

    def _update_missing(self, image_id: Any, gt: PanopticFrame, gt_k: np.ndarray, gt_crowd: np.ndarray) -> None:
        """An image the prediction lacks: every non-crowd GT segment is a false negative."""
        n_gt = len(gt.segment_ids)
        gi = _dense_of(gt, index_dtype(n_gt + 2))
        counts = np.bincount(gi.ravel(), minlength=n_gt + 2)
        self._note_gt_ids(image_id, bool(counts[_UNKNOWN]), bool(n_gt and not counts[2:].all()))
        fn_mask = ~gt_crowd
        self._add(image_id, gt_k, gt.category_ids, np.empty(0, dtype=np.int64), np.empty(0), fn_mask,
                  np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.zeros(0, dtype=bool), np.zeros(0, dtype=bool), has_pred=False)
        self.missing.append(image_id)

    def _match_numpy(self, image_id: Any, table: np.ndarray, gt_k: np.ndarray, gt_crowd: np.ndarray, gt: PanopticFrame,
                     pred: PanopticFrame, pred_k: np.ndarray) -> None:
        """panopticapi's matching and bookkeeping on one image's pixel table (where
        ``_match_in_c`` is unavailable or leaves an input problem to be named)."""
        n_gt, n_pred = len(gt.segment_ids), len(pred.segment_ids)
        # ids in a PNG that segments_info lacks, and the converse
        # (panopticapi stops on both for the prediction; for the ground truth
        # it skips unlisted ids in matching and scores absent ones from their
        # JSON area, so they are scored the same here, with a warning)
        if table[:, _UNKNOWN].any():
            raise _unknown_ids_error(pred, "prediction")
        gt_pixels = table[2:].sum(axis=1)
        self._note_gt_ids(image_id, bool(table[_UNKNOWN].any()), bool(n_gt and not gt_pixels.all()))
        pred_area = table[:, 2:].sum(axis=0)
        if n_pred and not pred_area.all():
            raise _absent_ids_error(pred, pred_area == 0, "prediction")

        inter = table[2:, 2:]  # n_gt x n_pred intersections
        void_overlap = table[_VOID, 2:]  # predicted pixels on GT void
        gt_area = gt.areas if gt.areas is not None else gt_pixels.astype(np.float64)

        # matching: same category, GT not crowd, overlapping; IoU > 0.5
        candidate = (gt.category_ids[:, None] == pred.category_ids[None, :]) & (inter > 0)
        candidate &= ~gt_crowd[:, None]
        g_idx, p_idx = np.nonzero(candidate)
        i_vals = inter[g_idx, p_idx]
        union = pred_area[p_idx] + gt_area[g_idx] - i_vals - void_overlap[p_idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = i_vals / union
        hit = iou > 0.5
        g_idx, p_idx, iou = g_idx[hit], p_idx[hit], iou[hit]
        gt_matched = np.zeros(n_gt, dtype=bool)
        gt_matched[g_idx] = True
        pred_matched = np.zeros(n_pred, dtype=bool)
        pred_matched[p_idx] = True

        fn_mask = ~gt_matched & ~gt_crowd

        # unmatched predictions: ignored when > half lies on void + the
        # category's crowd region (panopticapi keeps the last crowd segment
        # listed per category)
        covered = void_overlap.astype(np.int64)
        if gt_crowd.any():
            crowd_of: dict[int, int] = {}
            for g in np.flatnonzero(gt_crowd):
                crowd_of[int(gt.category_ids[g])] = int(g)
            for cat, g in crowd_of.items():
                same = pred.category_ids == cat
                covered[same] += inter[g, same]
        unmatched = ~pred_matched
        with np.errstate(divide="ignore", invalid="ignore"):
            ignored = unmatched & (covered / pred_area > 0.5)
        fp_mask = unmatched & ~ignored

        self._add(image_id, gt_k, gt.category_ids, g_idx, iou, fn_mask, pred_k, pred.category_ids, fp_mask, ignored, has_pred=True)

    def _match_in_c(self, image_id: Any, table: np.ndarray, gt_k: np.ndarray, gt_crowd: np.ndarray, gt: PanopticFrame, pred_k: np.ndarray) -> bool:
        """The matching and bookkeeping below, in one C call with the same
        float operations in the same order; False (nothing changed) when an
        input problem needs the numpy path to name it."""
        areas = gt.areas if gt.areas is not None else table[2:].sum(axis=1).astype(np.float64)
        record_id = int(image_id) if isinstance(image_id, (int, np.integer)) else self.n_images
        out = _native.panoptic_match(
            np.ascontiguousarray(table, dtype=np.int64), np.ascontiguousarray(gt_k, dtype=np.int64),
            np.ascontiguousarray(gt_crowd, dtype=np.uint8), np.ascontiguousarray(areas, dtype=np.float64),
            np.ascontiguousarray(pred_k, dtype=np.int64), self._ids, record_id, self.tp, self.fp, self.fn, self.iou)
        if not isinstance(out, tuple):
            return False
        unlisted, absent, n_tp, n_fp, n_fn, n_ign, seg_img, seg_cat, seg_outcome, seg_iou = out
        self._note_gt_ids(image_id, bool(unlisted), bool(absent))
        self.n_images += 1
        self._img_id.append(record_id)
        self._img_counts.extend((n_tp, n_fp, n_fn, n_ign))
        self._img_has_pred.append(1)
        self._seg_img.frombytes(seg_img)
        self._seg_cat.frombytes(seg_cat)
        self._seg_outcome.frombytes(seg_outcome)
        self._seg_iou.frombytes(seg_iou)
        return True

    def _note_gt_ids(self, image_id: Any, unlisted: bool, absent: bool) -> None:
        if unlisted:
            self.gt_unlisted.append(image_id)
        if absent:
            self.gt_absent.append(image_id)

    def _add(
        self,
        image_id: Any,
        gt_k: np.ndarray,  # GT segments' category positions
        gt_cats: np.ndarray,  # GT segments' category ids
        tp_gt: np.ndarray,  # GT segment of each TP pair
        tp_iou: np.ndarray,  # IoU of each TP pair
        fn_mask: np.ndarray,  # per GT segment
        pred_k: np.ndarray,
        pred_cats: np.ndarray,
        fp_mask: np.ndarray,  # per predicted segment
        ignored: np.ndarray,  # per predicted segment
        *,
        has_pred: bool,
    ) -> None:
        k = len(self.categories)
        tp_k = gt_k[tp_gt]
        if tp_k.size:
            self.tp += np.bincount(tp_k, minlength=k)
            self.iou += np.bincount(tp_k, weights=tp_iou, minlength=k)
        fn_k = gt_k[fn_mask]
        if fn_k.size:
            self.fn += np.bincount(fn_k, minlength=k)
        fp_k = pred_k[fp_mask]
        if fp_k.size:
            self.fp += np.bincount(fp_k, minlength=k)
        n_tp, n_fn, n_fp, n_ign = int(tp_k.size), int(fn_k.size), int(fp_k.size), int(np.count_nonzero(ignored))
        self.n_images += 1

        self._img_id.append(int(image_id) if isinstance(image_id, (int, np.integer)) else self.n_images - 1)
        self._img_counts.extend((n_tp, n_fp, n_fn, n_ign))
        self._img_has_pred.append(1 if has_pred else 0)
        n = n_tp + n_fp + n_fn + n_ign
        if n:
            cats = np.concatenate([gt_cats[tp_gt], pred_cats[fp_mask], gt_cats[fn_mask], pred_cats[ignored]]).astype(np.int64)
            outcome = np.repeat(np.array([TP, FP, FN, IGNORED], dtype=np.int8), [n_tp, n_fp, n_fn, n_ign])
            ious = np.full(n, np.nan)
            ious[:n_tp] = tp_iou
            self._seg_img.frombytes(np.full(n, self._img_id[-1], dtype=np.int64).tobytes())
            self._seg_cat.frombytes(cats.tobytes())
            self._seg_outcome.frombytes(outcome.tobytes())
            self._seg_iou.frombytes(ious.tobytes())

    # ---- shards

    def merge(self, other: PanopticEvaluator) -> PanopticEvaluator:
        if [c.id for c in other.categories] != [c.id for c in self.categories]:
            raise ValueError("cannot merge panoptic evaluators over different categories")
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self._add_iou_per_image(other)
        self.n_images += other.n_images
        self.missing.extend(other.missing)
        self.gt_unlisted.extend(other.gt_unlisted)
        self.gt_absent.extend(other.gt_absent)
        self._img_id.extend(other._img_id)
        self._img_counts.extend(other._img_counts)
        self._img_has_pred.extend(other._img_has_pred)
        self._seg_img.extend(other._seg_img)
        self._seg_cat.extend(other._seg_cat)
        self._seg_outcome.extend(other._seg_outcome)
        self._seg_iou.extend(other._seg_iou)
        return self

    def _add_iou_per_image(self, other: PanopticEvaluator) -> None:
        """Add ``other``'s IoU sums image by image, as ``update`` did: float
        addition is not associative, and this keeps any sharding (pool, Ray,
        shard files) bit-identical to one process."""
        counts = np.frombuffer(other._img_counts, dtype=np.int64).reshape(-1, 4)
        if not counts[:, 0].any():
            return
        seg_cat = np.frombuffer(other._seg_cat, dtype=np.int64)
        seg_iou = np.frombuffer(other._seg_iou, dtype=np.float64)
        k = len(self.categories)
        starts = np.concatenate([[0], np.cumsum(counts.sum(axis=1))[:-1]])
        for start, n_tp in zip(starts.tolist(), counts[:, 0].tolist()):
            if n_tp:
                pos = self._order[np.searchsorted(self._sorted_ids, seg_cat[start:start + n_tp])]
                self.iou += np.bincount(pos, weights=seg_iou[start:start + n_tp], minlength=k)

    # ---- results

    def records(self) -> dict[str, dict[str, np.ndarray]]:
        """Per-image counts and per-segment outcomes, as numpy columns.

        ``images``: image_id, tp, fp, fn, ignored, has_prediction.
        ``segments``: image_id, category_id, outcome (0 TP, 1 FP, 2 FN,
        3 ignored prediction; see ``OUTCOMES``), iou (NaN unless TP).
        Enough to recompute PQ on any subset of images (bootstrap).
        """
        counts = np.frombuffer(self._img_counts, dtype=np.int64).reshape(-1, 4) if len(self._img_counts) else np.zeros((0, 4), np.int64)
        return {
            "images": {
                "image_id": np.array(self._img_id, dtype=np.int64),
                "tp": counts[:, 0].copy(),
                "fp": counts[:, 1].copy(),
                "fn": counts[:, 2].copy(),
                "ignored": counts[:, 3].copy(),
                "has_prediction": np.array(self._img_has_pred, dtype=bool),
            },
            "segments": {
                "image_id": np.array(self._seg_img, dtype=np.int64),
                "category_id": np.array(self._seg_cat, dtype=np.int64),
                "outcome": np.array(self._seg_outcome, dtype=np.int8),
                "iou": np.array(self._seg_iou, dtype=np.float64),
            },
        }

    def compute(self) -> EvalResult:
        counts = [self.tp.astype(np.float64), self.fp.astype(np.float64), self.fn.astype(np.float64), self.iou]
        isthing = np.asarray([c.isthing for c in self.categories], dtype=bool)
        metrics = point(panoptic_metrics(np.concatenate(counts)[None], isthing), METRICS)
        pq, sq, rq, used = category_scores(*counts)
        per_class: dict[str, dict[str, Any]] = {}
        names_seen: dict[str, int] = {}
        for k, cat in enumerate(self.categories):
            if not used[k]:
                continue
            name = cat.name
            if name in names_seen:
                name = f"{cat.name} (id {cat.id})"
            names_seen[name] = cat.id
            per_class[name] = {"PQ": 100 * float(pq[k]), "SQ": 100 * float(sq[k]), "RQ": 100 * float(rq[k]),
                               "TP": int(self.tp[k]), "FP": int(self.fp[k]), "FN": int(self.fn[k]), "isthing": cat.isthing}
        warnings = []
        if self.missing:
            n = len(self.missing)
            head = f"{n} image has" if n == 1 else f"{n} images have"
            shown = ", ".join(str(i) for i in self.missing[:5]) + (", ..." if n > 5 else "")
            warnings.append(f"{head} no prediction: counted as all false negatives (image id {shown})")
        for ids, what in ((self.gt_unlisted, "a PNG segment id that segments_info lacks: its pixels are neither void nor matched, as panopticapi scores them"),
                          (self.gt_absent, "a segments_info id with no pixel in the PNG: a false negative unless crowd, as panopticapi scores it")):
            if ids:
                shown = ", ".join(str(i) for i in ids[:5]) + (", ..." if len(ids) > 5 else "")
                warnings.append(f"ground truth: {len(ids)} image(s) hold {what} (image id {shown})")
        return EvalResult(
            task=self.task,
            metrics=metrics,
            n_samples=self.n_images,
            params={"protocol": PROTOCOL},
            warnings=warnings,
            breakdown_name="per_class",
            breakdown=per_class,
            records=self.records(),
        )


# --------------------------------------------------------------------------
# files -> result


@dataclass(frozen=True)
class PanopticJob:
    """One image to score: where its PNGs are and its segments (light, picklable)."""

    gt_png: Path
    gt: PanopticAnnotation
    pred_png: Path | None
    pred: PanopticAnnotation | None


def load_job(job: PanopticJob) -> tuple[PanopticFrame, PanopticFrame | None]:
    """Decode one job's PNGs (module-level, so a process pool can call it)."""
    gt = read_frame(job.gt_png, job.gt, ground_truth=True)
    if job.pred is None or job.pred_png is None:
        return gt, None
    shape = gt.shape
    pred = read_frame(job.pred_png, job.pred, ground_truth=False, expect=shape)  # header checked before decoding
    return gt, pred


def evaluate_panoptic(
    gt: str | Path,
    pred: str | Path,
    *,
    gt_dir: str | Path | None = None,
    pred_dir: str | Path | None = None,
    workers: int = 1,
    progress: bool = True,
    ignore_extra: bool | None = None,
) -> EvalResult:
    """PQ/SQ/RQ of a COCO panoptic prediction (JSON + PNG folder), as panopticapi.

    Both JSONs are validated and every PNG is checked to exist before any
    image is scored; PNG ids are checked against ``segments_info`` as each
    image is decoded. ``workers`` > 1 scores images in a process pool.
    Predictions for images the ground truth lacks are dropped, as panopticapi
    never reads them (with a warning unless ``ignore_extra``; an error with
    ``ignore_extra=False``).
    """
    gt_data = load_panoptic_gt(gt, gt_dir)
    pred_data = load_panoptic_pred(pred, gt_data, pred_dir, ignore_extra=ignore_extra)
    check_pngs_exist(gt_data)
    check_pngs_exist(pred_data)
    jobs = []
    for ann in gt_data.images:
        pred_ann = pred_data.by_image.get(ann.image_id)
        jobs.append(PanopticJob(
            gt_data.png_path(ann), ann,
            pred_data.png_path(pred_ann) if pred_ann is not None else None, pred_ann,
        ))
    evaluator = PanopticEvaluator(list(gt_data.categories.values()))
    run_sharded(evaluator, jobs, load_job, workers=workers, desc="panoptic", progress=progress)
    result = evaluator.compute()
    if pred_data.extra_ids and ignore_extra is None:
        ids = pred_data.extra_ids
        shown = ", ".join(str(i) for i in ids[:5]) + (", ..." if len(ids) > 5 else "")
        result.warnings.append(f"{len(ids)} prediction(s) for images the ground truth lacks ignored, as panopticapi ignores them (image id {shown})")
    if pred_data.repeats:
        shown = "; ".join(pred_data.repeats[:3]) + ("; ..." if len(pred_data.repeats) > 3 else "")
        result.warnings.append(f"{len(pred_data.repeats)} record(s) of the prediction listed twice identically, scored once as panopticapi keeps one ({shown})")
    return result
