"""mIoU as users write it by hand: PIL-decode each PNG pair, ``np.bincount`` a confusion matrix.

Prints both conventions: detectron2's ``SemSegEvaluator`` (means over classes
present in the ground truth) as ``metrics`` and mmsegmentation's (a class that
is only predicted counts with IoU 0) as ``metrics_mmseg``.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from PIL import Image

from _common import emit


def confusion(gt_dir: str, pred_dir: str, n: int, ignore: int) -> tuple[np.ndarray, int]:
    """conf[gt, pred] over all images; ignored GT pixels are left out."""
    conf = np.zeros(n * n, np.int64)
    names = sorted(f for f in os.listdir(gt_dir) if f.endswith(".png"))
    for name in names:
        gt = np.asarray(Image.open(os.path.join(gt_dir, name)), dtype=np.int64).ravel()
        pred = np.asarray(Image.open(os.path.join(pred_dir, name)), dtype=np.int64).ravel()
        keep = gt != ignore
        conf += np.bincount(n * gt[keep] + pred[keep], minlength=n * n)
    return conf.reshape(n, n), len(names)


def detectron2_metrics(conf: np.ndarray) -> dict[str, float]:
    tp = np.diag(conf).astype(np.float64)
    pos_gt = conf.sum(axis=1).astype(np.float64)
    pos_pred = conf.sum(axis=0).astype(np.float64)
    valid = pos_gt > 0
    union = pos_gt + pos_pred - tp
    iou_valid = valid & (union > 0)
    acc = tp[valid] / pos_gt[valid]
    iou = tp[iou_valid] / union[iou_valid]
    weights = pos_gt / pos_gt.sum()
    return {"mIoU": 100 * float(iou.mean()), "fwIoU": 100 * float((iou * weights[iou_valid]).sum()),
            "mACC": 100 * float(acc.mean()), "pACC": 100 * float(tp.sum() / pos_gt.sum())}


def mmseg_metrics(conf: np.ndarray) -> dict[str, float]:
    tp = np.diag(conf).astype(np.float64)
    pos_gt = conf.sum(axis=1).astype(np.float64)
    pos_pred = conf.sum(axis=0).astype(np.float64)
    union = pos_gt + pos_pred - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / union  # NaN where a class is absent on both sides
        acc = tp / pos_gt
    weights = pos_gt / pos_gt.sum()
    return {"mIoU": 100 * float(np.nanmean(iou)), "fwIoU": 100 * float(np.nansum(iou * weights)),
            "mACC": 100 * float(np.nanmean(acc)), "pACC": 100 * float(tp.sum() / pos_gt.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt_dir")
    ap.add_argument("pred_dir")
    ap.add_argument("classes", help="JSON list of class names")
    ap.add_argument("--ignore-label", type=int, default=255)
    args = ap.parse_args()
    with open(args.classes) as f:
        n = len(json.load(f))
    conf, n_images = confusion(args.gt_dir, args.pred_dir, n, args.ignore_label)
    emit("numpy", detectron2_metrics(conf), metrics_mmseg=mmseg_metrics(conf), n_images=n_images)


if __name__ == "__main__":
    main()
