"""Instance mask mAP with pycocotools, the official COCO API: loadRes + evaluate/accumulate/summarize."""

from __future__ import annotations

import argparse

from _common import coco_stats, emit, stdout_to_stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt")
    ap.add_argument("pred")
    ap.add_argument("--iou-type", default="segm")
    args = ap.parse_args()
    with stdout_to_stderr():
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        gt = COCO(args.gt)
        dt = gt.loadRes(args.pred)
        ev = COCOeval(gt, dt, args.iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    emit("pycocotools", coco_stats(ev.stats))


if __name__ == "__main__":
    main()
