"""mIoU with hotcoco's ``SemanticEval`` (mmsegmentation's protocol) over two PNG folders."""

from __future__ import annotations

import argparse
import json

from _common import emit, stdout_to_stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt_dir")
    ap.add_argument("pred_dir")
    ap.add_argument("classes", help="JSON list of class names")
    ap.add_argument("--ignore-label", type=int, default=255)
    args = ap.parse_args()
    with open(args.classes) as f:
        classes = json.load(f)
    with stdout_to_stderr():
        from hotcoco import semantic

        ev = semantic.SemanticEval(classes, ignore_index=args.ignore_label)
        n = ev.update_folders(args.gt_dir, args.pred_dir)
        r = ev.results()
    names = {"mIoU": "mIoU", "fwIoU": "fwIoU", "mAcc": "mACC", "aAcc": "pACC"}
    emit("hotcoco", {ours: 100.0 * float(r[theirs]) for theirs, ours in names.items()},
         protocol="mmseg", n_images=n)


if __name__ == "__main__":
    main()
