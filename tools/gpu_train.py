#!/usr/bin/env python3
"""The prepared GPU job: train the reference model in bf16 within a time budget, then score it.

On a lent GPU machine (no network; it may hold other torch/transformers versions than
the pins, and psalm-bench need not be installed there):

    python tools/gpu_train.py --out "$OUT"            # ~9 minutes on one GPU

writes under OUT: ``model/`` (weights, config, tokenizer, provenance with the device name
from torch.cuda), ``model/train_log.jsonl``, ``reproduce/`` (every result JSON and
tables.md: the check numbers), ``gpu_train.json`` (device, versions, steps, steps/s, wall
time of each phase) and ``gpu_train.log``. The step count is fixed before training from a
short timed calibration, so the cosine schedule ends inside the budget.

``--dry-run`` runs the same path on the CPU at toy size (tiny config, a tiny world, a few
steps) in about a minute: CI runs it, so the script is known to work before a GPU is lent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _import_psalm_bench() -> str:
    """Use the installed package, or else this checkout's folders as the package."""
    try:
        import psalm_bench.model  # noqa: F401

        return "installed"
    except ModuleNotFoundError:
        sys.path.insert(0, str(REPO))
        import psalm_bench

        psalm_bench.__path__.append(str(REPO))  # psalm_bench.model -> REPO/model, as pyproject's package-dir maps it
        import psalm_bench.model  # noqa: F401

        return f"source tree {REPO}"


def _cli_command() -> list[str]:
    """``psalm-bench`` for subprocesses, also where it is not installed."""
    exe = shutil.which("psalm-bench")
    if exe and Path(exe).resolve().parent == Path(sys.executable).resolve().parent:
        return [exe]
    shim = ("import sys; sys.path.insert(0, {repo!r}); import psalm_bench; psalm_bench.__path__.append({repo!r}); "
            "from psalm_bench.cli import main; sys.argv[0] = 'psalm-bench'; sys.exit(main())").format(repo=str(REPO))
    return [sys.executable, "-c", shim]


def _log(path: Path, text: str) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {text}"
    print(line, flush=True)
    with open(path, "a") as fh:
        fh.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="Folder for the model, logs, results (the device's $OUT).")
    parser.add_argument("--minutes", type=float, default=9.0, help="Whole-job budget in minutes (training gets what scoring leaves). [default: 9]")
    parser.add_argument("--score-minutes", type=float, default=2.5, help="Time kept for scoring with reproduce. [default: 2.5]")
    parser.add_argument("--config", default="bundled", help="Model geometry. [default: bundled]")
    parser.add_argument("--batch-size", type=int, default=8, help="Images per step. [default: 8]")
    parser.add_argument("--loader-workers", type=int, default=None, help="Scene-rendering processes. [default: CPU cores - 2, at most 12]")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny config, tiny world, 4 steps: checks the path in about a minute.")
    args = parser.parse_args(argv)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "gpu_train.log"
    t_start = time.monotonic()
    source = _import_psalm_bench()

    import torch

    from psalm_bench.model.recipe import Recipe, train_on_world

    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_train: no CUDA device here; use --dry-run on a CPU machine", file=sys.stderr)
        return 2
    config = "tiny" if args.dry_run else args.config
    workers = args.loader_workers if args.loader_workers is not None else (1 if args.dry_run else max(0, min(12, (os.cpu_count() or 2) - 2)))
    report: dict = {
        "dry_run": args.dry_run, "config": config, "batch_size": args.batch_size, "loader_workers": workers,
        "device": torch.cuda.get_device_name(0) if device == "cuda" else f"cpu:{platform.machine()}",
        "torch": torch.__version__, "transformers": __import__("transformers").__version__,
        "python": platform.python_version(), "psalm_bench": source,
    }
    _log(log_path, f"start: {json.dumps(report)}")

    # calibration: a short run measures seconds per step, so the real run's schedule fits the budget
    budget_s = 60 * (args.minutes - args.score_minutes) - (time.monotonic() - t_start)
    if args.dry_run:
        steps, per_step = 4, None
    else:
        calib = Recipe(steps=30, batch_size=args.batch_size, warmup_steps=5, checkpoint_every=0)
        t0 = time.monotonic()
        train_on_world(config, out / "calibration", calib, device=device, progress=False, loader_workers=workers)
        calib_s = time.monotonic() - t0
        per_step = calib_s / calib.steps  # includes start-up: a safe over-estimate
        budget_s -= calib_s
        steps = max(50, int(0.92 * budget_s / per_step))
        shutil.rmtree(out / "calibration", ignore_errors=True)
        _log(log_path, f"calibration: {calib.steps} steps in {calib_s:.1f} s -> {steps} steps for {budget_s:.0f} s")
    report.update(calibration_seconds_per_step=per_step, steps=steps)

    recipe = Recipe(steps=steps, batch_size=args.batch_size, warmup_steps=max(1, min(80, steps // 20)),
                    checkpoint_every=max(1, steps // 4))
    t0 = time.monotonic()
    summary = train_on_world(config, out / "model", recipe, device=device, progress=False, loader_workers=workers,
                             max_seconds=max(1.0, budget_s))
    train_s = time.monotonic() - t0
    report.update(train_seconds=round(train_s, 1), steps_done=summary.step, completed=summary.completed,
                  steps_per_second=round(summary.step / train_s, 3), final_losses=summary.last_losses)
    _log(log_path, f"trained {summary.step}/{steps} steps in {train_s:.1f} s ({summary.step / train_s:.2f} steps/s); losses {summary.last_losses}")
    if not summary.completed:
        from psalm_bench.model.recipe import export_paused_run

        export_paused_run(out / "model", out / "model")
        _log(log_path, "budget reached before the last step: exported the last checkpoint")

    cli = _cli_command()
    world_args: list[str] = []
    if args.dry_run:
        subprocess.run([*cli, "synth", "--size", "tiny", "--out", str(out / "world")], check=True, stdout=subprocess.DEVNULL)
        world_args = ["--world", str(out / "world")]
    remaining = 60 * args.minutes - (time.monotonic() - t_start)
    t0 = time.monotonic()
    try:
        run = subprocess.run([*cli, "reproduce", "--model", str(out / "model"), *world_args, "--out", str(out / "reproduce"), "--quiet"],
                             capture_output=True, text=True, timeout=max(60.0, remaining))
        report.update(score_rc=run.returncode, score_seconds=round(time.monotonic() - t0, 1))
        (out / "reproduce.txt").write_text(run.stdout + run.stderr)
        _log(log_path, f"reproduce exit {run.returncode} in {time.monotonic() - t0:.1f} s")
    except subprocess.TimeoutExpired:
        report.update(score_rc=None, score_seconds=round(time.monotonic() - t0, 1))
        _log(log_path, "reproduce ran past the budget; the model is saved, score it with `psalm-bench reproduce --model`")
    report["wall_seconds"] = round(time.monotonic() - t_start, 1)
    (out / "gpu_train.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    _log(log_path, f"done in {report['wall_seconds']} s")
    return 0 if report.get("score_rc") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
