"""Speed of the bootstrap regression report (`psalm-bench report`).

Builds synthetic baseline/current result JSONs with N paired samples for
refcoco (sentences: I, U, IoU), interactive ((instance, prompt) pairs),
semantic (images with sparse confusion cells over 133 classes), panoptic
(images with ~20 segments over 133 categories) and vos (objects of 50
frames), writes them to disk, and times ``compare_results`` on the files
(JSON reading included) with R resamples. The claim checked: 5000 samples x
1000 resamples in under 5 s on 2 cores. BLAS threads are capped at --threads
(default 2) before numpy loads.

    python benchmarks/report_speed.py [--samples 5000] [--resamples 1000] [--threads 2] [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tasks", default="refcoco,interactive,semantic,panoptic,vos")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np

    from psalm_bench.jsonio import dump_json
    from psalm_bench.leaderboard import report as rep

    def finish(task, records, stat_of, params, extra=None):
        """A result dict whose metrics are what the records give (so it validates)."""
        data = {"task": task, "metrics": {}, "n_samples": 0, "warnings": [], "records": records,
                "provenance": {"psalm_bench": "0.1.0", "gt_sha256": "f" * 64, "pred_sha256": "", "params": params}}
        data.update(extra or {})
        keys, stat, _, _ = rep._build(task, data, "x", data, "x")
        point = stat(np.ones((1, len(keys))))
        data["metrics"] = {k: (None if not np.isfinite(v[0]) else float(v[0])) for k, v in point.items()}
        return data

    def refcoco(n, rng, shift):
        u = rng.integers(1000, 50000, n)
        f = np.clip(rng.uniform(0.2, 0.95, n) + shift, 0, 1)
        i = np.round(f * u).astype(int)
        recs = [{"sent_id": k, "ref_id": k, "I": int(a), "U": int(b), "IoU": float(a / b), "gt_no_target": None, "pred_no_target": None}
                for k, (a, b) in enumerate(zip(i, u))]
        return finish("refcoco", recs, None, {"protocol": "lisa"})

    def interactive(n, rng, shift):
        u = rng.integers(1000, 50000, n)
        i = np.round(np.clip(rng.uniform(0.2, 0.95, n) + shift, 0, 1) * u).astype(np.int64)
        recs = {"image_id": list(range(n)), "ann_id": [k // 4 for k in range(n)], "prompt": [("point", "scribble", "box", "mask")[k % 4] for k in range(n)],
                "I": i.tolist(), "U": u.tolist(), "IoU": (i / u).tolist()}
        return finish("interactive", recs, None, {"protocol": "all-instances"})

    def semantic(n, rng, shift, classes=133):
        recs = []
        for k in range(n):
            present = rng.choice(classes, size=8, replace=False)
            gt = np.repeat(present, 3)
            pr = np.where(rng.random(gt.size) < 0.7 + shift, gt, rng.choice(classes + 1, size=gt.size))
            cells, idx = np.unique(gt * (classes + 1) + pr, return_inverse=True)
            counts = np.bincount(idx, weights=rng.integers(100, 20000, gt.size)).astype(np.int64)
            recs.append({"image": f"img{k:06d}", "cells": cells.tolist(), "counts": counts.tolist()})
        return finish("semantic", recs, None, {"protocol": "detectron2", "ignore_label": 255, "num_classes": classes})

    def panoptic(n, rng, shift, cats=133):
        img, cat, out, iou = [], [], [], []
        for k in range(n):
            m = 20
            c = rng.integers(1, cats + 1, m)
            o = np.where(rng.random(m) < 0.6 + shift, 0, rng.integers(1, 4, m))
            v = np.where(o == 0, rng.uniform(0.5, 1.0, m), np.nan)
            img += [k] * m; cat += c.tolist(); out += o.tolist(); iou += [None if np.isnan(x) else float(x) for x in v]
        records = {"images": {"image_id": list(range(n))}, "segments": {"image_id": img, "category_id": cat, "outcome": out, "iou": iou}}
        # per_class consistent with the records: things are ids <= 80
        seg_cat, seg_out = np.asarray(cat), np.asarray(out)
        seg_iou = np.asarray([np.nan if x is None else x for x in iou])
        per_class = {}
        for c in np.unique(seg_cat):
            s = seg_cat == c
            tp, fp, fn = (int(np.count_nonzero(seg_out[s] == j)) for j in range(3))
            if tp + fp + fn:
                per_class[f"c{c}"] = {"PQ": 100 * np.nansum(np.where(seg_out[s] == 0, seg_iou[s], 0)) / (tp + 0.5 * fp + 0.5 * fn),
                                      "TP": tp, "FP": fp, "FN": fn, "isthing": bool(c <= 80)}
        return finish("panoptic", records, None, {"protocol": "panopticapi"}, {"per_class": per_class})

    def vos(n, rng, shift, frames=50):
        seq = [f"s{k // 3}" for k in range(n) for _ in range(frames)]
        obj = [k % 3 + 1 for k in range(n) for _ in range(frames)]
        J = np.clip(rng.uniform(0.3, 0.95, n)[:, None] + shift + rng.normal(0, 0.05, (n, frames)), 0, 1).ravel()
        F = np.clip(J + rng.normal(0, 0.05, J.size), 0, 1)
        recs = {"sequence": seq, "object": obj, "frame": [f"{t:05d}" for _ in range(n) for t in range(frames)], "J": J.tolist(), "F": F.tolist()}
        return finish("vos", recs, None, {"protocol": "davis2017"})

    makers = {"refcoco": refcoco, "interactive": interactive, "semantic": semantic, "panoptic": panoptic, "vos": vos}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            rng = np.random.default_rng(0)
            base = makers[task](args.samples, rng, 0.0)
            cur = makers[task](args.samples, np.random.default_rng(1), -0.01)
            bp, cp = Path(tmp) / f"{task}_base.json", Path(tmp) / f"{task}_cur.json"
            dump_json(base, bp)
            dump_json(cur, cp)
            times, core = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                report = rep.compare_results(bp, cp, resamples=args.resamples, seed=0)
                times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                rep.compare_results(base, cur, resamples=args.resamples, seed=0)
                core.append(time.perf_counter() - t0)
            labels = report.counts()
            results[task] = {"samples": args.samples, "resamples": args.resamples, "seconds_with_json_read": min(times),
                             "seconds_in_memory": min(core), "labels": labels}
            print(f"{task:12} {args.samples} samples x {args.resamples} resamples: {min(times):6.2f} s (files) "
                  f"{min(core):6.2f} s (dicts)  [{', '.join(f'{v} {k}' for k, v in labels.items() if v)}]", flush=True)
    ok = all(r["seconds_with_json_read"] < 5.0 for r in results.values())
    print(f"threads {args.threads}; under 5 s: {'yes' if ok else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "results": results}, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
