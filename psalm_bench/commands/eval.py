"""`psalm-bench eval` and `tasks`: parse the task's options, call its runner, print its table."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from psalm_bench.errors import InputError
from psalm_bench.tasks import TASKS

# --task's choices: the registry's names, in its order (ov-semantic -> member ov_semantic)
TaskName = Enum("TaskName", {name.replace("-", "_"): name for name in TASKS}, type=str)



def eval_command(
    task: Annotated[TaskName, typer.Option("--task", "-t", help="What to score (see `psalm-bench tasks`).", case_sensitive=False)],
    pred: Annotated[Path, typer.Option("--pred", help="Predictions: COCO results JSON (instance), panoptic JSON (+ PNG folder), a folder of label PNGs (semantic), a JSON Lines file, GLaMM's infer.py folder of {image_id}.json (gcg); - reads the file from standard input.")],
    gt: Annotated[Optional[Path], typer.Option("--gt", help="Ground truth: COCO instances/panoptic JSON, a folder of label PNGs (semantic; a panoptic JSON also works), a REFER/gRefCOCO/DAVIS folder, PixelLM's muse_val.json as released (muse), GLaMM's GranD-f *_gcg_coco_mask_gt.json or *_caption_gt.json, or their folder with --split (gcg); the layout is detected (docs/muse_gcg.md). [default: the embedded synthetic world's val split (built once into the cache; see `psalm-bench synth`)]")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the result, with provenance, to this JSON file (- for stdout). [default: not written]")] = None,
    per_class: Annotated[bool, typer.Option("--per-class", "--per-prompt", "--per-sequence", help="Print the task's breakdown table too (per class, prompt type or sequence).")] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", min=1, help="Processes for decoding and scoring (every task but instance). [default: 1]")] = None,
    gt_dir: Annotated[Optional[Path], typer.Option("--gt-dir", help="Panoptic GT PNG folder. [default: the JSON's path without .json]")] = None,
    pred_dir: Annotated[Optional[Path], typer.Option("--pred-dir", help="Panoptic prediction PNG folder. [default: the JSON's path without .json]")] = None,
    iou_type: Annotated[Optional[str], typer.Option("--iou-type", help="instance: segm (masks) or bbox. [default: segm]")] = None,
    classes: Annotated[Optional[Path], typer.Option("--classes", help="semantic: JSON list of class names (label value = index). [default: the COCO classes of a panoptic JSON, else --num-classes]")] = None,
    num_classes: Annotated[Optional[int], typer.Option("--num-classes", help="semantic: number of classes, when there is no --classes file. [default: from --classes or the GT]")] = None,
    ignore_label: Annotated[Optional[int], typer.Option("--ignore-label", help="semantic: label value of void pixels. [default: 255]")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="A named convention where the field's scripts disagree (see README): semantic detectron2|mmseg; refcoco lisa|mmdet|psalm; gref rela|gsva|psalm; interactive all-instances|psalm; vos davis2017|all-frames; muse pixellm|per-image; gcg glamm; correspondence egoexo|native (egoexo: at the benchmark's evaluation size, native: at the ground truth's). [default: the first of each task]")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="refcoco: refcoco, refcoco+ or refcocog. [default: refcoco]")] = None,
    split_by: Annotated[Optional[str], typer.Option("--split-by", help="refcoco: unc, umd or google [default: unc; umd for refcocog].")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="refcoco/gref: val, test, testA, testB; vos: the ImageSets/2017 list; gcg: the GranD-f files of a --gt folder [default: val]; correspondence: the direction, ego-exo or exo-ego [default: every direction the file holds].")] = None,
    strict: Annotated[Optional[bool], typer.Option("--strict", help="vos: stop at a missing prediction frame instead of scoring it as empty.")] = None,
    benchmark: Annotated[Optional[str], typer.Option("--benchmark", help="ov-semantic: a150, cityscapes, pc59, pc459 or pas20; ov-instance: a150 or cityscapes. [default: the world's, without --gt; needed with --gt]")] = None,
    layout: Annotated[Optional[str], typer.Option("--layout", help="ov-semantic: official (the dataset's own label files) or prepared (detectron2's converted maps). [default: official]")] = None,
    image_list: Annotated[Optional[Path], typer.Option("--image-list", help="ov-semantic: a file of image stems to score (e.g. VOC's val.txt). [default: every GT file]")] = None,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="muse: JSON of externally computed text scores per sample [default: mask-only scoring].")] = None,
    captions: Annotated[Optional[bool], typer.Option("--captions/--no-captions", help="gcg: also score captions with METEOR and CIDEr (needs Java). [default: captions]")] = None,
    records: Annotated[Optional[bool], typer.Option("--records", help="instance, ov-instance: keep the per-image match state in the JSON, so `psalm-bench report` can bootstrap AP (several ms per image; other tasks always keep their records).")] = None,
    ignore_extra: Annotated[Optional[bool], typer.Option("--ignore-extra", help="Skip predictions for samples the ground truth lacks instead of stopping.")] = None,
    world: Annotated[Optional[Path], typer.Option("--world", help="Without --gt: a world folder from `psalm-bench synth` to take the ground truth from. [default: the embedded world]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    engine: Annotated[Optional[str], typer.Option("--engine", help="ray: score as tasks on a Ray cluster (pip install 'psalm-bench[ray]'); same result as one process. [default: this machine's --workers pool]")] = None,
    address: Annotated[Optional[str], typer.Option("--address", help="--engine ray: auto or HOST:PORT of the head node. [default: start a local Ray]")] = None,
    shards: Annotated[Optional[int], typer.Option("--shards", help="--engine ray: Ray tasks to split the samples into. [default: 4 per cluster CPU]")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Score only shard K of N (1-based, e.g. 3/16; a Slurm array index) and write its state to --state-out for `psalm-bench merge`. [default: all samples]")] = None,
    state_out: Annotated[Optional[Path], typer.Option("--state-out", help="With --shard: the shard state file to write (docs/scale.md). [default: none; needed with --shard]")] = None,
) -> None:
    """Score predictions against ground truth and print the task's table.

    Metrics are in percent and follow the official implementations exactly
    (panopticapi, pycocotools, detectron2). Bad input stops with one line
    naming the file, the record and the problem, and exit status 2.
    """
    from psalm_bench.tasks import get_task

    task_name, gt, world_options, world_stamp = _ground_truth(task.value, gt, split, world, quiet)
    spec = get_task(task_name)
    options = dict(gt_dir=gt_dir, pred_dir=pred_dir, iou_type=iou_type, classes=classes, num_classes=num_classes, ignore_label=ignore_label,
                   protocol=protocol, dataset=dataset, split_by=split_by, split=split, strict=strict, benchmark=benchmark, layout=layout,
                   image_list=image_list, scores=scores, captions=captions, ignore_extra=ignore_extra, records=records, workers=workers)
    options.update({k: v for k, v in world_options.items() if options.get(k) is None})
    if "progress" in spec.options:
        options["progress"] = not quiet and sys.stderr.isatty()
    cluster = dict(engine=engine, address=address, shards=shards, shard=shard, state_out=state_out)
    _score_and_print(spec, gt, pred, options, cluster, world_stamp, per_class=per_class, json_out=json_out)


def _ground_truth(task: str, gt: Optional[Path], split: Optional[str], world: Optional[Path], quiet: bool) -> tuple[str, Path, dict[str, Any], Any]:
    """(registry task, GT path, the world's runner options, world stamp): without
    --gt the world's (psalm_bench/world_gt.py); the stamp is (world root, task)
    when the result stands for the world, so it says so and which task it is."""
    if gt is not None:
        if world is not None:
            raise InputError("--world names where to take the ground truth from; it cannot go with --gt")
        return task, gt, {}, None
    from psalm_bench.world_gt import world_gt

    # the first use builds the world (minutes): a bar on a terminal, lines in a CI log
    found = world_gt(task, split, world=world, progress=not quiet)
    typer.echo(found.describe(), err=True)
    return found.eval_task, found.gt, found.options, (found.root, found.task)


def _score_and_print(spec: Any, gt: Path, pred: Path, options: dict[str, Any], cluster_args: dict[str, Any], world_stamp: Any, *,
                     per_class: bool, json_out: Optional[Path]) -> None:
    """Run the task (here, on a pool, on Ray or as one shard), stamp, print the table, write the JSON."""
    import contextlib

    from psalm_bench.cli_cluster import eval_engine, finish_shard
    from psalm_bench.stdio import is_stdio, spooled_stdin
    from psalm_bench.tables import render

    task_name, pred_dir = spec.name, options.get("pred_dir")
    piped = is_stdio(pred)
    with contextlib.ExitStack() as stack:
        if piped:  # `--pred -`: the predictions come through a pipe
            if task_name == "panoptic" and pred_dir is None:
                raise InputError("--pred -: panoptic predictions need --pred-dir (the PNG folder)")
            pred = stack.enter_context(spooled_stdin(task_name))
        cluster = eval_engine(spec, gt, pred, options, **cluster_args, world=world_stamp)
        if cluster is not None:
            options["workers"] = cluster
        result = spec.run(gt, pred, **options)
        if finish_shard(cluster):
            return
        if world_stamp is not None:
            from psalm_bench.world_gt import stamp_world

            stamp_world(result, *world_stamp)
        table = render(result, spec.table_rows, per_class=per_class)
        if json_out is not None and _write_result(result, json_out, task_name, (gt, options.get("gt_dir")), (pred, pred_dir), piped=piped):
            typer.echo(table, err=True)  # `--json -`: stdout is the JSON alone, the table goes to stderr
            return
    typer.echo(table)


def _write_result(result: Any, json_out: Path, task: str, gt: tuple[Path, Optional[Path]], pred: tuple[Path, Optional[Path]], *, piped: bool) -> bool:
    """Write the result JSON with its provenance; True when it went to stdout (``--json -``)."""
    from psalm_bench.jsonio import dump_json
    from psalm_bench.stdio import is_stdio, write_json_stdout
    from psalm_bench.tasks import input_files

    doc = result.to_dict(gt=input_files(task, *gt), pred=input_files(task, *pred))
    if piped and "inputs" in doc["provenance"]:
        doc["provenance"]["inputs"]["pred"] = ["-"]  # the spooled copy is gone after the run
    if is_stdio(json_out):
        write_json_stdout(doc)
        return True
    dump_json(doc, json_out)
    return False



def tasks_command() -> None:
    """List the tasks `eval` can score."""
    from psalm_bench.tasks import TASKS

    for task in TASKS.values():
        typer.echo(f"{task.name:12}  {task.summary}")
