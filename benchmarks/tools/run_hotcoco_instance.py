"""Instance mask mAP with hotcoco (Rust COCOeval; threads set by RAYON_NUM_THREADS in the runner)."""

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
        import hotcoco

        gt = hotcoco.COCO(args.gt)
        dt = gt.load_res(args.pred)
        ev = hotcoco.COCOeval(gt, dt, args.iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    emit("hotcoco", coco_stats(ev.stats))


if __name__ == "__main__":
    main()
