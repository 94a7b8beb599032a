"""RefCOCO cIoU/gIoU/Pr@k as the LISA / ReLA evaluation scripts compute them:
per sentence, decode the target (annToMask) and the prediction, count I and U
with numpy (benchmarks/referring_speed.reference_refcoco)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import emit  # noqa: E402
from referring_speed import reference_refcoco  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gt", type=Path, help="REFER folder (refs(unc).p, instances.json)")
    ap.add_argument("pred", type=Path)
    args = ap.parse_args()
    metrics = reference_refcoco(args.gt, args.pred)
    n = metrics.pop("n")
    emit("per-sentence loop", metrics, n_samples=n)


if __name__ == "__main__":
    main()
