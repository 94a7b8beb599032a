"""Write the benchmark workload: COCO val2017-sized instance, panoptic and semantic files.

Defaults: 5000 images of 480x640, ~7 GT instances each, 100 scored RLE
detections per image, panoptic + semantic PNGs for the first 1000 images,
into ``bench-data/`` (gitignored). Same seed, same bytes, for any ``--workers``.

    python benchmarks/make_workload.py --workers 2
    python benchmarks/make_workload.py --out /tmp/w200 --n-images 200 --n-panoptic 100

The options are the generator's own (``python -m psalm_bench.generators.coco_workload --help``);
this script only sets the default output folder.
"""

from __future__ import annotations

import sys
import time

from psalm_bench.generators.coco_workload import main as generator_main


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--out" in args:  # the generator takes the folder as a positional argument
        at = args.index("--out")
        folder = args[at + 1]
        del args[at:at + 2]
    else:
        folder = "bench-data"
    start = time.perf_counter()
    generator_main([folder, *args])
    print(f"wrote {folder} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
