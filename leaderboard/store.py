"""The results store: an embedded SQLite leaderboard of evaluation results.

One row per (model, task, benchmark, version, split) and kind of source
(measured or published) holds the headline metrics, where the per-sample records came from
(the result file's path and the sha256 of its canonical records JSON; the
records themselves stay in the file), provenance
(toolkit version, GT and prediction hashes, parameters), where the numbers come
from (``measured`` by this toolkit; ``reported``: a paper's numbers added as a
result file, the version-1 vocabulary; ``published``: a paper's numbers loaded
from the curated tables in ``leaderboard/published/``, with their citation and
no ground truth), the date, and the model's free-form metadata (``k=v``:
parameters, LLM, backbone, training data, link), kept once per model.

Published rows live beside measured ones: the same model may have both on one
(task, benchmark, version, split), they carry no GT hash, and they neither trigger nor
are subject to the GT-hash guard. The ``benchmarks`` table remembers, per
(task, benchmark, version, split), the ground truth a board is scored on (path, sha256,
evaluation options), so that ``leaderboard submit`` can score someone else's
predictions on the board's own GT.

A board is (task, benchmark, version, split): the same dataset name in
another version is another board. ``version`` tells the real benchmarks
(``official``: the released data, where every published number lives) from
psalm-bench's synthetic world (``world-v1.0.0-small-seed0``: the world's
version, size and seed, from the result's ``params.world``), so a result on
the world is never ranked beside a paper's number on the real dataset. Rows
added before schema version 3 recorded no version; they migrate as
``unrecorded`` (published rows as ``official``) and share no board with either.

Rules:

- ``benchmark`` is the result's ``params.dataset``, else ``params.benchmark``,
  else ``"default"``; ``version`` is ``params.world``, else ``"official"``;
  ``split`` is ``params.split``, else ``"default"``.
- Re-adding a result with the same prediction hash and metrics changes nothing
  (``unchanged``); the same key with other numbers replaces the row
  (``replaced``, with the old metrics in the outcome).
- All measured/reported rows of one board share one
  ground-truth hash, and it equals the registered benchmark's hash where one is
  registered: a result on other ground truth is refused (numbers on different
  ground truth do not share a table).
- ``measured`` and ``reported`` rows share a key (re-adding under the other
  source replaces the row, as in schema version 1); ``published`` rows have
  their own.
- A result of an unknown task, without a task's headline metric, with a
  non-numeric metric or without a GT hash is refused; so is a database written
  by a newer schema. Refusals are :class:`InputError` (one line, exit 2).
- Every write is one transaction: nothing partial is stored.

The schema and its migrations are in ``store_schema.py``, the records and
their checks in ``store_records.py``; this module holds the queries.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from psalm_bench.errors import InputError
from psalm_bench.leaderboard.store_records import (  # noqa: F401 - re-exported: the store's public names
    OFFICIAL, RESULT_SOURCES, SOURCES, AddOutcome, Benchmark, PublishedEntry, Row, _canonical_json, _check_published,
    _plain, _prepare, _Prepared, _unique_keys, _where, parse_meta, records_digest, task_metric_names,
)
from psalm_bench.leaderboard.store_schema import (  # noqa: F401
    MIGRATIONS, SCHEMA_VERSION, UNRECORDED, _statements, db_errors, migrate, transaction,
)

DEFAULT_DB = "leaderboard.db"
EXPORT_FORMATS = ("csv", "parquet")

_FIXED_COLUMNS = [
    "model", "task", "benchmark", "version", "split", "source", "n_samples", "added_at", "toolkit_version",
    "gt_sha256", "pred_sha256", "records_sha256", "result_path", "params", "citation",
]


class ResultsStore:
    """A leaderboard database. ``ResultsStore.open(path)`` creates or migrates it."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn = conn
        self.path = path

    # -- opening and schema ------------------------------------------------

    @classmethod
    def open(cls, path: str | Path = DEFAULT_DB, *, create: bool = True) -> "ResultsStore":
        path = Path(path)
        if path.is_dir():
            raise InputError("is a directory, expected a leaderboard database file", file=path)
        if not path.exists():
            if not create:
                raise InputError("no leaderboard database here (add a result first, or choose one with --db)", file=path)
            if not path.parent.is_dir():
                raise InputError("folder does not exist", file=path.parent)
        try:
            conn = sqlite3.connect(str(path), isolation_level=None)  # transactions are explicit
        except sqlite3.Error as exc:
            raise InputError(f"cannot open database ({exc})", file=path) from None
        store = cls(conn, path)
        try:
            store._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise InputError(f"not a leaderboard database ({exc})", file=path) from None
        except BaseException:
            conn.close()
            raise
        return store

    def _migrate(self) -> None:
        migrate(self._conn, self.path)

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _db_errors(self) -> Iterator[None]:
        with db_errors(self.path):
            yield

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with transaction(self._conn, self.path):
            yield

    # -- writing -----------------------------------------------------------

    def add(
        self,
        result: str | Path | Mapping[str, Any],
        model: str,
        meta: Mapping[str, str] | None = None,
        source: str = "measured",
    ) -> AddOutcome:
        """Add one result (a result JSON path, or its dict) for ``model``."""
        return self.add_many([result], model, meta, source)[0]

    def add_many(
        self,
        results: Sequence[str | Path | Mapping[str, Any]],
        model: str,
        meta: Mapping[str, str] | None = None,
        source: str = "measured",
    ) -> list[AddOutcome]:
        """Add several results of one model in one transaction: all or none."""
        prepared = [_prepare(r, model, source) for r in results]
        meta = {str(k): str(v) for k, v in (meta or {}).items()}
        _unique_keys(prepared, lambda p, a, b: f"two results for {_where(p)} in one add (items {a} and {b})")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        outcomes: list[AddOutcome] = []
        with self._transaction():
            meta_changed = self._set_meta(model.strip(), meta) if prepared else False
            for p in prepared:
                outcomes.append(self._add_one(p, now, meta_changed))
        return outcomes

    def _set_meta(self, model: str, meta: Mapping[str, str]) -> bool:
        changed = False
        for key, value in meta.items():
            old = self._conn.execute("SELECT value FROM model_meta WHERE model = ? AND key = ?", (model, key)).fetchone()
            if old is None or old[0] != value:
                self._conn.execute(
                    "INSERT INTO model_meta (model, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (model, key) DO UPDATE SET value = excluded.value",
                    (model, key, value),
                )
                changed = True
        return changed

    def _other_gt(self, task: str, benchmark: str, version: str, split: str, gt_sha256: str, besides: str = "") -> tuple[str, str] | None:
        """(model, gt_sha256) of a row on this board scored on other ground truth; published rows (no GT) never count."""
        return self._conn.execute(
            "SELECT model, gt_sha256 FROM results WHERE task = ? AND benchmark = ? AND version = ? AND split = ? AND model != ? "
            "AND gt_sha256 IS NOT NULL AND gt_sha256 != ? LIMIT 1",
            (task, benchmark, version, split, besides, gt_sha256),
        ).fetchone()

    def _add_one(self, p: _Prepared, now: str, meta_changed: bool) -> AddOutcome:
        conn = self._conn
        other = self._other_gt(p.task, p.benchmark, p.version, p.split, p.gt_sha256, besides=p.model)
        if other is not None:
            raise InputError(
                f"{_where(p)}: ground truth differs from the board's "
                f"(result gt_sha256 {p.gt_sha256}, board {other[1]}, e.g. model {other[0]}); "
                "numbers on different ground truth do not share a table",
                file=p.file,
            )
        registered = conn.execute(
            "SELECT gt_sha256 FROM benchmarks WHERE task = ? AND benchmark = ? AND version = ? AND split = ?",
            (p.task, p.benchmark, p.version, p.split),
        ).fetchone()
        if registered is not None and registered[0] != p.gt_sha256:
            raise InputError(
                f"{_where(p)}: ground truth differs from the board's registered ground truth "
                f"(result gt_sha256 {p.gt_sha256}, registered {registered[0]}); "
                "numbers on different ground truth do not share a table",
                file=p.file,
            )
        old = conn.execute(
            "SELECT metrics, pred_sha256, gt_sha256, records_sha256, source FROM results "
            "WHERE model = ? AND task = ? AND benchmark = ? AND version = ? AND split = ? AND source != 'published'",
            (p.model, p.task, p.benchmark, p.version, p.split),
        ).fetchone()
        base = dict(model=p.model, task=p.task, benchmark=p.benchmark, split=p.split, meta_changed=meta_changed, version=p.version)
        if old is not None and old[0] == p.metrics_json and old[1] == p.pred_sha256 and old[2] == p.gt_sha256 and old[3] == p.records_sha256 and old[4] == p.source:
            return AddOutcome("unchanged", **base)
        if old is not None:  # measured and reported share one key
            conn.execute(
                "DELETE FROM results WHERE model = ? AND task = ? AND benchmark = ? AND version = ? AND split = ? AND source = ?",
                (p.model, p.task, p.benchmark, p.version, p.split, old[4]),
            )
        values = (
            p.model, p.task, p.benchmark, p.version, p.split, p.metrics_json, p.n_samples, p.records_sha256, p.result_path,
            p.toolkit_version, p.gt_sha256, p.pred_sha256, p.params_json, p.source, now,
        )
        conn.execute(
            "INSERT INTO results (model, task, benchmark, version, split, metrics, n_samples, records_sha256, result_path, "
            "toolkit_version, gt_sha256, pred_sha256, params, source, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        if old is None:
            return AddOutcome("added", **base)
        return AddOutcome("replaced", previous_metrics=json.loads(old[0]), **base)

    def add_published(
        self, entries: Sequence["PublishedEntry"], *, prune_tasks: Iterable[str] | None = None, collection: str | None = None
    ) -> list[AddOutcome]:
        """Load a paper's printed numbers, all or none, idempotently.

        Each entry becomes a ``published`` row (no GT hash, its citation kept);
        re-loading the same entries changes nothing. Model metadata from the
        entries fills keys the model does not have yet, never overwriting a
        user's ``--meta``. With ``prune_tasks`` and ``collection``, published
        rows of those tasks that came from that collection (``citation
        ["collection"]``) and are no longer among the entries are removed
        (outcome ``removed``): a corrected data file replaces what an older one
        loaded, and other collections are left alone.
        """
        cleaned = [_check_published(e) for e in entries]
        seen = _unique_keys(cleaned, lambda e, a, b: f"published entries {a} and {b} are both {e.model} on {e.task}/{e.benchmark}/{e.split}")
        conn = self._conn
        outcomes: list[AddOutcome] = []
        with self._transaction():
            meta_changed: dict[str, bool] = {}
            for e in cleaned:
                missing = {k: v for k, v in e.meta.items() if k not in self.meta(e.model)}
                meta_changed[e.model] = self._set_meta(e.model, missing) or meta_changed.get(e.model, False)
            for e in cleaned:
                metrics_json = _canonical_json(e.metrics).decode()
                citation_json = _canonical_json(e.citation).decode()
                base = dict(model=e.model, task=e.task, benchmark=e.benchmark, split=e.split, meta_changed=meta_changed[e.model], version=e.version)
                old = conn.execute(
                    "SELECT metrics, citation, added_at FROM results WHERE model = ? AND task = ? AND benchmark = ? AND version = ? "
                    "AND split = ? AND source = 'published'",
                    (e.model, e.task, e.benchmark, e.version, e.split),
                ).fetchone()
                dated = e.date or ""  # a published row is dated by its paper ("" where the paper prints no date)
                if old is not None and old[0] == metrics_json and old[1] == citation_json and old[2] == dated:
                    outcomes.append(AddOutcome("unchanged", **base))
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO results (model, task, benchmark, version, split, source, metrics, n_samples, records_sha256, "
                    "result_path, toolkit_version, gt_sha256, pred_sha256, params, citation, added_at) "
                    "VALUES (?, ?, ?, ?, ?, 'published', ?, NULL, NULL, NULL, '', NULL, '', '{}', ?, ?)",
                    (e.model, e.task, e.benchmark, e.version, e.split, metrics_json, citation_json, dated),
                )
                if old is None:
                    outcomes.append(AddOutcome("added", **base))
                else:
                    outcomes.append(AddOutcome("replaced", previous_metrics=json.loads(old[0]), **base))
            for task in sorted(set(prune_tasks or ())) if collection else []:
                rows = conn.execute(
                    "SELECT model, benchmark, version, split, citation FROM results WHERE source = 'published' AND task = ? "
                    "ORDER BY model, benchmark, version, split",
                    (task,),
                ).fetchall()
                for model, benchmark, version, split, citation in rows:
                    mine = json.loads(citation or "{}").get("collection") == collection
                    if mine and (model, task, benchmark, version, split) not in seen:
                        conn.execute(
                            "DELETE FROM results WHERE source = 'published' AND model = ? AND task = ? AND benchmark = ? AND version = ? AND split = ?",
                            (model, task, benchmark, version, split),
                        )
                        outcomes.append(AddOutcome("removed", model=model, task=task, benchmark=benchmark, split=split, version=version))
            self._drop_orphan_meta()
        return outcomes

    def _drop_orphan_meta(self) -> None:
        self._conn.execute("DELETE FROM model_meta WHERE model NOT IN (SELECT DISTINCT model FROM results)")

    # -- the board's ground truth ------------------------------------------

    def register_benchmark(
        self, task: str, benchmark: str, split: str, gt_path: str | Path, gt_sha256: str, options: Mapping[str, Any] | None = None,
        version: str = OFFICIAL,
    ) -> str:
        """Remember the ground truth of (task, benchmark, split): ``registered``, ``updated`` or ``unchanged``.

        Refused when results on the board were scored on other ground truth:
        the registry must describe the GT the board's numbers come from.
        """
        from psalm_bench.tasks import get_task

        get_task(task)  # an unknown task is its one-line InputError
        if not gt_sha256:
            raise InputError("ground truth hash is empty (does the GT path exist?)", file=gt_path)
        path = str(Path(gt_path).resolve())
        options_json = _canonical_json(dict(options or {})).decode()
        conn = self._conn
        with self._transaction():
            other = self._other_gt(task, benchmark, version, split, gt_sha256)
            if other is not None:
                raise InputError(
                    f"{task}/{benchmark}/{split}: the board's results were scored on other ground truth "
                    f"(GT sha256 {gt_sha256}, board {other[1]}, e.g. model {other[0]})",
                    file=gt_path,
                )
            old = conn.execute(
                "SELECT gt_path, gt_sha256, options FROM benchmarks WHERE task = ? AND benchmark = ? AND version = ? AND split = ?",
                (task, benchmark, version, split),
            ).fetchone()
            if old is not None and tuple(old) == (path, gt_sha256, options_json):
                return "unchanged"
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            conn.execute(
                "INSERT OR REPLACE INTO benchmarks (task, benchmark, version, split, gt_path, gt_sha256, options, registered_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (task, benchmark, version, split, path, gt_sha256, options_json, now),
            )
        return "registered" if old is None else "updated"

    def benchmarks(self, task: str | None = None) -> list["Benchmark"]:
        """Registered boards, ordered by task, benchmark, split."""
        sql = "SELECT task, benchmark, split, gt_path, gt_sha256, options, registered_at, version FROM benchmarks"
        args: list[str] = []
        if task is not None:
            sql += " WHERE task = ?"
            args.append(task)
        rows = self._conn.execute(sql + " ORDER BY task, benchmark, version, split", args).fetchall()
        return [Benchmark(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]

    def remove(
        self, model: str, task: str | None = None, benchmark: str | None = None, split: str | None = None, source: str | None = None,
        version: str | None = None,
    ) -> int:
        """Remove a model's rows (all, or those of one task / benchmark / version / split / source); returns how many."""
        where, args = ["model = ?"], [model]
        for column, value in (("task", task), ("benchmark", benchmark), ("version", version), ("split", split), ("source", source)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        with self._transaction():
            count = self._conn.execute(f"DELETE FROM results WHERE {' AND '.join(where)}", args).rowcount
            left = self._conn.execute("SELECT 1 FROM results WHERE model = ? LIMIT 1", (model,)).fetchone()
            if left is None:
                self._conn.execute("DELETE FROM model_meta WHERE model = ?", (model,))
        return count

    # -- reading -----------------------------------------------------------

    def meta(self, model: str) -> dict[str, str]:
        rows = self._conn.execute("SELECT key, value FROM model_meta WHERE model = ? ORDER BY key", (model,)).fetchall()
        return dict(rows)

    def list(
        self, task: str | None = None, model: str | None = None, benchmark: str | None = None, split: str | None = None,
        source: str | None = None, version: str | None = None,
    ) -> list[Row]:
        """Rows, ordered by task, benchmark, version, split, model, source; optionally filtered."""
        where, args = [], []
        for column, value in (("task", task), ("model", model), ("benchmark", benchmark), ("version", version), ("split", split), ("source", source)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = (
            "SELECT model, task, benchmark, split, metrics, n_samples, records_sha256, result_path, toolkit_version, "
            "gt_sha256, pred_sha256, params, source, added_at, citation, version FROM results"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY task, benchmark, version, split, model, source"
        )
        metas: dict[str, dict[str, str]] = {}
        with self._db_errors():
            for model_name, key, value in self._conn.execute("SELECT model, key, value FROM model_meta ORDER BY model, key"):
                metas.setdefault(model_name, {})[key] = value
            fetched = self._conn.execute(sql, args).fetchall()
        out = []
        for r in fetched:
            out.append(
                Row(
                    model=r[0], task=r[1], benchmark=r[2], split=r[3], metrics=json.loads(r[4]), n_samples=r[5],
                    records_sha256=r[6], result_path=r[7], toolkit_version=r[8], gt_sha256=r[9], pred_sha256=r[10],
                    params=json.loads(r[11]), source=r[12], added_at=r[13], meta=dict(metas.get(r[0], {})),
                    citation=json.loads(r[14]) if r[14] is not None else None, version=r[15],
                )
            )
        return out

    def frame(self, task: str | None = None):
        """The board as a pandas DataFrame: fixed columns, one column per metric, ``meta.KEY`` per meta key."""
        import pandas as pd

        rows = self.list(task=task)
        metric_names: list[str] = []
        meta_names: list[str] = []
        for row in rows:
            for name in row.metrics:
                if name not in metric_names:
                    metric_names.append(name)
            for key in row.meta:
                if f"meta.{key}" not in meta_names:
                    meta_names.append(f"meta.{key}")
        meta_names.sort()
        records = []
        for row in rows:
            rec: dict[str, Any] = {c: getattr(row, c) for c in _FIXED_COLUMNS}
            rec["params"] = _canonical_json(row.params).decode()
            rec["citation"] = None if row.citation is None else _canonical_json(row.citation).decode()
            for name in metric_names:
                value = row.metrics.get(name)
                rec[name] = float("nan") if value is None else value
            for col in meta_names:
                rec[col] = row.meta.get(col[len("meta."):])
            records.append(rec)
        columns = _FIXED_COLUMNS + metric_names + meta_names
        df = pd.DataFrame.from_records(records, columns=columns)
        if metric_names:
            df[metric_names] = df[metric_names].astype("float64")
        df["n_samples"] = df["n_samples"].astype("Int64")
        for col in [c for c in columns if c not in metric_names and c != "n_samples"]:
            df[col] = df[col].astype("object")
        return df

    def export(self, path: str | Path, format: str | None = None, task: str | None = None) -> int:
        """Write the board as CSV or Parquet (format from ``format`` or the suffix); returns the row count."""
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".") or "").lower()
        if fmt == "pq":
            fmt = "parquet"
        if fmt not in EXPORT_FORMATS:
            raise InputError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt or 'none'!r}", file=path)
        if not path.parent.is_dir():
            raise InputError("folder does not exist", file=path.parent)
        df = self.frame(task=task)
        tmp = path.with_name(path.name + ".partial")
        try:
            if fmt == "csv":
                _defuse_formulas(df).to_csv(tmp, index=False)
            else:
                df.to_parquet(tmp, index=False)
            tmp.replace(path)
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror or exc}", file=path) from None
        finally:
            if tmp.exists():
                tmp.unlink()
        return len(df)


# A cell starting with one of these is run as a formula by spreadsheet programs
# (OWASP "CSV injection"); a leading apostrophe makes it text again.
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def _defuse_formulas(df):
    """A copy of ``df`` whose text cells cannot start a spreadsheet formula."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_LEADS) else v)
    return out


def render_board(rows: Sequence[Row]) -> str:
    """Plain-text board: one table per (task, benchmark, split), headline metrics as columns."""
    from psalm_bench.tables import grid
    from psalm_bench.tasks import TASKS

    if not rows:
        return "no results on the board"
    groups: dict[tuple[str, str, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault(row.board, []).append(row)
    blocks = []
    for (task, benchmark, version, split), members in groups.items():
        names = task_metric_names(task) if task in TASKS else sorted(members[0].metrics)
        table = grid(["model"] + names + ["source"], [[r.model] + [r.metrics.get(n) for n in names] + [r.source] for r in members])
        gts = [r.gt_sha256 for r in members if r.gt_sha256]
        counts = ", ".join(f"{n} {s}" for s in SOURCES if (n := sum(r.source == s for r in members)))
        where = f"gt {gts[0][:12]}; {counts}" if gts else counts
        name = f"{benchmark} / {split}" if version == OFFICIAL else f"{benchmark} ({version}) / {split}"
        blocks.append(f"{task} / {name}  ({where})\n\n{table}")
    return "\n\n".join(blocks)
