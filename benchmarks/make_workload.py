"""Write the benchmark workload: COCO val2017-sized instance, panoptic and semantic files.

Defaults: 5000 images of 480x640, ~7 GT instances each, 100 scored RLE
detections per image, panoptic + semantic PNGs for the first 1000 images,
into ``bench-data/`` (gitignored). Same seed, same bytes, for any ``--workers``.

    python benchmarks/make_workload.py --workers 2
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType


def _generator() -> ModuleType:
    """psalm_bench.generators.coco_workload, or the source file when the package is not installed."""
    try:
        from psalm_bench.generators import coco_workload
    except ImportError:
        src = Path(__file__).resolve().parent.parent / "generators" / "coco_workload.py"
        spec = importlib.util.spec_from_file_location("coco_workload", src)
        assert spec is not None and spec.loader is not None
        coco_workload = importlib.util.module_from_spec(spec)
        sys.modules["coco_workload"] = coco_workload
        spec.loader.exec_module(coco_workload)
    return coco_workload


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench-data"))
    ap.add_argument("--n-images", type=int, default=5000)
    ap.add_argument("--n-panoptic", type=int, default=1000, help="images that also get panoptic/semantic PNGs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--gt-per-image", type=float, default=7)
    ap.add_argument("--dets-per-image", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    gen = _generator()
    start = time.perf_counter()
    paths = gen.write_workload(args.out, args.n_images, min(args.n_panoptic, args.n_images), seed=args.seed,
                               height=args.height, width=args.width, gt_per_image=args.gt_per_image,
                               dets_per_image=args.dets_per_image, progress=True, workers=args.workers)
    print(f"wrote {paths.root} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
