"""COCO-Interactive builder vs a plain reference done the authors' way.

    .venv/bin/python benchmarks/interactive_speed.py [--n-images 60] [--workers 1,2] [--json OUT]

On a synthetic COCO-like workload (``coco_workload.write_workload``: 480 x 640
images, COCO's mix of small/medium/large objects, polygons, RLE and crowd
regions) it

1. checks that the builder (``psalm_bench.generators.interactive``) and the
   reference (``benchmarks/reference_interactive.py``: scikit-image label +
   regionprops, scipy's full-image Gaussian, skimage.draw.line, Python loops)
   give the same four prompts for every instance (same draws: same stream);
2. times one core per instance: the prompt work alone (decode, prompts,
   encode) and the whole file (read, build, write; the reference writes with
   ``json.dump(indent=2)`` as the released generator does);
3. times ``build_interactive`` with several worker counts on a larger copy of
   the workload;
4. extrapolates a COCO train2017 build (860,001 instances) on 8 cores.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
from pycocotools import mask as mask_api

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_interactive import reference_annotation, reference_build  # noqa: E402

from psalm_bench.generators import interactive as gi  # noqa: E402
from psalm_bench.generators.coco_workload import write_workload  # noqa: E402

COCO_TRAIN_INSTANCES = 860_001
COCO_TRAIN_IMAGES = 118_287


def _items(path: Path) -> list[tuple[dict, int, int]]:
    data = json.loads(path.read_text())
    images = {img["id"]: img for img in data["images"]}
    return [(a, images[a["image_id"]]["height"], images[a["image_id"]]["width"]) for a in data["annotations"]]


def _size_class(ann: dict, h: int, w: int) -> str:
    area = gi.instance_mask(ann["segmentation"], h, w).area
    return "small" if area < 32 ** 2 else "medium" if area < 96 ** 2 else "large"


def agreement(items, seed: int) -> dict:
    same = {p: 0 for p in gi.PROMPTS}
    pixels = {p: 0 for p in gi.PROMPTS}
    for ann, h, w in items:
        ours = gi._ann_record(ann, h, w, seed, "released", collections.Counter())
        theirs = reference_annotation(ann, h, w, seed)
        for name, key in zip(gi.PROMPTS, gi.PROMPT_KEYS):
            if ours[key]["counts"] == theirs[key]["counts"]:
                same[name] += 1
            else:
                a = mask_api.decode({"size": [h, w], "counts": ours[key]["counts"].encode()})
                b = mask_api.decode({"size": [h, w], "counts": theirs[key]["counts"].encode()})
                pixels[name] += int((a != b).sum())
    return {"instances": len(items), "identical": same, "pixels_differing": pixels}


def time_core(items, seed: int, repeats: int) -> dict:
    """Seconds per instance of decode + prompts + encode, one core.

    Each implementation runs in its own loop (interleaving them instance by
    instance would let the reference's full-image arrays evict the builder's
    working set); the rounds alternate, so a change in machine load hits both,
    and each instance keeps its best time over the rounds."""
    cv2.setNumThreads(1)
    reference = [float("inf")] * len(items)
    builder = [float("inf")] * len(items)
    for _ in range(repeats):
        for i, (ann, h, w) in enumerate(items):
            start = time.perf_counter()
            reference_annotation(ann, h, w, seed)
            reference[i] = min(reference[i], time.perf_counter() - start)
        for _ in range(2):
            for i, (ann, h, w) in enumerate(items):
                start = time.perf_counter()
                gi._ann_record(ann, h, w, seed, "released", collections.Counter())
                builder[i] = min(builder[i], time.perf_counter() - start)
    per_class: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for (ann, h, w), r, f in zip(items, reference, builder):
        entry = per_class[_size_class(ann, h, w)]
        entry[0] += r
        entry[1] += f
        entry[2] += 1
    classes = {k: {"n": n, "reference_us": r / n * 1e6, "builder_us": f / n * 1e6, "speedup": r / f}
               for k, (r, f, n) in sorted(per_class.items())}
    ref, fast = sum(reference) / len(items), sum(builder) / len(items)
    return {"builder_s_per_instance": fast, "reference_s_per_instance": ref, "speedup": ref / fast, "by_size": classes}


def time_end_to_end(instances: Path, n_instances: int, seed: int, repeats: int, tmp: Path) -> dict:
    fast, reference = [], []
    for i in range(repeats):
        start = time.perf_counter()
        reference_build(instances, tmp / "reference.json", seed=seed)
        reference.append(time.perf_counter() - start)
        for j in range(2):
            start = time.perf_counter()
            gi.build_interactive(instances, tmp / f"fast{i}{j}.json", seed=seed, workers=1, progress=False)
            fast.append(time.perf_counter() - start)
    return {"builder_s": min(fast), "reference_s": min(reference), "builder_s_per_instance": min(fast) / n_instances,
            "reference_s_per_instance": min(reference) / n_instances, "speedup": min(reference) / min(fast)}


def _cpu() -> tuple[float, float]:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def time_workers(instances: Path, n_instances: int, workers: list[int], seed: int, repeats: int, tmp: Path) -> dict:
    """Wall time per worker count, and the CPU time of the parent (reading,
    dispatching, writing) and of the workers: on a machine whose cores are
    shared, wall-clock speed-up says little, but the CPU split gives the
    speed-up on idle cores: one-worker time / max(parent CPU, workers' CPU / N)."""
    out = {}
    for n in workers:
        best = None
        for i in range(repeats):
            cpu0, wall0 = _cpu(), time.perf_counter()
            gi.build_interactive(instances, tmp / f"w{n}_{i}.json", seed=seed, workers=n, progress=False)
            wall, cpu1 = time.perf_counter() - wall0, _cpu()
            run = {"seconds": wall, "parent_cpu_s": cpu1[0] - cpu0[0], "workers_cpu_s": cpu1[1] - cpu0[1]}
            if best is None or wall < best["seconds"]:
                best = run
        out[n] = best
    one = out[workers[0]]
    one_cpu = one["parent_cpu_s"] + one["workers_cpu_s"]
    for n, run in out.items():
        run["s_per_instance"] = run["seconds"] / n_instances
        run["speedup_vs_1"] = one["seconds"] / run["seconds"]
        critical = max(run["parent_cpu_s"], run["workers_cpu_s"] / n) if n > 1 else run["parent_cpu_s"]
        run["idle_core_speedup"] = one_cpu / critical
        run["work_overhead"] = (run["parent_cpu_s"] + run["workers_cpu_s"]) / one_cpu
    same = len({(tmp / f"w{n}_0.json").read_bytes() for n in workers}) == 1
    return {"runs": out, "identical_output": same}


COCO_TRAIN_JSON_BYTES = 448_000_000  # instances_train2017.json


def input_cost(instances: Path, repeats: int = 3) -> float:
    """Seconds per byte to parse and hash the instances JSON (the parent does
    both once before any work starts)."""
    from psalm_bench.jsonio import load_json, sha256_of

    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        load_json(instances)
        sha256_of(instances)
        best = min(best, time.perf_counter() - start)
    return best / instances.stat().st_size


def extrapolate(worker_per_instance_s: float, parent_per_instance_s: float, per_byte_s: float, cores: int = 8) -> dict:
    """COCO train2017 on ``cores`` workers: the workers' CPU time per instance
    spread over the cores, or the parent's (dispatch and writing), whichever
    is the bottleneck, plus parsing and hashing the 448 MB input at the
    measured rate."""
    fixed = COCO_TRAIN_JSON_BYTES * per_byte_s
    per_instance = max(worker_per_instance_s / cores, parent_per_instance_s)
    seconds = fixed + COCO_TRAIN_INSTANCES * per_instance
    return {"instances": COCO_TRAIN_INSTANCES, "cores": cores, "worker_cpu_s_per_instance": worker_per_instance_s,
            "parent_cpu_s_per_instance": parent_per_instance_s, "input_s": fixed, "seconds": seconds, "minutes": seconds / 60}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-images", type=int, default=60, help="images in the agreement/one-core workload")
    ap.add_argument("--scale-images", type=int, default=240, help="images in the worker-scaling workload")
    ap.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args(argv)
    workers = [int(v) for v in args.workers.split(",")]

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        small = write_workload(tmp / "w", n_images=args.n_images, n_panoptic=0, seed=1, dets_per_image=1, progress=False)
        items = _items(small.instances_gt)
        print(f"workload: {args.n_images} images 480x640, {len(items)} instances; cpu: {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} logical cores, load {os.getloadavg()[0]:.1f}")
        agree = agreement(items, args.seed)
        print("same prompts as the reference: " + ", ".join(f"{k} {v}/{agree['instances']}" for k, v in agree["identical"].items()))
        core = time_core(items, args.seed, args.repeats)
        print(f"one core, per instance (decode + prompts + encode): builder {core['builder_s_per_instance'] * 1e6:.0f} us, "
              f"reference {core['reference_s_per_instance'] * 1e3:.2f} ms: {core['speedup']:.1f}x")
        for name, c in core["by_size"].items():
            print(f"  {name:6} ({c['n']:3}): builder {c['builder_us']:6.0f} us, reference {c['reference_us'] / 1e3:6.2f} ms: {c['speedup']:5.1f}x")
        e2e = time_end_to_end(small.instances_gt, len(items), args.seed, args.repeats, tmp)
        print(f"one core, whole file (read, build, write): builder {e2e['builder_s']:.2f} s, reference {e2e['reference_s']:.2f} s: "
              f"{e2e['speedup']:.1f}x ({e2e['builder_s_per_instance'] * 1e6:.0f} us vs {e2e['reference_s_per_instance'] * 1e3:.2f} ms per instance)")
        big = write_workload(tmp / "big", n_images=args.scale_images, n_panoptic=0, seed=2, dets_per_image=1, progress=False, workers=max(workers))
        n_big = len(_items(big.instances_gt))
        scaling = time_workers(big.instances_gt, n_big, workers, args.seed, max(1, args.repeats - 1), tmp)
        for n, run in scaling["runs"].items():
            print(f"workers {n}: {run['seconds']:.2f} s wall for {n_big} instances (speed-up {run['speedup_vs_1']:.2f} on this machine); "
                  f"CPU parent {run['parent_cpu_s']:.2f} s, workers {run['workers_cpu_s']:.2f} s: "
                  f"speed-up on {n} idle cores {run['idle_core_speedup']:.2f}, total work x{run['work_overhead']:.2f}")
        print(f"identical output for every worker count: {scaling['identical_output']}")
        top = scaling["runs"][max(workers)]
        one = scaling["runs"][workers[0]]
        worker_per_instance = (top["workers_cpu_s"] if max(workers) > 1 else one["parent_cpu_s"]) / n_big
        parent_per_instance = top["parent_cpu_s"] / n_big if max(workers) > 1 else 0.0
        low = extrapolate(worker_per_instance, parent_per_instance, input_cost(big.instances_gt))
        print(f"COCO train2017 ({COCO_TRAIN_INSTANCES} instances, {COCO_TRAIN_IMAGES} images) on 8 cores: about {low['minutes']:.1f} min "
              f"= {low['input_s']:.0f} s to parse and hash the 448 MB input + {COCO_TRAIN_INSTANCES} x max(workers' "
              f"{worker_per_instance * 1e6:.0f} us CPU per instance / 8, parent's {parent_per_instance * 1e6:.0f} us)")
        result = {"workload": {"images": args.n_images, "instances": len(items), "height": 480, "width": 640},
                  "machine": {"cpus": os.cpu_count(), "load_1min": os.getloadavg()[0], "python": platform.python_version()},
                  "agreement": agree, "one_core": core, "end_to_end": e2e,
                  "workers": {"instances": n_big, **scaling}, "coco_train2017_8_cores": low}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
