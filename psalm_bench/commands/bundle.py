"""Ship a trained run as the bundled model, with the numbers its own check asserts.

``python -m psalm_bench.commands.bundle RUN_DIR`` copies the release files of a
finished ``psalm-bench train`` run into ``model/bundled/`` and records
``check.json``: the model's headline metrics on the tiny world (seed 0),
which ``tests/test_bundled_model.py`` recomputes on CPU and compares.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from psalm_bench.model.checkpoint import CONFIG_FILE, PROVENANCE_FILE, WEIGHTS_FILE
from psalm_bench.model.tokenizer import TOKENIZER_FILE

CHECK_FILE = "check.json"
CHECK_WORLD = {"size": "tiny", "seed": 0}
RELEASE_FILES = (WEIGHTS_FILE, CONFIG_FILE, TOKENIZER_FILE, PROVENANCE_FILE, "train_log.jsonl")


def headline(rep: Any) -> dict[str, dict[str, float | None]]:
    """{"task/split": {metric: value}} of the model's (not the baselines' or its variants') entries."""
    return {f"{e.task}/{e.split}": dict(e.result.metrics) for e in rep.entries if e.system == rep.labels.model}


def check_metrics(model_dir: Path, world: Path | None = None) -> dict[str, Any]:
    """Score ``model_dir`` on the tiny world (built into a temporary cache if not given)."""
    from psalm_bench.generators.embedded import ensure_world
    from psalm_bench.generators.world import WORLD_VERSION
    from psalm_bench.reproduce import reproduce

    with tempfile.TemporaryDirectory() as tmp:
        root = world or ensure_world(Path(tmp), progress=False, workers=2, **CHECK_WORLD)
        rep = reproduce(model_dir, world=root, progress=False)
    return {"world": {**CHECK_WORLD, "version": WORLD_VERSION}, "metrics": headline(rep)}


def final_losses_by_task(log: Path, last: int = 10) -> dict[str, dict[str, float]]:
    """Mean of each loss term over each task's ``last`` logged steps (the log has every 10th step)."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for line in log.read_text().splitlines():
        record = json.loads(line)
        by_task.setdefault(record["task"], []).append(record)
    out = {}
    for task, records in by_task.items():
        tail = records[-last:]
        terms = [k for k in tail[-1] if k not in ("step", "task", "lr", "seconds")]
        out[task] = {k: round(sum(r[k] for r in tail) / len(tail), 4) for k in terms}
    return out


def bundle(run_dir: Path, dest: Path) -> Path:
    run_dir, dest = Path(run_dir), Path(dest)
    missing = [f for f in RELEASE_FILES if not (run_dir / f).is_file()]
    if missing:
        raise SystemExit(f"{run_dir}: not a finished run (missing {', '.join(missing)})")
    dest.mkdir(parents=True, exist_ok=True)
    for name in RELEASE_FILES:
        shutil.copyfile(run_dir / name, dest / name)
    provenance = json.loads((dest / PROVENANCE_FILE).read_text())
    kind = provenance.get("device_kind", "unknown")
    provenance["final_losses_by_task"] = final_losses_by_task(dest / "train_log.jsonl")
    provenance["trained_on"] = "CPU (no GPU was available to this run)" if kind == "cpu" else f"{kind}: {provenance.get('device_name', '?')}"
    (dest / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
    (dest / CHECK_FILE).write_text(json.dumps(check_metrics(dest), indent=2, sort_keys=True) + "\n")
    return dest


def main() -> None:
    from psalm_bench.model.predict import bundled_model_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--dest", type=Path, default=bundled_model_dir())
    args = parser.parse_args()
    print(bundle(args.run_dir, args.dest))


if __name__ == "__main__":
    main()
