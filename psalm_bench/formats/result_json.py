"""Result JSON (`eval --json`, FORMATS.md): the one reader of the file.

The report, the store, `leaderboard set-gt`/`submit` and the site all read a
result through :func:`read_result`, so its shape is checked once, every
problem is one line naming the file, and each of them gets the same
:class:`ResultFile`. What a caller knows beyond the shape (which tasks exist,
which metrics a task must carry) it passes in as ``require``; the ground layer
does not import the task registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from psalm_bench.errors import InputError
from psalm_bench.results import BREAKDOWNS

Require = Callable[[str], Sequence[str]]  # task -> the metrics its result must carry; InputError for an unknown task


@dataclass(frozen=True)
class Provenance:
    """What produced a result: toolkit version, input digests, evaluation options."""

    psalm_bench: str = ""
    gt_sha256: str = ""
    pred_sha256: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] | None = None  # where the scored files were (browse, the site)


@dataclass(frozen=True)
class ResultFile:
    """A result JSON whose shape has been checked; ``source`` names it in messages
    (the path as given, or ``<role>`` for an in-memory dict), ``path`` is None
    for a dict."""

    task: str
    metrics: dict[str, float | None]
    n_samples: int | None
    warnings: list[str]
    provenance: Provenance | None  # None: the file carries none
    breakdown_name: str | None = None
    breakdown: dict[str, dict[str, Any]] | None = None
    records: Any = None
    curves: Any = None
    source: str = ""
    path: Path | None = None

    @property
    def params(self) -> dict[str, Any]:
        """The evaluation options (empty without provenance)."""
        return self.provenance.params if self.provenance is not None else {}

    def table(self, name: str) -> dict[str, dict[str, Any]] | None:
        """The breakdown table ``name`` (``per_class``, ``per_prompt``, ``per_sequence``) if the result holds it."""
        return self.breakdown if self.breakdown_name == name else None

    def to_dict(self) -> dict[str, Any]:
        """The checked result as JSON values, in the file's keys (for code that takes the plain document, e.g. plots)."""
        out: dict[str, Any] = {"task": self.task, "metrics": dict(self.metrics), "n_samples": self.n_samples, "warnings": list(self.warnings)}
        if self.breakdown_name is not None:
            out[self.breakdown_name] = self.breakdown
        for key, value in (("records", self.records), ("curves", self.curves)):
            if value is not None:
                out[key] = value
        if self.provenance is not None:
            prov = self.provenance
            out["provenance"] = {"psalm_bench": prov.psalm_bench, "gt_sha256": prov.gt_sha256, "pred_sha256": prov.pred_sha256,
                                 "params": dict(prov.params), **({"inputs": prov.inputs} if prov.inputs is not None else {})}
        return out


def read_result(source: Mapping[str, Any] | str | Path, *, role: str = "result", require: Require | None = None,
                need_provenance: bool = False) -> ResultFile:
    """Read and check a result from a path or an already parsed dict.

    ``require(task)`` returns the metric names the task's result must carry and
    raises InputError for a task the caller does not know; ``need_provenance``
    refuses a result without its ``provenance`` object.
    """
    if isinstance(source, Mapping):
        data: Any = source
        src, path = f"<{role}>", None
    elif isinstance(source, (str, Path)):
        from psalm_bench.jsonio import load_json

        data = load_json(source)
        src, path = str(source), Path(source)
    else:
        raise TypeError(f"{role} must be a dict or a path, got {type(source).__name__}")

    def bad(problem: str) -> InputError:
        return InputError(problem, file=src)

    if not isinstance(data, Mapping):
        raise bad("not a psalm-bench result (expected a JSON object with task, metrics and provenance)")
    task = data.get("task")
    if not isinstance(task, str) or not task:
        raise bad("not a psalm-bench result (no \"task\")")
    metrics = _metrics(data.get("metrics"), bad)
    if require is not None:
        try:
            wanted = require(task)
        except InputError as exc:
            raise bad(exc.problem) from None
        missing = [m for m in wanted if m not in metrics]
        if missing:
            raise bad(f"missing metric(s) of task {task}: {', '.join(missing)}")
    n_samples = data.get("n_samples")
    if n_samples is not None and (isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 0):
        raise bad(f"n_samples must be a count (an integer >= 0), got {n_samples!r}")
    warnings = data.get("warnings")
    if warnings is None:
        warnings = []
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise bad("warnings must be a list of strings")
    provenance = _provenance(data.get("provenance"), bad)
    if provenance is None and need_provenance:
        raise bad("not a result: no \"provenance\" (write it with `psalm-bench eval --json`)")
    kinds = [k for k in BREAKDOWNS if data.get(k) is not None]
    if len(kinds) > 1:
        raise bad(f"holds more than one breakdown table ({', '.join(kinds)})")
    breakdown = None
    if kinds:
        table = data[kinds[0]]
        if not isinstance(table, Mapping) or not all(isinstance(v, Mapping) for v in table.values()):
            raise bad(f"{kinds[0]} must be an object of objects, one per {BREAKDOWNS[kinds[0]]}")
        breakdown = {str(k): dict(v) for k, v in table.items()}
    return ResultFile(task, metrics, n_samples, list(warnings), provenance, kinds[0] if kinds else None, breakdown,
                      data.get("records"), data.get("curves"), src, path)


def _metrics(value: Any, bad: Callable[[str], InputError]) -> dict[str, float | None]:
    """Metric name -> percent (float) or None; NaN and infinity are refused (JSON writes undefined as null)."""
    if not isinstance(value, Mapping):
        raise bad("not a result: no \"metrics\" object")
    out: dict[str, float | None] = {}
    for name, v in value.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise bad(f"metrics: {name}: must be a number or null, got {v!r}")
        if v is not None and math.isnan(v):  # worded for both readers of the line: "metric X is nan", "is NaN"
            raise bad(f"metric {name} is nan; a metric that is NaN is not a measurement (an undefined metric is written as null)")
        if v is not None and math.isinf(v):
            raise bad(f"metric {name} is {v!r}; {'+' if v > 0 else '-'}infinity is not a measurement (an undefined metric is written as null)")
        out[str(name)] = None if v is None else float(v)
    return out


def _provenance(value: Any, bad: Callable[[str], InputError]) -> Provenance | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise bad("provenance must be an object")
    strings = {}
    for key in ("psalm_bench", "gt_sha256", "pred_sha256"):
        v = value.get(key)
        if v is not None and not isinstance(v, str):
            raise bad(f"provenance: {key} must be a string, got {v!r}")
        strings[key] = v or ""
    params = value.get("params")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise bad("provenance: params must be an object")
    inputs = value.get("inputs")
    if inputs is not None and not isinstance(inputs, Mapping):
        raise bad("provenance: inputs must be an object")
    return Provenance(strings["psalm_bench"], strings["gt_sha256"], strings["pred_sha256"], dict(params),
                      dict(inputs) if inputs is not None else None)
