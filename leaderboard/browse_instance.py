"""Browse view for instance and ov-instance results: one image per sample, ordered by
its own AP at IoU 0.5 (from the result's match records, ``eval --records``), drawn
with matched and unmatched detections, class names, scores and IoU.

The scores come from the records (nothing is re-scored); only the drawn images
are matched again, COCOeval's way (score order, best unmatched ground truth at
IoU >= 0.5, crowd regions absorb detections), to say which detection is which.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.formats.coco import CocoInstances, ImageInfo, load_detections, load_instances
from psalm_bench.formats.result_json import ResultFile
from psalm_bench.leaderboard.browse import Picture, Sample, TaskView, register_view
from psalm_bench.leaderboard.browse_draw import PALETTE, box_mask, compose_segments, load_image
from psalm_bench.leaderboard.browse_segments import FN_COLOUR, FP_COLOUR
from psalm_bench.leaderboard.browse_views import find_image

RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MATCH_IOU = 0.5
MAX_UNMATCHED_DRAWN = 20  # unmatched detections drawn per image, highest score first
MAX_DETS = 100  # per image and category, as COCOeval keeps
CROWD_COLOUR = (200, 200, 200)
# pair colours: the browse palette without the reds and blues that mean unmatched / missed
MATCH_COLOURS = [tuple(int(c) for c in colour) for colour in PALETTE
                 if not (colour[0] > 200 and colour[1] < 60) and not (colour[2] > 190 and colour[0] < 80 and colour[1] < 140) and colour[0] != 128]


def image_ap50(scores: np.ndarray, tp: np.ndarray, ignored: np.ndarray, n_gt: int) -> float:
    """An image's AP at IoU 0.5 with its classes pooled, COCOeval's 101-point way.
    An image without ground truth scores 1 with no false positive, else 0."""
    keep = ~ignored
    scores, tp = scores[keep], tp[keep]
    if n_gt == 0:
        return 0.0 if scores.size else 1.0
    order = np.argsort(-scores, kind="mergesort")
    tps = np.cumsum(tp[order])
    fps = np.cumsum(~tp[order])
    recall = tps / n_gt
    precision = tps / (tps + fps + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope, right to left
    at = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.zeros(len(RECALL_POINTS))
    reached = at < precision.size
    sampled[reached] = precision[at[reached]]
    return float(np.mean(sampled))


@register_view("instance", "ov-instance")
class InstanceView(TaskView):
    """One image per sample; needs the result's match records (``eval --records``)."""

    score_name = "image AP50"

    def samples(self, result: ResultFile, source: Path) -> list[Sample]:
        records = result.records
        try:
            images = np.asarray(records["images"], dtype=np.int64).reshape(-1)
            pair_image = np.asarray(records["pairs"]["image_id"], dtype=np.int64).reshape(-1)
            pair_dets = np.asarray(records["pairs"]["n_dets"], dtype=np.int64).reshape(-1)
            pair_gt = np.asarray(records["pairs"]["n_gt"], dtype=np.int64).reshape(len(pair_image), -1)[:, 0]
            scores = np.asarray(records["dets"]["score"], dtype=np.float64).reshape(-1)
            tp = (np.asarray(records["dets"]["tp"], dtype=np.int64).reshape(len(scores), -1)[:, 0] & 1).astype(bool)
            ignored = (np.asarray(records["dets"]["ignored"], dtype=np.int64).reshape(len(scores), -1)[:, 0] & 1).astype(bool)
        except (KeyError, TypeError, ValueError):
            raise InputError("instance records need images, pairs (image_id, n_dets, n_gt) and dets (score, tp, ignored): "
                             "re-run eval --json with --records", file=source) from None
        if int(pair_dets.sum()) != len(scores):
            raise InputError("instance records: pairs' n_dets do not add up to the detections", file=source)
        # each image's detections as one slice (the records keep pairs in image order; sorted here stably anyway)
        det_image = np.repeat(pair_image, pair_dets)
        order = np.argsort(det_image, kind="stable")
        det_image, scores, tp, ignored = det_image[order], scores[order], tp[order], ignored[order]
        det_lo, det_hi = np.searchsorted(det_image, images, "left"), np.searchsorted(det_image, images, "right")
        pair_order = np.argsort(pair_image, kind="stable")
        sorted_pairs = pair_image[pair_order]
        gt_sums = np.concatenate([[0], np.cumsum(pair_gt[pair_order])])
        pair_lo, pair_hi = np.searchsorted(sorted_pairs, images, "left"), np.searchsorted(sorted_pairs, images, "right")
        out = []
        for i, image_id in enumerate(images.tolist()):
            on = slice(int(det_lo[i]), int(det_hi[i]))
            n_gt = int(gt_sums[pair_hi[i]] - gt_sums[pair_lo[i]])
            score = image_ap50(scores[on], tp[on], ignored[on], n_gt)
            n_tp = int((tp[on] & ~ignored[on]).sum())
            metrics = {"image AP50": score, "ground truth": n_gt, "TP@0.5": n_tp, "FP@0.5": int((~tp[on] & ~ignored[on]).sum()),
                       "FN@0.5": n_gt - n_tp, "detections kept": int(det_hi[i] - det_lo[i])}
            out.append(Sample(str(image_id), score, f"image {image_id}", metrics, {}, int(image_id)))
        return out

    @cached_property
    def ground_truth(self) -> CocoInstances:
        """The COCO instances GT, read and checked as `eval` reads it (formats.coco)."""
        return load_instances(self.inputs.gt, check_boxes=self.bbox)

    @cached_property
    def names(self) -> dict[int, str]:
        return {cat_id: cat.name for cat_id, cat in self.ground_truth.categories.items()}

    @cached_property
    def _index(self) -> tuple[dict[int, ImageInfo], dict[int, list[dict[str, Any]]], dict[int, list[dict[str, Any]]]]:
        truth = self.ground_truth
        gts: dict[int, list[dict[str, Any]]] = {}
        for ann in truth.annotations:
            gts.setdefault(ann["image_id"], []).append(ann)
        dets: dict[int, list[dict[str, Any]]] = {}
        for det in load_detections(self.inputs.pred, truth, "bbox" if self.bbox else "segm").detections:
            if self.bbox and "bbox" not in det:  # a mask's box, as pycocotools' loadRes (and the engine) derive it
                from pycocotools import mask as mask_utils

                det = {**det, "bbox": [float(v) for v in mask_utils.toBbox(det["segmentation"])]}
            dets.setdefault(det["image_id"], []).append(det)
        return truth.images, gts, dets

    @property
    def bbox(self) -> bool:
        return self.inputs.params.get("iou_type") == "bbox"

    def _rle(self, ann: dict[str, Any], h: int, w: int) -> Any:
        from pycocotools import mask as mask_utils

        from psalm_bench.masks import to_rle

        if self.bbox:
            x, y, bw, bh = ann["bbox"]
            return mask_utils.frPyObjects([[x, y, x + bw, y, x + bw, y + bh, x, y + bh]], h, w)[0]
        return to_rle(ann["segmentation"], h, w)

    def draw(self, sample: Sample) -> Picture:
        from psalm_bench.masks import decode

        image_id = sample.handle
        images, gts, dets = self._index
        info = images.get(image_id)
        if info is None:
            raise InputError(f"image {image_id} of the result is not in the ground truth", file=self.inputs.gt)
        h, w = info.height, info.width
        gt_anns = [a for a in gts.get(image_id, []) if a.get("category_id") in self.names]
        det_anns = [d for d in dets.get(image_id, []) if d.get("category_id") in self.names]
        matches, best = match_image(gt_anns, det_anns, lambda a: self._rle(a, h, w), self.bbox)
        roots = [r for r in (self.inputs.images, self.inputs.gt.parent / "val2017", self.inputs.gt.parent.parent / "val2017",
                             self.inputs.gt.parent / "images", self.inputs.gt.parent) if r is not None]
        rgb, found = load_image(find_image(info.file_name, roots), h, w)
        gt_ids, pred_ids = np.zeros((h, w), np.int32), np.zeros((h, w), np.int32)
        gt_styles: dict[int, tuple[tuple[int, int, int], float]] = {}
        pred_styles: dict[int, tuple[tuple[int, int, int], float]] = {}
        table = [["", "class", "score", "IoU", "GT id"]]
        matched_gt = {g for g in matches.values() if g is not None and not gt_anns[g].get("iscrowd")}
        # larger segments first, so a small one on top of a large one stays visible
        for g in sorted(range(len(gt_anns)), key=lambda g: -float(gt_anns[g].get("area", 0))):
            mask = decode(self._rle(gt_anns[g], h, w)).astype(bool) if not self.bbox else _box(gt_anns[g], h, w)
            gt_ids[mask] = g + 1
        by_score = sorted(matches, key=lambda d: -float(det_anns[d]["score"]))
        drawn_unmatched = [d for d in by_score if matches[d] is None][:MAX_UNMATCHED_DRAWN]
        drawn_matched = [d for d in by_score if matches[d] is not None]
        # unmatched first, then matched on top; larger before smaller within each, so every match stays visible
        for group in (drawn_unmatched, drawn_matched):
            for d in sorted(group, key=lambda d: -_det_area(det_anns[d], self.bbox)):
                mask = decode(self._rle(det_anns[d], h, w)).astype(bool) if not self.bbox else _box(det_anns[d], h, w)
                pred_ids[mask] = d + 1
        matched_rows, crowd_rows, missed_rows, fp_rows = [], [], [], []
        for d in drawn_matched:
            g, det = matches[d], det_anns[d]
            assert g is not None
            row = [self.names.get(det["category_id"], "?"), f"{float(det['score']):.3f}", f"{best[d]:.3f}", str(gt_anns[g].get("id", ""))]
            if gt_anns[g].get("iscrowd"):
                crowd_rows.append(["ignored (on a crowd region)", *row])
                pred_styles[d + 1] = (CROWD_COLOUR, 0.4)
            else:
                colour = MATCH_COLOURS[len(matched_rows) % len(MATCH_COLOURS)]
                gt_styles[g + 1] = pred_styles[d + 1] = (colour, 0.45)
                matched_rows.append(["matched", *row])
        for d in drawn_unmatched:
            det = det_anns[d]
            pred_styles[d + 1] = (FP_COLOUR, 0.5)
            fp_rows.append(["unmatched (FP)", self.names.get(det["category_id"], "?"), f"{float(det['score']):.3f}", f"{best[d]:.3f}" if best[d] > 0 else "", ""])
        for g, ann in enumerate(gt_anns):
            if ann.get("iscrowd"):
                gt_styles[g + 1] = (CROWD_COLOUR, 0.3)
            elif g not in matched_gt:
                gt_styles[g + 1] = (FN_COLOUR, 0.55)
                missed_rows.append(["missed (FN)", self.names.get(ann["category_id"], "?"), "", "", str(ann.get("id", ""))])
        table += matched_rows + missed_rows + fp_rows + crowd_rows
        gap = np.full((h, 4, 3), 255, np.uint8)
        picture = np.concatenate([compose_segments(rgb, gt_ids, gt_styles), gap, compose_segments(rgb, pred_ids, pred_styles)], axis=1)
        legend = [(MATCH_COLOURS[0], "left: ground truth, right: detections; a matched pair (IoU >= 0.5) shares a colour"),
                  (FN_COLOUR, "ground truth no detection matched"), (FP_COLOUR, "detection that matched nothing"),
                  (CROWD_COLOUR, "crowd region, and detections it absorbs")]
        notes = [] if found else [f"image {info.file_name or image_id} not found (pass --images DIR); drawn on grey"]
        n_unmatched = sum(1 for g in matches.values() if g is None)
        if n_unmatched > len(drawn_unmatched):
            notes.append(f"{n_unmatched - len(drawn_unmatched)} more unmatched detections (lower scores) not drawn")
        n_tp = len([d for d, g in matches.items() if g is not None and not gt_anns[g].get("iscrowd")])
        if n_tp != sample.metrics["TP@0.5"]:
            notes.append(f"{n_tp} matches drawn, the result counted {sample.metrics['TP@0.5']} true positives at IoU 0.5")
        return Picture(picture, legend, [], notes, table)


def _box(ann: dict[str, Any], h: int, w: int) -> np.ndarray:
    x, y, bw, bh = (float(v) for v in ann["bbox"])
    return box_mask(h, w, (int(round(x)), int(round(y)), int(round(x + bw)) - 1, int(round(y + bh)) - 1))


def _det_area(det: dict[str, Any], bbox: bool) -> float:
    from pycocotools import mask as mask_utils

    if bbox or "segmentation" not in det or not isinstance(det["segmentation"], dict):
        x, y, bw, bh = det.get("bbox", (0, 0, 0, 0))
        return float(bw) * float(bh)
    return float(mask_utils.area(det["segmentation"]))


def match_image(gt_anns: list[dict[str, Any]], det_anns: list[dict[str, Any]], rle_of: Any, bbox: bool) -> tuple[dict[int, int | None], dict[int, float]]:
    """COCOeval's matching at IoU 0.5, area all, per category: detections in descending
    score (the top 100 kept), each to the best-IoU unmatched ground truth, crowd
    regions (IoU over the detection's area) only when no other is left.
    Returns detection index -> matched GT index (None: unmatched) and each detection's best IoU."""
    from pycocotools import mask as mask_utils

    matches: dict[int, int | None] = {}
    best: dict[int, float] = {}
    for category in sorted({d["category_id"] for d in det_anns} | {g["category_id"] for g in gt_anns}):
        gs = [i for i, g in enumerate(gt_anns) if g["category_id"] == category]
        gs.sort(key=lambda i: bool(gt_anns[i].get("iscrowd")))  # COCOeval: not ignored first (stable)
        ds = [i for i, d in enumerate(det_anns) if d["category_id"] == category]
        ds = sorted(ds, key=lambda i: -float(det_anns[i]["score"]))[:MAX_DETS]
        if not ds:
            continue
        if gs:
            crowd = [int(bool(gt_anns[i].get("iscrowd"))) for i in gs]
            if bbox:
                ious = np.asarray(mask_utils.iou([det_anns[i]["bbox"] for i in ds], [gt_anns[i]["bbox"] for i in gs], crowd))
            else:
                ious = np.asarray(mask_utils.iou([rle_of(det_anns[i]) for i in ds], [rle_of(gt_anns[i]) for i in gs], crowd))
            ious = ious.reshape(len(ds), len(gs))
        else:
            ious = np.zeros((len(ds), 0))
        taken = [False] * len(gs)
        for row, d in enumerate(ds):
            best[d] = float(ious[row].max()) if len(gs) else 0.0
            threshold, chosen = min(MATCH_IOU, 1 - 1e-10), None
            for col, g in enumerate(gs):
                is_crowd = bool(gt_anns[g].get("iscrowd"))
                if taken[col] and not is_crowd:
                    continue
                if chosen is not None and not bool(gt_anns[gs[chosen]].get("iscrowd")) and is_crowd:
                    break  # a real match found: crowd regions come after it
                if ious[row, col] < threshold:
                    continue
                threshold, chosen = ious[row, col], col
            if chosen is not None:
                taken[chosen] = True
                matches[d] = gs[chosen]
                best[d] = float(ious[row, chosen])
            else:
                matches[d] = None
    return matches, best
