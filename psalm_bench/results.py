"""The result of an evaluation, and its JSON form with provenance (FORMATS.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError
from psalm_bench.jsonio import dump_json, sha256_of

# The JSON keys a result's table below the headline numbers may have, with what a row is.
BREAKDOWNS = {"per_class": "class", "per_prompt": "prompt", "per_sequence": "sequence"}


@dataclass
class EvalResult:
    """Metrics of one task in percent, with what produced them.

    ``breakdown`` holds the task's table below the headline numbers, stored in
    the JSON under ``breakdown_name`` (``per_class``, ``per_prompt`` or
    ``per_sequence``). ``records`` keeps the per-sample records that let a
    report bootstrap or explain a number (JSON-ready: dicts, lists, numpy
    arrays, dataclasses); the JSON carries them under ``records``.
    ``curves`` holds what a plot needs beyond the tables (instance: the
    precision-recall curves, ``evaluators/instance.py``), under ``curves``.
    ``input_digests``: the sha256 of input files an evaluator hashed from the
    bytes it scored (``digest_key`` -> hex), so the provenance does not read
    a results file of hundreds of MB a second time; not in the JSON itself.
    """

    task: str
    metrics: dict[str, float | None]
    n_samples: int
    params: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    breakdown_name: str | None = None
    breakdown: dict[str, dict[str, Any]] | None = None
    records: Any = None
    curves: dict[str, Any] | None = None
    input_digests: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self, gt: str | Path | list[Path] | None = None, pred: str | Path | list[Path] | None = None) -> dict[str, Any]:
        from psalm_bench import __version__

        out: dict[str, Any] = {"task": self.task, "metrics": dict(self.metrics)}
        if self.breakdown_name and self.breakdown is not None:
            out[self.breakdown_name] = self.breakdown
        out["n_samples"] = self.n_samples
        out["warnings"] = list(self.warnings)
        if self.curves is not None:
            out["curves"] = self.curves
        if self.records is not None:
            out["records"] = self.records
        out["provenance"] = {
            "psalm_bench": __version__,
            "gt_sha256": input_digest(gt, self.input_digests),
            "pred_sha256": input_digest(pred, self.input_digests),
            "params": dict(self.params),
        }
        if gt is not None and pred is not None:  # where the scored files were, so `browse` and the site can find them
            out["provenance"]["inputs"] = {"gt": _input_names(gt), "pred": _input_names(pred)}
        return out

    def write_json(self, path: str | Path, gt: str | Path | list[Path] | None = None, pred: str | Path | list[Path] | None = None) -> None:
        dump_json(self.to_dict(gt, pred), path)

    def to_pandas(self, what: str = "metrics"):
        """A pandas DataFrame, for notebooks and training logs.

        ``metrics``: one row (indexed by task) with a column per metric and
        ``n_samples``, so runs concatenate into a table; ``breakdown``: a row
        per class, prompt type or sequence; ``records``: a row per sample
        (tasks whose records are flat dicts).
        """
        import pandas as pd

        if what == "metrics":
            row = {name: (float("nan") if value is None else value) for name, value in self.metrics.items()}
            row["n_samples"] = self.n_samples
            return pd.DataFrame([row], index=pd.Index([self.task], name="task"))
        if what == "breakdown":
            if not self.breakdown:
                raise InputError(f"{self.task} has no breakdown table")
            frame = pd.DataFrame.from_dict(self.breakdown, orient="index")
            frame.index.name = (self.breakdown_name or "breakdown").removeprefix("per_")
            return frame
        if what == "records":
            if not isinstance(self.records, list) or not all(isinstance(r, dict) for r in self.records):
                raise InputError(f"{self.task} keeps no per-sample records as a list of rows")
            return pd.DataFrame.from_records(self.records)
        raise InputError(f"to_pandas: what must be metrics, breakdown or records, not {what!r}")


def _input_names(paths: str | Path | list[Path]) -> list[str]:
    """Absolute POSIX paths of an input (a file, or a file plus its PNG folder)."""
    return [Path(p).resolve().as_posix() for p in ([paths] if isinstance(paths, (str, Path)) else paths)]


def digest_key(path: str | Path) -> str:
    """The key of ``EvalResult.input_digests``: the file's resolved POSIX path."""
    return Path(path).resolve().as_posix()


def bytes_digest(data: bytes) -> str:
    """sha256 of bytes already read: what ``sha256_of`` gives for a file holding them."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


def input_digest(paths: str | Path | list[Path] | None, known: dict[str, str] | None = None) -> str:
    """One digest for an input, which may be a file plus its PNG folder: a
    result's ``gt_sha256`` / ``pred_sha256`` ("" for a missing path). A file
    in ``known`` (``digest_key`` -> sha256, hashed as it was read) is not read again."""
    if paths is None:
        return ""
    if isinstance(paths, (str, Path)):
        return _file_digest(paths, known)
    import hashlib

    parts = [_file_digest(p, known) for p in paths]
    if len(parts) == 1:
        return parts[0]
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def _file_digest(path: str | Path, known: dict[str, str] | None) -> str:
    if known:
        digest = known.get(digest_key(path))
        if digest is not None:
            return digest
    return sha256_of(path)


_hash_inputs = input_digest  # the name browse and cli_cluster import


# ---------------------------------------------------------------------------
# The per-sample records each task's result carries (its JSON ``records``)


@dataclass(frozen=True)
class RecordSchema:
    """The fields of one task's per-sample records, in one place: the evaluator
    writes them, ``report`` pairs and resamples them, ``browse`` explains them.

    ``layout``: ``rows`` (a list of objects), ``columns`` (an object of
    equal-length lists, one entry per record) or ``tables`` (an object of such
    column objects, or of a plain list, named in ``fields`` as ``table.field``).
    ``unit`` names the fields that identify a sampling unit (the report pairs two
    runs on them); ``optional`` fields may be absent or null.
    """

    task: str
    layout: str
    unit: tuple[str, ...]
    fields: dict[str, str]
    optional: frozenset[str] = frozenset()


_REFERRING = {
    "sent_id": "the sentence (PSALM's per-ref protocol: the ref's first sentence)",
    "ref_id": "its ref",
    "I": "intersection of predicted and target mask, pixels",
    "U": "union, pixels (ReLA/GSVA no-target rules applied)",
    "IoU": "the sample's IoU under the protocol (PSALM: I / (U + 1e-5))",
    "gt_no_target": "gref: the sentence refers to nothing",
    "pred_no_target": "gref: the prediction says no target",
}

RECORDS: dict[str, RecordSchema] = {
    "refcoco": RecordSchema("refcoco", "rows", ("sent_id",), _REFERRING, frozenset({"gt_no_target", "pred_no_target"})),
    "gref": RecordSchema("gref", "rows", ("sent_id",), _REFERRING),
    "interactive": RecordSchema("interactive", "columns", ("ann_id", "prompt"), {
        "image_id": "the image", "ann_id": "the instance", "prompt": "point, scribble, box or mask",
        "I": "intersection, pixels", "U": "union, pixels", "IoU": "I / U (PSALM: I / (U + 1e-5)); 1 where U = 0",
    }),
    "vos": RecordSchema("vos", "columns", ("sequence", "object"), {
        "sequence": "the video", "object": "object id in the first frame", "frame": "the scored frame's name",
        "J": "region similarity (mask IoU, void excluded)", "F": "boundary F-measure",
    }),
    "semantic": RecordSchema("semantic", "rows", ("image",), {
        "image": "the label map's file stem",
        "cells": "flat indices into the n x (n + 1) confusion (GT class x predicted class or none) with pixels",
        "counts": "the pixels of each cell",
    }),
    "panoptic": RecordSchema("panoptic", "tables", ("images.image_id",), {
        "images.image_id": "the image", "images.tp": "matched segments", "images.fp": "unmatched predictions",
        "images.fn": "unmatched GT segments", "images.ignored": "predictions left out (void or crowd)",
        "images.has_prediction": "a prediction PNG existed",
        "segments.image_id": "the segment's image", "segments.category_id": "its category",
        "segments.outcome": "0 TP, 1 FP, 2 FN, 3 ignored prediction", "segments.iou": "the match's IoU (null unless TP)",
    }),
    "instance": RecordSchema("instance", "tables", ("images",), {
        "images": "every image id, sorted (the sampling unit)",
        "pairs.image_id": "(image, category) pair with GT or detections", "pairs.category_id": "its category",
        "pairs.n_dets": "its detections (top maxDets by score)", "pairs.n_gt": "its GT instances",
        "dets.score": "each detection's score (finite)", "dets.tp": "matched at each IoU threshold (bits)",
        "dets.ignored": "ignored at each IoU threshold (bits)",
    }),
    "muse": RecordSchema("muse", "rows", ("id",), {
        "id": "the item", "n_gt": "GT masks", "n_pred": "predicted masks", "max_num": "max(n_gt, n_pred)",
        "I": "summed intersection of the matched pairs", "U": "summed union", "iou_sum": "summed pair IoU",
        "IoU": "iou_sum / max_num (null without masks)", "score": "the text scores used, if any",
        "pairs": "[question, pred, gt, I, U, IoU] per Hungarian pair",
    }),
    "gcg": RecordSchema("gcg", "rows", ("id",), {
        "id": "the image", "n_gt": "GT phrases", "n_pred": "predicted phrases", "mIoU": "GLaMM's per-image mean IoU",
        "miou_pairs": "the greedy pairs' IoUs", "recall_matches": "[GT phrase, predicted phrase] matches (null without a text model)",
        "tp": "recall TP (null without a text model)", "ap_tp": "COCOeval match bits per ranked detection",
        "ap_npig": "GT masks counted by AP", "caption": "the predicted caption", "ref_caption": "the reference caption",
    }),
    "correspondence": RecordSchema("correspondence", "columns", ("direction", "take", "object", "query_cam", "target_cam", "frame"), {
        "direction": "ego-exo or exo-ego", "take": "the take", "object": "the object", "query_cam": "query camera",
        "target_cam": "target camera", "frame": "the frame", "visible": "the object is visible in the target",
        "pred_visible": "the prediction says visible", "confidence": "the prediction's confidence",
        "IoU": "mask IoU", "CA": "contour accuracy", "LE": "location error",
    }),
}
RECORDS["ov-instance"] = RecordSchema("ov-instance", **{k: v for k, v in vars(RECORDS["instance"]).items() if k != "task"})
RECORDS["ov-semantic"] = RecordSchema("ov-semantic", **{k: v for k, v in vars(RECORDS["semantic"]).items() if k != "task"})


def record_fields(records: Any, layout: str) -> set[str]:
    """The field names a records value holds, spelled as ``RecordSchema.fields``."""
    if layout == "rows":
        return set().union(*(set(r) for r in records)) if records else set()
    if layout == "columns":
        return set(records)
    return {f"{name}.{k}" if isinstance(table, dict) else name for name, table in records.items()
            for k in (table if isinstance(table, dict) else [None])}
