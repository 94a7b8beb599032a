"""Instance segmentation (and box) mAP: the 12 COCO stats, pycocotools-identical.

The matching and accumulation run in hotcoco, a Rust COCOeval engine whose
results equal pycocotools' to the last bit (checked against the fixtures,
which pycocotools computed) and which is ~20x faster than it. Writing our
own engine would buy nothing but risk; what psalm-bench adds is strict input
validation, mergeable state, and the per-class table.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.evaluators.base import Evaluator
from psalm_bench.errors import InputError
from psalm_bench.jsonio import read_regular_file
from psalm_bench.formats.coco import (Category, CocoInstances, ImageInfo, ResultColumns, load_detections, load_instances, results_columns,
                                      rle_sizes_match_images, unknown_category_warning)
from psalm_bench.results import EvalResult, bytes_digest, digest_key
from psalm_bench.specs import INSTANCE as SPEC
from psalm_bench.stdio import quiet_stderr

# AP/AR come from the COCOeval engine in compute(); the report re-accumulates them from the
# per-image match state (`eval --records`) with instance_state.bootstrap_stats, which equals it bit for bit
METRICS = list(SPEC.metrics)
IOU_TYPES = ("segm", "bbox")


@dataclass
class ImageGT:
    """One image's ground truth, as the evaluator receives it."""

    image: ImageInfo
    annotations: list[dict[str, Any]] = field(default_factory=list)


class InstanceEvaluator(Evaluator[ImageGT, list[dict[str, Any]]]):
    """COCO mask (or box) AP over the images it is updated with.

    ``update(ImageGT, detections)`` keeps that image's validated records;
    ``compute`` runs COCOeval (evaluate, accumulate, summarize) on everything
    seen, over all ``categories``, as pycocotools would on the whole file.
    """

    task = "instance"

    def __init__(self, categories: dict[int, Category] | list[Category], iou_type: str = "segm"):
        if iou_type not in IOU_TYPES:
            raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
        self.categories = categories if isinstance(categories, dict) else {c.id: c for c in categories}
        self.iou_type = iou_type
        self.images: list[ImageInfo] = []
        self.annotations: list[dict[str, Any]] = []
        self.detections: list[dict[str, Any]] = []

    def config(self) -> dict[str, Any]:
        return {"categories": self.categories, "iou_type": self.iou_type}

    def update(self, gt: ImageGT, pred: list[dict[str, Any]]) -> None:
        self.images.append(gt.image)
        self.annotations.extend(gt.annotations)
        self.detections.extend(pred)

    def merge(self, other: "InstanceEvaluator") -> "InstanceEvaluator":
        self.images.extend(other.images)
        self.annotations.extend(other.annotations)
        self.detections.extend(other.detections)
        return self

    def compute(self) -> EvalResult:
        import hotcoco

        dataset = {
            "images": [{"id": i.id, "height": i.height, "width": i.width, "file_name": i.file_name} for i in self.images],
            "categories": [{"id": c.id, "name": c.name} for c in self.categories.values()],
            "annotations": self.annotations,
        }
        coco_gt = hotcoco.COCO(dataset)
        coco_dt = coco_gt.load_res(self.detections)
        return score_with_engine(coco_gt, coco_dt, self.categories, self.iou_type, len(self.images))


def score_with_engine(coco_gt: Any, coco_dt: Any, categories: dict[int, Category], iou_type: str, n_images: int,
                      records: bool = False, progress: bool = False) -> EvalResult:
    """COCOeval evaluate + accumulate + summarize, as pycocotools runs them;
    with ``records``, the per-image match state too (evaluators/instance_state.py)."""
    engine = hotcoco_eval(coco_gt, coco_dt, iou_type)
    engine.evaluate()
    engine.accumulate()
    with contextlib.redirect_stdout(io.StringIO()):
        engine.summarize()
    evaluation = engine.eval
    result = instance_result(
        [float(v) for v in engine.stats], np.asarray(evaluation["precision"]), np.asarray(evaluation["recall"]),
        list(engine.params.cat_ids), np.asarray(engine.params.iou_thrs), categories, iou_type, n_images,
    )
    if records:
        from psalm_bench.evaluators.instance_state import engine_state, state_records

        images = sorted(engine.params.img_ids)
        result.records = state_records(engine_state(coco_gt, coco_dt, iou_type, images, progress=progress), images)
    return result


def hotcoco_eval(coco_gt: Any, coco_dt: Any, iou_type: str) -> Any:
    import hotcoco

    return hotcoco.COCOeval(coco_gt, coco_dt, iou_type)


def instance_result(stats: list[float], precision: np.ndarray, recall: np.ndarray, cat_ids: list[int], iou_thresholds: np.ndarray,
                    categories: dict[int, Category], iou_type: str, n_images: int) -> EvalResult:
    """The result JSON of COCOeval's stats and curves, whichever way they were accumulated."""
    import hotcoco

    metrics = {name: (None if value < 0 else value * 100.0) for name, value in zip(METRICS, stats)}
    warnings = []
    missing = [name for name, value in metrics.items() if value is None]
    if missing:
        warnings.append(f"no ground truth in the area range of {', '.join(missing)}: reported as null (pycocotools prints -1)")
    return EvalResult(
        task="instance",
        metrics=metrics,
        n_samples=n_images,
        params={"protocol": "pycocotools", "iou_type": iou_type, "max_dets": [1, 10, 100], "engine": f"hotcoco {hotcoco.__version__}"},
        warnings=warnings,
        breakdown_name="per_class",
        breakdown=_per_class(precision, recall, cat_ids, iou_thresholds, categories),
        curves=pr_curves(precision, cat_ids, iou_thresholds, categories),
    )


CURVE_DECIMALS = 4


def pr_curves(precision: np.ndarray, cat_ids: list[int], iou_thresholds: np.ndarray,
              categories: dict[int, Category]) -> dict[str, Any]:
    """The precision-recall curves behind AP, kept so plots need no re-scoring:
    per class and IoU threshold, COCOeval's 101-point precision (area all,
    maxDets 100) rounded to 4 decimals, one string per curve (one JSON line,
    not 101): the values in recall order, a run of n equal values written
    ``v*n``, cut after the last non-zero value (the rest is 0); see
    :func:`parse_curve`. A class with no ground truth has ``null`` (pycocotools' -1).
    All curves are cut into runs at once (:func:`format_curves`): a loop per
    curve cost more than the engine's accumulate."""
    precision = precision[:, :, :, 0, -1]  # T x R x K
    T, R, K = precision.shape
    missing = (precision < 0).any(axis=(0, 1))  # K
    rows = np.ascontiguousarray(np.moveaxis(precision, 2, 0)).reshape(K * T, R)  # class-major, then threshold
    texts = format_curves(np.round(rows.astype(np.float64), CURVE_DECIMALS))
    classes = [
        {"id": int(cat_id), "name": categories[cat_id].name, "precision": None if missing[k] else texts[k * T:(k + 1) * T]}
        for k, cat_id in enumerate(cat_ids)
    ]
    return {
        "kind": "precision-recall",
        "iou_thresholds": [round(float(t), 2) for t in iou_thresholds],
        "recall_points": int(R),
        "area": "all",
        "max_dets": 100,
        "decimals": CURVE_DECIMALS,
        "classes": classes,
    }


def format_curves(rows: np.ndarray) -> list[str]:
    """:func:`format_curve` of every row of ``rows`` (curves x points), the runs
    found by one comparison of neighbours over the whole array."""
    n, points = rows.shape
    if n == 0 or points == 0:
        return [""] * n
    nonzero = rows != 0
    length = np.where(nonzero.any(axis=1), points - np.argmax(nonzero[:, ::-1], axis=1), 0)  # cut after the last non-zero
    starts = np.ones((n, points), dtype=bool)
    starts[:, 1:] = rows[:, 1:] != rows[:, :-1]
    starts &= np.arange(points)[None, :] < length[:, None]
    run_row, run_start = np.nonzero(starts)  # row-major: runs in order within each row
    run_end = np.empty_like(run_start)
    run_end[:-1] = run_start[1:]
    last = np.ones(run_row.size, dtype=bool)
    last[:-1] = run_row[1:] != run_row[:-1]
    run_end[last] = length[run_row[last]]
    values, which = np.unique(rows[run_row, run_start], return_inverse=True)
    text = [f"{v:.{CURVE_DECIMALS}f}".rstrip("0").rstrip(".") for v in values.tolist()]
    counts = (run_end - run_start).tolist()
    tokens = [text[w] if c == 1 else f"{text[w]}*{c}" for w, c in zip(which.reshape(-1).tolist(), counts)]
    bounds = np.searchsorted(run_row, np.arange(n + 1)).tolist()
    return [" ".join(tokens[bounds[i]:bounds[i + 1]]) for i in range(n)]


def format_curve(values: np.ndarray) -> str:
    """``1*67 0.7143*12 0.4286`` for 67 ones, 12 of 0.7143, one 0.4286 and zeros after."""
    nonzero = np.flatnonzero(values)
    values = values[: nonzero[-1] + 1] if nonzero.size else values[:0]
    tokens = []
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or values[end] != values[start]:
            text = f"{values[start]:.{CURVE_DECIMALS}f}".rstrip("0").rstrip(".")
            tokens.append(text if end - start == 1 else f"{text}*{end - start}")
            start = end
    return " ".join(tokens)


def parse_curve(text: str, points: int) -> np.ndarray:
    """The ``points`` values of a curve written by :func:`format_curve`."""
    values: list[float] = []
    for token in text.split():
        value, _, count = token.partition("*")
        values.extend([float(value)] * (int(count) if count else 1))
    if len(values) > points:
        raise ValueError(f"curve has {len(values)} values, more than {points}")
    return np.array(values + [0.0] * (points - len(values)))


def _per_class(precision: np.ndarray, recall: np.ndarray, cat_ids: list[int], iou_thresholds: np.ndarray,
               categories: dict[int, Category]) -> dict[str, dict[str, Any]]:
    """AP, AP50, AP75 and AR100 per category, from the accumulated curves
    (area all, maxDets 100), averaged as COCOeval averages them."""
    precision = precision[:, :, :, 0, -1]  # T x R x K
    recall = recall[:, :, 0, -1]  # T x K
    table: dict[str, dict[str, Any]] = {}

    def mean_valid(values: np.ndarray) -> float | None:
        valid = values[values > -1]
        return float(valid.mean() * 100.0) if valid.size else None

    for k, cat_id in enumerate(cat_ids):
        category = categories[cat_id]
        row = {
            "id": cat_id,
            "AP": mean_valid(precision[:, :, k]),
            "AP50": mean_valid(precision[np.isclose(iou_thresholds, 0.5), :, k]),
            "AP75": mean_valid(precision[np.isclose(iou_thresholds, 0.75), :, k]),
            "AR100": mean_valid(recall[:, k]),
        }
        if row["AP"] is None and row["AR100"] is None:
            continue  # no ground truth and no detection: not in the average
        table[category.name if category.name not in table else f"{category.name} ({cat_id})"] = row
    return table


def evaluate_instance(
    gt: str | Path,
    pred: str | Path,
    *,
    iou_type: str = "segm",
    workers: Any = None,
    records: bool | None = None,
    progress: bool = True,
    ground_truth: CocoInstances | None = None,
) -> EvalResult:
    """Score a COCO results JSON against a COCO instances JSON.

    The ground truth is validated in Python (it is small). The results file,
    often hundreds of MB, is read once: a plain mask results file by one C
    pass that checks every record and hands the engine columns
    (formats/coco.results_columns); any other file is parsed by the engine
    and screened cheaply, and only when the screen flags something does the
    full Python validator run, to name the record.

    ``workers`` takes a scheduling engine (``--shard K/N``, ``--engine ray``,
    a ``merge`` of shard states): images are then matched shard by shard and
    their match state (evaluators/instance_state.py) accumulated on the
    driver, to the same numbers. One process needs none: the engine matches
    in native code, faster than any pool of this machine.

    ``records`` adds that per-image state to the result (``records``), so
    ``report`` can bootstrap mask AP over images; it costs the engine's
    per-image export (several ms per image), so it is asked for.

    ``ground_truth``: ``gt`` as formats/coco.py already loaded it (the
    open-vocabulary task checks its categories first), so it is not parsed again.
    """
    if iou_type not in IOU_TYPES:
        raise InputError(f"--iou-type must be one of {', '.join(IOU_TYPES)}, got {iou_type!r}")
    if isinstance(workers, int) and workers > 1:
        raise InputError("task instance does not take --workers (its COCOeval engine parses and matches in native code in one process, "
                         "faster than a pool); --shard K/N or --engine ray spread it over machines")
    if getattr(workers, "workers", 1) > 1:  # a shard's local pool: forked after the engine's threads start, it hangs
        raise InputError("task instance does not take --workers inside a shard (its engine's threads do not survive a fork); "
                         "run more shards instead")
    own = ground_truth is None
    if ground_truth is None:
        ground_truth = load_instances(gt, check_boxes=iou_type == "bbox")
    notes: list[str] = []
    digests: dict[str, str] = {}
    if workers is None or isinstance(workers, int):
        coco_gt, coco_dt = engine_inputs(gt, pred, iou_type, ground_truth, notes, release_source=own, digests=digests)
        result = score_with_engine(coco_gt, coco_dt, ground_truth.categories, iou_type, len(ground_truth.images),
                                   records=bool(records), progress=progress)
        result.warnings.extend(ground_truth.warnings + notes)
        result.input_digests.update(digests)
        return result
    from psalm_bench.evaluators.instance_state import ImageMatcher, InstanceStateEvaluator, state_records
    from psalm_bench.parallel import run_sharded

    # one line naming a bad record before any shard starts; a merge reads the notes again
    engine_inputs(gt, pred, iou_type, ground_truth, notes)
    evaluator = InstanceStateEvaluator(ground_truth.categories, iou_type)
    matcher = ImageMatcher(str(Path(gt).resolve()), str(Path(pred).resolve()), iou_type)
    run_sharded(evaluator, sorted(ground_truth.images), matcher, workers=workers, desc="instance", progress=progress)
    result = evaluator.compute()
    if records:
        result.records = state_records(evaluator.state(), sorted(ground_truth.images))
    result.warnings.extend(ground_truth.warnings + notes)
    return result


def engine_inputs(gt: str | Path, pred: str | Path, iou_type: str, ground_truth: CocoInstances, notes: list[str] | None = None,
                  release_source: bool = False, digests: dict[str, str] | None = None) -> tuple[Any, Any]:
    """The engine's ground truth and validated results (a bad record is one
    InputError; what pycocotools accepts but ignores is a line in ``notes``).
    ``release_source``: the caller owns ``ground_truth`` and needs only its
    images, categories and warnings after: the JSON object and annotations
    are let go once the engine has its copy, so the results reuse their memory.
    ``digests`` gets the results file's sha256 from the bytes read here
    (``EvalResult.input_digests``), so the provenance does not read it again."""
    import hotcoco

    # the engine takes the object just validated: the file is parsed once
    coco_gt = hotcoco.COCO(ground_truth.source if ground_truth.source is not None else str(gt))
    if release_source:
        ground_truth.source, ground_truth.annotations = None, []
    # a plain mask results file: read and checked in one C pass, handed over as columns
    data = read_regular_file(pred, what="a COCO results JSON file")
    if digests is not None:
        digests[digest_key(pred)] = bytes_digest(data)
    columns = results_columns(data, ground_truth)
    del data  # the columns hold what is needed; the bytes' memory goes back before matching
    if columns is not None:
        coco_dt = _engine_load_columns(coco_gt, columns)
        del columns
        _return_freed_heap()
        return coco_gt, coco_dt
    coco_dt = _engine_load_results(coco_gt, Path(pred))
    if coco_dt is None or not _screen_passes(coco_gt, coco_dt, Path(pred), ground_truth, iou_type):
        detections = load_detections(pred, ground_truth, iou_type)  # raises, naming the record
        coco_dt = coco_gt.load_res(detections.detections)
        if detections.unknown_category and notes is not None:
            notes.append(unknown_category_warning(detections.unknown_category))
    return coco_gt, coco_dt


def _engine_load_columns(coco_gt: Any, columns: ResultColumns) -> Any:
    """The engine's results from columns: what ``load_res`` of the file gives
    (ids 1..N in file order, the masks' areas and boxes), with no JSON parsed again."""
    coco_dt = coco_gt.load_res(columns.engine_array(), segmentation=columns.segmentation)
    coco_dt.update_anns(ids=np.arange(1, len(columns.score) + 1, dtype=np.int64), area=columns.area)
    return coco_dt


def _return_freed_heap() -> None:
    """Hand the heap freed by the masks' Python copies back to the system
    (glibc's malloc_trim) before the engine's matching allocates: otherwise
    it stays mapped, fragmented, and the peak RSS is that much higher."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _engine_load_results(coco_gt: Any, pred: Path) -> Any | None:
    """The engine's parse of the results file, or None when it refuses it."""
    if not pred.is_file():  # a folder, FIFO or device gets an accurate line (and never blocks)
        read_regular_file(pred, what="a COCO results JSON file")
    try:
        with quiet_stderr():  # the engine prints its own warnings; ours name the record
            coco_dt = coco_gt.load_res(str(pred))
    except Exception:  # NaN scores, a dict instead of a list, bad JSON: the validator says which
        return None
    return coco_dt


def _screen_passes(coco_gt: Any, coco_dt: Any, pred: Path, ground_truth: CocoInstances, iou_type: str) -> bool:
    if coco_dt.load_warnings:  # unknown image or category ids
        return False
    health = coco_gt.healthcheck(coco_dt)
    if any(item.get("code", "").startswith("dt_") for item in health.get("errors", []) + health.get("warnings", [])):
        return False  # e.g. scores outside [0, 1]: negative ones are errors
    n_detections = len(coco_dt.get_ann_ids())
    if iou_type == "bbox":
        return True  # boxes carry no image size to check
    return rle_sizes_match_images(pred, ground_truth, n_detections)
