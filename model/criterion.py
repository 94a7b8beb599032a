"""Hungarian matching and PSALM's losses, as released, with deep supervision.

Matching per image and per prediction set: ``C = 2*(-softmax(cls)[:, tgt]) + 5*BCE + 5*Dice``,
the class term only for category tasks (referring and interactive match on masks alone).
Losses: class CE over C+1 with background weight 0.1; SEG BCE with
``pos_weight = (B*Q - N)/N``; region BCE with ``pos_weight = (sum K*Q - N)/N``; mask BCE and
Dice, each summed over matched masks and divided by N (GT masks in the batch, >= 1).

Mask terms: ``mask_loss="points"`` is the released recipe (12544 points: uniform for the
matcher, importance-sampled with oversample 3 and ratio 0.75 for the loss).
``mask_loss="full"`` (the default for small models, a documented deviation) uses every
pixel of the 1/4-resolution mask logits against the GT area-downsampled to that size.

All cost matrices of a step are built on the device and cross to the CPU in one transfer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from .config import LossConfig
from .psalm import PSALMOutputs
from .samples import CATEGORY_TASKS, Batch

LOSS_TERMS = ("class", "seg", "region", "mask", "dice")  # "pixel_class" joins them when loss.pixel_class_weight > 0


@dataclass
class LossResult:
    total: torch.Tensor
    terms: dict[str, float]  # weighted, summed over prediction sets
    matches: list[list[tuple[np.ndarray, np.ndarray]]]  # [set][image] -> (query idx, target idx)


def point_sample(x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """x (N,C,H,W), coords (N,P,2) in [0,1] (x, y) -> (N,C,P)."""
    return F.grid_sample(x, 2.0 * coords.unsqueeze(2) - 1.0, align_corners=False).squeeze(3)


def uncertain_points(logits: torch.Tensor, num: int, oversample: float, importance: float) -> torch.Tensor:
    """Mask2Former's point selection: most uncertain (|logit| smallest) of an oversampled set + random."""
    n = logits.shape[0]
    k = int(num * oversample)
    coords = torch.rand(n, k, 2, device=logits.device)
    unc = -point_sample(logits, coords).abs()[:, 0]  # (n, k)
    n_imp = int(importance * num)
    idx = unc.topk(n_imp, dim=1).indices
    picked = torch.gather(coords, 1, idx.unsqueeze(-1).expand(-1, -1, 2))
    if num - n_imp > 0:
        picked = torch.cat([picked, torch.rand(n, num - n_imp, 2, device=logits.device)], 1)
    return picked


def _bce_dice_cost(pred: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """pred (B,Q,P) logits, tgt (N,P) in [0,1] -> BCE and Dice costs (B,Q,N)."""
    P = pred.shape[-1]
    pos = F.softplus(-pred)
    neg = F.softplus(pred)
    bce = (torch.einsum("bqp,np->bqn", pos, tgt) + torch.einsum("bqp,np->bqn", neg, 1 - tgt)) / P
    s = pred.sigmoid()
    num = 2 * torch.einsum("bqp,np->bqn", s, tgt)
    den = s.sum(-1)[:, :, None] + tgt.sum(-1)[None, None, :]
    dice = 1 - (num + 1) / (den + 1)
    return bce, dice


class PSALMCriterion:
    """Callable: ``criterion(outputs, batch) -> LossResult``."""

    def __init__(self, cfg: LossConfig):
        self.cfg = cfg

    def _targets(self, batch: Batch, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """All GT masks of the batch: full-res (N,S,S) float, at mask resolution (N,h,w), counts."""
        counts = [int(t.shape[0]) for t in batch.target_masks]
        full = torch.cat(batch.target_masks, 0).float() if sum(counts) else batch.target_masks[0].new_zeros((0, *batch.target_masks[0].shape[1:]), dtype=torch.float32)
        small = F.adaptive_avg_pool2d(full.unsqueeze(1), size)[:, 0] if full.shape[0] else full.new_zeros((0, *size))
        return full, small, counts

    @torch.no_grad()
    def match(self, outputs: PSALMOutputs, batch: Batch, tgt_full: torch.Tensor, tgt_small: torch.Tensor,
              counts: list[int]) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        c = self.cfg
        preds = outputs.predictions
        B = batch.size
        N = tgt_full.shape[0]
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        if N == 0:
            return [[empty] * B for _ in preds]
        owner = torch.repeat_interleave(torch.arange(B, device=tgt_full.device), torch.tensor(counts, device=tgt_full.device))
        labels = torch.cat(batch.target_labels).to(tgt_full.device)
        if c.mask_loss == "points":
            coords = torch.rand(B, c.num_points, 2, device=tgt_full.device)  # one set per image, as released
            tgt = point_sample(tgt_full.unsqueeze(1), coords[owner])[:, 0]
        else:
            tgt = tgt_small.flatten(1)
        costs = []
        for p in preds:
            m = p.masks.float()
            if c.mask_loss == "points":
                pm = point_sample(m, coords)  # (B,Q,P): each image at its own points
            else:
                pm = m.flatten(2)
            bce, dice = _bce_dice_cost(pm, tgt)
            cost = c.mask_weight * bce + c.dice_weight * dice
            if batch.task in CATEGORY_TASKS and p.class_logits is not None:
                prob = p.class_logits.float().softmax(-1)  # (B,Q,C)
                cost = cost - c.class_weight * prob[:, :, labels]
            costs.append(cost)
        all_costs = torch.stack(costs).cpu().numpy()  # the one device->host transfer of the step
        starts = np.concatenate([[0], np.cumsum(counts)])
        out = []
        for cost in all_costs:
            per = []
            for b in range(B):
                if counts[b] == 0:
                    per.append(empty)
                    continue
                block = cost[b][:, starts[b] : starts[b + 1]]
                qi, tj = linear_sum_assignment(block)
                per.append((qi.astype(np.int64), tj.astype(np.int64)))
            out.append(per)
        return out

    @staticmethod
    def pixel_class_loss(logits: torch.Tensor, batch: Batch, tgt_full: torch.Tensor, counts: list[int]) -> torch.Tensor:
        """Soft-target cross-entropy of (B,C,h,w) pixel class logits (background last) against
        each pixel's class coverage (GT masks area-pooled to h x w; uncovered -> background)."""
        logits = logits.float()
        B, C, h, w = logits.shape
        cover = F.adaptive_avg_pool2d(tgt_full.unsqueeze(1), (h, w))[:, 0] if tgt_full.shape[0] else tgt_full.new_zeros((0, h, w))
        target = logits.new_zeros((B, C, h, w))
        owner = torch.repeat_interleave(torch.arange(B, device=logits.device), torch.tensor(counts, device=logits.device))
        if cover.shape[0]:
            labels = torch.cat(batch.target_labels).to(logits.device)
            target.index_put_((owner, labels), cover.to(logits.device), accumulate=True)
        target[:, -1] = (1.0 - target[:, :-1].sum(1)).clamp_min(0.0)
        return -(target * logits.log_softmax(1)).sum(1).mean()

    def __call__(self, outputs: PSALMOutputs, batch: Batch) -> LossResult:
        c = self.cfg
        preds = outputs.predictions
        dev = preds[0].masks.device
        size = tuple(preds[0].masks.shape[-2:])
        tgt_full, tgt_small, counts = self._targets(batch, size)
        matches = self.match(outputs, batch, tgt_full, tgt_small, counts)
        B, Q = preds[0].masks.shape[:2]
        n_masks = max(float(sum(counts)), 1.0)
        starts = np.concatenate([[0], np.cumsum(counts)])
        total = torch.zeros((), device=dev)
        acc: dict[str, torch.Tensor] = {}
        for p, match in zip(preds, matches):
            bi = np.concatenate([np.full(len(q), b) for b, (q, _) in enumerate(match)]).astype(np.int64)
            qi = np.concatenate([q for q, _ in match]).astype(np.int64)
            gi = np.concatenate([t + starts[b] for b, (_, t) in enumerate(match)]).astype(np.int64)
            bi_t, qi_t, gi_t = (torch.from_numpy(a).to(dev) for a in (bi, qi, gi))
            parts: dict[str, torch.Tensor] = {}
            if batch.task in CATEGORY_TASKS and p.class_logits is not None:
                logits = p.class_logits.float()
                C = logits.shape[-1]
                target = torch.full((B, Q), C - 1, dtype=torch.long, device=dev)
                if len(bi):
                    labels = torch.cat(batch.target_labels).to(dev)
                    target[bi_t, qi_t] = labels[gi_t]
                weight = torch.ones(C, device=dev)
                weight[-1] = c.no_object_weight
                parts["class"] = c.class_weight * F.cross_entropy(logits.reshape(-1, C), target.reshape(-1), weight=weight)
            if batch.task == "referring" and p.seg_logits is not None:
                logits = p.seg_logits.float()
                target = torch.zeros_like(logits)
                target[bi_t, qi_t, 0] = 1.0
                pw = torch.tensor((logits.numel() - n_masks) / n_masks, device=dev)
                parts["seg"] = c.class_weight * F.binary_cross_entropy_with_logits(logits, target, pos_weight=pw)
            if batch.task == "interactive" and p.region_logits is not None:
                logits = p.region_logits.float()  # (B,K,Q)
                target = torch.zeros_like(logits)
                target[bi_t, torch.from_numpy(gi - starts[bi]).to(dev), qi_t] = 1.0
                valid = outputs.region_valid
                flat_l, flat_t = logits[valid], target[valid]
                pw = torch.tensor((flat_l.numel() - n_masks) / n_masks, device=dev)
                parts["region"] = c.class_weight * F.binary_cross_entropy_with_logits(flat_l, flat_t, pos_weight=pw)
            if len(bi):
                src = p.masks[bi_t, qi_t].float().unsqueeze(1)  # (n,1,h,w)
                if c.mask_loss == "points":
                    with torch.no_grad():
                        coords = uncertain_points(src, c.num_points, c.oversample_ratio, c.importance_sample_ratio)
                        labels_p = point_sample(tgt_full[gi_t].unsqueeze(1), coords)[:, 0]
                    logits_p = point_sample(src, coords)[:, 0]
                else:
                    labels_p = tgt_small[gi_t].flatten(1)
                    logits_p = src.flatten(1)
                bce = F.binary_cross_entropy_with_logits(logits_p, labels_p, reduction="none").mean(1).sum() / n_masks
                s = logits_p.sigmoid()
                dice = 1 - (2 * (s * labels_p).sum(-1) + 1) / (s.sum(-1) + labels_p.sum(-1) + 1)
                parts["mask"] = c.mask_weight * bce
                parts["dice"] = c.dice_weight * dice.sum() / n_masks
            else:
                zero = p.masks.sum() * 0.0  # keeps the graph connected when no target exists
                parts["mask"] = zero
                parts["dice"] = zero
            for k, v in parts.items():
                total = total + v
                acc[k] = acc[k] + v.detach() if k in acc else v.detach()
        if outputs.pixel_class_logits is not None and c.pixel_class_weight > 0:
            pixel = c.pixel_class_weight * self.pixel_class_loss(outputs.pixel_class_logits, batch, tgt_full, counts)
            total = total + pixel
            acc["pixel_class"] = pixel.detach()
        names = list(acc)
        values = torch.stack([acc[k] for k in names]).cpu().tolist() if names else []  # one sync for logging
        terms = dict.fromkeys(LOSS_TERMS, 0.0)
        terms.update(zip(names, values))
        return LossResult(total, terms, matches)
