"""COCOeval's per-image match state, and a numpy accumulate that reproduces COCOeval's.

The instance engine (hotcoco) matches detections to ground truth image by
image; its per-image results (``evalImgs``) are all that COCOeval's
``accumulate`` reads. Kept as columnar arrays, they are mergeable: shards of
images can be scored on different machines and folded on a driver, and a
report can re-accumulate them under bootstrap weights. ``accumulate`` and
``summarize`` follow pycocotools' code operation for operation (mergesort by
score, ``np.spacing(1)`` in the precision, right-to-left envelope, left
``searchsorted`` on the 101 recall points, means over ``> -1``), so the
numbers are the engine's to the last bit.

State layout (one row per (image, category) pair that has ground truth or a
detection, in image order, then category order):

- ``pair_image``, ``pair_category`` (int64), ``pair_dets`` (int32: the pair's
  detections kept, at most 100, in descending score as COCOeval orders them),
  ``pair_gt`` (int32, pairs x 4: ground truth that is not ignored, per area
  range all/small/medium/large);
- per detection: ``score`` (float64), ``tp`` and ``ignored`` (uint16, dets x 4:
  bit t set = true positive / ignored at IoU threshold t, per area range).
  A detection neither tp nor ignored is a false positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Sequence

import numpy as np

from psalm_bench.evaluators.base import Evaluator

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = ((0.0, 1e5 ** 2), (0.0, 32.0 ** 2), (32.0 ** 2, 96.0 ** 2), (96.0 ** 2, 1e5 ** 2))
AREA_LABELS = ("all", "small", "medium", "large")
MAX_DETS = (1, 10, 100)
N_T, N_A = len(IOU_THRESHOLDS), len(AREA_RANGES)


@dataclass
class InstanceState:
    """Per-image match state of a set of images (see the module docstring)."""

    pair_image: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pair_category: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pair_dets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    pair_gt: np.ndarray = field(default_factory=lambda: np.zeros((0, N_A), np.int32))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    tp: np.ndarray = field(default_factory=lambda: np.zeros((0, N_A), np.uint16))
    ignored: np.ndarray = field(default_factory=lambda: np.zeros((0, N_A), np.uint16))

    @staticmethod
    def concat(states: Sequence["InstanceState"]) -> "InstanceState":
        """The states of consecutive image sets, as one (order kept)."""
        if len(states) == 1:
            return states[0]
        if not states:
            return InstanceState()
        return InstanceState(*(np.concatenate([getattr(s, name) for s in states]) for name in _FIELDS))

    def det_pair(self) -> np.ndarray:
        """Row of each detection's pair."""
        return np.repeat(np.arange(len(self.pair_dets)), self.pair_dets)

    def det_rank(self) -> np.ndarray:
        """Each detection's place in its pair's score order (0 = highest)."""
        starts = np.cumsum(self.pair_dets) - self.pair_dets
        return np.arange(int(self.pair_dets.sum())) - np.repeat(starts, self.pair_dets)


_FIELDS = ("pair_image", "pair_category", "pair_dets", "pair_gt", "score", "tp", "ignored")


def from_eval_imgs(eval_imgs: Sequence[dict[str, Any] | None], area_ranges: Sequence[Sequence[float]], image_order: Sequence[int], cat_order: Sequence[int]) -> InstanceState:
    """Columnar state from COCOeval's ``evalImgs`` (pycocotools' or hotcoco's dicts).

    Every list is flattened once and converted by numpy in one call: the
    entries are many and small, so per-entry array building would dominate."""
    area_index = {tuple(float(v) for v in rng): a for a, rng in enumerate(area_ranges)}
    if len(area_index) != N_A:
        raise ValueError(f"expected {N_A} area ranges, got {list(area_ranges)}")
    img_pos = {int(i): n for n, i in enumerate(image_order)}
    cat_pos = {int(c): n for n, c in enumerate(cat_order)}
    keyed = []
    for entry in eval_imgs:
        if entry is not None:
            a = area_index[tuple(float(v) for v in entry["aRng"])]
            keyed.append(((img_pos[int(entry["image_id"])], cat_pos[int(entry["category_id"])], a), entry))
    keyed.sort(key=lambda item: item[0])
    entries = [e for _, e in keyed]
    if len(entries) % N_A or any(keyed[i][0][2] != i % N_A for i in range(len(keyed))):
        raise ValueError("evalImgs does not hold every area range of each (image, category)")
    firsts = entries[::N_A]
    n_pairs = len(firsts)
    pair_dets = np.fromiter((len(e["dtScores"]) for e in firsts), dtype=np.int32, count=n_pairs)
    n_det = int(pair_dets.sum())
    score = np.fromiter(chain.from_iterable(e["dtScores"] for e in firsts), dtype=np.float64, count=n_det)
    gt_len = np.fromiter((len(e["gtIgnore"]) for e in entries), dtype=np.int64, count=len(entries))
    gt_ignore = np.fromiter(chain.from_iterable(e["gtIgnore"] for e in entries), dtype=bool, count=int(gt_len.sum()))
    entry_of_gt = np.repeat(np.arange(len(entries)), gt_len)
    pair_gt = np.bincount(entry_of_gt[~gt_ignore], minlength=len(entries)).astype(np.int32).reshape(n_pairs, N_A)
    # element (entry j, threshold t, detection i) -> flat cell (det offset of j's pair + i) * N_A + area of j
    n_entry = np.repeat(pair_dets.astype(np.int64), N_A)
    size = N_T * n_entry
    total = int(size.sum())
    matches = np.fromiter(chain.from_iterable(chain.from_iterable(e["dtMatches"] for e in entries)), dtype=np.float64, count=total)
    ignore = np.fromiter(chain.from_iterable(chain.from_iterable(e["dtIgnore"] for e in entries)), dtype=bool, count=total)
    det_start = np.repeat(np.cumsum(pair_dets) - pair_dets, N_A).astype(np.int64)
    within = np.arange(total) - np.repeat(np.cumsum(size) - size, size)
    n_rep = np.repeat(n_entry, size)
    t = within // np.maximum(n_rep, 1)
    det = np.repeat(det_start, size) + within % np.maximum(n_rep, 1)
    cell = det * N_A + np.repeat(np.tile(np.arange(N_A), n_pairs), size)
    bit = (1 << t).astype(np.float64)
    tp = np.bincount(cell, weights=bit * ((matches != 0) & ~ignore), minlength=n_det * N_A)
    ign = np.bincount(cell, weights=bit * ignore, minlength=n_det * N_A)
    return InstanceState(
        np.asarray([int(image_order[k[0]]) for k, _ in keyed[::N_A]], dtype=np.int64),
        np.asarray([int(cat_order[k[1]]) for k, _ in keyed[::N_A]], dtype=np.int64),
        pair_dets,
        pair_gt,
        score,
        tp.astype(np.uint16).reshape(n_det, N_A),
        ign.astype(np.uint16).reshape(n_det, N_A),
    )


def state_from_engine(engine: Any) -> InstanceState:
    """The match state of an evaluated hotcoco/pycocotools COCOeval."""
    params = engine.params
    images = sorted(int(i) for i in getattr(params, "img_ids", None) or params.imgIds)
    cats = [int(c) for c in (getattr(params, "cat_ids", None) or params.catIds)]
    ranges = getattr(params, "area_rng", None) or params.areaRng
    return from_eval_imgs(engine.eval_imgs if hasattr(engine, "eval_imgs") else engine.evalImgs, ranges, images, cats)


def engine_state(coco_gt: Any, coco_dt: Any, iou_type: str, images: Sequence[int], *, chunk: int = 200, progress: bool = False) -> InstanceState:
    """The match state of ``images``, matched by the engine ``chunk`` images at a time:
    its per-image export builds Python dicts (GBs for all of COCO at once), so
    memory stays that of one chunk."""
    from psalm_bench.progress import tqdm

    from psalm_bench.evaluators.instance import hotcoco_eval

    states = []
    for start in tqdm(range(0, len(images), chunk), desc="instance records", unit="chunk", disable=not progress, leave=False):
        engine = hotcoco_eval(coco_gt, coco_dt, iou_type)
        engine.params.img_ids = [int(i) for i in images[start:start + chunk]]
        engine.evaluate()
        states.append(state_from_engine(engine))
    return InstanceState.concat(states)


@dataclass
class Accumulated:
    """COCOeval.eval's ``precision`` (T x R x K x A x M) and ``recall`` (T x K x A x M)."""

    precision: np.ndarray
    recall: np.ndarray
    cat_ids: list[int]


def accumulate(state: InstanceState, cat_ids: Sequence[int]) -> Accumulated:
    """COCOeval.accumulate on the state, over ``cat_ids`` (the ground truth's, sorted)."""
    T, R, K, A, M = N_T, len(RECALL_THRESHOLDS), len(cat_ids), N_A, len(MAX_DETS)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    rank = state.det_rank()
    shifts = np.arange(T, dtype=np.uint16)[:, None]
    by_cat = _rows_by_category(state.pair_category)
    for k, cat in enumerate(cat_ids):
        rows = by_cat.get(int(cat))
        if rows is None:
            continue  # no evalImgs entry for this category: stays -1
        dets = _dets_of_rows(state, rows)
        for m, max_det in enumerate(MAX_DETS):
            kept = dets[rank[dets] < max_det]
            scores = state.score[kept]
            order = np.argsort(-scores, kind="mergesort")
            kept = kept[order]
            for a in range(A):
                npig = int(state.pair_gt[rows, a].sum())
                if npig == 0:
                    continue
                tps = ((state.tp[kept, a][None, :] >> shifts) & 1).astype(bool)
                igs = ((state.ignored[kept, a][None, :] >> shifts) & 1).astype(bool)
                fps = ~tps & ~igs
                tp_sum = np.cumsum(tps, axis=1).astype(dtype=float)
                fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
                nd = tp_sum.shape[1]
                for t in range(T):
                    tp, fp = tp_sum[t], fp_sum[t]
                    rc = tp / npig
                    pr = tp / (fp + tp + np.spacing(1))
                    recall[t, k, a, m] = rc[-1] if nd else 0
                    q = np.zeros((R,))
                    if nd:
                        pr = np.maximum.accumulate(pr[::-1])[::-1]
                        inds = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
                        ok = inds < nd
                        q[ok] = pr[inds[ok]]
                    precision[t, :, k, a, m] = q
    return Accumulated(precision, recall, [int(c) for c in cat_ids])


def _rows_by_category(pair_category: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(pair_category, kind="stable")
    cats, starts = np.unique(pair_category[order], return_index=True)
    bounds = list(starts) + [len(order)]
    return {int(c): order[bounds[i]:bounds[i + 1]] for i, c in enumerate(cats)}


def _dets_of_rows(state: InstanceState, rows: np.ndarray) -> np.ndarray:
    """Detection indices of ``rows`` (in row order; each row's in score order)."""
    starts = (np.cumsum(state.pair_dets) - state.pair_dets)[rows]
    counts = state.pair_dets[rows]
    if not counts.sum():
        return np.zeros(0, np.int64)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offsets


def summarize(acc: Accumulated) -> list[float]:
    """COCOeval.summarize's 12 stats (-1 where a statistic has no ground truth)."""

    def one(ap: int, iou: float | None = None, area: str = "all", max_dets: int = 100) -> float:
        aind = [i for i, label in enumerate(AREA_LABELS) if label == area]
        mind = [i for i, m in enumerate(MAX_DETS) if m == max_dets]
        if ap == 1:
            s = acc.precision
            if iou is not None:
                s = s[np.where(iou == IOU_THRESHOLDS)[0]]
            s = s[:, :, :, aind, mind]
        else:
            s = acc.recall
            if iou is not None:
                s = s[np.where(iou == IOU_THRESHOLDS)[0]]
            s = s[:, :, aind, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    return [
        one(1), one(1, iou=0.5), one(1, iou=0.75),
        one(1, area="small"), one(1, area="medium"), one(1, area="large"),
        one(0, max_dets=1), one(0, max_dets=10), one(0),
        one(0, area="small"), one(0, area="medium"), one(0, area="large"),
    ]


# ---- the evaluator that shards, pools and Ray run


@dataclass
class ImageMatcher:
    """``run_sharded``'s loader: image id -> (image id, that image's match state).

    Each process loads the engine's inputs once (validated as one process
    validates them) and matches image by image; the loaded engine is scratch,
    never pickled to another process or written to a shard file.
    """

    gt: str
    pred: str
    iou_type: str
    _inputs: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"gt": self.gt, "pred": self.pred, "iou_type": self.iou_type, "_inputs": None}

    def __call__(self, image_id: int) -> tuple[int, InstanceState]:
        from psalm_bench.evaluators.instance import engine_inputs, hotcoco_eval
        from psalm_bench.formats.coco import load_instances

        if self._inputs is None:
            ground_truth = load_instances(self.gt, check_boxes=self.iou_type == "bbox")
            self._inputs = engine_inputs(self.gt, self.pred, self.iou_type, ground_truth)
        engine = hotcoco_eval(*self._inputs, self.iou_type)
        engine.params.img_ids = [int(image_id)]
        engine.evaluate()
        return int(image_id), state_from_engine(engine)


class InstanceStateEvaluator(Evaluator[int, InstanceState]):
    """COCO AP from per-image match states: update per image, merge shards, accumulate once.

    ``compute`` gives the result ``evaluate_instance`` gives in one process
    (same JSON bytes): the state is the engine's own matching and the numpy
    accumulate is the engine's arithmetic.
    """

    task = "instance"

    def __init__(self, categories: dict[int, Any], iou_type: str = "segm"):
        self.categories = dict(categories)
        self.iou_type = iou_type
        self.n_images = 0
        self.blocks: list[InstanceState] = []

    def config(self) -> dict[str, Any]:
        return {"categories": self.categories, "iou_type": self.iou_type}

    def update(self, gt: int, pred: InstanceState) -> None:
        self.n_images += 1
        self.blocks.append(pred)

    def merge(self, other: "InstanceStateEvaluator") -> "InstanceStateEvaluator":
        self.n_images += other.n_images
        self.blocks.extend(other.blocks)
        return self

    def state(self) -> InstanceState:
        """All images' match state, as one (blocks folded in order)."""
        if len(self.blocks) != 1:
            self.blocks = [InstanceState.concat(self.blocks)]
        return self.blocks[0]

    def state_dict(self) -> dict[str, Any]:
        return {"categories": self.categories, "iou_type": self.iou_type, "n_images": self.n_images, "blocks": [self.state()]}

    def compute(self) -> Any:
        from psalm_bench.evaluators.instance import instance_result

        cat_ids = sorted(self.categories)
        acc = accumulate(self.state(), cat_ids)
        return instance_result(summarize(acc), acc.precision, acc.recall, cat_ids, IOU_THRESHOLDS,
                               self.categories, self.iou_type, self.n_images)


# ---- per-image records in the result JSON, and the bootstrap over images


def state_records(state: InstanceState, images: Sequence[int]) -> dict[str, Any]:
    """The result's ``records``: every image (the sampling unit) and the match state, as columns."""
    return {
        "images": np.asarray(images, dtype=np.int64),
        "pairs": {"image_id": state.pair_image, "category_id": state.pair_category, "n_dets": state.pair_dets, "n_gt": state.pair_gt},
        "dets": {"score": finite_scores(state.score), "tp": state.tp, "ignored": state.ignored},
    }


def finite_scores(score: np.ndarray) -> np.ndarray:
    """Scores JSON can hold, in the same order and ties: COCOeval only ranks scores, and
    accepts ``1e999`` (+inf) as the highest, but JSON would write it as null. +inf
    becomes the next float above every finite score, -inf the next below."""
    score = np.asarray(score, dtype=np.float64)
    if np.isfinite(score).all():
        return score
    finite, big = score[np.isfinite(score)], np.finfo(np.float64).max
    if not finite.size:
        return np.where(score > 0, 1.0, -1.0)
    if -big < finite.min() and finite.max() < big:
        hi, lo = np.nextafter(finite.max(), np.inf), np.nextafter(finite.min(), -np.inf)
        return np.where(score == np.inf, hi, np.where(score == -np.inf, lo, score))
    return np.unique(score, return_inverse=True)[1].reshape(-1).astype(np.float64)  # ranks: order and ties kept


def state_from_records(records: Any) -> tuple[list[int], InstanceState]:
    """(images, state) back from ``state_records``' JSON; ValueError/KeyError/TypeError when malformed."""
    pairs, dets = records["pairs"], records["dets"]
    state = InstanceState(
        np.asarray(pairs["image_id"], dtype=np.int64).reshape(-1),
        np.asarray(pairs["category_id"], dtype=np.int64).reshape(-1),
        np.asarray(pairs["n_dets"], dtype=np.int32).reshape(-1),
        np.asarray(pairs["n_gt"], dtype=np.int32).reshape(-1, N_A),
        np.asarray(dets["score"], dtype=np.float64).reshape(-1),
        np.asarray(dets["tp"], dtype=np.uint16).reshape(-1, N_A),
        np.asarray(dets["ignored"], dtype=np.uint16).reshape(-1, N_A),
    )
    n_pairs, n_dets = len(state.pair_image), len(state.score)
    if not (len(state.pair_category) == len(state.pair_dets) == len(state.pair_gt) == n_pairs):
        raise ValueError("pair columns differ in length")
    if int(state.pair_dets.sum()) != n_dets or len(state.tp) != n_dets or len(state.ignored) != n_dets:
        raise ValueError("detection columns do not add up to the pairs' n_dets")
    if (state.pair_dets < 0).any() or (state.pair_dets > MAX_DETS[-1]).any() or (state.pair_gt < 0).any():
        raise ValueError("negative or too many counts")
    if (state.tp & state.ignored).any() or (state.tp >> N_T).any() or (state.ignored >> N_T).any():
        raise ValueError("tp/ignored flags out of range")
    return [int(i) for i in np.asarray(records["images"], dtype=np.int64).reshape(-1)], state


def bootstrap_stats(state: InstanceState, images: Sequence[int], W: np.ndarray, *, max_cells: int = 1 << 24) -> dict[str, np.ndarray]:
    """The 12 COCO stats (percent) under image weights ``W`` (resamples x images; a row of
    ones gives the point values to ~1e-12), NaN where a stat has no ground truth.

    An image drawn c times counts as c copies of its detections and ground
    truth. Vectorised over resamples: per category and area range, the
    detections are in one score order (COCOeval's mergesort), and the
    precision of the PR curve is needed only at true positives, where it is
    TP / (non-ignored so far). The non-ignored running sum is that of the
    detections not ignored at the highest threshold plus signed corrections
    (detections whose ignore flag differs at threshold t: matched ones only),
    so a resample costs O(detections), not O(detections x thresholds). The
    mean precision over the 101 recall points is a sum over true positives
    of the envelope times the recall points each one reaches first.
    Resamples go in chunks of at most ``max_cells`` weights x detections.
    """
    W = np.asarray(W, dtype=np.float64)
    pos = {int(i): n for n, i in enumerate(images)}
    unit_of_pair = np.asarray([pos[int(i)] for i in state.pair_image], dtype=np.int64)
    prepared = _prepare(state, unit_of_pair)
    widest = max((len(p[2]) for p in prepared), default=1)
    step = max(1, max_cells // max(1, widest))
    parts = [_bootstrap_rows(state, prepared, W[i:i + step]) for i in range(0, W.shape[0], step)] or [_bootstrap_rows(state, prepared, W)]
    return {name: np.concatenate([p[name] for p in parts]) for name in STAT_NAMES}


Prepared = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _prepare(state: InstanceState, unit_of_pair: np.ndarray) -> list[Prepared]:
    """Per category: its pairs' units and GT counts; its detections in COCOeval's
    score order, and their units."""
    out = []
    det_unit = unit_of_pair[state.det_pair()]
    for _, rows in sorted(_rows_by_category(state.pair_category).items()):
        dets = _dets_of_rows(state, rows)
        dets = dets[np.argsort(-state.score[dets], kind="mergesort")]
        out.append((unit_of_pair[rows], state.pair_gt[rows].astype(np.float64), dets, det_unit[dets]))
    return out


_POPCOUNT = np.asarray([bin(i).count("1") for i in range(1 << N_T)], dtype=np.float32)


def _bootstrap_rows(state: InstanceState, prepared: list[Prepared], W: np.ndarray) -> dict[str, np.ndarray]:
    R, K = W.shape[0], len(prepared)
    if K == 0:
        return {name: np.full(R, np.nan) for name in STAT_NAMES}
    rank = state.det_rank()
    ap = np.full((N_A, K, R), np.nan)  # mean precision over (t, recall points); NaN: no ground truth
    ap_t = {t: np.full((K, R), np.nan) for t in (0, 5)}  # AP50, AP75 (area all)
    ar = np.full((N_A, K, R), np.nan)  # mean recall over t, maxDets 100
    ar_m = {m: np.full((K, R), np.nan) for m in MAX_DETS[:2]}  # AR1, AR10 (area all)
    # detections x resamples, so that gathering detections copies contiguous rows;
    # resamples in float32 (counts are exact in its sums below 2**24; precision to
    # ~1e-7), a single row (the point values) in float64
    dt = np.float64 if R == 1 else np.float32
    WT = np.ascontiguousarray(W.T, dtype=dt)
    for k, (gt_units, gt_counts, dets, units) in enumerate(prepared):
        npig = gt_counts.T @ WT[gt_units].astype(np.float64)  # A x R
        X = WT[units]
        for a in range(N_A):
            valid = npig[a] > 0
            if not valid.any():
                continue
            npig_a = np.where(valid, npig[a], 1.0)
            exact = bool(npig_a.max() * len(RECALL_THRESHOLDS) < 2 ** 24)  # float32 integer arithmetic is exact
            tp_bits = state.tp[dets, a]
            ig_bits = state.ignored[dets, a]
            base = ((ig_bits >> (N_T - 1)) & 1) == 0  # not ignored at the highest threshold
            base_idx = np.flatnonzero(base)
            anchors = np.flatnonzero(tp_bits)  # where any threshold has a true positive
            base_at = _prefix_at(X, base_idx, anchors)  # non-ignored (base) running sums there
            ap_sum = np.zeros(R)
            rec_sum = np.zeros(R)
            for t in range(N_T):
                p = np.flatnonzero((tp_bits >> t) & 1)
                if not p.size:
                    mean_q = np.zeros(R)
                    last = np.zeros(R)
                else:
                    ig = ((ig_bits >> t) & 1).astype(bool)
                    corr = np.flatnonzero(ig != ~base)  # ignore flag at t differs from the base's
                    tp_cum = _cumsum_rows(X[p])
                    ni = base_at[np.searchsorted(anchors, p)]
                    if corr.size:
                        sign = np.where(ig[corr], -1.0, 1.0).astype(dt)[:, None]
                        ni += _cum0(X[corr] * sign)[np.searchsorted(corr, p, side="right")]
                    pr = tp_cum / (ni + dt(np.spacing(1)))
                    _revmax_rows(pr)
                    reached = _thresholds_reached(tp_cum, npig_a, exact and dt is np.float32)
                    reached[1:] -= reached[:-1]  # the recall points each true positive reaches first (numpy buffers the overlap)
                    pr *= reached
                    mean_q = pr.sum(axis=0).astype(np.float64) / len(RECALL_THRESHOLDS)
                    last = tp_cum[-1] / npig_a
                ap_sum += mean_q
                rec_sum += last
                if a == 0 and t in ap_t:
                    ap_t[t][k] = np.where(valid, mean_q, np.nan)
            ap[a, k] = np.where(valid, ap_sum / N_T, np.nan)
            ar[a, k] = np.where(valid, rec_sum / N_T, np.nan)
            if a == 0:
                hits = _POPCOUNT[tp_bits]
                for m in ar_m:
                    total = np.where(rank[dets] < m, hits, 0.0).astype(dt) @ X
                    ar_m[m][k] = np.where(valid, total.astype(np.float64) / N_T / npig_a, np.nan)

    def mean(x: np.ndarray) -> np.ndarray:
        count = np.isfinite(x).sum(axis=0)
        return np.where(count > 0, 100.0 * np.nansum(x, axis=0) / np.maximum(count, 1), np.nan)

    return {
        "AP": mean(ap[0]), "AP50": mean(ap_t[0]), "AP75": mean(ap_t[5]),
        "APs": mean(ap[1]), "APm": mean(ap[2]), "APl": mean(ap[3]),
        "AR1": mean(ar_m[1]), "AR10": mean(ar_m[10]), "AR100": mean(ar[0]),
        "ARs": mean(ar[1]), "ARm": mean(ar[2]), "ARl": mean(ar[3]),
    }


STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _cum0(x: np.ndarray) -> np.ndarray:
    """Running sums along axis 0 with a leading zero row: out[j] = sum of the first j rows."""
    out = np.zeros((x.shape[0] + 1,) + x.shape[1:], dtype=x.dtype)
    out[1:] = x
    return _cumsum_rows(out)


def _cumsum_rows(a: np.ndarray) -> np.ndarray:
    """In-place running sum down the rows. A loop of whole-row adds: numpy's cumsum
    along axis 0 walks each column with a stride and is ~10x slower on wide rows."""
    for i in range(1, a.shape[0]):
        np.add(a[i - 1], a[i], out=a[i])
    return a


def _revmax_rows(a: np.ndarray) -> np.ndarray:
    """In-place running maximum up the rows (COCOeval's precision envelope)."""
    for i in range(a.shape[0] - 2, -1, -1):
        np.maximum(a[i + 1], a[i], out=a[i])
    return a


def _prefix_at(X: np.ndarray, rows: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """For each anchor position j, the sum of X[r] over ``rows`` r <= j (both sorted):
    segment sums as one sparse product (fast on wide rows), then a running sum."""
    import scipy.sparse as sp

    if not anchors.size:
        return np.zeros((0, X.shape[1]), dtype=X.dtype)
    segment = np.searchsorted(anchors, rows, side="left")  # first anchor at or after each row
    keep = segment < len(anchors)
    S = sp.csr_matrix((np.ones(int(keep.sum()), dtype=X.dtype), (segment[keep], rows[keep])), shape=(len(anchors), X.shape[0]))
    return _cumsum_rows(np.asarray(S @ X))


# recall point i (COCOeval's linspace value) lies at or below the double nearest i/100
_POINT_AT_OR_BELOW = np.asarray([RECALL_THRESHOLDS[i] <= i / 100 for i in range(len(RECALL_THRESHOLDS))])


def _thresholds_reached(tp: np.ndarray, npig: np.ndarray, exact32: bool) -> np.ndarray:
    """How many of the 101 recall points lie at or below recall tp / npig (COCOeval's
    searchsorted), from integer arithmetic: q = floor(100 tp / npig) points are below
    for sure; point q too unless 100 tp = q npig, where the linspace value decides."""
    dtype = np.float32 if exact32 else np.float64
    hundred = tp.astype(dtype, copy=True)
    hundred *= dtype(len(RECALL_THRESHOLDS) - 1)
    den = npig.astype(dtype, copy=False)
    q = np.floor(hundred / den)
    off_point = q * den != hundred
    off_point |= _POINT_AT_OR_BELOW[q.astype(np.intp)]  # q <= 100: true positives never exceed the ground truth
    q += off_point
    return q.astype(tp.dtype, copy=False)
