"""PQ with panopticapi's ``pq_compute`` (panopticapi-lite), with a chosen number of processes.

panopticapi always starts ``multiprocessing.cpu_count()`` pool processes; the
wrapper sets that count to ``--workers`` so it runs with as many processes as
psalm-bench is given.
"""

from __future__ import annotations

import argparse
import multiprocessing

from _common import emit, pq_metrics, stdout_to_stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt_json")
    ap.add_argument("pred_json")
    ap.add_argument("--gt-dir")
    ap.add_argument("--pred-dir")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    workers = max(1, args.workers)
    multiprocessing.cpu_count = lambda: workers  # read by pq_compute_multi_core
    with stdout_to_stderr():
        from panopticapi.evaluation import pq_compute

        results = pq_compute(args.gt_json, args.pred_json, args.gt_dir, args.pred_dir)
    emit("panopticapi", pq_metrics(results), processes=workers)


if __name__ == "__main__":
    main()
