"""Instance mask mAP with faster-coco-eval (C++ evaluate/accumulate, pycocotools-compatible API)."""

from __future__ import annotations

import argparse

from _common import coco_stats, emit, stdout_to_stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt")
    ap.add_argument("pred")
    ap.add_argument("--iou-type", default="segm")
    ap.add_argument("--workers", type=int, default=1, help="threads for the RLE IoU step")
    args = ap.parse_args()
    with stdout_to_stderr():
        from faster_coco_eval import COCO, COCOeval_faster

        gt = COCO(args.gt)
        dt = gt.loadRes(args.pred)
        ev = COCOeval_faster(gt, dt, args.iou_type, print_function=print,
                             rle_iou_max_workers=max(1, args.workers))
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    emit("faster-coco-eval", coco_stats(ev.stats))


if __name__ == "__main__":
    main()
