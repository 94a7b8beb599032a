"""COCO-Interactive mIoU/cIoU per prompt as a user writes it: per prediction
line, decode the ground truth and the prediction with pycocotools and count
I and U with numpy (benchmarks/vos_speed.reference_interactive)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import emit  # noqa: E402
from vos_speed import reference_interactive  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt", type=Path)
    ap.add_argument("pred", type=Path)
    args = ap.parse_args()
    emit("per-sample loop", reference_interactive(args.gt, args.pred))


if __name__ == "__main__":
    main()
