"""The data behind the leaderboard site: names, numbers and dates as the pages show
them, a row's citation and links, the boards (one table per task, benchmark,
version and split, best first), where each page lives, and a result file's
per-class breakdown. No markup here: the pages are Jinja2 templates
(``site_assets/templates``) fed with these values."""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from psalm_bench.leaderboard.report import LOWER_IS_BETTER
from psalm_bench.leaderboard.store import OFFICIAL, Row
from psalm_bench.leaderboard.store_records import task_metric_names
from psalm_bench.results import BREAKDOWNS  # noqa: F401 - the site's pages label breakdown rows with it
from psalm_bench.tables import MISSING, fmt
from psalm_bench.tasks import TASKS

# The number a board is ranked by, where it is not the task's first headline metric.
PRIMARY_METRIC = {"interactive": "mIoU"}
# Per-class columns worth a bar chart, in order of preference (all in percent).
CHART_METRICS = ("IoU", "PQ", "AP", "J&F", "mIoU", "gIoU", "cIoU", "J", "F", "ACC")
SIZE_KEYS = ("params", "parameters", "size", "model_size")
DATE_KEYS = ("date", "published", "year")
CITATION_KEYS = ("citation", "cite", "reference", "paper")
LINK_KEYS = ("link", "url", "paper_url", "arxiv", "code")
MAX_BARS = 80  # a bar chart beyond this shows the highest and lowest halves


# ---------------------------------------------------------------------------
# Small helpers: escaping, names, numbers, dates


def esc(value: Any) -> str:
    """Text for HTML content and attribute values (quotes included)."""
    return html.escape(str(value), quote=True)


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe, readable piece of ``text`` (ASCII letters, digits, dashes)."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return s or "x"


def stable_name(*parts: str) -> str:
    """A readable slug plus a hash of the exact parts: unique, stable across renders."""
    digest = hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:8]
    return f"{slug('-'.join(parts), 60)}-{digest}"


def fmt_value(value: Any, digits: int = 1) -> str:
    """The table model's text (:func:`psalm_bench.tables.fmt`: one decimal, FORMATS.md; the one
    missing mark); a float that is not finite is missing too."""
    if isinstance(value, float) and not math.isfinite(value):
        return MISSING
    return fmt(value, digits)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_SIZE = re.compile(r"^\s*~?\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmbt])?[a-z]*\s*$", re.I)
_SIZE_UNIT = {None: 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def parse_size(text: str | None) -> float | None:
    """``"7B"``, ``"1.3b"``, ``"350M"``, ``"2.7e9"`` -> parameter count; None if unreadable."""
    if not text:
        return None
    m = _SIZE.match(str(text))
    if not m:
        return None
    value = float(m.group(1)) * _SIZE_UNIT[(m.group(2) or "").lower() or None]
    return value if value > 0 and math.isfinite(value) else None


def fmt_size(count: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:g}{unit}" if count / scale >= 10 else f"{count / scale:.2g}{unit}"
    return f"{count:g}"


def parse_date(text: str | None) -> date | None:
    """``YYYY``, ``YYYY-MM`` or an ISO date/time prefix -> date; None otherwise."""
    m = re.match(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", str(text or ""))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        return None


def _first(row: Row, keys: Sequence[str], where: str = "params meta") -> str | None:
    for place in where.split():
        found = getattr(row, place)
        for key in keys:
            value = found.get(key)
            if value not in (None, ""):
                return str(value)
    return None


def row_size(row: Row) -> float | None:
    return parse_size(_first(row, SIZE_KEYS, "meta"))


def _date_text(row: Row) -> str | None:
    """The row's date as given: a published row's paper date (its citation's), else a date in its
    params/meta, else when it joined the board -- never for a published row, whose load day says nothing."""
    joined = None if row.source == "published" else row.added_at
    for text in (citation_of(row).get("date"), _first(row, DATE_KEYS), joined):
        if parse_date(text):
            return str(text).strip()
    return None


def row_date(row: Row) -> date | None:
    return parse_date(_date_text(row))


def date_label(row: Row) -> str | None:
    """The date at the precision given: '2024' stays a year, '2024-06' a month, a timestamp its day."""
    text = _date_text(row)
    m = re.match(r"^(\d{4})(-\d{1,2})?(-\d{1,2})?", text or "")
    return m.group(0) if m and parse_date(text) else None


def citation_of(row: Row) -> dict[str, Any]:
    """A published row's citation (title, authors, arxiv, table, ...); {} for other rows."""
    found = getattr(row, "citation", None)
    return dict(found) if isinstance(found, Mapping) else {}


def row_citation(row: Row) -> str | None:
    """One line naming where a paper's number is printed."""
    cite = citation_of(row)
    if cite.get("title"):
        return ", ".join(str(cite[k]) for k in ("title", "table") if cite.get(k))
    return _first(row, CITATION_KEYS)


def safe_url(text: str | None) -> str | None:
    """Only plain http(s) URLs become links; anything else stays text."""
    if text and re.match(r"^https?://[^\s<>\"']+$", text.strip(), re.I):
        return text.strip()
    return None


def arxiv_url(value: Any) -> str | None:
    text = str(value or "").strip()
    if re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?", text):
        return f"https://arxiv.org/abs/{text}"
    return safe_url(text)


def row_link(row: Row) -> str | None:
    cite = citation_of(row)
    for key in ("url", "link", "arxiv"):
        if url := arxiv_url(cite.get(key)):
            return url
    return safe_url(_first(row, LINK_KEYS))


def row_id(row: Row) -> tuple[str, ...]:
    """A row's identity: a model may have a measured and a published row on one board (and rows on the world's version of it)."""
    version = getattr(row, "version", OFFICIAL)
    return (row.model, row.task, row.benchmark, row.split, row.source) + (() if version == OFFICIAL else (version,))


def source_class(source: str) -> str:
    return source if source in ("measured", "reported", "published") else "reported"


# ---------------------------------------------------------------------------
# What the site shows: boards (task, benchmark, split) and models


@dataclass(frozen=True)
class Board:
    """One table: the rows of one (task, benchmark, version, split), best first.

    The synthetic world's version of a benchmark is another board: its numbers
    are never ranked beside the real dataset's."""

    task: str
    benchmark: str
    split: str
    metrics: list[str]
    primary: str
    rows: list[Row]
    version: str = OFFICIAL

    @property
    def anchor(self) -> str:
        return "board-" + (stable_name(self.benchmark, self.split) if self.version == OFFICIAL else stable_name(self.benchmark, self.version, self.split))

    @property
    def label(self) -> str:
        return f"{self.benchmark} / {self.split}" if self.version == OFFICIAL else f"{self.benchmark} ({self.version}) / {self.split}"

    @cached_property
    def _bests(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for metric in {m for r in self.rows for m in r.metrics}:
            values = [r.metrics[metric] for r in self.rows if _is_number(r.metrics.get(metric))]
            out[metric] = (min(values) if metric in LOWER_IS_BETTER else max(values)) if values else None
        return out

    def best(self, metric: str) -> float | None:
        """The best value of a metric on this board (computed once per board)."""
        return self._bests.get(metric)

    def leader(self) -> Row | None:
        best = self.best(self.primary)
        return next((r for r in self.rows if best is not None and r.metrics.get(self.primary) == best), None)


def headline_metrics(task: str, rows: Sequence[Row]) -> list[str]:
    """A board's metric columns: the task's MetricSpec headline (what a stored result
    carries, in its printed rows' order); for a task without one, the rows' own names."""
    if task in TASKS:
        return task_metric_names(task)
    names: list[str] = []
    for row in rows:
        names += [m for m in row.metrics if m not in names]
    return names


def _rank_key(metric: str) -> Callable[[Row], tuple]:
    lower = metric in LOWER_IS_BETTER

    def key(row: Row) -> tuple:
        value = row.metrics.get(metric)
        tie = (row.model.lower(), row.model, row.source != "measured", row.source)
        if not _is_number(value):
            return (1, 0.0, *tie)
        return (0, value if lower else -value, *tie)

    return key


def build_boards(rows: Sequence[Row]) -> dict[str, list[Board]]:
    """task -> its boards, in the store's order; rows ranked by the primary metric."""
    groups: dict[tuple[str, str, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.task, row.benchmark, row.split, getattr(row, "version", OFFICIAL)), []).append(row)
    boards: dict[str, list[Board]] = {}
    for (task, benchmark, split, version), members in groups.items():
        metrics = headline_metrics(task, members)
        primary = PRIMARY_METRIC.get(task, metrics[0] if metrics else "")
        if primary not in metrics:
            primary = metrics[0] if metrics else ""
        ranked = sorted(members, key=_rank_key(primary))
        boards.setdefault(task, []).append(Board(task, benchmark, split, metrics, primary, ranked, version))
    return boards


class Paths:
    """Where each page lives, relative to the site root (stable across renders)."""

    def task(self, task: str) -> str:
        return f"tasks/{slug(task)}.html" if task in TASKS else f"tasks/{stable_name(task)}.html"

    def model(self, model: str) -> str:
        return f"models/{stable_name(model)}.html"

    def result(self, row: Row) -> str:
        return f"results/{stable_name(*row_id(row))}.html"


PATHS = Paths()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_citation(row: Row) -> str | None:
    """The citation as a table cell shows it on one line: the paper's short name and its table."""
    cite = citation_of(row)
    if cite.get("title"):
        name = str(cite["title"]).split(":")[0].strip()
        return ", ".join(x for x in (_clip(name, 40), str(cite.get("table") or "")) if x)
    return row_citation(row)


def _last_update(rows: Sequence[Row]) -> str:
    return max((r.added_at for r in rows), default="")


def _day(iso: str) -> str:
    return iso[:10] if iso else MISSING


@dataclass
class Breakdown:
    """The per-class / per-prompt / per-sequence table of a result file, or why there is none."""

    kind: str | None = None  # per_class | per_prompt | per_sequence
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None


def load_breakdown(row: Row) -> Breakdown:
    """Read the row's result file, checking it is still the file that was added."""
    from psalm_bench.errors import InputError
    from psalm_bench.formats.result_json import read_result

    if not row.result_path:
        why = "it is a number printed in a paper" if row.source != "measured" else "it was added from a dictionary, not a file"
        return Breakdown(problem=f"No result file is recorded for this result ({why}), so there is no per-class table.")
    path = Path(row.result_path)
    if not path.exists():
        return Breakdown(problem=f"The result file {row.result_path} is no longer there (moved or deleted); "
                                 "add it again with `psalm-bench leaderboard add` to show its per-class table here.")
    try:
        res = read_result(path)
    except InputError as exc:
        return Breakdown(problem=f"The result file {row.result_path} is not a result JSON any more ({exc.problem}); no per-class table.")
    prov = res.provenance
    if prov is None or prov.gt_sha256 != row.gt_sha256 or prov.pred_sha256 != row.pred_sha256 or res.task != row.task:
        return Breakdown(problem=f"The result file {row.result_path} has changed since it was added (other task, ground truth "
                                 "or predictions); its per-class table is not shown.")
    if res.breakdown_name is not None and res.breakdown is not None:
        return Breakdown(res.breakdown_name, res.breakdown, res.warnings)
    return Breakdown(warnings=res.warnings, problem="The result file has no per-class, per-prompt or per-sequence table.")
