"""Speed of the static leaderboard site (`psalm-bench leaderboard render` / `publish`).

Builds, in a temporary folder, a results store of M models x T tasks from
synthetic result JSONs in the real shape (FORMATS.md): every task's headline
metrics, a per-class / per-prompt / per-sequence table of realistic size
(133 panoptic categories, 150 ADE classes, 80 COCO classes, 30 DAVIS
sequences with their objects, ...) and N per-sample records, so that reading
each drill-down's result file costs what it costs on a real board. A tenth
of the rows are `reported` paper numbers with a citation; model sizes go from
100M to 70B. Then it times ``render_site`` and ``publish_site`` (the store
read, every result file read, every page written) R times and prints the
median. The claim checked: 50 models x 10 tasks render in seconds.

    python benchmarks/site_speed.py [--models 50] [--tasks 10] [--records 2000] [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Breakdown table per task: (kind, row count, columns)
BREAKDOWN = {
    "panoptic": ("per_class", 133, ("PQ", "SQ", "RQ", "TP", "FP", "FN", "isthing")),
    "instance": ("per_class", 80, ("id", "AP", "AP50", "AP75", "AR100")),
    "semantic": ("per_class", 150, ("IoU", "ACC", "pixels")),
    "interactive": ("per_prompt", 5, ("mIoU", "cIoU", "samples", "missing")),
    "vos": ("per_sequence", 90, ("J&F", "J", "F", "object")),
    "ov-semantic": ("per_class", 150, ("IoU", "ACC", "pixels")),
    "ov-instance": ("per_class", 100, ("id", "AP", "AP50", "AP75", "AR100")),
}
COUNTS = {"TP", "FP", "FN", "pixels", "samples", "missing", "id", "object"}


def synthetic_result(task: str, metric_names: list[str], model: int, n_records: int, rng: random.Random) -> dict:
    skill = 30 + 50 * rng.random()
    metrics = {m: min(100.0, max(0.0, skill + rng.gauss(0, 5))) for m in metric_names}
    for m in ("J-decay", "F-decay"):
        if m in metrics:
            metrics[m] = rng.uniform(0, 15)
    data: dict = {"task": task, "metrics": metrics}
    if task in BREAKDOWN:
        kind, rows, columns = BREAKDOWN[task]
        table = {}
        for k in range(rows):
            values: dict = {}
            for c in columns:
                if c == "isthing":
                    values[c] = k < 80
                elif c in COUNTS:
                    values[c] = rng.randrange(0, 50000)
                else:
                    values[c] = None if rng.random() < 0.03 else min(100.0, max(0.0, skill + rng.gauss(0, 20)))
            table[f"class {k:03d}" if kind == "per_class" else f"seq{k // 3:02d}_{k % 3}" if kind == "per_sequence" else f"prompt {k}"] = values
        data[kind] = table
    data["n_samples"] = n_records
    data["warnings"] = []
    data["records"] = [{"id": i, "I": rng.randrange(1, 5000), "U": rng.randrange(5000, 20000)} for i in range(n_records)]
    data["provenance"] = {"psalm_bench": "0.1.0", "gt_sha256": f"{task:g<64}"[:64].replace("-", "g"),
                          "pred_sha256": f"{model:064x}", "params": {"split": "val"}}
    return data


def build(folder: Path, n_models: int, n_tasks: int, n_records: int, seed: int):
    import orjson

    from psalm_bench.leaderboard.store import ResultsStore
    from psalm_bench.tasks import TASKS

    rng = random.Random(seed)
    tasks = list(TASKS)[:n_tasks]
    store = ResultsStore.open(folder / "board.db")
    for m in range(n_models):
        name = f"Model-{m:02d}" + (" <v2>" if m % 17 == 3 else "")
        size = f"{rng.choice([0.1, 0.3, 1.3, 1.5, 3, 7, 13, 34, 70])}B"
        results = []
        for task in tasks:
            names = [x for group in TASKS[task].table_rows for x in group]
            data = synthetic_result(task, names, m, n_records, rng)
            path = folder / f"m{m:02d}-{task}.json"
            path.write_bytes(orjson.dumps(data))
            results.append(path)
        if m % 10 == 9:  # a paper's numbers: no file behind the row, a citation and a date
            for path in results:
                data = orjson.loads(path.read_bytes())
                data["provenance"]["params"].update(citation=f"Paper {m}, CVPR 20{20 + m % 5}", date=f"20{20 + m % 5}-06")
                store.add(data, name, {"params": size}, source="reported")
        else:
            store.add_many(results, name, {"params": size, "llm": "Phi-1.5", "link": "https://example.org/model"})
    return store, tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--records", type=int, default=2000, help="per-sample records in each result file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from psalm_bench.leaderboard.site import publish_site, render_site

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        store, tasks = build(folder, args.models, args.tasks, args.records, args.seed)
        build_s = time.perf_counter() - t0
        rows = len(store.list())
        result_mb = sum(p.stat().st_size for p in folder.glob("*.json")) / 1e6
        render, publish = [], []
        report = None
        for _ in range(args.repeat):
            t = time.perf_counter()
            report = render_site(store, folder / "site")
            render.append(time.perf_counter() - t)
            t = time.perf_counter()
            publish_site(store, folder / "site", base_url="https://example.org/board")
            publish.append(time.perf_counter() - t)
        site_mb = sum(p.stat().st_size for p in (folder / "site").rglob("*") if p.is_file()) / 1e6
        store.close()
    out = {
        "models": args.models, "tasks": len(tasks), "results": rows, "records_per_result": args.records,
        "result_files_mb": round(result_mb, 1), "pages": report.pages, "site_mb": round(site_mb, 1),
        "store_build_s": round(build_s, 2), "render_s": [round(x, 3) for x in render], "publish_s": [round(x, 3) for x in publish],
        "render_median_s": round(statistics.median(render), 3), "publish_median_s": round(statistics.median(publish), 3),
        "python": sys.version.split()[0],
    }
    print(f"{args.models} models x {len(tasks)} tasks = {rows} results ({result_mb:.0f} MB of result JSON, "
          f"{args.records} records each) -> {report.pages} pages, {site_mb:.1f} MB")
    print(f"render:  median {out['render_median_s']:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in render)})")
    print(f"publish: median {out['publish_median_s']:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in publish)}; adds JSON/CSV, sitemap)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
