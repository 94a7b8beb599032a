"""Regression report between two result files, with paired bootstrap CIs.

``compare_results(baseline, current)`` pairs the per-sample records of two
result JSONs of the same task on the same ground truth, draws one
``resamples x n`` matrix of multinomial counts (fixed seed) and computes every
metric, for both runs with the SAME counts, as ``counts @ per-sample sums``:
ratio metrics (cIoU = sum I / sum U, semantic mIoU from the summed confusion,
panoptic PQ from summed per-category TP/FP/FN/IoU) are recomputed from the
resampled sums, never averaged per sample.

Every metric is computed by its evaluator module's one function from summed
records (``referring_metrics``, ``interactive_metrics``, ``vos_metrics``,
``semantic_metrics``, ``panoptic_metrics``, ``muse_metrics``, ``gcg_metrics``;
instance AP from ``instance_state.bootstrap_stats``), the same one its
``compute()`` calls; names, units and directions come from the task's
``MetricSpec``, record fields from ``psalm_bench.results.RECORDS``.

Sampling units (the ids that pair the two runs):

- refcoco, gref: sentence (``sent_id``)
- interactive: (``ann_id``, ``prompt``)
- vos: object (``sequence``, ``object``); J&F and its parts are per-object means
- semantic: image (``image``); panoptic: image (``image_id``)
- muse: item (``id``); gcg: image (``id``); GCG's AP is re-accumulated from
  each image's COCOeval matches per resample (repeated images keep their place
  in the ranking), its METEOR and CIDEr are corpus-level (METEOR's
  corpus score; CIDEr-D's IDF from the evaluated references): no CI, point
  values only, and the report says so
- instance, ov-instance: image (``images``), when both files carry records
  (``eval --records``); AP/AR re-accumulated from the per-image match state
- tasks without records: none; point values only

Decision rule (metric units, i.e. percent points; ``tol`` = tolerance): with
``gain = current - baseline`` for higher-is-better metrics and
``baseline - current`` for lower-is-better ones (J-decay, F-decay), and
``[lo, hi]`` the percentile bootstrap CI of ``gain`` at ``confidence``:

- ``regressed``    when ``hi < -tol`` (the whole CI is worse than -tol);
- ``improved``     when ``lo > +tol`` (the whole CI is better than +tol);
- ``within noise`` otherwise (with tol = 0: the CI contains 0);
- ``no records``   when the files carry no records for the metric (instance without --records)
  or a value is undefined (None); only the point values are compared.

``exit_code(report, fail_on)``: ``regression`` -> 1 if any metric is
``regressed``, or a ``no records`` metric's point value got worse by more than
``tol``; ``any`` -> 1 if any metric is ``improved`` or ``regressed``, or a
``no records`` point value moved by more than ``tol`` either way; ``never``
-> 0. The ``delta``/``ci_low``/``ci_high`` fields are ``current - baseline``
in the metric's own direction (not flipped).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from xml.etree import ElementTree as ET

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.formats.result_json import ResultFile, read_result
from psalm_bench.results import RECORDS
from psalm_bench.tables import MISSING, Col, Table
from psalm_bench.tables import render_markdown as _table_markdown
from psalm_bench.tables import render_text as _table_text

LABELS = ("improved", "regressed", "within noise", "no records")
FAIL_ON = ("regression", "any", "never")
# Each task's metric names, sampling unit, direction and corpus-level metrics come from its
# evaluator module's MetricSpec (psalm_bench.evaluators.metric_spec); a spec with a unit has a
# per-sample layout here (records -> summed columns -> the evaluator's metrics function).


def _spec(task: str):
    from psalm_bench.evaluators import metric_spec

    return metric_spec(task)


def _layout(task: str) -> list[str] | None:
    """The metrics a task with per-sample records must carry (None: no layout here)."""
    spec = _spec(task)
    return list(spec.metrics) if spec is not None and spec.unit is not None else None


def __getattr__(name: str) -> Any:
    if name == "LOWER_IS_BETTER":  # every task's lower-is-better metrics (the site's tables)
        from psalm_bench.specs import SPECS  # plain data: the site reads it without importing an evaluator

        return frozenset().union(*(spec.lower_is_better for spec in SPECS.values()))
    raise AttributeError(name)


# records must reproduce the JSON's metrics to this (percent points)
POINT_CHECK_TOL = 1e-6


# ---------------------------------------------------------------------------
# Report


@dataclass
class MetricComparison:
    name: str
    baseline: float | None
    current: float | None
    delta: float | None  # current - baseline
    ci_low: float | None  # CI of current - baseline
    ci_high: float | None
    label: str  # one of LABELS
    higher_is_better: bool = True
    note: str = ""  # why there is no CI (a corpus-level metric), shown instead of one


@dataclass
class Report:
    task: str
    baseline: str  # where it came from (a path, or "<dict>")
    current: str
    tolerance: float
    confidence: float
    resamples: int
    seed: int
    n_samples: int | None  # paired sampling units; None without records
    unit: str | None
    metrics: list[MetricComparison] = field(default_factory=list)

    def by_name(self, name: str) -> MetricComparison:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        return {label: sum(1 for m in self.metrics if m.label == label) for label in LABELS}


# ---------------------------------------------------------------------------
# Loading and checks


def _required(task: str) -> list[str]:
    """The metrics a compared result of ``task`` must carry (the reader's ``require``)."""
    if _spec(task) is None and task not in _known_tasks():
        raise InputError(f"unknown task {task!r}")
    return _layout(task) or []


def load_result(obj: Mapping[str, Any] | str | Path, role: str) -> ResultFile:
    """A baseline or current result, read and checked by the one result reader."""
    return read_result(obj, role=role, require=_required)


def _known_tasks() -> set[str]:
    try:
        from psalm_bench.tasks import TASKS

        return set(TASKS)
    except Exception:  # pragma: no cover - registry unavailable
        return set()


# ---------------------------------------------------------------------------
# Per-task statistics: samples -> (pair keys, stat(W) -> {metric: (R,)})
#
# A "stat" function takes W, a (R, n) matrix of sample weights (resample
# counts; a row of ones is the full set) and returns each metric per row, in
# percent, NaN where undefined.


def _col(records: Any, key: str, src: str) -> list[Any]:
    """A column of records stored either as a list of dicts or as columns."""
    try:
        if isinstance(records, dict):
            return list(records[key])
        return [r[key] if isinstance(r, Mapping) else getattr(r, key) for r in records]
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"records lack {key!r} ({exc.__class__.__name__})", file=src) from None


def _referring(res: ResultFile, task: str) -> tuple[list[Any], Callable]:
    """Sentences; columns in the order of ``REFCOCO_SUMS`` / ``GREF_SUMS``."""
    from psalm_bench.evaluators.referring import PR_THRESHOLDS, referring_metrics

    rec, src = res.records, res.source
    keys = [int(k) for k in _col(rec, *RECORDS[task].unit, src)]
    inter = np.asarray(_col(rec, "I", src), dtype=np.float64)
    union = np.asarray(_col(rec, "U", src), dtype=np.float64)
    iou = np.asarray(_col(rec, "IoU", src), dtype=np.float64)
    protocol = res.params.get("protocol")
    cols = [inter, union, iou]
    if task == "refcoco":
        cols += [(iou >= k).astype(np.float64) for k in PR_THRESHOLDS]
    else:
        gt_nt = np.asarray([bool(x) for x in _col(rec, "gt_no_target", src)])
        pred_nt = np.asarray([bool(x) for x in _col(rec, "pred_no_target", src)])
        cols += [gt_nt & pred_nt, gt_nt & ~pred_nt, ~gt_nt & ~pred_nt, ~gt_nt & pred_nt]
    X = np.stack(cols, axis=1).astype(np.float64)

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        return referring_metrics(task, W @ X, W.sum(axis=1), protocol)

    return keys, stat


def _interactive(res: ResultFile) -> tuple[list[Any], Callable]:
    from psalm_bench.evaluators.interactive import GROUPS, interactive_metrics

    rec, src = res.records, res.source
    ann_key, prompt_key = RECORDS["interactive"].unit
    prompt = [str(p) for p in _col(rec, prompt_key, src)]
    keys = list(zip((int(a) for a in _col(rec, ann_key, src)), prompt))
    inter = np.asarray(_col(rec, "I", src), dtype=np.float64)
    union = np.asarray(_col(rec, "U", src), dtype=np.float64)
    iou = np.asarray(_col(rec, "IoU", src), dtype=np.float64)
    protocol = res.params.get("protocol")
    selects = [np.asarray([q == p for q in prompt]) if p else np.ones(len(prompt), dtype=bool) for p in GROUPS]
    cols = []
    for sel in selects:  # the columns of interactive.SUMS per group
        cols += [sel * 1.0, sel * iou, sel * inter, sel * union]
    X = np.stack(cols, axis=1) if len(prompt) else np.zeros((0, 4 * len(GROUPS)))

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        return interactive_metrics(W @ X, protocol)

    return keys, stat


def _vos(res: ResultFile) -> tuple[list[Any], Callable]:
    from psalm_bench.evaluators.vos import db_statistics, vos_metrics

    rec, src = res.records, res.source
    seq_key, obj_key = RECORDS["vos"].unit
    seqs = _col(rec, seq_key, src)
    objs = [int(o) for o in _col(rec, obj_key, src)]
    J = np.asarray(_col(rec, "J", src), dtype=np.float64)
    F = np.asarray(_col(rec, "F", src), dtype=np.float64)
    order: dict[tuple[str, int], list[int]] = {}
    for i, key in enumerate(zip(seqs, objs)):
        order.setdefault((str(key[0]), key[1]), []).append(i)
    keys = list(order)
    rows = []
    for idx in order.values():
        idx_a = np.asarray(idx)
        rows.append(db_statistics(J[idx_a]) + db_statistics(F[idx_a]))
    X = 100.0 * np.asarray(rows, dtype=np.float64).reshape(len(keys), 6)  # columns of vos.SUMS

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        return vos_metrics(W @ X, W.sum(axis=1))

    return keys, stat


def _semantic(res: ResultFile) -> tuple[list[Any], Callable]:
    import scipy.sparse as sp

    from psalm_bench.evaluators.semantic import semantic_metrics

    rec, src = res.records, res.source
    params = res.params
    n = params.get("num_classes")
    if not isinstance(n, int) or n <= 0:
        raise InputError("semantic result lacks provenance params num_classes", file=src)
    protocol = params.get("protocol", "detectron2")
    keys = [str(k) for k in _col(rec, *RECORDS["semantic"].unit, src)]
    cells = [np.asarray(c, dtype=np.int64) for c in _col(rec, "cells", src)]
    counts = [np.asarray(c, dtype=np.float64) for c in _col(rec, "counts", src)]
    m = len(keys)
    lengths = np.asarray([len(c) for c in cells], dtype=np.int64)
    flat_cells = np.concatenate(cells) if m else np.zeros(0, np.int64)
    flat_counts = np.concatenate(counts) if m else np.zeros(0)
    if flat_cells.size and (flat_cells.min() < 0 or flat_cells.max() >= n * (n + 1)):
        raise InputError(f"semantic record cell index outside the {n}x{n + 1} confusion matrix", file=src)
    # image x cell (sparse), then cell -> per-class tp | pos_gt | pos_pred
    rows = np.repeat(np.arange(m), lengths)
    M = sp.csr_matrix((flat_counts, (rows, flat_cells)), shape=(m, n * (n + 1)))
    used = np.unique(flat_cells)
    gt_c, pr_c = used // (n + 1), used % (n + 1)
    p_rows, p_cols = [], []
    diag = gt_c == pr_c
    p_rows += [np.flatnonzero(diag)]; p_cols += [gt_c[diag]]
    p_rows += [np.arange(used.size)]; p_cols += [n + gt_c]
    pred = pr_c < n
    p_rows += [np.flatnonzero(pred)]; p_cols += [2 * n + pr_c[pred]]
    P = sp.csr_matrix((np.ones(sum(r.size for r in p_rows)), (np.concatenate(p_rows), np.concatenate(p_cols))), shape=(used.size, 3 * n))
    X = (M[:, used] @ P).tocsc()  # m x 3n, sparse

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        return semantic_metrics(np.asarray((X.T @ W.T).T), protocol)  # rows of tp | pos_gt | pos_pred (semantic.SUMS)

    return keys, stat


def _panoptic_isthing(res: ResultFile, seg_cats: np.ndarray, outcome: np.ndarray, iou: np.ndarray) -> dict[int, bool]:
    """Category id -> isthing, read from ``per_class`` (keyed by name, so
    matched to category ids by each category's TP/FP/FN and PQ)."""
    from psalm_bench.evaluators.panoptic import category_scores

    src = res.source
    per_class = res.breakdown if res.breakdown_name == "per_class" else None
    if per_class is None:
        raise InputError("panoptic result lacks per_class (needed to tell things from stuff)", file=src)
    entries = [v for v in per_class.values() if isinstance(v, dict)]
    sigs: dict[tuple[int, int, int], set[tuple[float, bool]]] = {}
    for e in entries:
        try:
            sigs.setdefault((int(e["TP"]), int(e["FP"]), int(e["FN"])), set()).add((float(e["PQ"]), bool(e["isthing"])))
        except (KeyError, TypeError, ValueError):
            raise InputError("panoptic per_class entries need TP, FP, FN, PQ and isthing", file=src) from None
    out: dict[int, bool] = {}
    present = []
    for c in np.unique(seg_cats):
        sel = seg_cats == c
        tp, fp, fn = (int(np.count_nonzero(outcome[sel] == k)) for k in (0, 1, 2))
        if tp + fp + fn == 0:
            continue
        present.append(int(c))
        iou_sum = float(np.nansum(np.where(outcome[sel] == 0, iou[sel], 0.0)))
        pq = 100.0 * float(category_scores(*(np.array([v], dtype=np.float64) for v in (tp, fp, fn, iou_sum)))[0][0])
        cands = {th for p, th in sigs.get((tp, fp, fn), set()) if abs(p - pq) < 1e-6}
        if len(cands) == 1:
            out[int(c)] = cands.pop()
    if len(out) < len(present) and len(present) == len(entries):
        # ambiguous signatures: categories listed in id order (COCO's layout)
        for c, e in zip(sorted(present), entries):
            out.setdefault(c, bool(e["isthing"]))
    missing = [c for c in present if c not in out]
    if missing:
        raise InputError(f"cannot tell thing from stuff for category id(s) {missing[:5]} from per_class", file=src)
    return out


def _panoptic(res: ResultFile) -> tuple[list[Any], tuple, dict[int, bool]]:
    rec, src = res.records, res.source
    if not isinstance(rec, dict) or "images" not in rec or "segments" not in rec:
        raise InputError("panoptic records need \"images\" and \"segments\"", file=src)
    table, key = RECORDS["panoptic"].unit[0].split(".")
    img_ids = [int(i) for i in _col(rec[table], key, src)]
    segs = rec["segments"]
    seg_img = np.asarray(_col(segs, "image_id", src), dtype=np.int64)
    seg_cat = np.asarray(_col(segs, "category_id", src), dtype=np.int64)
    outcome = np.asarray(_col(segs, "outcome", src), dtype=np.int64)
    seg_iou = np.asarray([np.nan if v is None else v for v in _col(segs, "iou", src)], dtype=np.float64)
    return img_ids, (seg_img, seg_cat, outcome, seg_iou), _panoptic_isthing(res, seg_cat, outcome, seg_iou)


def _panoptic_stat(img_ids: list[int], segs: tuple, cats: np.ndarray, isthing: np.ndarray, src: str) -> Callable:
    from psalm_bench.evaluators.panoptic import panoptic_metrics

    seg_img, seg_cat, outcome, seg_iou = segs
    pos = {k: i for i, k in enumerate(img_ids)}
    try:
        rows = np.asarray([pos[int(i)] for i in seg_img], dtype=np.int64)
    except KeyError as exc:
        raise InputError(f"panoptic segment of image {exc.args[0]} not in the images records", file=src) from None
    m, K = len(img_ids), len(cats)
    keep = outcome <= 2
    col = np.searchsorted(cats, seg_cat[keep])
    r = rows[keep]
    oc = outcome[keep]
    mats = np.zeros((4, m, K))
    for k in range(3):
        sel = oc == k
        np.add.at(mats[k], (r[sel], col[sel]), 1.0)
    sel = oc == 0
    np.add.at(mats[3], (r[sel], col[sel]), np.nan_to_num(seg_iou[keep][sel]))
    X = mats.transpose(1, 0, 2).reshape(m, 4 * K)  # m x [tp | fp | fn | iou] (panoptic.SUMS), categories by id

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        return panoptic_metrics(W @ X, isthing)

    return stat


def _ids(rec: Any, src: str) -> list[Any]:
    ids = _col(rec, *RECORDS["muse"].unit, src)  # muse and gcg: "id"
    for k in ids:
        if isinstance(k, bool) or not isinstance(k, (str, int)):
            raise InputError(f"record id {k!r} is not a string or an integer", file=src)
    return ids


def _muse(res: ResultFile) -> tuple[list[Any], Callable]:
    """Per item: summed pair I, U and IoU, max_num (evaluators.muse.MuseEvaluator.compute)."""
    from psalm_bench.evaluators.muse import muse_metrics

    rec, src = res.records, res.source
    keys = _ids(rec, src)
    max_num = np.asarray(_col(rec, "max_num", src), dtype=np.float64)
    scored = (max_num > 0).astype(np.float64)
    item_iou = np.asarray([0.0 if v is None else float(v) for v in _col(rec, "IoU", src)]) * scored
    cols = [_col(rec, "I", src), _col(rec, "U", src), _col(rec, "iou_sum", src), max_num, scored, item_iou]  # multi_target.MUSE_SUMS
    X = np.stack([np.asarray(c, dtype=np.float64) for c in cols], axis=1) if keys else np.zeros((0, 6))
    protocol = res.params.get("protocol", "pixellm")

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        return muse_metrics(W @ X, W.sum(axis=1), protocol)

    return keys, stat


def _gcg(res: ResultFile) -> tuple[list[Any], Callable]:
    """Per image: GLaMM's mIoU, Recall TP and GT count, and the COCOeval matches that
    AP is re-accumulated from (evaluators.gcg.coco_ap)."""
    from psalm_bench.evaluators.gcg import coco_image_order, gcg_metrics

    rec, src = res.records, res.source
    keys = _ids(rec, src)
    miou = np.asarray(_col(rec, "mIoU", src), dtype=np.float64)
    tp = _col(rec, "tp", src)
    n_gt = np.asarray(_col(rec, "n_gt", src), dtype=np.float64)
    has_recall = bool(keys) and all(t is not None for t in tp)
    tp_a = np.asarray([0 if t is None else t for t in tp], dtype=np.float64)
    order = coco_image_order(keys)
    tp_bits, npig = _col(rec, "ap_tp", src), _col(rec, "ap_npig", src)
    try:
        tp_bits, npig = [list(map(int, tp_bits[k])) for k in order], [int(npig[k]) for k in order]
    except (TypeError, ValueError) as exc:
        raise InputError(f"gcg records' AP matches are malformed ({exc})", file=src) from None

    def stat(W: np.ndarray) -> dict[str, np.ndarray]:
        sums = np.stack([W @ miou, W @ tp_a, W @ n_gt], axis=1)  # multi_target.GCG_SUMS
        return gcg_metrics(sums, W.sum(axis=1), has_recall, tp_bits, npig, W[:, order])

    return keys, stat


def _instance(res: ResultFile) -> tuple[list[Any], Callable]:
    """Images; COCO AP/AR re-accumulated from the per-image match state under image weights."""
    from psalm_bench.evaluators.instance_state import bootstrap_stats, state_from_records

    src = res.source
    try:
        images, state = state_from_records(res.records)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"instance records are malformed ({type(exc).__name__}: {exc})", file=src) from None
    outside = set(state.pair_image.tolist()) - set(images)
    if outside:
        raise InputError(f"instance records match image {min(outside)} that is not among their images", file=src)
    return images, lambda W: bootstrap_stats(state, images, W)


# ---------------------------------------------------------------------------
# Pairing and bootstrap


def _pair(base_keys: Sequence[Any], cur_keys: Sequence[Any], unit: str, src: str) -> np.ndarray:
    """Index into current's samples for each baseline sample, or InputError."""
    for keys, where in ((base_keys, "baseline"), (cur_keys, "current")):
        if len(set(keys)) != len(keys):
            seen: set[Any] = set()
            dup = next(k for k in keys if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            raise InputError(f"{where} records repeat sample {dup!r}; cannot pair {unit}")
    pos = {k: i for i, k in enumerate(cur_keys)}
    only_base = [k for k in base_keys if k not in pos]
    only_cur = set(cur_keys) - set(base_keys)
    if only_base or only_cur:
        ex = (only_base or sorted(only_cur, key=str))[0]
        raise InputError(
            f"records cannot be paired: {len(only_base)} baseline and {len(only_cur)} current {unit} have no partner "
            f"(e.g. {ex!r}); were both scored on the same samples?")
    return np.asarray([pos[k] for k in base_keys], dtype=np.int64)


def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) multinomial counts of a bootstrap: row r counts how
    often each sample is drawn (n draws with replacement). Deterministic."""
    rng = np.random.default_rng(seed)
    if n == 0 or resamples == 0:
        return np.zeros((resamples, n))
    idx = rng.integers(0, n, size=(resamples, n), dtype=np.int64)
    idx += (np.arange(resamples, dtype=np.int64) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _label(delta: float | None, lo: float | None, hi: float | None, higher: bool, tol: float) -> str:
    if delta is None or lo is None or hi is None:
        return "no records"
    g_lo, g_hi = (lo, hi) if higher else (-hi, -lo)
    if g_hi < -tol:
        return "regressed"
    if g_lo > tol:
        return "improved"
    return "within noise"


def compare_results(
    baseline: Mapping[str, Any] | str | Path,
    current: Mapping[str, Any] | str | Path,
    *,
    tolerance: float = 0.0,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Report:
    """Compare two result files metric by metric (see the module docstring)."""
    _check_settings(tolerance, resamples, confidence)
    base, cur = load_result(baseline, "baseline"), load_result(current, "current")
    task = _comparable(base, cur)
    spec = _spec(task)
    names = _metric_names(task, base, cur)
    unit = spec.unit if spec is not None else None
    has_records = unit is not None and base.records is not None and cur.records is not None
    if unit is not None and not has_records and not spec.records_optional:
        which = base.source if base.records is None else cur.source
        raise InputError(f"no per-sample records (task {task} writes them; was it produced by an old psalm-bench?)", file=which)
    stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    n_samples: int | None = None
    if has_records:
        stats, n_samples = _bootstrap(task, base, cur, names, unit, resamples, seed)
    out = [_compare_metric(name, base, cur, stats.get(name), spec, has_records, tolerance, confidence) for name in names]
    return Report(task, base.source, cur.source, float(tolerance), float(confidence), int(resamples), int(seed),
                  n_samples, unit if has_records else None, out)


def _check_settings(tolerance: float, resamples: int, confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must lie in (0, 1), got {confidence}")
    if tolerance < 0 or not math.isfinite(tolerance):
        raise InputError(f"tolerance must be a finite number >= 0, got {tolerance}")
    if resamples < 1:
        raise InputError(f"resamples must be >= 1, got {resamples}")


def _comparable(base: ResultFile, cur: ResultFile) -> str:
    """The task both results score, once they are the same task, ground truth and protocol."""
    if base.task != cur.task:
        raise InputError(f"different tasks: baseline is {base.task}, current is {cur.task}")
    bg = base.provenance.gt_sha256 if base.provenance else ""
    cg = cur.provenance.gt_sha256 if cur.provenance else ""
    if bg and cg and bg != cg:
        raise InputError(f"baseline and current were scored on different ground truth (gt_sha256 {bg[:12]}... vs {cg[:12]}...)")
    bp, cp = base.params.get("protocol"), cur.params.get("protocol")
    if bp != cp:
        raise InputError(f"baseline and current use different protocols ({bp} vs {cp}); their numbers are not comparable")
    return base.task


def _metric_names(task: str, base: ResultFile, cur: ResultFile) -> list[str]:
    """The task's layout, or for a registered task without one, the keys both files share exactly."""
    names = _layout(task)
    if names is not None:
        return names
    if set(base.metrics) != set(cur.metrics):
        diff = sorted(set(base.metrics) ^ set(cur.metrics))
        raise InputError(f"baseline and current have different metrics: {', '.join(diff)}")
    return list(base.metrics)


def _bootstrap(task: str, base: ResultFile, cur: ResultFile, names: Sequence[str], unit: str, resamples: int,
               seed: int) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Pair the samples, check the records reproduce each file's metrics, and
    resample both runs with the same counts: metric -> (baseline, current) per resample."""
    b_keys, b_stat, c_keys, c_stat = _build(task, base, cur)
    perm = _pair(b_keys, c_keys, unit, cur.source)
    n = len(b_keys)
    ones = np.ones((1, n))
    b_point, c_point = b_stat(ones), c_stat(ones[:, :len(c_keys)])
    for point, res in ((b_point, base), (c_point, cur)):
        for name in (n for n in names if n in point):  # corpus-level metrics are not recomputed
            want, got = res.metrics.get(name), _finite(point[name][0])
            if (want is None) != (got is None) or (want is not None and abs(float(want) - got) > POINT_CHECK_TOL * max(1.0, abs(float(want)))):
                raise InputError(f"records do not reproduce metric {name} ({got} from records, {want} in the file)", file=res.source)
    C = resample_counts(n, resamples, seed)
    inv = np.empty(n, dtype=np.int64)
    inv[perm] = np.arange(n)
    b_boot = b_stat(C)
    c_boot = c_stat(C[:, inv])  # current's sample perm[i] gets baseline sample i's count
    return {name: (b_boot[name], c_boot[name]) for name in names if name in b_boot}, n


def _compare_metric(name: str, base: ResultFile, cur: ResultFile, boot: tuple[np.ndarray, np.ndarray] | None, spec: Any,
                    has_records: bool, tolerance: float, confidence: float) -> MetricComparison:
    """One metric's point delta, its percentile CI from the resampled pairs, and its label."""
    alpha = (1.0 - confidence) / 2.0
    b, c = _finite(base.metrics.get(name)), _finite(cur.metrics.get(name))
    delta = None if b is None or c is None else c - b
    lo = hi = None
    if delta is not None and boot is not None:
        d = boot[1] - boot[0]
        d = d[np.isfinite(d)]
        if d.size:
            lo, hi = (float(v) for v in np.quantile(d, [alpha, 1.0 - alpha]))
    higher = spec.higher_is_better(name) if spec is not None else True
    note = spec.corpus.get(name, "") if has_records else ""
    return MetricComparison(name, b, c, delta, lo, hi, _label(delta, lo, hi, higher, tolerance), higher, note)


def _build(task: str, base: ResultFile, cur: ResultFile):
    """(baseline keys, baseline stat, current keys, current stat) of the task's per-sample layout."""
    if task in ("refcoco", "gref"):
        return (*_referring(base, task), *_referring(cur, task))
    if task == "semantic":
        nb, nc = base.params.get("num_classes"), cur.params.get("num_classes")
        if nb != nc:
            raise InputError(f"baseline and current have different class counts ({nb} vs {nc})")
    if task == "panoptic":
        b_ids, b_segs, b_th = _panoptic(base)
        c_ids, c_segs, c_th = _panoptic(cur)
        for c in set(b_th) & set(c_th):
            if b_th[c] != c_th[c]:
                raise InputError(f"category {c} is a thing in one file and stuff in the other")
        th = {**b_th, **c_th}
        cats = np.asarray(sorted(th), dtype=np.int64)
        isthing = np.asarray([th[c] for c in cats], dtype=bool)
        return (b_ids, _panoptic_stat(b_ids, b_segs, cats, isthing, base.source),
                c_ids, _panoptic_stat(c_ids, c_segs, cats, isthing, cur.source))
    layouts = {"interactive": _interactive, "vos": _vos, "semantic": _semantic, "muse": _muse, "gcg": _gcg,
               "instance": _instance, "ov-instance": _instance}
    if task not in layouts:  # pragma: no cover - every spec with a unit has a layout
        raise AssertionError(task)
    return (*layouts[task](base), *layouts[task](cur))


# ---------------------------------------------------------------------------
# Exit status


def metric_fails(m: MetricComparison, fail_on: str, tolerance: float) -> bool:
    if fail_on == "never":
        return False
    if m.label == "no records":
        if m.delta is None:
            return False
        gain = m.delta if m.higher_is_better else -m.delta
        return gain < -tolerance or (fail_on == "any" and gain > tolerance)
    if fail_on == "regression":
        return m.label == "regressed"
    return m.label in ("regressed", "improved")


def _check_fail_on(fail_on: str) -> str:
    if fail_on not in FAIL_ON:
        raise InputError(f"--fail-on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
    return fail_on


def exit_code(report: Report, fail_on: str = "regression") -> int:
    """1 when a metric fails under ``fail_on`` (module docstring), else 0."""
    _check_fail_on(fail_on)
    return int(any(metric_fails(m, fail_on, report.tolerance) for m in report.metrics))


# ---------------------------------------------------------------------------
# Renderers


def _f(x: float | None, signed: bool = False) -> str:
    if x is None:
        return MISSING
    return f"{x:+.2f}" if signed else f"{x:.2f}"


def _ci(m: MetricComparison) -> str:
    if m.note:
        return "corpus-level: no CI"
    return MISSING if m.ci_low is None else f"[{m.ci_low:+.2f}, {m.ci_high:+.2f}]"


def _notes(report: Report) -> list[str]:
    return [f"{m.name}: {m.note}; not resampled per sample, point values compared" for m in report.metrics if m.note]


def _name(m: MetricComparison) -> str:
    return m.name + ("" if m.higher_is_better else " (lower is better)")


def _summary(report: Report) -> str:
    c = report.counts()
    parts = [f"{c[k]} {k}" for k in LABELS if c[k]]
    return ", ".join(parts) or "no metrics"


def _header(report: Report) -> str:
    pct = f"{100 * report.confidence:g}%"
    if report.n_samples is None:
        return f"task {report.task}: no per-sample records, point values only; tolerance {report.tolerance:g}"
    return (f"task {report.task}: {report.n_samples} paired {report.unit}, {pct} paired bootstrap CI "
            f"({report.resamples} resamples, seed {report.seed}); tolerance {report.tolerance:g}")


def render_text(report: Report) -> str:
    cols = [Col("metric", "left"), Col("baseline"), Col("current"), Col("delta"), Col(f"{100 * report.confidence:g}% CI"), Col("", "left")]
    rows = [[_name(m), _f(m.baseline), _f(m.current), _f(m.delta, True), _ci(m), m.label] for m in report.metrics]
    table = Table("", cols, rows, _notes(report) + [_summary(report)])
    lines = [f"baseline: {report.baseline}", f"current:  {report.current}", _header(report), ""]
    return "\n".join(lines) + "\n" + _table_text(table, rule=False)


_MD_MARK = {"improved": "🟢 improved", "regressed": "🔴 regressed", "within noise": "⚪ within noise", "no records": "no records"}


def render_markdown(report: Report) -> str:
    c = report.counts()
    verdict = "❌ significant regression" if c["regressed"] else "✅ no significant regression"
    lines = [
        f"### psalm-bench report: {report.task} — {verdict}",
        "",
        f"{_header(report)}. Baseline `{report.baseline}`, current `{report.current}`.",
        "",
    ]
    cols = [Col("metric", "left"), Col("baseline"), Col("current"), Col("Δ"), Col(f"{100 * report.confidence:g}% CI of Δ", "center"), Col("", "left")]
    rows = [[m.name + ("" if m.higher_is_better else " ↓"), _f(m.baseline), _f(m.current), _f(m.delta, True), _ci(m), _MD_MARK[m.label]]
            for m in report.metrics]
    lines += _table_markdown(Table("", cols, rows)).rstrip("\n").split("\n")
    lines += [""] + [f"_{n}_" for n in _notes(report)] + [f"**{_summary(report)}**" + ("" if all(m.higher_is_better for m in report.metrics) else " (↓: lower is better)")]
    return "\n".join(lines) + "\n"


def render_junit(report: Report, fail_on: str = "regression") -> str:
    """JUnit XML: one testcase per metric; a failure where the metric fails
    under ``fail_on`` (by default: a significant regression beyond tolerance)."""
    _check_fail_on(fail_on)
    fails = [metric_fails(m, fail_on, report.tolerance) for m in report.metrics]
    suites = ET.Element("testsuites", name="psalm-bench report", tests=str(len(fails)), failures=str(sum(fails)))
    suite = ET.SubElement(suites, "testsuite", name=f"psalm-bench.report.{report.task}", tests=str(len(fails)),
                          failures=str(sum(fails)), errors="0", skipped="0")
    props = ET.SubElement(suite, "properties")
    for k, v in (("baseline", report.baseline), ("current", report.current), ("tolerance", report.tolerance),
                 ("confidence", report.confidence), ("resamples", report.resamples), ("seed", report.seed),
                 ("n_samples", report.n_samples), ("fail_on", fail_on)):
        ET.SubElement(props, "property", name=k, value="" if v is None else str(v))
    for m, failed in zip(report.metrics, fails):
        case = ET.SubElement(suite, "testcase", classname=f"psalm-bench.{report.task}", name=m.name, time="0")
        text = f"{m.name}: baseline {_f(m.baseline)}, current {_f(m.current)}, delta {_f(m.delta, True)}, CI {_ci(m)}: {m.label}"
        if failed:
            msg = f"{m.name} {m.label}: delta {_f(m.delta, True)}, {100 * report.confidence:g}% CI {_ci(m)}, tolerance {report.tolerance:g}"
            ET.SubElement(case, "failure", message=msg, type=m.label.replace(" ", "_")).text = text
        ET.SubElement(case, "system-out").text = text
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def to_json(report: Report, fail_on: str = "regression") -> dict[str, Any]:
    """The report as a JSON-ready dict (with the exit code under ``fail_on``)."""
    d = asdict(report)
    d["summary"] = report.counts()
    d["fail_on"] = _check_fail_on(fail_on)
    d["exit_code"] = exit_code(report, fail_on)
    return d


def render(report: Report, fmt: str = "text", fail_on: str = "regression") -> str:
    """One entry point for the CLI: text, markdown, junit or json."""
    if fmt == "text":
        return render_text(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "junit":
        return render_junit(report, fail_on)
    if fmt == "json":
        return json.dumps(to_json(report, fail_on), indent=2, ensure_ascii=False)
    raise InputError(f"--format must be one of text, markdown, junit, json, got {fmt!r}")
