"""The CLI's cluster options: `eval --engine ray | --shard K/N --state-out`, and `merge`.

cli.py registers these with a few lines; the logic lives here so the eval
command stays a thin parse-call-print.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, List, Optional

import typer

from psalm_bench.errors import InputError
from psalm_bench.tasks import Task

_NOT_RECORDED = {"workers", "progress"}  # how, not what: they never change the result


def _abs(value: Any) -> Any:
    return value.resolve() if isinstance(value, Path) else value


def _inputs_and_hashes(task: str, gt: Path, pred: Path, options: dict[str, Any]) -> tuple[list[Path], list[Path], str, str]:
    from psalm_bench.results import _hash_inputs
    from psalm_bench.tasks import input_files

    gt_in = input_files(task, gt, options.get("gt_dir"))
    pred_in = input_files(task, pred, options.get("pred_dir"))
    return gt_in, pred_in, _hash_inputs(gt_in), _hash_inputs(pred_in)


def eval_engine(
    spec: Task,
    gt: Path,
    pred: Path,
    options: dict[str, Any],
    *,
    engine: Optional[str],
    address: Optional[str],
    shards: Optional[int],
    shard: Optional[str],
    state_out: Optional[Path],
    world: Optional[tuple[Path, str]] = None,
) -> Any:
    """The engine `eval` passes as ``workers``, or None for the local pool.

    ``world`` (root, task key): the ground truth is the embedded world's; a
    shard records it so that `merge` stamps the result as `eval` does."""
    if engine is None and address is None and shards is None and shard is None and state_out is None:
        return None
    if "workers" not in spec.options:
        reason = spec.why_not.get("workers", "it does not score samples one by one")
        raise InputError(f"task {spec.name} cannot be sharded ({reason})")
    if engine not in (None, "ray", "local"):
        raise InputError(f"--engine {engine}: choose ray or local")
    if shard is not None or state_out is not None:
        if shard is None or state_out is None:
            raise InputError("--shard K/N and --state-out FILE go together")
        if engine == "ray" or address is not None or shards is not None:
            raise InputError("--shard runs one shard here; it cannot go with --engine ray, --address or --shards")
        from psalm_bench.shards import ShardEngine, ShardHeader, parse_shard

        k, n = parse_shard(shard)
        gt_in, pred_in, gt_sha, pred_sha = _inputs_and_hashes(spec.name, gt, pred, options)
        recorded = {key: _abs(v) for key, v in options.items() if v is not None and key not in _NOT_RECORDED}
        stamp = (str(Path(world[0]).resolve()), world[1]) if world is not None else None
        header = ShardHeader(spec.name, recorded, [str(Path(gt).resolve())], [str(Path(pred).resolve())], gt_sha, pred_sha, (k, n), world=stamp)
        return ShardEngine(header, state_out, workers=int(options.get("workers") or 1))
    if engine != "ray":
        raise InputError("--address and --shards need --engine ray")
    if options.get("workers") not in (None, 1):
        raise InputError("--workers is this machine's pool; with --engine ray use --shards")
    if shards is not None and shards < 1:
        raise InputError("--shards must be at least 1")
    from psalm_bench.ray_engine import RayEngine

    return RayEngine(address=address, shards=shards)


def build_executor(engine: Optional[str], address: Optional[str], workers: int) -> tuple[Any, int]:
    """`build-interactive --engine ray`: a Ray executor and its window size (cluster CPUs)."""
    if engine is None:
        if address is not None:
            raise InputError("--address needs --engine ray")
        return None, workers
    if engine != "ray":
        raise InputError(f"--engine {engine}: choose ray")
    if workers != 1:
        raise InputError("--workers is this machine's pool; with --engine ray the cluster's CPUs are used")
    from psalm_bench.ray_engine import RayExecutor

    executor = RayExecutor(address)
    return executor, executor.parallelism


def load_predictor(model: str, *, batch_size: int, progress: bool, engine: Optional[str], address: Optional[str], gpus_per_worker: Optional[float]) -> Any:
    """`predict`: the model in this process, or on Ray actors (`--engine ray`)."""
    if engine is None:
        if address is not None or gpus_per_worker is not None:
            raise InputError("--address and --gpus-per-worker need --engine ray")
        from psalm_bench.model.predict import Predictor

        return Predictor.load(model, batch_size=batch_size, progress=progress)
    if engine != "ray":
        raise InputError(f"--engine {engine}: choose ray")
    from psalm_bench.ray_engine import ray_predictor

    return ray_predictor(model, address=address, batch_size=batch_size, progress=progress, gpus_per_worker=gpus_per_worker or 0.0)


def finish_shard(engine: Any) -> bool:
    """After `eval --shard`: say what was written; True if the command is done."""
    if engine is None or isinstance(engine, int):  # a plain run: no need to import the shard layer (and tqdm)
        return False
    from psalm_bench.shards import ShardEngine

    if not isinstance(engine, ShardEngine):
        return False
    k, n = engine.header.shard
    typer.echo(f"shard {k}/{n}: state written to {engine.state_out}; combine all {n} with `psalm-bench merge`")
    return True


def merge_command(
    states: Annotated[List[Path], typer.Argument(help="The shard state files of one run (any order; every shard once).")],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the result, with provenance, to this JSON file (- for stdout). [default: not written]")] = None,
    per_class: Annotated[bool, typer.Option("--per-class", "--per-prompt", "--per-sequence", help="Print the task's breakdown table too.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Combine the states of `eval --shard K/N --state-out` into the result one process gives.

    Refuses (one line, exit 2) states of different tasks, options, inputs or
    versions, and a missing or duplicated shard. The inputs are re-read from
    the paths the shards recorded and must still hash the same.
    """
    from psalm_bench.results import EvalResult
    from psalm_bench.shards import ReplayEngine, check_compatible, read_state
    from psalm_bench.tables import render
    from psalm_bench.tasks import get_task

    from psalm_bench import __version__

    ordered = check_compatible([read_state(p) for p in states])
    header = ordered[0].header
    if ordered[0].version != __version__:
        raise InputError(f"written by psalm-bench {ordered[0].version}; this is {__version__}", file=ordered[0].path)
    spec = get_task(header.task)
    gt, pred = Path(header.gt[0]), Path(header.pred[0])
    options = dict(header.options)
    gt_in, pred_in, gt_sha, pred_sha = _inputs_and_hashes(spec.name, gt, pred, options)
    if gt_sha != header.gt_sha256:
        raise InputError("ground truth changed since the shards were scored (sha256 differs)", file=gt)
    if pred_sha != header.pred_sha256:
        raise InputError("predictions changed since the shards were scored (sha256 differs)", file=pred)
    options["workers"] = ReplayEngine(ordered)
    if "progress" in spec.options:
        options["progress"] = not quiet and sys.stderr.isatty()
    result: EvalResult = spec.run(gt, pred, **options)
    if header.world is not None:  # scored on the embedded world: say so, as `eval` does
        from psalm_bench.world_gt import stamp_world

        stamp_world(result, Path(header.world[0]), header.world[1])
    table = render(result, spec.table_rows, per_class=per_class)
    if json_out is not None:
        from psalm_bench.stdio import is_stdio, write_json_stdout

        if is_stdio(json_out):  # `--json -`: stdout is the JSON alone, the table goes to stderr (as `eval`)
            write_json_stdout(result.to_dict(gt=gt_in, pred=pred_in))
            typer.echo(table, err=True)
            return
        result.write_json(json_out, gt=gt_in, pred=pred_in)
    typer.echo(table)
