"""Wall time and CPU of one process, 1 and 2 Ray workers, and 1/2/4 shards + merge.

    python benchmarks/make_workload.py --out /tmp/scale-w --n-images 240 --n-panoptic 240 --dets-per-image 5
    python benchmarks/scale.py --data /tmp/scale-w --json scale.json

Every configuration's result JSON is compared, byte for byte, with the
one-process result (``identical`` in the output). CPU is the driver's own
CPU time plus the machine-wide busy CPU seconds from /proc/stat over the run
(Ray workers are not our children; other users' load is included, so state
it with the figures). Per-sample cost = one-process wall / samples.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from psalm_bench.cli_cluster import eval_engine
from psalm_bench.jsonio import dump_json
from psalm_bench.ray_engine import RayEngine
from psalm_bench.shards import ReplayEngine, check_compatible, read_state
from psalm_bench.tasks import get_task


def _busy_cpu_s() -> float:
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _timed(fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    busy, cpu, wall = _busy_cpu_s(), time.process_time(), time.perf_counter()
    out = fn()
    return out, {"wall_s": round(time.perf_counter() - wall, 3), "driver_cpu_s": round(time.process_time() - cpu, 3),
                 "machine_busy_cpu_s": round(_busy_cpu_s() - busy, 3)}


def _bytes(result: Any, tmp: Path) -> bytes:
    dump_json(result.to_dict(), tmp / "r.json")
    return (tmp / "r.json").read_bytes()


def workloads(data: Path) -> dict[str, tuple[Path, Path, dict[str, Any]]]:
    return {
        "panoptic": (data / "panoptic_gt.json", data / "panoptic_pred.json", {}),
        "semantic": (data / "semantic_gt", data / "semantic_pred", {"classes": data / "semantic_classes.json"}),
        "instance": (data / "instances_gt.json", data / "instances_pred.json", {}),
    }


def measure(task: str, gt: Path, pred: Path, options: dict[str, Any], tmp: Path, ray: Any) -> dict[str, Any]:
    spec = get_task(task)
    base = {**options, "progress": False}
    one, t_one = _timed(lambda: spec.run(gt, pred, workers=1, **base))
    reference = _bytes(one, tmp)
    out: dict[str, Any] = {"n_samples": one.n_samples, "one_process": t_one,
                           "per_sample_ms": round(1000 * t_one["wall_s"] / max(1, one.n_samples), 2)}
    for cpus in (1, 2):
        _, t_init = _timed(lambda: ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                                            log_to_driver=False, configure_logging=False))
        spec.run(gt, pred, workers=RayEngine(shards=4 * cpus), **base)  # warm the workers (imports)
        res, t = _timed(lambda: spec.run(gt, pred, workers=RayEngine(shards=4 * cpus), **base))
        ray.shutdown()
        out[f"ray_{cpus}_workers"] = {**t, "ray_init_s": t_init["wall_s"], "identical": _bytes(res, tmp) == reference}
    for n in (1, 2, 4):
        paths, shard_times = [], []
        for k in range(1, n + 1):
            path = tmp / f"{task}-{k}of{n}.state"
            engine = eval_engine(spec, gt, pred, {**base}, engine=None, address=None, shards=None, shard=f"{k}/{n}", state_out=path)
            _, t = _timed(lambda: spec.run(gt, pred, **{**base, "workers": engine}))
            paths.append(path)
            shard_times.append(t["wall_s"])

        def merge() -> Any:
            ordered = check_compatible([read_state(p) for p in reversed(paths)])
            return spec.run(gt, pred, **{**base, "workers": ReplayEngine(ordered)})

        res, t_merge = _timed(merge)
        out[f"shards_{n}"] = {"shard_wall_s": shard_times, "max_shard_wall_s": max(shard_times), "sum_shard_wall_s": round(sum(shard_times), 3),
                              "merge": t_merge, "state_bytes": sum(p.stat().st_size for p in paths),
                              "overhead_s": round(sum(shard_times) + t_merge["wall_s"] - t_one["wall_s"], 3),
                              "identical": _bytes(res, tmp) == reference}
    return out


def generation_cost(instances: Path, tmp: Path) -> dict[str, Any]:
    """build-interactive (released mode) per annotation, one process."""
    from psalm_bench.generators.interactive import build_interactive

    n_anns = len(json.loads(instances.read_text())["annotations"])
    summary, t = _timed(lambda: build_interactive(instances, tmp / "ci.json", seed=0, workers=1, progress=False))
    return {"annotations": n_anns, **t, "per_annotation_ms": round(1000 * t["wall_s"] / max(1, n_anns), 3)}


def prediction_cost(tmp: Path) -> dict[str, Any]:
    """The bundled PSALM model on the tiny world's panoptic val images (CPU), per image."""
    from psalm_bench.generators.embedded import ensure_world
    from psalm_bench.generators.world import load_manifest

    root = ensure_world(tmp / "world", size="tiny", progress=False, workers=1)
    entry = load_manifest(root)["tasks"]["panoptic"]["val"]
    n_images = len(json.loads((root / entry["gt"]).read_text())["images"])
    from psalm_bench.model import predict as P

    predictor, t_load = _timed(lambda: P.Predictor.load("bundled", batch_size=8, progress=False))
    P.predict_categories(predictor, root / entry["gt"], root / entry["images"], tmp / "warm")  # first-call warm-up
    _, t_run = _timed(lambda: P.predict_categories(predictor, root / entry["gt"], root / entry["images"], tmp / "pred"))
    return {"images": n_images, "model_load": t_load, "run": t_run, "per_image_s": round(t_run["wall_s"] / max(1, n_images), 4),
            "per_image_machine_cpu_s": round(t_run["machine_busy_cpu_s"] / max(1, n_images), 4)}


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a folder from benchmarks/make_workload.py")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--tasks", default="panoptic,semantic")
    parser.add_argument("--generation", action="store_true", help="also time build-interactive per annotation")
    parser.add_argument("--prediction", action="store_true", help="also time the bundled model's predict per image")
    args = parser.parse_args()
    load = os.getloadavg()
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load]}}
    with tempfile.TemporaryDirectory() as tmp:
        for task in [t for t in args.tasks.split(",") if t]:
            gt, pred, options = workloads(args.data)[task]
            figures[task] = measure(task, gt, pred, options, Path(tmp), ray)
            print(task, json.dumps(figures[task]), flush=True)
        if args.generation:
            figures["build_interactive"] = generation_cost(args.data / "instances_gt.json", Path(tmp))
            print("build_interactive", json.dumps(figures["build_interactive"]), flush=True)
        if args.prediction:
            figures["predict"] = prediction_cost(Path(tmp))
            print("predict", json.dumps(figures["predict"]), flush=True)
    figures["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures["machine"]))


if __name__ == "__main__":
    main()
