"""DAVIS-2017 semi-supervised J&F by davis2017-evaluation's procedure, re-implemented
plainly (the package is not on the registries): PIL-decode every frame, one
boolean array per object, db_eval_iou, per object-frame f_measure with
seg2bmap and cv2.dilate, db_statistics (benchmarks/vos_speed.reference_vos)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import emit  # noqa: E402
from vos_speed import reference_vos  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt", type=Path, help="DAVIS root")
    ap.add_argument("pred", type=Path)
    args = ap.parse_args()
    emit("davis2017 procedure", {k: float(v) for k, v in reference_vos(args.gt, args.pred).items()})


if __name__ == "__main__":
    main()
