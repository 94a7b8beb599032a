"""Post-processing of one image's outputs, per task, with the released thresholds as parameters.

Every function takes mask logits already at the output resolution (see ``upsample_masks``:
bilinear to the padded size, crop to the valid box, bilinear to the original size) and
returns numpy arrays ready for the result writers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .preprocess import ImageGeometry
from .psalm import PSALMOutputs
from .samples import Batch


@dataclass
class ImageOutputs:
    """The final prediction set for one image, padded columns/rows removed."""

    mask_logits: torch.Tensor  # (Q, h, w) at 1/4 of the padded input
    class_logits: torch.Tensor | None  # (Q, C+1), background last
    seg_logits: torch.Tensor | None  # (Q,)
    region_logits: torch.Tensor | None  # (K, Q)
    geometry: ImageGeometry


def image_outputs(outputs: PSALMOutputs, batch: Batch, b: int, prediction_set: int = -1) -> ImageOutputs:
    p = outputs.predictions[prediction_set]
    cls = seg = region = None
    if p.class_logits is not None:
        valid = outputs.class_valid[b] if outputs.class_valid is not None else torch.ones(p.class_logits.shape[-1], dtype=torch.bool)
        cls = p.class_logits[b][:, valid.to(p.class_logits.device)].float()
    if p.seg_logits is not None:
        seg = p.seg_logits[b, :, 0].float()
    if p.region_logits is not None:
        k = int(outputs.region_valid[b].sum()) if outputs.region_valid is not None else p.region_logits.shape[1]
        region = p.region_logits[b, :k].float()
    return ImageOutputs(p.masks[b].float(), cls, seg, region, batch.geometries[b])


def upsample_masks(mask_logits: torch.Tensor, geometry: ImageGeometry, size: tuple[int, int] | None = None) -> torch.Tensor:
    """(Q,h,w) logits -> (Q,H,W): upsample to the padded size, crop the valid box, resize to ``size``
    (default: the original image size)."""
    x = F.interpolate(mask_logits.unsqueeze(0).float(), size=geometry.padded_size, mode="bilinear", align_corners=False)
    vh, vw = geometry.valid_size
    x = x[:, :, :vh, :vw]
    out = size or geometry.orig_size
    if tuple(out) != (vh, vw):
        x = F.interpolate(x, size=tuple(out), mode="bilinear", align_corners=False)
    return x[0]


def mask_scores(mask_logits: torch.Tensor) -> torch.Tensor:
    """Mean sigmoid inside each binary mask (logit > 0): Mask2Former's mask quality score."""
    m = (mask_logits > 0).flatten(1).float()
    return (mask_logits.sigmoid().flatten(1) * m).sum(1) / (m.sum(1) + 1e-6)


# ---------------------------------------------------------------------------------------
@dataclass
class PanopticSegment:
    id: int
    category: int  # index into the image's class list
    isthing: bool
    score: float
    area: int


@dataclass
class PanopticResult:
    seg: np.ndarray  # (H,W) int32 segment ids, 0 = void
    segments: list[PanopticSegment] = field(default_factory=list)


def panoptic_inference(class_logits: torch.Tensor, mask_logits: torch.Tensor, isthing: Sequence[bool], *,
                       object_mask_threshold: float = 0.8, overlap_threshold: float = 0.8) -> PanopticResult:
    """Mask2Former panoptic merge: keep non-background queries with score > 0.8, assign pixels by
    argmax of score*sigmoid, drop a segment covering < 0.8 of its own mask, merge stuff of one class."""
    probs = class_logits.float().softmax(-1)
    scores, labels = probs.max(-1)
    C = class_logits.shape[-1] - 1
    keep = (labels != C) & (scores > object_mask_threshold)
    H, W = mask_logits.shape[-2:]
    seg = np.zeros((H, W), np.int32)
    if not bool(keep.any()):
        return PanopticResult(seg)
    cur_scores, cur_classes = scores[keep], labels[keep]
    cur_masks = mask_logits[keep].float().sigmoid()
    ids = (cur_scores[:, None, None] * cur_masks).argmax(0)
    segments: list[PanopticSegment] = []
    stuff: dict[int, int] = {}
    seg_t = torch.zeros(H, W, dtype=torch.int32)
    next_id = 0
    for k in range(cur_classes.shape[0]):
        cls = int(cur_classes[k])
        thing = bool(isthing[cls])
        own = cur_masks[k] >= 0.5
        mask_area = int((ids == k).sum())
        original_area = int(own.sum())
        mask = (ids == k) & own
        if mask_area > 0 and original_area > 0 and int(mask.sum()) > 0:
            if mask_area / original_area < overlap_threshold:
                continue
            if not thing:
                if cls in stuff:
                    seg_t[mask] = stuff[cls]
                    s = next(s for s in segments if s.id == stuff[cls])
                    s.area += int(mask.sum())
                    continue
                stuff[cls] = next_id + 1
            next_id += 1
            seg_t[mask] = next_id
            segments.append(PanopticSegment(next_id, cls, thing, float(cur_scores[k]), int(mask.sum())))
    seg = seg_t.numpy()
    return PanopticResult(seg, segments)


@dataclass
class InstanceResult:
    masks: np.ndarray  # (N,H,W) bool
    scores: np.ndarray  # (N,) float
    labels: np.ndarray  # (N,) class index


def instance_inference(class_logits: torch.Tensor, mask_logits: torch.Tensor, *, topk: int = 100,
                       isthing: Sequence[bool] | None = None) -> InstanceResult:
    """Top-k (query, class) pairs of softmax[:, :-1]; score = class prob x mean sigmoid in mask.

    With ``isthing`` (panoptic mode) only thing classes are kept, as released.
    """
    probs = class_logits.float().softmax(-1)[:, :-1]
    Q, C = probs.shape
    k = min(topk, Q * C)
    scores, idx = probs.flatten().topk(k, sorted=True)
    labels = idx % C
    queries = idx // C
    if isthing is not None:
        thing = torch.tensor([bool(isthing[int(c)]) for c in labels], dtype=torch.bool)
        scores, labels, queries = scores[thing], labels[thing], queries[thing]
    m = mask_logits[queries].float()
    final = scores * mask_scores(m)
    return InstanceResult((m > 0).numpy(), final.numpy(), labels.numpy())


def semantic_inference(class_logits: torch.Tensor, mask_logits: torch.Tensor) -> torch.Tensor:
    """(C,H,W) class maps ``einsum(softmax[:, :-1], sigmoid(masks))``; argmax(0) is the label map."""
    return torch.einsum("qc,qhw->chw", class_logits.float().softmax(-1)[:, :-1], mask_logits.float().sigmoid())


@dataclass
class ReferringResult:
    mask: np.ndarray  # (H,W) bool
    score: float
    query: int  # -1 when ``no_target`` answered "no target"
    no_target: bool = False


def proposal_scores(logits: torch.Tensor, mask_logits: torch.Tensor) -> torch.Tensor:
    """sigmoid(SEG or region logit) x mask score, per query."""
    return logits.float().sigmoid() * mask_scores(mask_logits)


def referring_inference(seg_logits: torch.Tensor, mask_logits: torch.Tensor) -> ReferringResult:
    """RefCOCO: the top-1 proposal by sigmoid(SEG) x mask score; mask = logit > 0."""
    scores = proposal_scores(seg_logits, mask_logits)
    q = int(scores.argmax())
    return ReferringResult((mask_logits[q] > 0).numpy(), float(scores[q]), q)


def gref_inference(seg_logits: torch.Tensor, mask_logits: torch.Tensor, *, threshold: float = 0.6,
                   no_target: bool = False) -> ReferringResult:
    """gRefCOCO: union of proposals with score > 0.6.

    Released protocol (``no_target=False``): when none passes, fall back to the top-1
    proposal, so it never predicts empty. ``no_target=True`` is a different, labelled
    protocol: answer "no target" (an empty mask) when none passes.
    """
    scores = proposal_scores(seg_logits, mask_logits)
    keep = scores > threshold
    if bool(keep.any()):
        mask = (mask_logits[keep] > 0).any(0)
        return ReferringResult(mask.numpy(), float(scores[keep].max()), int(scores.argmax()))
    if no_target:
        H, W = mask_logits.shape[-2:]
        return ReferringResult(np.zeros((H, W), bool), float(scores.max()), -1, no_target=True)
    return referring_inference(seg_logits, mask_logits)


@dataclass
class InteractiveResult:
    masks: np.ndarray  # (K,H,W) bool, one per prompt
    scores: np.ndarray  # (K,)
    queries: np.ndarray  # (K,)


def interactive_inference(region_logits: torch.Tensor, mask_logits: torch.Tensor) -> InteractiveResult:
    """COCO-Interactive: per prompt, the top-1 query by sigmoid(region) x mask score."""
    scores = region_logits.float().sigmoid() * mask_scores(mask_logits)[None, :]  # (K,Q)
    best = scores.argmax(1)
    return InteractiveResult((mask_logits[best] > 0).numpy(), scores.gather(1, best[:, None])[:, 0].numpy(), best.numpy())


GEOMETRY_PROMPTS = ("box", "mask")  # prompt types that outline their object


def interactive_inference_prompt_iou(region_logits: torch.Tensor, mask_logits: torch.Tensor, prompts: torch.Tensor,
                                     kinds: Sequence[str]) -> InteractiveResult:
    """A labelled protocol, not the paper's rule: a box or mask prompt takes the query whose
    binary mask (logit > 0) has the highest IoU with the prompt's pixels (ties: the released
    score decides); point and scribble prompts keep the released top-1 rule, since a click or a
    stroke outlines nothing. ``prompts`` (K,H,W) bool at the masks' resolution."""
    released = interactive_inference(region_logits, mask_logits)
    binary = (mask_logits > 0).flatten(1).float()  # (Q,P)
    p = prompts.flatten(1).float().to(binary.device)  # (K,P)
    inter = p @ binary.T
    union = p.sum(1, keepdim=True) + binary.sum(1)[None, :] - inter
    iou = torch.where(union > 0, inter / union.clamp_min(1.0), torch.zeros_like(inter))
    scores = region_logits.float().sigmoid() * mask_scores(mask_logits)[None, :]
    best = released.queries.copy()
    for k, kind in enumerate(kinds):
        if kind in GEOMETRY_PROMPTS:
            top = iou[k] == iou[k].max()
            best[k] = int(torch.where(top, scores[k], torch.full_like(scores[k], -1.0)).argmax())
    chosen = torch.as_tensor(best, dtype=torch.long)
    return InteractiveResult((mask_logits[chosen] > 0).numpy(), scores.gather(1, chosen[:, None])[:, 0].numpy(), best)


@dataclass
class DavisFrame:
    label_map: np.ndarray  # (H,W) uint8: 0 background, k+1 object k
    masks: np.ndarray  # (K,H,W) bool, each object's chosen mask before fusion
    queries: np.ndarray  # (K,) chosen query per object
    update_memory: bool  # False when two masks overlap (IoU > threshold): keep the older prompts


def davis_frame_inference(region_logits: torch.Tensor, mask_logits: torch.Tensor, *, topk: int = 10,
                          memory_iou: float = 0.4) -> DavisFrame:
    """DAVIS (released eval_video rule): per object, the best of its top-10 queries not already
    taken by an earlier object; later objects overwrite earlier ones in the label map; the memory
    update is skipped when any two chosen masks have IoU > 0.4."""
    scores = region_logits.float().sigmoid() * mask_scores(mask_logits)[None, :]
    K, Q = scores.shape
    taken: set[int] = set()
    chosen = []
    for k in range(K):
        order = scores[k].topk(min(topk, Q)).indices.tolist()
        pick = next((q for q in order if q not in taken), order[0])
        taken.add(pick)
        chosen.append(pick)
    masks = (mask_logits[chosen] > 0).numpy()
    H, W = mask_logits.shape[-2:]
    label = np.zeros((H, W), np.uint8)
    for k in range(K):
        label[masks[k]] = k + 1
    flat = masks.reshape(K, -1).astype(np.float64)
    inter = flat @ flat.T
    area = flat.sum(1)
    union = area[:, None] + area[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    np.fill_diagonal(iou, 0.0)
    return DavisFrame(label, masks, np.asarray(chosen), not bool((iou > memory_iou).any()))
