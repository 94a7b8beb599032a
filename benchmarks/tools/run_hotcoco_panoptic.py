"""PQ with hotcoco's panoptic evaluator (``hotcoco.panoptic.pq_compute``, panopticapi's signature)."""

from __future__ import annotations

import argparse

from _common import emit, pq_metrics, stdout_to_stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt_json")
    ap.add_argument("pred_json")
    ap.add_argument("--gt-dir")
    ap.add_argument("--pred-dir")
    args = ap.parse_args()
    with stdout_to_stderr():
        from hotcoco import panoptic

        results = panoptic.pq_compute(args.gt_json, args.pred_json, args.gt_dir, args.pred_dir)
    emit("hotcoco", pq_metrics(results))


if __name__ == "__main__":
    main()
