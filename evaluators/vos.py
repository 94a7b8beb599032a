"""DAVIS-2017 semi-supervised video object segmentation: J&F.

The numbers are those of the official ``davis2017-evaluation``
(``DAVISEvaluation(task="semi-supervised")``):

- J, per object and frame: the IoU of the object's predicted and
  ground-truth masks, 1 when both are empty. Ground-truth void (255) counts
  as background, as in the official code (which zeroes it before it looks
  for void pixels, so none are excluded).
- F, per object and frame: the boundary F-measure. Boundaries are the
  official ``seg2bmap`` maps (a pixel is on the boundary when it differs from
  its east, south or south-east neighbour; in the last row only east counts,
  in the last column only south, and the last pixel never); a boundary pixel
  matches when a boundary pixel of the other mask lies within
  ``ceil(0.008 * image diagonal)`` pixels (a skimage disk, as the official
  ``cv2.dilate``); precision, recall and F as ``f_measure`` (an empty
  boundary on one side only gives 0, on both sides 1).
- Per object over the scored frames: mean, recall (share of frames > 0.5)
  and decay (mean of the first of the official four overlapping bins minus
  the mean of the last); the headline numbers average these over all
  objects of all sequences; J&F = (J mean + F mean) / 2.

Protocols: ``davis2017`` (default) scores frames 1 .. n-2 (first and last
left out, as the official semi-supervised evaluation); ``all-frames`` scores
every frame.

What makes it fast while staying exact: frames are decoded once for all
objects (zlib-ng PNG decoder); each object's masks are cropped to the box
around both masks plus a one-pixel rim, where seg2bmap gives exactly the
full-frame boundary (the rim pixels of a crop edge inside the frame are
background, so the edge rules the official code applies to the last row and
column give the same values there); the disk dilation is done on that crop
as a union of a few rectangle dilations (separable, so cheap), which equals
the disk dilation pixel for pixel.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.evaluators.base import Evaluator, point, ratio
from psalm_bench.formats.davis import VOID, VosSample, load_davis, object_ids, pair_predictions, read_frame, scored_objects
from psalm_bench.results import EvalResult
from psalm_bench.specs import BOUND_TH
from psalm_bench.specs import VOS as SPEC

METRICS = list(SPEC.metrics)
PROTOCOLS = SPEC.protocols
SUMS = ("J-mean", "J-recall", "J-decay", "F-mean", "F-recall", "F-decay")  # per-object db_statistics x 100, summed over objects


def vos_metrics(sums: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """J&F and its parts from the per-object statistics (``SUMS``, in percent) summed
    over ``n`` objects: each is a mean over objects, J&F = (J + F) / 2; NaN without
    objects. ``compute()`` passes one row, the report's bootstrap one per resample."""
    S = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    n = np.asarray(n, dtype=np.float64).reshape(-1)
    jm, jr, jd, fm, fr, fd = (ratio(S[:, i], n) for i in range(6))
    return {"J&F": (jm + fm) / 2.0, "J": jm, "J-recall": jr, "J-decay": jd, "F": fm, "F-recall": fr, "F-decay": fd}

# One frame as the evaluator consumes it: index, name, GT id map, predicted
# id map (None: missing), whether it is scored, and the files behind them.
Frame = tuple[int, str, np.ndarray, "np.ndarray | None", bool, "Path | None", "Path | None"]


# ---------------------------------------------------------------------------
# Per-frame measures


def boundary_radius(height: int, width: int, bound_th: float = BOUND_TH) -> int:
    """The official tolerance: ceil(bound_th * ||(h, w)||) pixels."""
    if bound_th >= 1:
        return int(bound_th)
    return int(np.ceil(bound_th * np.linalg.norm((height, width))))


def disk(radius: int) -> np.ndarray:
    """skimage.morphology.disk: the points with x^2 + y^2 <= r^2."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)


def disk_rectangles(radius: int) -> list[np.ndarray]:
    """Rectangles whose union is ``disk(radius)``: for each half-height dy at
    which the disk's half-width w(dy) = floor(sqrt(r^2 - dy^2)) is about to
    shrink, the (2 w + 1) x (2 dy + 1) rectangle."""
    widths = [math.isqrt(radius * radius - dy * dy) for dy in range(radius + 1)]
    rects = []
    for dy in range(radius + 1):
        if dy == radius or widths[dy] > widths[dy + 1]:
            rects.append(np.ones((2 * dy + 1, 2 * widths[dy] + 1), dtype=np.uint8))
    return rects


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """The official 1-pixel boundary map of a binary (0/1 uint8) mask."""
    b = np.zeros_like(mask)
    inner = mask[:-1, :-1]
    core = b[:-1, :-1]
    np.bitwise_xor(inner, mask[:-1, 1:], out=core)
    core |= inner ^ mask[1:, :-1]
    core |= inner ^ mask[1:, 1:]
    b[-1, :-1] = mask[-1, :-1] ^ mask[-1, 1:]
    b[:-1, -1] = mask[:-1, -1] ^ mask[1:, -1]
    b[-1, -1] = 0
    return b


class FrameScorer:
    """J and F of every object in one frame, for frames of one size."""

    def __init__(self, height: int, width: int, bound_th: float = BOUND_TH):
        self.shape = (height, width)
        self.radius = boundary_radius(height, width, bound_th)
        self.rects = disk_rectangles(self.radius)

    def dilate(self, boundary: np.ndarray) -> np.ndarray:
        out = cv2.dilate(boundary, self.rects[0])
        for rect in self.rects[1:]:
            np.bitwise_or(out, cv2.dilate(boundary, rect), out=out)
        return out

    def score(self, gt: np.ndarray, pred: np.ndarray | None, objects: Sequence[int]) -> tuple[list[float], list[float]]:
        height, width = self.shape
        js: list[float] = []
        fs: list[float] = []
        for obj in objects:
            g = (gt == obj).view(np.uint8)
            gx, gy, gw, gh = cv2.boundingRect(g)
            if pred is not None:
                p = (pred == obj).view(np.uint8)
                px, py, pw, ph = cv2.boundingRect(p)
            else:
                p = None
                pw = ph = 0
            if gw == 0 and pw == 0:
                js.append(1.0)
                fs.append(1.0)
                continue
            # the box around both masks, plus the pixel above/left (where
            # seg2bmap marks a boundary) and below/right (the neighbours)
            if gw == 0:
                x0, y0, x1, y1 = px, py, px + pw, py + ph
            elif pw == 0:
                x0, y0, x1, y1 = gx, gy, gx + gw, gy + gh
            else:
                x0, y0 = min(gx, px), min(gy, py)
                x1, y1 = max(gx + gw, px + pw), max(gy + gh, py + ph)
            x0, y0 = max(x0 - 1, 0), max(y0 - 1, 0)
            x1, y1 = min(x1 + 1, width), min(y1 + 1, height)
            gc = g[y0:y1, x0:x1]
            if p is None or pw == 0:
                js.append(0.0)
                fs.append(0.0 if cv2.countNonZero(seg2bmap(gc)) else 1.0)
                continue
            pc = p[y0:y1, x0:x1]
            if gw == 0:
                js.append(0.0)
                fs.append(0.0 if cv2.countNonZero(seg2bmap(pc)) else 1.0)
                continue
            inter = cv2.countNonZero(gc & pc)
            union = cv2.countNonZero(gc | pc)
            js.append(inter / union)
            fs.append(self._f_measure(gc, pc))
        return js, fs

    def _f_measure(self, gc: np.ndarray, pc: np.ndarray) -> float:
        gb = seg2bmap(gc)
        pb = seg2bmap(pc)
        n_gt = cv2.countNonZero(gb)
        n_fg = cv2.countNonZero(pb)
        if n_fg == 0 and n_gt > 0:
            precision, recall = 1.0, 0.0
        elif n_fg > 0 and n_gt == 0:
            precision, recall = 0.0, 1.0
        elif n_fg == 0 and n_gt == 0:
            precision, recall = 1.0, 1.0
        else:
            precision = cv2.countNonZero(pb & self.dilate(gb)) / float(n_fg)
            recall = cv2.countNonZero(gb & self.dilate(pb)) / float(n_gt)
        if precision + recall == 0:
            return 0.0
        return 2 * precision * recall / (precision + recall)


def db_statistics(values: np.ndarray) -> tuple[float, float, float]:
    """Mean, recall (> 0.5) and decay of one object's per-frame values, with
    the official four overlapping bins (bin edges rounded from
    linspace(1, n, 5); each bin includes its right edge)."""
    n = len(values)
    mean = float(np.mean(values))
    recall = float(np.mean(values > 0.5))
    edges = (np.round(np.linspace(1, n, 5) + 1e-10) - 1).astype(np.int64)
    first = values[edges[0]:edges[1] + 1]
    last = values[edges[3]:edges[4] + 1]
    decay = float(np.mean(first) - np.mean(last))
    return mean, recall, decay


# ---------------------------------------------------------------------------
# The evaluator


class SequenceScores:
    """Per object-frame J and F of one sequence (objects x scored frames).

    ``late`` and ``above`` hold ``[frame, id]`` of the first ground-truth id
    that the first frame does not hold: one below its largest id (an object,
    empty until it enters) and one above it (never scored), as
    davis2017-evaluation reads them; empty lists when there is none."""

    __slots__ = ("name", "objects", "frames", "J", "F", "missing", "late", "above")

    def __init__(self, name: str, objects: list[int], frames: list[str], j: np.ndarray, f: np.ndarray, missing: list[str],
                 late: list[Any], above: list[Any]):
        self.name = name
        self.objects = objects
        self.frames = frames
        self.J = j
        self.F = f
        self.missing = missing
        self.late = late
        self.above = above

    def __getstate__(self) -> tuple:
        return (self.name, self.objects, self.frames, self.J, self.F, self.missing, self.late, self.above)

    def __setstate__(self, state: tuple) -> None:
        self.name, self.objects, self.frames, self.J, self.F, self.missing, self.late, self.above = state


class VosEvaluator(Evaluator[Any, Any]):
    """Keeps J and F per object-frame of every sequence; merges by sequence."""

    task = "vos"

    def __init__(self, protocol: str = "davis2017", strict: bool = False):
        SPEC.check_protocol(protocol)
        self.protocol = protocol
        self.strict = strict
        self.sequences: dict[str, SequenceScores] = {}
        self._scorers: dict[tuple[int, int], FrameScorer] = {}  # scratch, not state

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_scorers": {}}

    def config(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "strict": self.strict}

    def _scorer(self, shape: tuple[int, int]) -> FrameScorer:
        scorer = self._scorers.get(shape)
        if scorer is None:
            scorer = self._scorers[shape] = FrameScorer(*shape)
        return scorer

    def scored_range(self, n_frames: int) -> tuple[int, int]:
        return (0, n_frames) if self.protocol == "all-frames" else (1, max(1, n_frames - 1))

    def update(self, gt: VosSample, pred: Any = None) -> None:
        """Score one sequence from its files (a :class:`VosSample`)."""
        self._add(gt.name, _frames_from_files(gt, self.strict))

    def update_arrays(self, name: str, gt_frames: Sequence[np.ndarray], pred_frames: Sequence[np.ndarray | None], frame_names: Sequence[str] | None = None) -> None:
        """Score one sequence held in memory (e.g. inside a validation loop):
        all its ground-truth id maps, and the prediction of each (None for a
        missing one); the protocol picks the scored frames."""
        if len(gt_frames) != len(pred_frames):
            raise ValueError("one prediction (or None) per ground-truth frame")
        names = list(frame_names) if frame_names is not None else [f"{k:05d}" for k in range(len(gt_frames))]
        first, stop = self.scored_range(len(gt_frames))
        frames = (
            (index, names[index], np.asarray(gt_frames[index]), None if pred_frames[index] is None else np.asarray(pred_frames[index]), first <= index < stop)
            for index in range(len(gt_frames))
        )
        self._add(name, _checked_arrays(name, frames, self.strict))

    def _add(self, name: str, frames: Iterable[Frame]) -> None:
        if name in self.sequences:
            raise InputError("sequence scored twice", record=f"sequence {name}")
        objects: list[int] | None = None
        allowed_gt: np.ndarray | None = None
        allowed_pred: np.ndarray | None = None
        js: list[list[float]] = []
        fs: list[list[float]] = []
        frame_names: list[str] = []
        missing: list[str] = []
        late: list[Any] = []  # [frame, id]: an object the first frame lacks, where it enters
        above: list[Any] = []  # [frame, id]: an id above the first frame's largest
        not_entered: list[int] = []
        shape = None
        for index, frame_name, gt, pred, scored, gt_file, pred_file in frames:
            if objects is None:
                objects = scored_objects(gt)
                not_entered = sorted(set(objects) - set(object_ids(gt)))
                shape = gt.shape
                allowed_gt = _allowed(objects, with_void=True)
                allowed_pred = _allowed(objects, with_void=False)
            elif gt.shape != shape:
                raise InputError(f"frame size {gt.shape[0]}x{gt.shape[1]} differs from the first frame's {shape[0]}x{shape[1]}", file=gt_file, record=f"sequence {name}, frame {frame_name}")
            if not above:
                bad = _first_bad_id(gt, objects, allowed_gt, with_void=True)
                if bad is not None:  # davis2017-evaluation never scores it: background for every object
                    above = [frame_name, bad]
            if not late and not_entered:
                entered = [obj for obj in not_entered if cv2.countNonZero(cv2.inRange(gt, obj, obj))]
                if entered:
                    late = [frame_name, entered[0]]
            if not scored:
                continue
            if pred is None:
                missing.append(frame_name)
            else:
                if pred.shape != gt.shape:
                    raise InputError(f"prediction size {pred.shape[0]}x{pred.shape[1]} differs from the ground truth's {gt.shape[0]}x{gt.shape[1]}", file=pred_file, record=f"sequence {name}, frame {frame_name}")
                bad = _first_bad_id(pred, objects, allowed_pred, with_void=False)
                if bad is not None:
                    raise InputError(f"prediction holds id {bad}, which is not an object of the sequence (objects {objects})", file=pred_file, record=f"sequence {name}, frame {frame_name}")
            j, f = self._scorer(gt.shape).score(gt, pred, objects)
            js.append(j)
            fs.append(f)
            frame_names.append(frame_name)
        objects = objects or []
        n = len(frame_names)
        j_arr = np.asarray(js, dtype=np.float64).reshape(n, len(objects)).T.copy()
        f_arr = np.asarray(fs, dtype=np.float64).reshape(n, len(objects)).T.copy()
        self.sequences[name] = SequenceScores(name, objects, frame_names, j_arr, f_arr, missing, late, above)

    def merge(self, other: "VosEvaluator") -> "VosEvaluator":
        for name, scores in other.sequences.items():
            if name in self.sequences:
                raise InputError("sequence scored twice", record=f"sequence {name}")
            self.sequences[name] = scores
        return self

    def compute(self) -> EvalResult:
        j_stats: list[tuple[float, float, float]] = []
        f_stats: list[tuple[float, float, float]] = []
        per_sequence: dict[str, dict[str, Any]] = {}
        unscored: list[str] = []
        no_objects: list[str] = []
        n_missing = 0
        first_missing = None
        rec_seq: list[str] = []
        rec_obj: list[np.ndarray] = []
        rec_frame: list[str] = []
        rec_j: list[np.ndarray] = []
        rec_f: list[np.ndarray] = []
        for name, seq in self.sequences.items():
            if seq.missing:
                n_missing += len(seq.missing)
                if first_missing is None:
                    first_missing = f"{name}/{seq.missing[0]}.png"
            if not seq.objects:
                no_objects.append(name)
                continue
            if not seq.frames:
                unscored.append(name)
                continue
            seq_j, seq_f = [], []
            rows: dict[str, dict[str, Any]] = {}
            for k, obj in enumerate(seq.objects):
                js = db_statistics(seq.J[k])
                fs = db_statistics(seq.F[k])
                j_stats.append(js)
                f_stats.append(fs)
                seq_j.append(js[0])
                seq_f.append(fs[0])
                rows[f"{name}_{obj}"] = _row(js[0], fs[0], obj)
            per_sequence[name] = _row(float(np.mean(seq_j)), float(np.mean(seq_f)), None)
            per_sequence.update(rows)
            n_frames = len(seq.frames)
            for k, obj in enumerate(seq.objects):
                rec_seq.extend([name] * n_frames)
                rec_obj.append(np.full(n_frames, obj, dtype=np.int64))
                rec_frame.extend(seq.frames)
                rec_j.append(seq.J[k])
                rec_f.append(seq.F[k])
        stats = np.concatenate([np.asarray(j_stats).reshape(-1, 3), np.asarray(f_stats).reshape(-1, 3)], axis=1) * 100.0
        sums = [math.fsum(stats[:, i].tolist()) for i in range(6)]  # exactly rounded: the same bits in any merge order
        metrics = point(vos_metrics(np.asarray([sums]), np.asarray([len(j_stats)])), METRICS)
        warnings = []
        if n_missing:
            warnings.append(f"{n_missing} prediction frame(s) missing, scored as all objects absent (first: {first_missing}); --strict stops instead")
        if unscored:
            warnings.append(f"{len(unscored)} sequence(s) have no frame to score under the {self.protocol} protocol and are left out: {', '.join(unscored[:10])}")
        if no_objects:
            warnings.append(f"{len(no_objects)} sequence(s) have no object in their first frame and are left out: {', '.join(no_objects[:10])}")
        late = [(name, seq.late) for name, seq in self.sequences.items() if seq.late]
        if late:
            name, (frame, obj) = late[0]
            warnings.append(f"{len(late)} sequence(s) hold objects that enter after the first frame, scored as empty until then (as davis2017-evaluation): "
                            f"first sequence {name}, frame {frame}, id {obj}")
        above = [(name, seq.above) for name, seq in self.sequences.items() if seq.above]
        if above:
            name, (frame, obj) = above[0]
            warnings.append(f"{len(above)} sequence(s) hold ground-truth ids above their first frame's largest, never scored (as davis2017-evaluation): "
                            f"first sequence {name}, frame {frame}, id {obj}")
        records = {
            "sequence": rec_seq,
            "object": np.concatenate(rec_obj) if rec_obj else np.zeros(0, dtype=np.int64),
            "frame": rec_frame,
            "J": np.concatenate(rec_j) if rec_j else np.zeros(0),
            "F": np.concatenate(rec_f) if rec_f else np.zeros(0),
        }
        return EvalResult(
            task=self.task,
            metrics=metrics,
            n_samples=len(j_stats),
            params={"protocol": self.protocol, "sequences": len(self.sequences), "objects": len(j_stats), "object_frames": int(records["J"].size)},
            warnings=warnings,
            breakdown_name="per_sequence",
            breakdown=per_sequence,
            records=records,
        )


def _row(j: float, f: float, obj: int | None) -> dict[str, Any]:
    return {"J&F": (j + f) / 2.0 * 100.0, "J": j * 100.0, "F": f * 100.0, "object": obj}


def _allowed(objects: list[int], *, with_void: bool) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[0] = True
    table[objects] = True
    if with_void:
        table[VOID] = True
    return table


def _first_bad_id(labels: np.ndarray, objects: list[int], allowed: np.ndarray, *, with_void: bool) -> int | None:
    """The smallest id in ``labels`` that is not background, an object (or
    void, in the ground truth); None when all are. Objects 1..K (the usual
    case) are checked with one vectorised range test."""
    top = objects[-1] if objects else 0
    if objects == list(range(1, top + 1)):
        high = VOID - 1 if with_void else VOID
        if top >= high or cv2.countNonZero(cv2.inRange(labels, top + 1, high)) == 0:
            return None
    counts = np.bincount(labels.ravel(), minlength=256)
    bad = np.flatnonzero((counts > 0) & ~allowed)
    return int(bad[0]) if bad.size else None


def _frames_from_files(sample: VosSample, strict: bool) -> Iterator[Frame]:
    for index, gt_path in enumerate(sample.gt_frames):
        scored = sample.first <= index < sample.stop
        gt = read_frame(gt_path, "ground-truth", sample.name)
        pred_path = sample.pred_frames[index]
        pred = None
        if scored:
            if pred_path is None:
                if strict:
                    raise InputError("prediction frame missing (--strict)", file=f"{sample.name}/{gt_path.name}", record=f"sequence {sample.name}")
            else:
                pred = read_frame(pred_path, "prediction", sample.name)
        yield index, gt_path.stem, gt, pred, scored, gt_path, pred_path


def _checked_arrays(name: str, frames: Iterable[tuple[int, str, np.ndarray, np.ndarray | None, bool]], strict: bool) -> Iterator[Frame]:
    for index, frame_name, gt, pred, scored in frames:
        if gt.ndim != 2:
            raise ValueError(f"sequence {name}, frame {frame_name}: id maps must be 2-D")
        if gt.dtype != np.uint8:
            gt = gt.astype(np.uint8)
        if pred is not None and pred.dtype != np.uint8:
            pred = pred.astype(np.uint8)
        if scored and pred is None and strict:
            raise InputError("prediction frame missing (strict)", record=f"sequence {name}, frame {frame_name}")
        yield index, frame_name, np.ascontiguousarray(gt), None if pred is None else np.ascontiguousarray(pred), scored, None, None


def _load(sample: VosSample) -> tuple[VosSample, None]:
    """Frames are read by the evaluator, one at a time (module-level for the pool)."""
    return sample, None


def evaluate_vos(
    gt: str | Path,
    pred: str | Path,
    *,
    split: str = "val",
    protocol: str = "davis2017",
    strict: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> EvalResult:
    """Score a prediction folder (SEQ/NNNNN.png) against a DAVIS-2017 root."""
    from psalm_bench.parallel import run_sharded

    SPEC.check_protocol(protocol)
    sequences = load_davis(gt, split)
    samples = pair_predictions(sequences, pred, all_frames=protocol == "all-frames")
    if strict:
        for sample in samples:
            for index in range(sample.first, sample.stop):
                if sample.pred_frames[index] is None:
                    frame = sample.gt_frames[index].name
                    raise InputError("prediction frame missing (--strict)", file=Path(pred) / sample.name / frame, record=f"sequence {sample.name}, frame {Path(frame).stem}")
    evaluator = VosEvaluator(protocol, strict)
    run_sharded(evaluator, samples, _load, workers=workers, desc="vos", progress=progress, chunk_size=1)
    result = evaluator.compute()
    result.params["split"] = split
    return result


__all__ = ["VosEvaluator", "FrameScorer", "evaluate_vos", "db_statistics", "seg2bmap", "disk", "disk_rectangles", "boundary_radius", "METRICS", "PROTOCOLS"]
