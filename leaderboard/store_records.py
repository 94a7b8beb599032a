"""The leaderboard's records and their checks: a board's row, what an add did, a
paper's printed number, a board's registered ground truth, and a result file
checked and prepared for the store (canonical JSON, records digest). No SQL here."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from psalm_bench.errors import InputError
from psalm_bench.leaderboard.metric_checks import metric_problem

SOURCES = ("measured", "reported", "published")
RESULT_SOURCES = ("measured", "reported")  # what `add` takes; `published` rows come from add_published
OFFICIAL = "official"  # the version of a real benchmark as its authors release it


@dataclass(frozen=True)
class Row:
    """One result on the board."""

    model: str
    task: str
    benchmark: str
    split: str
    metrics: dict[str, float | None]
    n_samples: int | None
    records_sha256: str | None
    result_path: str | None
    toolkit_version: str
    gt_sha256: str | None  # None for published rows
    pred_sha256: str
    params: dict[str, Any]
    source: str
    added_at: str
    meta: dict[str, str] = field(default_factory=dict)
    citation: dict[str, Any] | None = None  # published rows: where the numbers are printed
    version: str = OFFICIAL  # official, world-v..., unrecorded

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.model, self.task, self.benchmark, self.version, self.split)

    @property
    def board(self) -> tuple[str, str, str, str]:
        """(task, benchmark, version, split): the rows one ranking may hold."""
        return (self.task, self.benchmark, self.version, self.split)


@dataclass(frozen=True)
class AddOutcome:
    """What ``add`` did: ``added``, ``replaced`` or ``unchanged`` (``removed``: a pruned published row)."""

    status: str
    model: str
    task: str
    benchmark: str
    split: str
    previous_metrics: dict[str, float | None] | None = None  # set when replaced
    meta_changed: bool = False
    version: str = OFFICIAL

    def describe(self) -> str:
        board = f"{self.benchmark}/{self.split}" if self.version == OFFICIAL else f"{self.benchmark} ({self.version})/{self.split}"
        where = f"{self.model} on {self.task}/{board}"
        if self.status == "unchanged":
            text = f"unchanged: {where} (same predictions and metrics)"
            return text + ("; model metadata updated" if self.meta_changed else "")
        return f"{self.status}: {where}"


@dataclass(frozen=True)
class PublishedEntry:
    """A number a paper prints: one model on one (task, benchmark, split)."""

    model: str
    task: str
    benchmark: str
    split: str
    metrics: dict[str, float]
    citation: dict[str, Any]  # title, arxiv, table, read_from, printed_as, ...
    meta: dict[str, str] = field(default_factory=dict)
    date: str | None = None  # the paper's date (ISO, or a year): the row's added_at, never the load time
    version: str = OFFICIAL  # papers print numbers on the released data


@dataclass(frozen=True)
class Benchmark:
    """A board's ground truth: what `leaderboard submit` scores predictions against."""

    task: str
    benchmark: str
    split: str
    gt_path: str
    gt_sha256: str
    options: dict[str, Any]
    registered_at: str
    version: str = OFFICIAL


def board_key(params: Mapping[str, Any]) -> tuple[str, str]:
    """(benchmark, split) of a result, from its evaluation params (the store's and submit's one rule)."""
    return str(params.get("dataset") or params.get("benchmark") or "default"), str(params.get("split") or "default")


def task_metric_names(task: str) -> list[str]:
    """The metric names a task's results carry (FORMATS.md), in table order: what
    a stored result must carry (InputError for an unknown task)."""
    from psalm_bench.specs import SPECS
    from psalm_bench.tasks import get_task

    get_task(task)  # an unknown task: the registry's one-line InputError
    spec = SPECS.get(task)
    return list(spec.headline) if spec is not None else []


def _where(p: Any) -> str:
    """A board as messages name it: task/benchmark/split, with the version where it is not the official data."""
    benchmark = p.benchmark if p.version == OFFICIAL else f"{p.benchmark} ({p.version})"
    return f"{p.task}/{benchmark}/{p.split}"


def _check_published(entry: PublishedEntry) -> PublishedEntry:
    from psalm_bench.tasks import TASKS

    where = f"published entry {entry.model!r} {entry.task}/{entry.benchmark}/{entry.split}"
    for name in ("model", "task", "benchmark", "split"):
        value = getattr(entry, name)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}: {name} must be a non-empty string")
    if entry.task not in TASKS:
        raise InputError(f"{where}: unknown task {entry.task!r}; choose one of {', '.join(TASKS)}")
    if not entry.metrics:
        raise InputError(f"{where}: no metrics")
    allowed = task_metric_names(entry.task)
    clean: dict[str, float] = {}
    for name, value in entry.metrics.items():
        if name not in allowed:
            raise InputError(f"{where}: metric {name!r} is not a {entry.task} metric ({', '.join(allowed)})")
        if value is None or metric_problem(name, value) is not None:
            raise InputError(f"{where}: metric {name} {metric_problem(name, value) or 'must be a number'}")
        clean[name] = float(value)
    if not isinstance(entry.citation, Mapping) or not entry.citation.get("title"):
        raise InputError(f"{where}: a published number needs its citation (at least a title)")
    meta = {str(k): str(v) for k, v in (entry.meta or {}).items()}
    if entry.date is not None and not _DATE.match(str(entry.date)):
        raise InputError(f"{where}: date {entry.date!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    if not isinstance(entry.version, str) or not entry.version.strip():
        raise InputError(f"{where}: version must be a non-empty string")
    return PublishedEntry(entry.model.strip(), entry.task, entry.benchmark, entry.split, clean, dict(entry.citation), meta, entry.date, entry.version)


_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _unique_keys(items: Sequence[Any], problem: Any) -> dict[tuple[str, str, str, str, str], int]:
    """Index items by (model, task, benchmark, version, split); a repeated key is an InputError worded by ``problem(item, first, second)``."""
    seen: dict[tuple[str, str, str, str, str], int] = {}
    for i, item in enumerate(items):
        key = (item.model, item.task, item.benchmark, item.version, item.split)
        if key in seen:
            raise InputError(problem(item, seen[key] + 1, i + 1))
        seen[key] = i
    return seen


def parse_meta(items: Iterable[str] | None) -> dict[str, str]:
    """``["llm=Phi-1.5", "link=https://..."]`` -> dict; a bad item is an InputError."""
    meta: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--meta {item!r}: expected KEY=VALUE")
        meta[key] = value.strip()
    return meta


def _canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces, NaN/inf as null, numpy as lists)."""
    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _plain(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    try:
        import numpy as np

        if isinstance(obj, np.ndarray):
            return _plain(obj.tolist())
        if isinstance(obj, np.generic):
            return _plain(obj.item())
    except ImportError:  # pragma: no cover
        pass
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj))
    raise InputError(f"not JSON-serialisable value of type {type(obj).__name__}")


def records_digest(records: Any) -> str | None:
    """sha256 of the canonical JSON of a result's per-sample records (None without records)."""
    if records is None:
        return None
    return hashlib.sha256(_canonical_json(records)).hexdigest()


@dataclass(frozen=True)
class _Prepared:
    model: str
    task: str
    benchmark: str
    version: str
    split: str
    metrics: dict[str, float | None]
    metrics_json: str
    n_samples: int | None
    records_sha256: str | None
    result_path: str | None
    toolkit_version: str
    gt_sha256: str
    pred_sha256: str
    params_json: str
    source: str
    file: str | None = None  # as the user named it, for messages


def _prepare(result: str | Path | Mapping[str, Any], model: str, source: str) -> _Prepared:
    from psalm_bench.formats.result_json import read_result

    if not isinstance(model, str) or not model.strip():
        raise InputError("--model must name the model (a non-empty string)")
    if source not in RESULT_SOURCES:
        hint = " (published rows come from `leaderboard load-published`)" if source == "published" else ""
        raise InputError(f"source must be one of {', '.join(RESULT_SOURCES)}, got {source!r}{hint}")
    res = read_result(result, require=task_metric_names, need_provenance=True)
    file = res.source if res.path is not None else None
    result_path = str(res.path.resolve()) if res.path is not None else None

    def bad(problem: str) -> InputError:
        return InputError(problem, file=file)

    for name, value in res.metrics.items():
        problem = metric_problem(name, value)
        if problem is not None:  # out of range is not a measurement
            raise bad(f"metrics: {name}: {problem}")
    prov, params = res.provenance, res.params
    if prov is None or not prov.gt_sha256:
        raise bad("provenance: no gt_sha256; a result without its ground truth's hash cannot join a board")
    task, clean, n_samples = res.task, res.metrics, res.n_samples
    gt_sha, pred_sha = prov.gt_sha256, prov.pred_sha256
    benchmark, split = board_key(params)
    version = params.get("world") or OFFICIAL
    if not isinstance(version, str):
        raise bad(f"provenance: params.world must name the world (a string), got {version!r}")
    return _Prepared(
        model=model.strip(),
        task=task,
        benchmark=benchmark,
        version=version,
        split=split,
        metrics=clean,
        metrics_json=_canonical_json(clean).decode(),
        n_samples=n_samples,
        records_sha256=records_digest(res.records),
        result_path=result_path,
        toolkit_version=prov.psalm_bench,
        gt_sha256=gt_sha,
        pred_sha256=pred_sha,
        params_json=_canonical_json(params).decode(),
        source=source,
        file=file,
    )
