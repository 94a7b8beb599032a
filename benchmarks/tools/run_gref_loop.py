"""gRefCOCO cIoU/gIoU/N-acc/T-acc as ReLA's GRES evaluator scores them, in the
per-sentence loop of the LISA / ReLA scripts: decode every target of the
sentence (annToMask, OR-ed) and the prediction, count I and U with numpy.

No-target rules (ReLA): no-target GT + no-target prediction: IoU 1, I = U = 0
(TP); no-target GT + a mask: IoU 0, U += its area (FN); target GT +
no-target prediction: I = 0, U kept (FP); else IoU = I / U. A prediction is
no-target when it says so or its mask is empty; a missing line is an empty mask.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_api

from _common import emit


def _ann_mask(ann: dict, h: int, w: int) -> np.ndarray:
    segm = ann["segmentation"]
    if isinstance(segm, list):
        rle = mask_api.merge(mask_api.frPyObjects(segm, h, w))
    elif isinstance(segm["counts"], list):
        rle = mask_api.frPyObjects(segm, h, w)
    else:
        rle = segm
    return mask_api.decode(rle).astype(bool)


def reference_gref(folder: Path, pred: Path, split: str = "val") -> dict[str, float]:
    refs = json.loads((folder / "grefs(unc).json").read_text())
    coco = json.loads((folder / "instances.json").read_text())
    anns = {a["id"]: a for a in coco["annotations"]}
    imgs = {i["id"]: i for i in coco["images"]}
    preds = {}
    with open(pred) as handle:
        for line in handle:
            if line.strip():
                rec = json.loads(line)
                preds[rec["sent_id"]] = rec
    total_i = total_u = 0
    ious: list[float] = []
    tp = fn = fp = tn = 0
    for ref in refs:
        if ref["split"] != split:
            continue
        img = imgs[ref["image_id"]]
        h, w = img["height"], img["width"]
        no_target = ref["ann_id"] == [-1]
        for sent in ref["sentences"]:
            gt = np.zeros((h, w), bool)
            if not no_target:
                for ann_id in ref["ann_id"]:
                    gt |= _ann_mask(anns[ann_id], h, w)
            rec = preds.get(sent["sent_id"], {})
            seg = rec.get("segmentation")
            pm = mask_api.decode(seg).astype(bool) if seg is not None else np.zeros((h, w), bool)
            pred_nt = rec["no_target"] if "no_target" in rec else not pm.any()
            if no_target:
                if pred_nt:
                    inter, union, iou = 0, 0, 1.0
                    tp += 1
                else:
                    inter, union, iou = 0, int(pm.sum()), 0.0
                    fn += 1
            else:
                inter = int(np.logical_and(gt, pm).sum())
                union = int(np.logical_or(gt, pm).sum())
                if pred_nt:
                    inter = 0
                    fp += 1
                else:
                    tn += 1
                iou = inter / union if union else 0.0
            total_i += inter
            total_u += union
            ious.append(iou)
    return {"cIoU": 100 * total_i / total_u, "gIoU": 100 * math.fsum(ious) / len(ious),
            "N-acc": 100 * tp / (tp + fn) if tp + fn else None, "T-acc": 100 * tn / (tn + fp) if tn + fp else None,
            "n": len(ious)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt", type=Path, help="gRefCOCO folder (grefs(unc).json, instances.json)")
    ap.add_argument("pred", type=Path)
    args = ap.parse_args()
    metrics = reference_gref(args.gt, args.pred)
    n = metrics.pop("n")
    emit("per-sentence loop", metrics, n_samples=n)


if __name__ == "__main__":
    main()
