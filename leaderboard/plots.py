"""Plots of a result, as PNGs a paper can use and the browse pages show:
precision-recall curves (instance, ov-instance: per IoU threshold, and per class),
the confusion matrix (semantic, ov-semantic; panoptic by segments), per-prompt IoU
histograms (interactive) and per-frame J curves (vos).

Everything but panoptic's confusion is read from the result JSON alone
(``curves``, ``records``): nothing is re-scored and no GT or prediction file is
opened; panoptic's reads the files it was scored on (browse_confusion.py). The ``*_data`` functions
return the numbers each plot draws, so tests check them against the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.evaluators.instance import parse_curve
from psalm_bench.leaderboard.browse_chart import INK, SERIES, Canvas, heat, ramp
from psalm_bench.leaderboard.browse_views import rows
from psalm_bench.specs import PROMPTS

MAX_CLASS_PANELS = 120  # per-class PR panels, worst AP first
MAX_SEQUENCE_PANELS = 60
HISTOGRAM_BINS = 20


@dataclass(frozen=True)
class PlotFile:
    """One plot written: its file name (in the plots folder), a title and a caption."""

    name: str
    title: str
    caption: str


# ------------------------------------------------------------------ data


@dataclass
class PRData:
    """Precision (T x R x K; NaN where a class has no ground truth) and what indexes it."""

    precision: np.ndarray
    iou_thresholds: list[float]
    recall: np.ndarray
    names: list[str]
    ids: list[int]

    def valid(self) -> np.ndarray:
        return ~np.isnan(self.precision[0, 0])

    def threshold_curves(self) -> np.ndarray:
        """T x R: precision at each recall point, averaged over the classes with ground truth."""
        return self.precision[:, :, self.valid()].mean(axis=2)

    def threshold_ap(self) -> np.ndarray:
        """AP in percent at each IoU threshold (COCOeval: mean over recall points and classes)."""
        return self.threshold_curves().mean(axis=1) * 100.0

    def class_ap(self) -> np.ndarray:
        """AP in percent per class (NaN without ground truth)."""
        return self.precision.mean(axis=(0, 1)) * 100.0


def pr_data(result: dict[str, Any], source: Path) -> PRData:
    """The stored curves (evaluators/instance.py ``pr_curves``) as arrays."""
    curves = result.get("curves")
    if not isinstance(curves, dict) or curves.get("kind") != "precision-recall" or not isinstance(curves.get("classes"), list):
        raise InputError("the result has no precision-recall 'curves' (written by an older psalm-bench?); re-run eval --json", file=source)
    thresholds = [float(t) for t in curves["iou_thresholds"]]
    n_recall = int(curves["recall_points"])
    classes = curves["classes"]
    precision = np.zeros((len(thresholds), n_recall, len(classes)))
    for k, entry in enumerate(classes):
        values = entry.get("precision")
        if values is None:
            precision[:, :, k] = np.nan
            continue
        try:
            if not isinstance(values, list) or len(values) != len(thresholds):
                raise ValueError(f"{len(thresholds)} curves expected")
            precision[:, :, k] = [parse_curve(str(curve), n_recall) for curve in values]
        except ValueError as exc:
            raise InputError(f"precision curves of class {entry.get('name')!r} do not parse ({exc})", file=source) from None
    return PRData(precision, thresholds, np.linspace(0.0, 1.0, n_recall), [str(c.get("name")) for c in classes], [int(c.get("id", -1)) for c in classes])


def confusion_data(result: dict[str, Any], source: Path) -> tuple[np.ndarray, list[str]]:
    """The dataset confusion matrix (rows: GT class, columns: predicted class, then predicted
    ignore) summed from the per-image records, over the classes present on either side."""
    n = int((result.get("provenance", {}).get("params") or {}).get("num_classes") or len(result.get("per_class") or {}))
    if not n:
        raise InputError("semantic result names no classes (no per_class, no num_classes)", file=source)
    total = np.zeros(n * (n + 1), dtype=np.int64)
    for i, row in enumerate(rows(result.get("records"), source)):
        if "cells" not in row or "counts" not in row:
            raise InputError("record lacks cells or counts", file=source, record=f"records[{i}]")
        np.add.at(total, np.asarray(row["cells"], dtype=np.int64), np.asarray(row["counts"], dtype=np.int64))
    matrix = total.reshape(n, n + 1)
    inter = np.diag(matrix[:, :n])
    union = matrix.sum(axis=1) + matrix[:, :n].sum(axis=0) - inter
    present = np.flatnonzero(union > 0)
    per_class = list(result.get("per_class") or {})
    names = per_class if len(per_class) == len(present) else [str(int(c)) for c in present]  # per_class lists exactly these classes
    return matrix[np.ix_(present, np.append(present, n))], names


def histogram_data(result: dict[str, Any], source: Path) -> dict[str, np.ndarray]:
    """Per prompt type, the count of instances in each of 20 IoU bins of width 0.05 (IoU 1 in the last)."""
    out: dict[str, list[float]] = {}
    for i, row in enumerate(rows(result.get("records"), source)):
        if "prompt" not in row or "IoU" not in row:
            raise InputError("record lacks prompt or IoU", file=source, record=f"records[{i}]")
        out.setdefault(str(row["prompt"]), []).append(float(row["IoU"]))
    order = [p for p in PROMPTS if p in out] + sorted(set(out) - set(PROMPTS))
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    return {p: np.histogram(np.clip(out[p], 0.0, 1.0), bins=edges)[0] for p in order}


def frame_j_data(result: dict[str, Any], source: Path) -> dict[str, dict[int, list[tuple[Any, float]]]]:
    """Per sequence and object, (frame, J) over the scored frames in frame order."""
    out: dict[str, dict[int, list[tuple[Any, float]]]] = {}
    for i, row in enumerate(rows(result.get("records"), source)):
        if not all(k in row for k in ("sequence", "object", "frame", "J")):
            raise InputError("record lacks sequence, object, frame or J", file=source, record=f"records[{i}]")
        out.setdefault(str(row["sequence"]), {}).setdefault(int(row["object"]), []).append((row["frame"], float(row["J"])))
    for objects in out.values():
        for obj, frames in objects.items():
            objects[obj] = sorted(frames, key=lambda f: (str(type(f[0])), f[0]))
    return out


# ------------------------------------------------------------------ drawing


def _pr_thresholds(data: PRData) -> tuple[Canvas, PlotFile]:
    canvas = Canvas(720, 460)
    axes = canvas.axes((70, 40, 470, 400), (0.0, 1.0), (0.0, 1.0))
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    n_valid = int(data.valid().sum())
    axes.frame(ticks, ticks, "recall", "precision", f"Precision-recall, mean over {n_valid} classes (area all, maxDets 100)")
    curves, aps = data.threshold_curves(), data.threshold_ap()
    legend = []
    last = max(1, len(data.iou_thresholds) - 1)
    for t in reversed(range(len(data.iou_thresholds))):  # IoU 0.50 drawn last, on top
        colour = ramp(t / last)
        axes.line(data.recall, curves[t], colour)
    for t, thr in enumerate(data.iou_thresholds):
        legend.append((ramp(t / last), f"IoU {thr:.2f}: AP {aps[t]:.1f}"))
    canvas.legend((490, 44), legend, size=13, column_width=220)
    canvas.text((490, 44 + 18 * len(legend) + 10), f"AP (mean) {float(np.mean(aps)):.1f}", 13)
    caption = (f"COCOeval's 101-point precision at each recall, averaged over the {n_valid} classes with ground truth, "
               f"one curve per IoU threshold; the mean height of a curve is its AP.")
    return canvas, PlotFile("pr-iou.png", "Precision-recall per IoU threshold", caption)


def _pr_classes(data: PRData) -> tuple[Canvas, PlotFile]:
    ap = data.class_ap()
    order = [int(k) for k in np.argsort(np.where(np.isnan(ap), np.inf, ap), kind="stable") if not np.isnan(ap[k])]
    shown = order[:MAX_CLASS_PANELS]
    columns = min(6, max(1, len(shown)))
    panel_w, panel_h = 210, 165
    canvas = Canvas(20 + columns * panel_w, 44 + max(1, -(-len(shown) // columns)) * panel_h)
    picks = [(i, thr) for i, thr in enumerate(data.iou_thresholds) if np.isclose(thr, 0.5) or np.isclose(thr, 0.75)]
    series = [(SERIES[j], f"IoU {thr:.2f}") for j, (_, thr) in enumerate(picks)] + [(INK, "mean over IoU 0.50:0.95")]
    canvas.legend((20, 10), series, size=13, columns=len(series), column_width=230)
    for slot, k in enumerate(shown):
        x0 = 20 + (slot % columns) * panel_w + 34
        y0 = 44 + (slot // columns) * panel_h + 20
        axes = canvas.axes((x0, y0, x0 + panel_w - 50, y0 + panel_h - 48), (0.0, 1.0), (0.0, 1.0))
        axes.frame([0.0, 0.5, 1.0], [0.0, 0.5, 1.0], title=f"{data.names[k]}  AP {ap[k]:.1f}", size=11)
        for j, (t, _) in enumerate(picks):
            axes.line(data.recall, data.precision[t, :, k], SERIES[j])
        axes.line(data.recall, data.precision[:, :, k].mean(axis=0), INK, width=1)
    more = f"; the {len(shown)} worst of {len(order)} shown" if len(order) > len(shown) else ""
    caption = f"Precision (y) against recall (x) per class, lowest AP first{more}; classes with no ground truth are left out."
    return canvas, PlotFile("pr-classes.png", "Precision-recall per class", caption)


def _confusion(matrix: np.ndarray, names: list[str], extra_column: str = "ign", extra_row: str | None = None,
               unit: str = "pixels", column_note: str = "last: ignore label") -> tuple[Canvas, PlotFile]:
    """Rows: GT classes (and ``extra_row``, e.g. "none"); columns: predicted classes and ``extra_column``."""
    n = len(names)
    n_rows = n + (1 if extra_row else 0)
    cell = int(min(28, max(3, 720 // max(1, n + 1))))
    labelled = cell >= 10
    left, top = (150 if labelled else 50), 40
    canvas = Canvas(left + (n + 1) * cell + 110, top + n_rows * cell + 70)
    rows_sum = matrix.sum(axis=1, keepdims=True)
    fraction = np.divide(matrix, rows_sum, out=np.zeros(matrix.shape), where=rows_sum > 0)
    for r in range(n_rows):
        for c in range(n + 1):
            x, y = left + c * cell, top + r * cell
            canvas.rect((x, y, x + cell - 1, y + cell - 1), fill=heat(float(fraction[r, c])))
    canvas.rect((left - 1, top - 1, left + (n + 1) * cell, top + n_rows * cell), outline=INK)
    step = 1 if labelled else max(1, round(12 / cell)) * 5
    column_step = 1 if cell >= 18 or n <= 10 else (2 if labelled else step)  # two-digit indices need ~18 px
    for i in range(0, n, step):
        label = canvas.fit(names[i], left - 8, 11) if labelled else str(i)
        canvas.text((left - 4, top + i * cell + cell / 2), label, 11, anchor="rm")
    for i in range(0, n, column_step):
        canvas.text((left + i * cell + cell / 2, top + n_rows * cell + 3), str(i), 10 if cell < 16 else 11, anchor="ma")
    if extra_row:
        canvas.text((left - 4, top + n * cell + cell / 2), extra_row, 11, anchor="rm")
    canvas.text((left + n * cell + cell / 2, top + n_rows * cell + 3), extra_column, 10, anchor="ma")
    canvas.text((left + (n + 1) * cell / 2, top + n_rows * cell + 20), f"predicted class (column index = row order; {column_note})", 12, anchor="ma")
    canvas.text((left, top - 8), f"ground truth (rows), each row normalised to its {unit}", 12, anchor="ld")
    bar_x = left + (n + 1) * cell + 30
    for i in range(101):
        y = top + round((100 - i) / 100 * 200)
        canvas.rect((bar_x, y, bar_x + 16, y + 2), fill=heat(i / 100))
    for v in (0.0, 0.25, 0.5, 1.0):
        canvas.text((bar_x + 22, top + (1 - v) * 200), f"{v:g}", 11, anchor="lm")
    off = fraction[:n, :n].copy()
    np.fill_diagonal(off, 0)
    worst = [(float(off[r, c]), r, c) for r, c in zip(*np.unravel_index(np.argsort(-off, axis=None, kind="stable")[:5], off.shape)) if off[r, c] > 0]
    top_pairs = "; ".join(f"{names[r]} \u2192 {names[c]} {v * 100:.1f}%" for v, r, c in worst)
    caption = f"{unit.capitalize()} of each ground-truth class (row) by predicted class (column), over the {n} classes on either side. Largest confusions: {top_pairs or 'none'}."
    return canvas, PlotFile("confusion.png", "Confusion matrix", caption)


def _nice_ticks(top: float, count: int = 4) -> list[float]:
    raw = max(1.0, top) / count
    magnitude = 10 ** np.floor(np.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [float(step * i) for i in range(int(top // step) + 1)]


def _histograms(hist: dict[str, np.ndarray], result: dict[str, Any]) -> tuple[Canvas, PlotFile]:
    panel_w, panel_h = 280, 250
    canvas = Canvas(20 + max(1, len(hist)) * panel_w, panel_h + 20)
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    per_prompt = result.get("per_prompt") or {}
    for slot, (prompt, counts) in enumerate(hist.items()):
        x0 = 20 + slot * panel_w + 50
        top = float(max(1, int(counts.max())))
        ticks = _nice_ticks(top)
        axes = canvas.axes((x0, 34, x0 + panel_w - 70, panel_h - 40), (0.0, 1.0), (0.0, max(top * 1.08, ticks[-1])))
        miou = (per_prompt.get(prompt) or {}).get("mIoU")
        title = f"{prompt}: {int(counts.sum())} instances" + (f", mIoU {miou:.1f}" if isinstance(miou, (int, float)) else "")
        axes.frame([0.0, 0.5, 1.0], ticks, "IoU", "instances" if slot == 0 else "", title, size=12)
        colour = SERIES[slot % len(SERIES)]
        for b, count in enumerate(counts):
            if count:
                axes.bar(float(edges[b]), float(edges[b + 1]), float(count), colour)
        if isinstance(miou, (int, float)):
            axes.vline(miou / 100.0, INK, 2)
    caption = f"Per-instance IoU of each prompt type in {HISTOGRAM_BINS} bins of 0.05 (IoU 1 in the last); the dark line is the mIoU."
    return canvas, PlotFile("iou-histograms.png", "IoU per prompt type", caption)


def _frame_j(data: dict[str, dict[int, list[tuple[Any, float]]]]) -> tuple[Canvas, PlotFile]:
    mean_j = {seq: float(np.mean([j for frames in objs.values() for _, j in frames])) for seq, objs in data.items()}
    order = sorted(data, key=lambda s: (mean_j[s], s))
    shown = order[:MAX_SEQUENCE_PANELS]
    columns = min(4, max(1, len(shown)))
    panel_w, panel_h = 280, 180
    canvas = Canvas(20 + columns * panel_w, 44 + max(1, -(-len(shown) // columns)) * panel_h)
    ids = sorted({obj for seq in shown for obj in data[seq]})
    canvas.legend((20, 10), [(_object_colour(obj), f"object {obj}") for obj in ids[:8]], size=13, columns=min(8, len(ids)), column_width=110)
    for slot, seq in enumerate(shown):
        x0 = 20 + (slot % columns) * panel_w + 40
        y0 = 44 + (slot // columns) * panel_h + 18
        length = max(len(frames) for frames in data[seq].values())
        axes = canvas.axes((x0, y0, x0 + panel_w - 60, y0 + panel_h - 60), (0.0, max(1.0, length - 1.0)), (0.0, 1.0))
        axes.frame([0.0, float(max(1, length - 1))], [0.0, 0.5, 1.0], "scored frame", "", f"{seq}  J {mean_j[seq] * 100:.1f}", size=11)
        for obj, frames in sorted(data[seq].items()):
            axes.line(np.arange(len(frames), dtype=float), [j for _, j in frames], _object_colour(obj))
    more = f"; the {len(shown)} worst of {len(order)} shown" if len(order) > len(shown) else ""
    caption = f"J (region IoU) of each object over the scored frames of its sequence, one colour per object id, lowest mean J first{more}."
    return canvas, PlotFile("j-frames.png", "J per frame", caption)


def _object_colour(obj: int) -> tuple[int, int, int]:
    return SERIES[(obj - 1) % len(SERIES)]


def _instance_plots(result: dict[str, Any], source: Path) -> list[tuple[Canvas, PlotFile]]:
    data = pr_data(result, source)
    if not data.valid().any():
        return []
    return [_pr_thresholds(data), _pr_classes(data)]


def _semantic_plots(result: dict[str, Any], source: Path) -> list[tuple[Canvas, PlotFile]]:
    matrix, names = confusion_data(result, source)
    return [_confusion(matrix, names)] if names else []


def _panoptic_plots(result: dict[str, Any], source: Path, inputs: tuple[Path, Path] | None, progress: bool,
                    png_dirs: tuple[Path | None, Path | None] = (None, None)) -> list[tuple[Canvas, PlotFile]]:
    if inputs is None:
        return []
    counts, names, _ = panoptic_confusion_data(inputs[0], inputs[1], progress, png_dirs)
    n = len(names)
    shown = [k for k in range(n) if counts[k].any() or counts[:, k].any()]
    if not shown:
        return []
    keep = shown + [n]
    canvas, plot = _confusion(counts[np.ix_(keep, keep)], [names[k] for k in shown], extra_column="none", extra_row="none",
                              unit="segments", column_note="last: no prediction at IoU > 0.5; last row: unmatched predictions")
    caption = plot.caption + " A GT segment pairs with the prediction of any class it overlaps at IoU > 0.5 (the diagonal: PQ's true positives)."
    return [(canvas, PlotFile(plot.name, "Segment confusion matrix", caption))]


def panoptic_confusion_data(gt: Path, pred: Path, progress: bool = False,
                            png_dirs: tuple[Path | None, Path | None] = (None, None)) -> tuple[np.ndarray, list[str], list[int]]:
    from psalm_bench.leaderboard.browse_confusion import panoptic_confusion

    return panoptic_confusion(gt, pred, progress, gt_dir=png_dirs[0], pred_dir=png_dirs[1])


def _interactive_plots(result: dict[str, Any], source: Path) -> list[tuple[Canvas, PlotFile]]:
    hist = histogram_data(result, source)
    return [_histograms(hist, result)] if hist else []


def _vos_plots(result: dict[str, Any], source: Path) -> list[tuple[Canvas, PlotFile]]:
    data = frame_j_data(result, source)
    return [_frame_j(data)] if data else []


PLOTTERS: dict[str, Callable[[dict[str, Any], Path], list[tuple[Canvas, PlotFile]]]] = {
    "instance": _instance_plots,
    "ov-instance": _instance_plots,
    "semantic": _semantic_plots,
    "ov-semantic": _semantic_plots,
    "interactive": _interactive_plots,
    "vos": _vos_plots,
}


def _holds_arrays(value: Any, depth: int = 3) -> bool:
    """Whether numpy arrays sit in the first levels (a dict from ``to_dict``, not one read from JSON)."""
    if isinstance(value, np.ndarray):
        return True
    if depth and isinstance(value, dict):
        return any(_holds_arrays(v, depth - 1) for v in value.values())
    return False


def _as_json(result: dict[str, Any]) -> dict[str, Any]:
    """The result as its JSON file holds it (numpy columns of ``EvalResult.to_dict`` become lists)."""
    import orjson

    from psalm_bench.jsonio import _default, _finite_or_null

    return orjson.loads(orjson.dumps(_finite_or_null(result), default=_default, option=orjson.OPT_SERIALIZE_NUMPY))


def write_plots(result: dict[str, Any] | Any, source: Path, out: Path, inputs: tuple[Path, Path] | None = None,
                progress: bool = False, png_dirs: tuple[Path | None, Path | None] = (None, None)) -> list[PlotFile]:
    """Draw the task's plots of ``result`` (read from ``source``) into ``out``; none for a task without plots.
    ``inputs``: the (GT, prediction) files it was scored on, for plots the result alone cannot give
    (panoptic's segment confusion, which reads every image once; ``png_dirs`` its PNG folders
    when not the JSONs' paths without .json)."""
    if not isinstance(result, dict):  # an EvalResult from the Python API
        result = result.to_dict()
    if _holds_arrays(result):
        result = _as_json(result)
    task = str(result.get("task"))
    if task == "panoptic":
        drawn = _panoptic_plots(result, source, inputs, progress, png_dirs)
    else:
        plotter = PLOTTERS.get(task)
        drawn = plotter(result, source) if plotter is not None else []
    written = []
    for canvas, plot in drawn:
        canvas.save(out / plot.name)
        written.append(plot)
    return written
