"""Write the benchmark workload: COCO val2017-sized instance, panoptic and semantic files.

Defaults: 5000 images of 480x640, ~7 GT instances each, 100 scored RLE
detections per image, panoptic + semantic PNGs for the first 1000 images,
into ``bench-data/`` (gitignored). Same seed, same bytes, for any ``--workers``.

    python benchmarks/make_workload.py --workers 2
    python benchmarks/make_workload.py --out /tmp/w200 --n-images 200 --n-panoptic 100
    python benchmarks/make_workload.py --out /tmp/w5000 --images 5000

The options are the generator's own (``python -m psalm_bench.generators.coco_workload --help``);
this script sets the default output folder, and ``--images N`` writes every
task's workload at N images: the COCO files with ``--n-images N --n-panoptic
N``, then the refcoco, gref, interactive and vos folders of
``task_workloads.py`` (vos: 2N frames).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from psalm_bench.generators.coco_workload import main as generator_main

sys.path.insert(0, str(Path(__file__).resolve().parent))
import task_workloads  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("out", nargs="?", help="output folder (default bench-data)")
    parser.add_argument("--out", dest="out_option", help="output folder, as the positional argument")
    parser.add_argument("--images", type=int, help="every task's workload at N images")
    known, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if "-h" in rest or "--help" in rest:
        parser.print_help()
        print("\nthe generator's options:")
        generator_main(["--help"])
    if known.out and known.out_option and known.out != known.out_option:
        parser.error(f"two output folders: {known.out} and --out {known.out_option}")
    folder = known.out or known.out_option or "bench-data"
    images = known.images
    args = rest if images is None else ["--n-images", str(images), "--n-panoptic", str(images), *rest]
    start = time.perf_counter()
    generator_main([folder, *args])
    if images is not None:
        seconds = task_workloads.write(Path(folder), images)
        print("task workloads: " + ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items()))
    print(f"wrote {folder} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
