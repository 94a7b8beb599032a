"""The numbers papers print, as curated data files, and their loading.

``leaderboard/published/*.json`` (package data) hold, per table row a paper or
model zoo prints, the verbatim row text (``quote``), where it was read
(``sources``: paper, version, table, its date) and the numbers under
psalm-bench's metric names (``results``). ``papers.json`` holds the tables of
the papers themselves (PSALM's two versions, MGLMM), each quote a line of the
plain-text copies in ../shared/seeds; ``psalm_tables.json`` holds rows other
papers and model zoos reprint, for models the papers' tables lack. The quote is
kept so the numbers can be checked against it (:func:`check_row`): a typo in
either shows up as a mismatch, and a reader can see exactly what the source
printed. Loading turns rows into
:class:`~psalm_bench.leaderboard.store.PublishedEntry` records (dated by the
paper, not the load) and hands them to the store as ``published`` rows.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

from psalm_bench.errors import InputError
from psalm_bench.leaderboard.store import AddOutcome, PublishedEntry, ResultsStore

SCHEMA = "psalm-bench/published/1"
DATA_FILES = ("papers.json", "psalm_tables.json")
QUOTE_FORMATS = ("html", "cells", "markdown", "tsv", "tail")
MISSING_CELLS = {"", "-", "\u2013", "\u2014", "\u4e00"}

Column = tuple[str, str, str, str]  # task, benchmark, split, metric (a fifth item: the column as printed)


@dataclass(frozen=True)
class PublishedData:
    """A parsed data file: its sources (by id) and rows, and where it came from."""

    path: str
    collection: str
    sources: dict[str, dict[str, Any]]
    rows: list[dict[str, Any]]


def default_paths() -> list[Path]:
    """The data files shipped with psalm-bench, the papers' own tables first."""
    folder = resources.files("psalm_bench.leaderboard").joinpath("published")
    return [Path(str(folder.joinpath(name))) for name in DATA_FILES]


def default_path() -> Path:
    """The shipped file of the papers' own tables."""
    return default_paths()[0]


def load_shipped() -> list[PublishedData]:
    """Every shipped data file, parsed."""
    return [load_data(p) for p in default_paths()]


def load_data(path: str | Path | None = None) -> PublishedData:
    """Read and validate a published-numbers file (the papers' tables by default)."""
    path = Path(path) if path is not None else default_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", file=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a published-numbers JSON file ({exc})", file=path) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise InputError(f"not a published-numbers file (expected \"schema\": \"{SCHEMA}\")", file=path)
    sources, rows = doc.get("sources"), doc.get("rows")
    if not isinstance(sources, dict) or not isinstance(rows, list):
        raise InputError("expected \"sources\" (object) and \"rows\" (list)", file=path)
    for sid, src in sources.items():
        if not isinstance(src, dict) or not src.get("title") or not src.get("read_from"):
            raise InputError("a source needs \"title\" and \"read_from\"", file=path, record=f"source {sid}")
        if src.get("quote_format") not in QUOTE_FORMATS:
            raise InputError(f"quote_format must be one of {', '.join(QUOTE_FORMATS)}", file=path, record=f"source {sid}")
    for i, row in enumerate(rows):
        where = f"row {i + 1}"
        if not isinstance(row, dict):
            raise InputError("expected an object", file=path, record=where)
        if row.get("source") not in sources:
            raise InputError(f"unknown source {row.get('source')!r}", file=path, record=where)
        for key in ("model", "quote"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise InputError(f"\"{key}\" must be a non-empty string", file=path, record=where)
        results = row.get("results")
        if not isinstance(results, list) or not results:
            raise InputError("\"results\" must be a non-empty list", file=path, record=f"{where} ({row['model']})")
        for r in results:
            if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ("task", "benchmark", "split")) or not isinstance(r.get("metrics"), dict):
                raise InputError("each result needs task, benchmark, split (strings) and metrics (object)", file=path, record=f"{where} ({row['model']})")
    return PublishedData(str(path), str(doc.get("collection") or path.stem), sources, rows)


def citation(data: PublishedData, row: dict[str, Any]) -> dict[str, Any]:
    """What a published row records about its origin (kept in the store)."""
    src = data.sources[row["source"]]
    keys = ("title", "authors", "version", "arxiv", "date", "date_basis", "table", "caption", "metric_basis", "read_from", "kind", "note")
    out = {k: src[k] for k in keys if src.get(k)}
    out["source_id"] = row["source"]
    out["collection"] = data.collection
    out["printed_as"] = row.get("printed_as") or row["model"]
    out["quote"] = row["quote"]
    if row.get("note"):
        out["row_note"] = row["note"]
    return out


def printed_columns(data: PublishedData, row: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, str]]:
    """Per board key, metric -> the column as the table prints it (where the column map names it)."""
    columns = row.get("columns", data.sources[row["source"]].get("columns")) or []
    out: dict[tuple[str, str, str], dict[str, str]] = {}
    for column in columns:
        if column is not None and len(column) > 4:
            out.setdefault(tuple(column[:3]), {})[column[3]] = column[4]
    return out


def entries(data: PublishedData, task: str | None = None) -> list[PublishedEntry]:
    """The data file as store records (optionally one task's), each citing its row and columns."""
    out = []
    for row in data.rows:
        cite = citation(data, row)
        labels = printed_columns(data, row)
        date = data.sources[row["source"]].get("date")
        for r in row["results"]:
            if task is None or r["task"] == task:
                where = labels.get((r["task"], r["benchmark"], r["split"]))
                here = dict(cite, columns={m: where[m] for m in r["metrics"] if m in where}) if where else cite
                out.append(PublishedEntry(row["model"], r["task"], r["benchmark"], r["split"], dict(r["metrics"]), here,
                                          dict(row.get("meta") or {}), str(date) if date else None))
    return _merged(data, out)


def _merged(data: PublishedData, items: list[PublishedEntry]) -> list[PublishedEntry]:
    """One entry per model and board: a table that prints one model's numbers on two lines
    (PSALM Table 18: the Ego and the Exo query) gives one row citing both lines."""
    out: dict[tuple[str, str, str, str], PublishedEntry] = {}
    for e in items:
        key = (e.model, e.task, e.benchmark, e.split)
        first = out.get(key)
        if first is None:
            out[key] = e
            continue
        clash = [m for m in e.metrics if m in first.metrics]
        if clash or first.citation.get("source_id") != e.citation.get("source_id"):
            raise InputError(f"two rows give {e.model} on {e.task}/{e.benchmark}/{e.split}" + (f" ({', '.join(clash)})" if clash else ""), file=data.path)
        cite = dict(first.citation, quote=f"{first.citation['quote']}\n{e.citation['quote']}",
                    columns={**first.citation.get("columns", {}), **e.citation.get("columns", {})})
        if e.citation.get("printed_as") != first.citation.get("printed_as"):
            cite["printed_as"] = f"{first.citation.get('printed_as')} / {e.citation.get('printed_as')}"
        out[key] = PublishedEntry(e.model, e.task, e.benchmark, e.split, {**first.metrics, **e.metrics}, cite, {**e.meta, **first.meta}, first.date)
    return list(out.values())


def check_unique(datas: Sequence[PublishedData]) -> None:
    """Two files (collections) must not both give one model on one board: the store keeps one published row per key."""
    seen: dict[tuple[str, str, str, str], str] = {}
    for data in datas:
        for e in entries(data):
            key = (e.model, e.task, e.benchmark, e.split)
            if key in seen and seen[key] != data.path:
                raise InputError(f"{e.model} on {e.task}/{e.benchmark}/{e.split} is also in {seen[key]}", file=data.path)
            seen.setdefault(key, data.path)


def load_published(store: ResultsStore, path: str | Path | None = None, task: str | None = None) -> list[AddOutcome]:
    """Load (or re-sync) the published numbers into ``store``; idempotent.

    ``path``: one data file; by default every shipped file. Published rows of
    a file's collection that the file no longer holds are removed, within
    ``task`` when given, so a corrected file replaces an older one.
    """
    from psalm_bench.tasks import TASKS, get_task

    if task is not None:
        get_task(task)
    datas = [load_data(path)] if path is not None else load_shipped()
    check_unique(datas)
    scope = [task] if task is not None else list(TASKS)
    outcomes: list[AddOutcome] = []
    for data in datas:
        outcomes += store.add_published(entries(data, task), prune_tasks=scope, collection=data.collection)
    return outcomes


# ---------------------------------------------------------------------------
# Checking numbers against the quoted source rows


def quote_cells(quote: str, fmt: str) -> list[str]:
    """The cell texts of a quoted table row, in order."""
    if fmt == "html":
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", quote, flags=re.S)]
        return [html.unescape(c).strip() for c in cells]
    if fmt == "markdown":
        return [c.strip() for c in quote.strip().strip("|").split("|")]
    if fmt == "cells":
        return [c.strip() for c in quote.split(" | ")]
    if fmt == "tsv":  # a tab-separated line of a plain-text table
        return [c.strip() for c in quote.split("\t")]
    if fmt == "tail":  # a space-separated line: labels first, one token per value at the end
        return quote.split()
    raise InputError(f"unknown quote format {fmt!r}")


def value_cells(cells: Sequence[str], skip: int) -> list[str]:
    """Cells after the ``skip`` label cells, with "a / b" cells split into parts."""
    out: list[str] = []
    for cell in cells[skip:]:
        out.extend(part.strip() for part in cell.split(" / "))
    return out


_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
# "54.8(↓0.3)": an ablation cell with its difference to the default printed beside it
_WITH_DELTA = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*\(\s*[↑↓]\s*\d+(?:\.\d+)?\)$")


def expected_results(data: PublishedData, row: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, float]]:
    """Results as the quote prints them, through the source's column map."""
    src = data.sources[row["source"]]
    columns = row.get("columns", src.get("columns"))
    if not isinstance(columns, list):
        raise InputError("no column map for this row", file=data.path, record=row["model"])
    cells = quote_cells(row["quote"], src["quote_format"])
    if src["quote_format"] == "tail":  # the labels may hold spaces; the values are the last tokens
        cells = cells[-len(columns):] if len(cells) > len(columns) else ["?"] * (len(columns) + 1)
    else:
        cells = value_cells(cells, int(src.get("skip_cells", 1)))
    if len(cells) != len(columns):
        raise InputError(f"the quote has {len(cells)} value cells but the column map has {len(columns)}", file=data.path, record=row["model"])
    out: dict[tuple[str, str, str], dict[str, float]] = {}
    for cell, column in zip(cells, columns):
        if column is None or cell in MISSING_CELLS:  # not ours, or not printed
            continue
        delta = _WITH_DELTA.match(cell)
        cell = delta.group(1) if delta else cell
        if not _NUMBER.match(cell):
            raise InputError(f"cell {cell!r} is not a number", file=data.path, record=row["model"])
        task, benchmark, split, metric = column[:4]
        out.setdefault((task, benchmark, split), {})[metric] = float(cell)
    return out


def check_row(data: PublishedData, row: dict[str, Any]) -> list[str]:
    """Differences between a row's results and its quote (empty when they agree)."""
    want = expected_results(data, row)
    have: dict[tuple[str, str, str], dict[str, float]] = {}
    for r in row["results"]:
        have.setdefault((r["task"], r["benchmark"], r["split"]), {}).update({k: float(v) for k, v in r["metrics"].items()})
    problems = []
    for key in sorted(set(want) | set(have)):
        if want.get(key) != have.get(key):
            problems.append(f"{row['model']} {'/'.join(key)}: quote gives {want.get(key)}, results give {have.get(key)}")
    return problems


def check_all(data: PublishedData) -> list[str]:
    """Every mismatch between the file's numbers and its quotes."""
    return [problem for row in data.rows for problem in check_row(data, row)]


def summary(data: PublishedData) -> list[tuple[str, str, int, int]]:
    """(source id, title and table, rows, numbers) per source: what the file holds."""
    out = []
    for sid, src in data.sources.items():
        rows = [r for r in data.rows if r["source"] == sid]
        numbers = sum(len(x["metrics"]) for r in rows for x in r["results"])
        out.append((sid, f"{src['title']}, {src.get('table', '')}".rstrip(", "), len(rows), numbers))
    return out


def describe_outcomes(outcomes: Iterable[AddOutcome]) -> str:
    """One summary line: how many rows were added, replaced, unchanged, removed."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    parts = [f"{counts[s]} {s}" for s in ("added", "replaced", "unchanged", "removed") if counts.get(s)]
    return "published numbers: " + (", ".join(parts) if parts else "nothing to load")
