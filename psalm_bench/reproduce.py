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
from psalm_bench.world_gt import WorldGT, novel_categories, stamp_world, takes_beside, world_gt, world_splits

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
    labels: "Labels" = field(default_factory=lambda: Labels())  # the model's row names (model_label)

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


def model_label(model: str | Path, provenance: dict[str, Any]) -> str:
    """The row name of a model: "PSALM (bundled)" only for the weights that ship
    with psalm-bench; an official checkpoint or a user's `psalm-bench train` run
    is named by its folder and what its provenance says it is, so its numbers
    are never read as the bundled model's."""
    from psalm_bench.model.predict import bundled_model_dir, resolve_model_dir

    directory = resolve_model_dir(model)
    if directory.resolve() == bundled_model_dir().resolve():
        return MODEL_SYSTEM
    name = directory.resolve().name or str(directory)
    if provenance.get("official"):
        return f"PSALM (official checkpoint {name}: {provenance.get('config_name', 'swinb-phi15')})"
    what = [f"{provenance['config_name']} config"] if provenance.get("config_name") else []
    steps, stopped = provenance.get("steps"), provenance.get("stopped_at_step")
    if stopped is not None and provenance.get("completed") is False:
        what.append(f"step {stopped} of {steps}")
    elif steps is not None:
        what.append(f"{steps} steps")
    return f"PSALM ({name}: {', '.join(what)})" if what else f"PSALM ({name})"


@dataclass(frozen=True)
class Labels:
    """The row names of one model's systems: its own name, then what each derived row changes."""

    model: str = MODEL_SYSTEM

    def _variant(self, bundled: str) -> str:
        return self.model + bundled[len(MODEL_SYSTEM):]

    @property
    def no_target(self) -> str:
        return self._variant(NO_TARGET_SYSTEM)

    @property
    def prompt_iou(self) -> str:
        return self._variant(PROMPT_IOU_SYSTEM)

    @property
    def muse(self) -> str:
        return self._variant(MUSE_SYSTEM)

    @property
    def gcg(self) -> str:
        return self._variant(GCG_SYSTEM)


@dataclass
class _Run:
    """What every task step of one reproduction shares: the model, the world
    (resolved through psalm_bench/world_gt.py, as `eval` and `predict` resolve
    it) and where predictions and results go."""

    predictor: Any
    root: Path
    base: Path  # predictions/ and results/ go here
    rep: Reproduction
    log: Callable[[str], None]
    progress: bool
    written_val: Any = None  # the val category predictions, whose instance part GCG reuses

    @property
    def labels(self) -> Labels:
        return self.rep.labels

    @property
    def preds(self) -> Path:
        return self.base / "predictions"

    def gt(self, key: str, split: str = "val") -> WorldGT:
        return world_gt(key, split, world=self.root)

    def splits(self, key: str) -> list[WorldGT]:
        return [self.gt(key, split) for split in world_splits(key, world=self.root)]

    def score(self, system: str, found: WorldGT, pred: Path, baseline: bool = False) -> None:
        """Score ``pred`` as the CLI would, stamp it as the world's, write its JSON, log its headline."""
        task = get_task(found.eval_task)
        options = dict(found.options)
        if "progress" in task.options:
            options["progress"] = False
        result = stamp_world(task.run(found.gt, pred, **options), found.root, found.task)
        result.write_json(self.base / "results" / _slug(system) / f"{found.task}-{found.split}.json",
                          gt=input_files(found.eval_task, found.gt), pred=input_files(found.eval_task, pred))
        self.rep.entries.append(Entry(system, found.task, found.split, result, baseline))
        self.log(f"{system}: {found.task} {found.split}: {found.metric} {fmt(result.metrics.get(found.metric))}")


def reproduce(
    model: str | Path = "bundled",
    *,
    world: Path | None = None,
    out: Path | None = None,
    tasks: Sequence[str] = ALL_TASKS,
    batch_size: int = 8,
    progress: bool = True,
    log: Callable[[str], None] = lambda _: None,
    no_target_model: str | Path | None = None,
) -> Reproduction:
    """Predict, score and collect every table's numbers. With ``out``, result
    JSONs land in ``out/results/SYSTEM/TASK-SPLIT.json`` and predictions in
    ``out/predictions``; otherwise in a temporary folder that is removed.
    The model's rows are named by ``model_label`` (``rep.labels``).
    ``no_target_model``: a model trained with no-target sentences (model/finetune.py),
    scored on gRefCOCO as its own row, labelled NOT zero-shot."""
    from psalm_bench.generators.embedded import ensure_world
    from psalm_bench.model.predict import Predictor

    started = time.perf_counter()
    root = Path(world) if world is not None else ensure_world(progress=progress)
    predictor = Predictor.load(model, batch_size=batch_size, progress=progress)
    prov = predictor.provenance
    rep = Reproduction(world=root, model={"source": str(model), **{k: prov.get(k) for k in ("config_name", "device_kind", "steps", "wall_seconds")}},
                       labels=Labels(model_label(model, prov)))
    holder = tempfile.TemporaryDirectory() if out is None else None
    run = _Run(predictor, root, Path(holder.name) if holder else Path(out), rep, log, progress)
    trained = None if no_target_model is None else load_no_target_model(no_target_model, batch_size, progress)  # checked before the long work
    wanted = set(tasks)
    try:
        for step, keys in _STEPS:
            if wanted & keys:
                step(run, wanted)
        if trained is not None and "gref" in wanted:
            _gref_trained_variant(run, *trained)
    finally:
        if holder:
            holder.cleanup()
    rep.seconds = time.perf_counter() - started
    if out is not None:
        (Path(out) / "tables.md").write_text(render_tables(rep, "markdown"))
    return rep


def _categories(run: _Run, wanted: set[str]) -> None:
    """Panoptic, instance and semantic val from one pass of the model."""
    from psalm_bench.model.predict import predict_categories

    pan = run.gt("panoptic")
    classes = load_json(run.gt("semantic").options["classes"])
    written = run.written_val = predict_categories(run.predictor, pan.gt, pan.images, run.preds / "coco_val", semantic_classes=classes)
    for key, pred in (("panoptic", written.panoptic_json), ("instance", written.instance_json), ("semantic", written.semantic_dir)):
        if key in wanted:
            run.score(run.labels.model, run.gt(key), pred)


def _open_vocab(run: _Run, wanted: set[str]) -> None:
    """The held-out categories' panoptic, instance and semantic val (zero-shot)."""
    from psalm_bench.model.predict import predict_categories

    pan = run.gt("ov-panoptic")
    classes = load_json(run.gt("ov-semantic").options["classes"])
    written = predict_categories(run.predictor, pan.gt, pan.images, run.preds / "ov_val", semantic_classes=classes)
    for key, pred in (("ov-panoptic", written.panoptic_json), ("ov-instance", written.instance_json), ("ov-semantic", written.semantic_dir)):
        run.score(run.labels.model, run.gt(key), pred)


def _refcoco(run: _Run, wanted: set[str]) -> None:
    from psalm_bench.formats.refer import find_refer_files
    from psalm_bench.model.predict import predict_referring

    for found in run.splits("refcoco"):
        refs, instances = find_refer_files(found.gt, found.options.get("dataset", "refcoco"), found.options.get("split_by"))
        pred = run.preds / "refcoco" / f"{found.split}.jsonl"
        predict_referring(run.predictor, refs, instances, found.images, found.split, pred)
        run.score(run.labels.model, found, pred)


def _gref(run: _Run, wanted: set[str]) -> None:
    """Each split under the released top-1 fallback and under "no target if none > 0.6", from one pass."""
    from psalm_bench.formats.refer import find_grefer_files
    from psalm_bench.model.predict import predict_referring

    for found in run.splits("gref"):
        refs, instances = find_grefer_files(found.gt)
        released, no_target = run.preds / "gref" / f"{found.split}.jsonl", run.preds / "gref-no-target" / f"{found.split}.jsonl"
        predict_referring(run.predictor, refs, instances, found.images, found.split, {released: False, no_target: True}, generalized=True)
        run.score(run.labels.model, found, released)
        run.score(run.labels.no_target, found, no_target)


def no_target_fraction_of(provenance: dict[str, Any]) -> float:
    """How much of the referring stream was no-target sentences, from a model's provenance
    (a fine-tune's record first, else its training data's); 0.0 when it says nothing."""
    for part in (provenance.get("finetune") or {}, provenance.get("data") or {}):
        if part.get("no_target_fraction"):
            return float(part["no_target_fraction"])
    return 0.0


def no_target_trained_label(model: str | Path, provenance: dict[str, Any]) -> str:
    """The row name of a model that trained on no-target sentences: never called zero-shot."""
    ft = provenance.get("finetune")
    if ft:
        base = MODEL_SYSTEM if ft.get("base") == "bundled" else f"PSALM ({ft.get('base')})"
        what = f"{base} + {ft.get('steps_done')}-step fine-tune with {ft.get('no_target_fraction'):.0%} no-target sentences"
    else:
        what = f"{model_label(model, provenance)}, trained with {no_target_fraction_of(provenance):.0%} no-target sentences"
    return f"{what} (NOT zero-shot), no-target if none > 0.6"


def load_no_target_model(model: str | Path, batch_size: int, progress: bool) -> tuple[Any, str]:
    """The predictor of a model that trained on no-target sentences and its row name;
    one that records no such training is refused, so its row is never mislabelled."""
    from psalm_bench.errors import InputError
    from psalm_bench.model.predict import Predictor

    predictor = Predictor.load(model, batch_size=batch_size, progress=progress)
    if no_target_fraction_of(predictor.provenance) <= 0.0:
        raise InputError("records no no-target training (no_target_fraction), so it cannot be the no-target row",
                         file=Path(str(model)) / "provenance.json")
    return predictor, no_target_trained_label(model, predictor.provenance)


def _gref_trained_variant(run: _Run, predictor: Any, label: str) -> None:
    """gRefCOCO for a model that trained on no-target sentences, with the no-target rule."""
    from psalm_bench.formats.refer import find_grefer_files
    from psalm_bench.model.predict import predict_referring

    for found in run.splits("gref"):
        refs, instances = find_grefer_files(found.gt)
        pred = run.preds / "gref-no-target-trained" / f"{found.split}.jsonl"
        predict_referring(predictor, refs, instances, found.images, found.split, {pred: True}, generalized=True)
        run.score(label, found, pred)


def _interactive(run: _Run, wanted: set[str]) -> None:
    """The paper's selection rule, the prompt-aware one (its own row) and the prompt itself as the mask."""
    from psalm_bench.generators.baselines import write_prompt_baseline
    from psalm_bench.model.predict import predict_interactive

    found = run.gt("interactive")
    prompt_iou = run.preds / "interactive-prompt-iou" / "val.jsonl"
    pred = predict_interactive(run.predictor, found.gt, found.images, run.preds / "interactive" / "val.jsonl", also={prompt_iou: "prompt-iou"})
    run.score(run.labels.model, found, pred)
    run.score(run.labels.prompt_iou, found, prompt_iou)
    run.score(PROMPT_BASELINE, found, write_prompt_baseline(found.gt, run.preds / "baselines" / "prompt-as-mask.jsonl"), baseline=True)


def _vos(run: _Run, wanted: set[str]) -> None:
    from psalm_bench.generators.baselines import write_first_frame_baseline
    from psalm_bench.model.predict import predict_vos

    found = run.gt("vos")
    split = found.options.get("split", "val")
    run.score(run.labels.model, found, predict_vos(run.predictor, found.gt, run.preds / "vos", split=split))
    run.score(VOS_BASELINE, found, write_first_frame_baseline(found.gt, run.preds / "baselines" / "first-frame", split=split), baseline=True)


def _correspondence(run: _Run, wanted: set[str]) -> None:
    """Ego-Exo4D correspondence on the world's takes (built beside the world,
    same size and seed): the model and the query-mask-copy baseline."""
    from psalm_bench.generators.baselines import write_copy_baseline
    from psalm_bench.model.predict import predict_correspondence

    found = takes_beside(run.root, progress=run.progress)
    run.score(run.labels.model, found, predict_correspondence(run.predictor, found.gt, found.images, run.preds / "correspondence" / "val.json"))
    run.score(COPY_BASELINE, found, write_copy_baseline(found.gt, run.preds / "baselines" / "query-mask-copy.json"), baseline=True)


def _multi_target(run: _Run, wanted: set[str]) -> None:
    """The world's MUSE-style and GCG-style splits: the model through its existing
    paths (model/predict_multi.py says which) and a whole-image baseline each."""
    from psalm_bench.generators.baselines import write_gcg_whole_image_baseline, write_muse_whole_image_baseline
    from psalm_bench.generators.world_multi import GCG_CAPTION_GT
    from psalm_bench.model.predict import predict_categories
    from psalm_bench.model.predict_multi import gcg_from_instances, predict_muse

    if "muse" in wanted:
        found = run.gt("muse")
        run.score(run.labels.muse, found, predict_muse(run.predictor, found.gt, found.images, run.preds / "muse" / "val.jsonl"))
        run.score(MUSE_BASELINE, found, write_muse_whole_image_baseline(found.gt, run.preds / "baselines" / "muse-whole-image.jsonl"), baseline=True)
    if "gcg" in wanted:
        found, pan = run.gt("gcg"), run.gt("panoptic")
        if run.written_val is None:
            run.written_val = predict_categories(run.predictor, pan.gt, pan.images, run.preds / "coco_val")
        captions = run.root / GCG_CAPTION_GT
        run.score(run.labels.gcg, found, gcg_from_instances(run.written_val.instance_json, pan.gt, captions, run.preds / "gcg" / "val"))
        run.score(GCG_BASELINE, found, write_gcg_whole_image_baseline(captions, run.preds / "baselines" / "gcg-whole-image"), baseline=True)


_STEPS: tuple[tuple[Callable[[_Run, set[str]], None], frozenset[str]], ...] = (  # in the order they run; the keys are ALL_TASKS'
    (_categories, frozenset({"panoptic", "instance", "semantic"})),
    (_open_vocab, frozenset({"ov"})),
    (_refcoco, frozenset({"refcoco"})),
    (_gref, frozenset({"gref"})),
    (_interactive, frozenset({"interactive"})),
    (_vos, frozenset({"vos"})),
    (_correspondence, frozenset({"correspondence"})),
    (_multi_target, frozenset({"muse", "gcg"})),
)


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
    TableSpec("Table 12 analogue: generalized referring (gRefCOCO layout), zero-shot except the row marked NOT zero-shot",
              _cols("gref", ("val", "testA", "testB"), ("cIoU", "gIoU", "N-acc", "T-acc"), lambda s, m: f"{s} {m}")),
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
    if rep.world is None or not result.breakdown:
        return None
    novel = set(novel_categories(rep.world))
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
