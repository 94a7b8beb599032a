"""MUSE (PixelLM): multi-target referring segmentation, scored as PixelLM scores it.

File formats: :mod:`psalm_bench.formats.multi_target` (psalm-bench's own) and PixelLM's
release files as they are (formats.muse_official; docs/muse_gcg.md). GCG is in
:mod:`psalm_bench.evaluators.gcg`; :mod:`psalm_bench.evaluators.multi_target` names both.

MUSE (``evaluate_muse``)
========================

Published protocol: PixelLM ``train_ds.py`` (``ar_validate``), ``utils/matcher.py``
(``match_pred``), ``utils/utils.py`` (``AverageMeter``, ``intersectionAndUnionGPU``),
repository MaverickRen/PixelLM. Per question of an item:

1. Hungarian matching (``scipy.optimize.linear_sum_assignment``) of predicted
   masks (rows) to GT masks (columns) on cost = BCE + Dice, both with weight
   1 (``match_pred`` defines ``cost_mask = cost_dice = 5`` but does not use
   them). PixelLM computes both on the mask *logits* at 12,544 points drawn
   with unseeded ``torch.rand`` (so its matching is not reproducible); a
   prediction file holds binary masks, so psalm-bench takes each predicted
   mask as probabilities in {0, 1} and computes both terms over *all* pixels
   (the quantity PixelLM's point sample estimates), deterministically:

   - BCE = mean over pixels of binary cross-entropy, with PyTorch's clamp of
     log at -100 (``F.binary_cross_entropy``): every disagreeing pixel costs
     100, so BCE = 100 * |P xor G| / (H W);
   - Dice = 1 - (2 |P & G| + 1) / (|P| + |G| + 1) (PixelLM's ``batch_dice_loss``
     with its +1 smoothing, on the probabilities).

2. Matched pairs keep their masks; each unmatched GT is paired with an empty
   prediction (IoU 0, U = its area) and each unmatched prediction with an
   empty GT (IoU 0, U = its area). Known difference: PixelLM binarises only
   the *matched* predictions (``> 0``) and passes unmatched ones to
   ``intersectionAndUnionGPU`` as raw logits, whose ``torch.histc(bins=2,
   min=0, max=1)`` counts only values in [0, 1]; there such a pair adds just
   the pixels with logit in [0.5, 1] to U, and IoU 1 when there are none.
   Binary masks cannot reproduce that, and it is plainly not the intended
   definition, so psalm-bench uses the padding above. (That ``pred_masks``
   are logits is inferred from ``match_pred`` applying a sigmoid and
   ``ar_validate`` thresholding matched masks at 0; ``model/PixelLM.py`` was
   not read.)

3. Per item: ``max_num = max(#pred, #GT)`` over the whole item (all its
   questions), pair IoU summed over all pairs of all questions. With one
   question per item the number of pairs equals ``max_num``; with several it
   can exceed it (PITFALLS 13), as in PixelLM.

Protocols (``protocol=``, in ``params["protocol"]``):

- ``pixellm`` (default), the released code: pair IoU = I / (U + 1e-5), plus
  1 when U = 0; ``AverageMeter.update(acc_iou / max_num, n=max_num)`` followed
  by ``all_reduce`` makes gIoU = sum over items of summed pair IoU /
  (sum over items of max_num + 1e-5), i.e. a mean weighted by max_num, not the
  mean of per-item IoUs; cIoU = sum I / (sum U + 1e-10) over all pairs
  (padded pairs add their mask's area to U).
- ``per-image``: the paper's wording (and the issue's): per-item IoU = sum of
  pair IoU (I / U, 1 where U = 0) / max(#pred, #GT), gIoU = mean per-item IoU,
  cIoU = sum I / sum U.

An item with no GT and no prediction (max_num = 0) has no IoU: PixelLM's loop
would fail on it; here it is left out of gIoU and counted in ``warnings``.

Text scores (``scores=``): PixelLM scores the answer text with GPT and
publishes no scoring code in the repository versions psalm-bench could read,
so the combination below is psalm-bench's, not verified against PixelLM. The
file is ``{id: s}`` (one score per item) or ``{id: [s_1, ..., s_G]}`` (one per
GT instance, GT order, questions concatenated), scores in [0, 1]. A matched
pair's IoU and intersection are multiplied by the score of its item (or of
its GT instance); U is unchanged, so a wrong description lowers both gIoU and
cIoU; an item absent from the file keeps score 1 (counted in ``warnings``).
Without ``scores`` the result is **mask-only scoring (no text scores given)**,
stated in ``warnings`` and ``params["text_scoring"]``.

Metrics: ``gIoU cIoU`` (percent; what PixelLM reports on MUSE). Records: per
item, its pairs ``[question, pred index | None, GT index | None, I, U, IoU]``,
sums I and U, max_num, per-item IoU and score.

"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from psalm_bench.evaluators.base import Evaluator, point
from psalm_bench.formats.multi_target import (
    MuseSample,
    load_muse_gt,
    read_muse_predictions,
    read_muse_scores,
)
from psalm_bench.masks import RLE, pairwise_intersections
from psalm_bench.parallel import run_sharded
from psalm_bench.results import EvalResult
from psalm_bench.specs import MUSE as MUSE_SPEC
from psalm_bench.specs import PIXELLM_CIOU_EPS, PIXELLM_COUNT_EPS, PIXELLM_IOU_EPS

MUSE_PROTOCOLS = MUSE_SPEC.protocols
MUSE_METRICS = list(MUSE_SPEC.metrics)
BCE_LOG_CLAMP = 100.0  # PyTorch binary_cross_entropy clamps log(p) at -100
MASK_ONLY = "mask-only scoring (no text scores given)"

# columns of MUSE's summed records: I, U, pair IoU sum, max(#pred, #gt), scored items, item IoU
# (the last two over items with a mask on either side)
MUSE_SUMS = ("I", "U", "iou_sum", "max_num", "scored", "IoU")


def muse_metrics(sums: np.ndarray, n: np.ndarray, protocol: str) -> dict[str, np.ndarray]:
    """MUSE gIoU and cIoU (percent, NaN where undefined) from rows of summed item
    records (``MUSE_SUMS``) over ``n`` items; ``compute()`` passes one row, the
    report's bootstrap one per resample."""
    S = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    n = np.asarray(n, dtype=np.float64).reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if protocol == "pixellm":  # PixelLM's AverageMeter and cumulative eps
            giou = np.where(S[:, 4] > 0, 100.0 * S[:, 2] / (S[:, 3] + PIXELLM_COUNT_EPS), np.nan)
            ciou = np.where(n > 0, 100.0 * S[:, 0] / (S[:, 1] + PIXELLM_CIOU_EPS), np.nan)
        else:
            giou = np.where(S[:, 4] > 0, 100.0 * S[:, 5] / np.where(S[:, 4] > 0, S[:, 4], 1.0), np.nan)
            ciou = np.where(S[:, 1] > 0, 100.0 * S[:, 0] / np.where(S[:, 1] > 0, S[:, 1], 1.0), np.nan)
    return {"gIoU": giou, "cIoU": ciou}


def muse_cost(inter: np.ndarray, pred_area: np.ndarray, gt_area: np.ndarray, n_pixels: int) -> np.ndarray:
    """PixelLM's matching cost (BCE + Dice, weights 1) for binary masks over all pixels."""
    xor = pred_area[:, None] + gt_area[None, :] - 2.0 * inter
    bce = BCE_LOG_CLAMP * xor / float(n_pixels)
    dice = 1.0 - (2.0 * inter + 1.0) / (pred_area[:, None] + gt_area[None, :] + 1.0)
    return bce + dice


# ---------------------------------------------------------------------------
# MUSE


@dataclass
class MuseInput:
    sample: MuseSample
    pred: list[list[RLE]] | None  # per question; None: no prediction line
    score: float | list[float] | None = None


def _muse_load(item: MuseInput) -> tuple[MuseSample, MuseInput]:
    return item.sample, item


@dataclass
class MuseRecord:
    id: Any
    n_gt: int
    n_pred: int
    max_num: int
    I: float
    U: float
    iou_sum: float
    IoU: float | None
    score: float | list[float] | None
    pairs: list[list[Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class MuseEvaluator(Evaluator[MuseSample, MuseInput]):
    task = "muse"

    def __init__(self, protocol: str = "pixellm"):
        MUSE_SPEC.check_protocol(protocol)
        self.protocol = protocol
        self.records: list[MuseRecord] = []

    def config(self) -> dict[str, Any]:
        return {"protocol": self.protocol}

    def merge(self, other: "MuseEvaluator") -> "MuseEvaluator":
        self.records.extend(other.records)
        return self

    def _pair_iou(self, inter: float, union: float) -> float:
        if self.protocol == "pixellm":
            return inter / (union + PIXELLM_IOU_EPS) + (1.0 if union == 0 else 0.0)
        return 1.0 if union == 0 else inter / union

    def update(self, gt: MuseSample, pred: MuseInput) -> None:
        groups = pred.pred if pred.pred is not None else [[] for _ in gt.questions]
        n_pixels = gt.height * gt.width
        score = pred.score
        gt_offset = 0
        pairs: list[list[Any]] = []
        total_i = total_u = iou_sum = 0.0
        n_gt = n_pred = 0
        for q, (question, pmasks) in enumerate(zip(gt.questions, groups)):
            gmasks = question.masks
            n_gt += len(gmasks)
            n_pred += len(pmasks)
            inter, pa, ga = pairwise_intersections(pmasks, gmasks)
            if pmasks and gmasks:
                rows, cols = linear_sum_assignment(muse_cost(inter, pa, ga, n_pixels))
            else:
                rows = cols = np.zeros(0, dtype=np.int64)
            q_pairs: list[tuple[int | None, int | None, float, float]] = []
            for r, c in zip(rows.tolist(), cols.tolist()):
                i = float(inter[r, c])
                q_pairs.append((r, c, i, float(pa[r] + ga[c] - i)))
            matched_g = set(cols.tolist())
            matched_p = set(rows.tolist())
            q_pairs += [(None, c, 0.0, float(ga[c])) for c in range(len(gmasks)) if c not in matched_g]
            q_pairs += [(r, None, 0.0, float(pa[r])) for r in range(len(pmasks)) if r not in matched_p]
            for r, c, i, u in q_pairs:
                weight = 1.0
                if score is not None and c is not None:
                    weight = score[gt_offset + c] if isinstance(score, list) else score
                iou = self._pair_iou(i, u) * weight
                i *= weight
                total_i += i
                total_u += u
                iou_sum += iou
                pairs.append([q, r, c, i, u, iou])
            gt_offset += len(gmasks)
        max_num = max(n_gt, n_pred)
        image_iou = iou_sum / max_num if max_num else None
        self.records.append(MuseRecord(gt.id, n_gt, n_pred, max_num, total_i, total_u, iou_sum, image_iou, score, pairs))

    def compute(self) -> EvalResult:
        recs = self.records
        scored = [r for r in recs if r.max_num > 0]
        sums = [math.fsum(r.I for r in recs), math.fsum(r.U for r in recs), math.fsum(r.iou_sum for r in scored),
                float(sum(r.max_num for r in scored)), float(len(scored)), math.fsum(r.IoU for r in scored)]
        metrics = point(muse_metrics(np.asarray([sums]), np.asarray([len(recs)]), self.protocol), MUSE_METRICS)
        warnings = []
        empty = len(recs) - len(scored)
        if empty:
            warnings.append(f"{empty} item(s) with no GT and no predicted mask: left out of gIoU")
        return EvalResult(
            task=self.task,
            metrics=metrics,
            n_samples=len(recs),
            params={"protocol": self.protocol},
            warnings=warnings,
            records=[r.to_dict() for r in recs],
        )


def evaluate_muse(
    gt: str | Path,
    pred: str | Path,
    *,
    protocol: str = "pixellm",
    scores: str | Path | None = None,
    ignore_extra: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> EvalResult:
    """MUSE gIoU and cIoU (PixelLM). See the module docstring for the protocol."""
    MUSE_SPEC.check_protocol(protocol)
    samples = load_muse_gt(gt)
    index = {s.id: s for s in samples}
    predictions, extra = read_muse_predictions(pred, index, ignore_extra=ignore_extra)
    score_map = read_muse_scores(scores, index) if scores is not None else None
    items = [MuseInput(s, predictions.get(s.id), (score_map.get(s.id) if score_map is not None else None)) for s in samples]
    evaluator = run_sharded(MuseEvaluator(protocol), items, _muse_load, workers=workers if not isinstance(workers, (int, type(None))) else max(1, int(workers or 1)), desc="muse", progress=progress)
    result = evaluator.compute()
    missing = sum(1 for s in samples if s.id not in predictions)
    if missing:
        result.warnings.append(f"{missing} of {len(samples)} item(s) have no prediction line: scored as no predicted mask")
    if extra:
        result.warnings.append(f"{extra} prediction line(s) for ids not in the ground truth ignored")
    if score_map is None:
        result.warnings.insert(0, MASK_ONLY)
        result.params["text_scoring"] = MASK_ONLY
    else:
        unscored = sum(1 for s in samples if s.id not in score_map)
        result.params["text_scoring"] = f"external text scores from {Path(scores).name} multiply matched pairs' IoU and I (psalm-bench's combination; PixelLM's GPT scoring code is unpublished)"
        if unscored:
            result.warnings.append(f"{unscored} item(s) have no text score: score 1")
    result.params.update({"matching": "Hungarian on BCE + Dice (weights 1) over all pixels of binary masks", "ignore_extra": ignore_extra})
    return result
