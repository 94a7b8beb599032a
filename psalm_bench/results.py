"""The result of an evaluation, and its JSON form with provenance (FORMATS.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError
from psalm_bench.jsonio import dump_json, sha256_of


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
            "gt_sha256": _hash_inputs(gt),
            "pred_sha256": _hash_inputs(pred),
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


def _hash_inputs(paths: str | Path | list[Path] | None) -> str:
    """One digest for an input, which may be a file plus its PNG folder."""
    if paths is None:
        return ""
    if isinstance(paths, (str, Path)):
        return sha256_of(paths)
    import hashlib

    parts = [sha256_of(p) for p in paths]
    if len(parts) == 1:
        return parts[0]
    return hashlib.sha256("".join(parts).encode()).hexdigest()
