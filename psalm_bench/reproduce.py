"""`psalm-bench reproduce`: the bundled model and the baselines on every task of the world.

The orchestration layer, beside the CLI: the model writes prediction files
(model/predict.py), the evaluators score them through the task registry, as
they would score anyone's files, and the results become the analogues of the
PSALM paper's tables 8-13.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from psalm_bench.jsonio import load_json
from psalm_bench.results import EvalResult
from psalm_bench.tables import fmt
from psalm_bench.tasks import get_task, input_files
from psalm_bench.world_gt import stamp_world

MODEL_SYSTEM = "PSALM (bundled)"
NO_TARGET_SYSTEM = "PSALM (bundled), no-target if none > 0.6"
PROMPT_IOU_SYSTEM = "PSALM (bundled), box/mask prompt: query by IoU with the prompt (not the paper's rule)"
PROMPT_BASELINE = "prompt as mask (no model)"
VOS_BASELINE = "first frame held (no model)"
COPY_BASELINE = "query mask copied (no model)"
MUSE_SYSTEM = "PSALM (bundled), referring path per question, proposals > 0.6 as objects"
GCG_SYSTEM = "PSALM (bundled), top-4 instance detections as phrases, caption from class names (no language output)"
MUSE_BASELINE = "whole image per question (no model)"
GCG_BASELINE = "fixed caption, whole image as its phrase (no model)"
ALL_TASKS = ("panoptic", "instance", "semantic", "refcoco", "gref", "interactive", "ov", "vos", "correspondence", "muse", "gcg")


@dataclass
class Entry:
    """One scored system on one task and split."""

    system: str
    task: str  # the world's task key (refcoco, gref, ov-semantic, ...)
    split: str
    result: EvalResult
    baseline: bool = False


@dataclass
class Reproduction:
    entries: list[Entry] = field(default_factory=list)
    world: Path | None = None
    model: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def get(self, system: str, task: str, split: str) -> Entry | None:
        for e in self.entries:
            if (e.system, e.task, e.split) == (system, task, split):
                return e
        return None

    def systems(self) -> list[str]:
        seen: list[str] = []
        for e in self.entries:
            if e.system not in seen:
                seen.append(e.system)
        return seen


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-").replace("--", "-")


def reproduce(
    model: str | Path = "bundled",
    *,
    world: Path | None = None,
    out: Path | None = None,
    tasks: Sequence[str] = ALL_TASKS,
    batch_size: int = 8,
    progress: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> Reproduction:
    """Predict, score and collect every table's numbers. With ``out``, result
    JSONs land in ``out/results/SYSTEM/TASK-SPLIT.json`` and predictions in
    ``out/predictions``; otherwise in a temporary folder that is removed."""
    from psalm_bench.formats.refer import find_grefer_files, find_refer_files
    from psalm_bench.generators.baselines import write_first_frame_baseline, write_prompt_baseline
    from psalm_bench.generators.embedded import ensure_world
    from psalm_bench.generators.world import load_manifest, task_inputs
    from psalm_bench.model.predict import Predictor, predict_categories, predict_interactive, predict_referring, predict_vos

    started = time.perf_counter()
    root = Path(world) if world is not None else ensure_world(progress=progress)
    manifest = load_manifest(root)
    predictor = Predictor.load(model, batch_size=batch_size, progress=progress)
    rep = Reproduction(world=root, model={"source": str(model), **{k: predictor.provenance.get(k) for k in ("config_name", "device_kind", "steps", "wall_seconds")}})
    holder = tempfile.TemporaryDirectory() if out is None else None
    base = Path(holder.name) if holder else Path(out)
    preds = base / "predictions"

    def score(system: str, key: str, split: str, pred: Path, baseline: bool = False) -> None:
        entry = manifest["tasks"][key][split]
        gt, options = task_inputs(root, entry)
        task = get_task(entry["task"])
        if "progress" in task.options:
            options["progress"] = False
        result = stamp_world(task.run(gt, pred, **options), root, key)
        result.write_json(base / "results" / _slug(system) / f"{key}-{split}.json", gt=input_files(entry["task"], gt), pred=input_files(entry["task"], pred))
        rep.entries.append(Entry(system, key, split, result, baseline))
        value = result.metrics.get(entry["metric"])
        log(f"{system}: {key} {split}: {entry['metric']} {fmt(value)}")

    written_val = None  # the val category predictions, whose instance part GCG reuses
    try:
        wanted = set(tasks)
        if wanted & {"panoptic", "instance", "semantic"}:
            entry = manifest["tasks"]["panoptic"]["val"]
            sem_classes = load_json(root / manifest["tasks"]["semantic"]["val"]["options"]["classes"])
            written = written_val = predict_categories(predictor, root / entry["gt"], root / entry["images"], preds / "coco_val", semantic_classes=sem_classes)
            for key, pred in (("panoptic", written.panoptic_json), ("instance", written.instance_json), ("semantic", written.semantic_dir)):
                if key in wanted:
                    score(MODEL_SYSTEM, key, "val", pred)
        if "ov" in wanted:
            entry = manifest["tasks"]["ov-panoptic"]["val"]
            sem_classes = load_json(root / manifest["tasks"]["ov-semantic"]["val"]["options"]["classes"])
            written = predict_categories(predictor, root / entry["gt"], root / entry["images"], preds / "ov_val", semantic_classes=sem_classes)
            score(MODEL_SYSTEM, "ov-panoptic", "val", written.panoptic_json)
            score(MODEL_SYSTEM, "ov-instance", "val", written.instance_json)
            score(MODEL_SYSTEM, "ov-semantic", "val", written.semantic_dir)
        if "refcoco" in wanted:
            for split, entry in manifest["tasks"]["refcoco"].items():
                opts = entry["options"]
                refs, instances = find_refer_files(root / entry["gt"], opts.get("dataset", "refcoco"), opts.get("split_by"))
                pred = preds / "refcoco" / f"{split}.jsonl"
                predict_referring(predictor, refs, instances, root / entry["images"], split, pred)
                score(MODEL_SYSTEM, "refcoco", split, pred)
        if "gref" in wanted:
            for split, entry in manifest["tasks"]["gref"].items():
                refs, instances = find_grefer_files(root / entry["gt"])
                released, no_target = preds / "gref" / f"{split}.jsonl", preds / "gref-no-target" / f"{split}.jsonl"
                predict_referring(predictor, refs, instances, root / entry["images"], split, {released: False, no_target: True}, generalized=True)
                score(MODEL_SYSTEM, "gref", split, released)
                score(NO_TARGET_SYSTEM, "gref", split, no_target)
        if "interactive" in wanted:
            entry = manifest["tasks"]["interactive"]["val"]
            prompt_iou = preds / "interactive-prompt-iou" / "val.jsonl"
            pred = predict_interactive(predictor, root / entry["gt"], root / entry["images"], preds / "interactive" / "val.jsonl",
                                       also={prompt_iou: "prompt-iou"})
            score(MODEL_SYSTEM, "interactive", "val", pred)
            score(PROMPT_IOU_SYSTEM, "interactive", "val", prompt_iou)
            baseline = write_prompt_baseline(root / entry["gt"], preds / "baselines" / "prompt-as-mask.jsonl")
            score(PROMPT_BASELINE, "interactive", "val", baseline, baseline=True)
        if "vos" in wanted:
            entry = manifest["tasks"]["vos"]["val"]
            split = entry["options"].get("split", "val")
            pred = predict_vos(predictor, root / entry["gt"], preds / "vos", split=split)
            score(MODEL_SYSTEM, "vos", "val", pred)
            baseline = write_first_frame_baseline(root / entry["gt"], preds / "baselines" / "first-frame", split=split)
            score(VOS_BASELINE, "vos", "val", baseline, baseline=True)
        if "correspondence" in wanted:
            _correspondence(predictor, root, manifest, preds, base, rep, log, progress)
        if wanted & {"muse", "gcg"}:
            _multi_target(predictor, root, manifest, preds, wanted, score, written_val)
    finally:
        if holder:
            holder.cleanup()
    rep.seconds = time.perf_counter() - started
    if out is not None:
        (Path(out) / "tables.md").write_text(render_tables(rep, "markdown"))
    return rep


def _correspondence(predictor: Any, root: Path, manifest: dict[str, Any], preds: Path, base: Path, rep: Reproduction,
                    log: Callable[[str], None], progress: bool) -> None:
    """Ego-Exo4D correspondence on the world's takes (built beside the world,
    same size and seed): the model and the query-mask-copy baseline."""
    from psalm_bench.generators.baselines import write_copy_baseline
    from psalm_bench.generators.world_egoexo import GT_NAME, ensure_egoexo
    from psalm_bench.model.predict import predict_correspondence

    takes = ensure_egoexo(root.parent, seed=manifest["seed"], size=manifest["size"], progress=progress)
    gt = takes / GT_NAME
    for system, pred, baseline in ((MODEL_SYSTEM, predict_correspondence(predictor, gt, takes / "takes", preds / "correspondence" / "val.json"), False),
                                   (COPY_BASELINE, write_copy_baseline(gt, preds / "baselines" / "query-mask-copy.json"), True)):
        result = stamp_world(get_task("correspondence").run(gt, pred, progress=False), takes, "correspondence")
        result.write_json(base / "results" / _slug(system) / "correspondence-val.json", gt=gt, pred=pred)
        rep.entries.append(Entry(system, "correspondence", "val", result, baseline))
        value = result.metrics.get("EgoExo_IoU")
        log(f"{system}: correspondence val: EgoExo_IoU {fmt(value)}")


def _multi_target(predictor: Any, root: Path, manifest: dict[str, Any], preds: Path, wanted: set[str], score: Callable[..., None],
                  written_val: Any) -> None:
    """The world's MUSE-style and GCG-style splits: the model through its existing
    paths (model/predict_multi.py says which) and a whole-image baseline each."""
    from psalm_bench.generators.baselines import write_gcg_whole_image_baseline, write_muse_whole_image_baseline
    from psalm_bench.generators.world_multi import GCG_CAPTION_GT
    from psalm_bench.model.predict import predict_categories
    from psalm_bench.model.predict_multi import gcg_from_instances, predict_muse

    if "muse" in wanted:
        entry = manifest["tasks"]["muse"]["val"]
        score(MUSE_SYSTEM, "muse", "val", predict_muse(predictor, root / entry["gt"], root / entry["images"], preds / "muse" / "val.jsonl"))
        score(MUSE_BASELINE, "muse", "val", write_muse_whole_image_baseline(root / entry["gt"], preds / "baselines" / "muse-whole-image.jsonl"), baseline=True)
    if "gcg" in wanted:
        entry = manifest["tasks"]["gcg"]["val"]
        pan = manifest["tasks"]["panoptic"]["val"]
        if written_val is None:
            written_val = predict_categories(predictor, root / pan["gt"], root / pan["images"], preds / "coco_val")
        pred = gcg_from_instances(written_val.instance_json, root / pan["gt"], root / GCG_CAPTION_GT, preds / "gcg" / "val")
        score(GCG_SYSTEM, "gcg", "val", pred)
        score(GCG_BASELINE, "gcg", "val", write_gcg_whole_image_baseline(root / GCG_CAPTION_GT, preds / "baselines" / "gcg-whole-image"), baseline=True)


# ------------------------------------------------------------------ tables


@dataclass(frozen=True)
class Column:
    header: str
    task: str
    split: str
    metric: str


@dataclass(frozen=True)
class TableSpec:
    title: str
    columns: tuple[Column, ...]


def _cols(task: str, splits: Sequence[str], metrics: Sequence[str], fmt: Callable[[str, str], str]) -> tuple[Column, ...]:
    return tuple(Column(fmt(s, m), task, s, m) for s in splits for m in metrics)


TABLES: tuple[TableSpec, ...] = (  # in the paper's numbering: a new table goes in at its number
    TableSpec("Table 8 analogue: referring segmentation (RefCOCO layout), cIoU / gIoU",
              _cols("refcoco", ("val", "testA", "testB"), ("cIoU", "gIoU"), lambda s, m: f"{s} {m}")),
    TableSpec("Table 9 analogue: panoptic / instance / semantic (val)",
              (Column("PQ", "panoptic", "val", "PQ"), Column("PQ th", "panoptic", "val", "PQ_th"), Column("PQ st", "panoptic", "val", "PQ_st"),
               Column("mask AP", "instance", "val", "AP"), Column("AP50", "instance", "val", "AP50"), Column("mIoU", "semantic", "val", "mIoU"))),
    TableSpec("Table 10 analogue: COCO-Interactive (val), per prompt",
              _cols("interactive", ("val",), ("point_mIoU", "scribble_mIoU", "box_mIoU", "mask_mIoU", "point_cIoU", "scribble_cIoU", "box_cIoU", "mask_cIoU"),
                    lambda s, m: m.replace("_", " "))),
    TableSpec("Table 11 analogue: open vocabulary (held-out categories), zero-shot",
              (Column("PQ", "ov-panoptic", "val", "PQ"), Column("mask AP", "ov-instance", "val", "AP"),
               Column("mIoU", "ov-semantic", "val", "mIoU"), Column("novel mIoU", "ov-semantic", "val", "novel_mIoU"))),
    TableSpec("Table 12 analogue: generalized referring (gRefCOCO layout), zero-shot",
              _cols("gref", ("val", "testA", "testB"), ("cIoU", "gIoU", "N-acc"), lambda s, m: f"{s} {m}")),
    TableSpec("Table 13 analogue: video object segmentation (DAVIS-2017 layout), zero-shot",
              _cols("vos", ("val",), ("J&F", "J", "F"), lambda s, m: m)),
    TableSpec("Table 18 analogue: Ego-Exo4D correspondence (the world's takes), zero-shot; LE lower is better",
              _cols("correspondence", ("val",), ("EgoExo_IoU", "EgoExo_VA", "EgoExo_LE", "EgoExo_CA", "ExoEgo_IoU", "ExoEgo_VA", "ExoEgo_LE", "ExoEgo_CA"),
                    lambda s, m: m.replace("EgoExo_", "ego>exo ").replace("ExoEgo_", "exo>ego "))),
    # not PSALM tables: the peers' benchmarks on the world's splits in their layouts
    TableSpec("Table MUSE analogue (PixelLM's MUSE, the world's multi-target split): gIoU / cIoU, zero-shot",
              _cols("muse", ("val",), ("gIoU", "cIoU"), lambda s, m: m)),
    TableSpec("Table GCG analogue (GLaMM's GCG, the world's captioned split): zero-shot; Recall uses all-MiniLM-L6-v2",
              _cols("gcg", ("val",), ("AP50", "mIoU", "Recall", "METEOR", "CIDEr"), lambda s, m: m)),
)


def _value(rep: Reproduction, system: str, col: Column) -> float | None:
    entry = rep.get(system, col.task, col.split)
    if entry is None:
        return None
    if col.metric == "novel_mIoU":
        return novel_miou(entry.result, rep)
    return entry.result.metrics.get(col.metric)


def novel_miou(result: EvalResult, rep: Reproduction) -> float | None:
    """Mean IoU over the held-out categories only (the open-vocabulary question)."""
    from psalm_bench.generators.world import load_manifest

    if rep.world is None or not result.breakdown:
        return None
    novel = set(load_manifest(rep.world)["categories"]["novel"])
    values = [row.get("IoU") for name, row in result.breakdown.items() if name in novel and row.get("IoU") is not None]
    return sum(values) / len(values) if values else None


def render_tables(rep: Reproduction, fmt: str = "text") -> str:
    """The paper's tables over the systems that have numbers for them (text,
    markdown, latex or html; psalm_bench.tables renders them)."""
    from psalm_bench.tables import Col, Table, render_as, render_markdown, render_text

    parts = []
    for spec in TABLES:
        systems = [s for s in rep.systems() if any(rep.get(s, c.task, c.split) for c in spec.columns)]
        if not systems:
            continue
        cols = [Col("system", "left")] + [Col(c.header, direction="lower" if c.metric.endswith("_LE") else "higher") for c in spec.columns]
        rows = [[s, *(None if (v := _value(rep, s, c)) is None else float(v) for c in spec.columns)] for s in systems]
        if fmt == "markdown":
            parts.append(f"### {spec.title}\n\n" + render_markdown(Table("", cols, rows)).rstrip("\n"))
        elif fmt == "text":
            parts.append(spec.title + "\n" + render_text(Table("", cols, rows)))
        else:
            parts.append(render_as(Table(spec.title, cols, rows), fmt).rstrip("\n"))
    return "\n\n".join(parts) + "\n"
