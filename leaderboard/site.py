"""The static leaderboard site, written from the results store.

``render_site(store, out)`` writes plain HTML files: an overview, one page per
task with sortable tables (one per benchmark / split), one page per model and
one drill-down page per result with its per-class / per-prompt / per-sequence
table read from the result JSON the row points to. ``publish_site`` adds what
a static host wants (``.nojekyll``, ``404.html``, ``robots.txt``,
``sitemap.xml``) and the board as JSON and CSV under ``data/``.

Why it looks like this:

- Static, relative links to explicit ``.html`` files, no CDN: the site works
  from ``file://``, from any static host, and offline. A Content-Security-Policy
  meta tag forbids anything but the site's own files.
- Charts are inline SVG (``site_charts``), so a page is one request plus the shared
  CSS and JS, and every chart has a title and a description for screen readers;
  the tables stay the source of truth.
- Model names, metadata and class names come from users: the pages are Jinja2
  templates (``site_assets/templates``) with autoescape on, fed with plain
  values, and every table is a :class:`psalm_bench.tables.Table` drawn by the
  one HTML renderer (``tables.render_html``, its own autoescaped template), the
  renderer ``eval``, ``report`` and ``leaderboard table`` use too; so no caller
  can put markup on a page, and only ``http(s)`` links become anchors. The
  charts (``site_charts``) escape their labels themselves. The data behind
  the pages is in ``site_data``.
- The site is built in a temporary folder next to ``out`` and swapped in at
  the end, so a failed render never leaves a half-written site, and pages of
  removed models do not linger (a host's ``CNAME`` is kept). A non-empty
  ``out`` that is not a site this module wrote is refused rather than
  overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from psalm_bench import __version__
from psalm_bench.errors import InputError
from psalm_bench.leaderboard.report import LOWER_IS_BETTER
from psalm_bench.leaderboard.site_charts import Point, bar_chart, date_ticks, nice_ticks, scatter_chart  # noqa: F401
from psalm_bench.leaderboard.site_data import (  # noqa: F401 - re-exported: the site's public names
    BREAKDOWNS, CHART_METRICS, CITATION_KEYS, DATE_KEYS, LINK_KEYS, MAX_BARS, PATHS, PRIMARY_METRIC, SIZE_KEYS, Board,
    Breakdown, Paths, _clip, _day, _first, _is_number, _last_update, arxiv_url, build_boards, citation_of, date_label,
    esc, fmt_size, fmt_value, headline_metrics, load_breakdown, parse_date, parse_size, row_citation, row_date, row_id,
    row_link, row_size, safe_url, short_citation, slug, source_class, stable_name,
)
from psalm_bench.leaderboard.site_templates import ASSETS, TEMPLATES, environment  # noqa: F401 - TEMPLATES: public here too
from psalm_bench.leaderboard.store import OFFICIAL, ResultsStore, Row
from psalm_bench.tables import MISSING, Badge, Cell, Col, Table, cell_html, render_html
from psalm_bench.tasks import TASKS

ASSET_FILES = ("site.css", "site.js")
DEFAULT_TITLE = "psalm-bench leaderboard"
GENERATOR = f"psalm-bench {__version__}"

_CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"


# ---------------------------------------------------------------------------
# The templates and the plain values they are fed


SORT_HINT = "Select a column header to sort."


def render_table(table: Table, *, sortable: bool = True) -> Markup:
    """A table as the pages draw it: the one HTML renderer's output (Markup: it escaped every value itself)."""
    return Markup(render_html(table, css_class="" if sortable else "plain", sortable=sortable, hint=SORT_HINT if sortable else ""))


def text_col(label: str, *, title: str = "") -> Col:
    return Col(label, "left", title=title)


def num_col(label: str, *, title: str = "") -> Col:
    lower = label in LOWER_IS_BETTER
    return Col(label, "right", direction="lower" if lower else None, title=title or ("lower is better" if lower else ""))


def link_col(label: str) -> Col:
    return Col(label, "left", sort="none")


def text_cell(text: Any, *, href: str | None = None) -> Cell:
    return Cell(text, href=href)


def num_cell(value: Any, *, best: bool = False, digits: int = 1) -> Cell:
    """A number, rounded as the tables round (full value in its sort key); anything else is the missing mark."""
    if not _is_number(value):
        return Cell(None)
    return Cell(value, wrap="strong" if best else "", css="best" if best else "", digits=digits)


def badge(row: Row) -> Badge:
    cite = row_citation(row)
    return Badge(row.source, source_class(row.source), (short_citation(row) or cite) if cite else None, _clip(cite, 300) if cite else None)


def source_cell(row: Row) -> Cell:
    return Cell(sort=row.source, css="src", badge=badge(row))


def link_or_text(value: str) -> Cell:
    url = safe_url(value)
    return Cell(url, href=url, rel="nofollow noopener") if url else Cell(value)


def facts_html(facts: Sequence[tuple[str, Any]]) -> list[tuple[str, Markup]]:
    """A page's facts (key, value) with each value drawn as a table cell would be."""
    return [(key, cell_html(value)) for key, value in facts]


@dataclass(frozen=True)
class Site:
    """What every page shares: the title, the task list for the nav, the footer."""

    title: str
    tasks: list[str]
    generated: str
    downloads: bool = False

    def page(self, template: str, path: str, heading: str, *, root: str | None = None, crumbs: Sequence[tuple[str, str]] = (),
             standalone: bool = False, **context: Any) -> str:
        """A whole HTML document from ``template``; ``root`` is the prefix back to the site root ('' or '../' or a base URL).

        ``standalone`` inlines the CSS (allowed by its hash) and drops the JS: for a page a host
        serves at any address (404.html), where no relative path to the assets holds.
        """
        if root is None:
            root = "../" * path.count("/")
        inline_css, csp = "", _CSP
        if standalone:
            inline_css = (ASSETS / "site.css").read_text(encoding="utf-8")
            digest = base64.b64encode(hashlib.sha256(inline_css.encode()).digest()).decode()
            csp = f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; form-action 'none'"
        nav = [("Overview", f"{root}index.html", path == "index.html")]
        nav += [(task, root + PATHS.task(task), path == PATHS.task(task)) for task in self.tasks]
        return environment().get_template(template).render(
            site=self, generator=GENERATOR, heading=heading, root=root, nav=nav, standalone=standalone,
            csp=Markup(csp), inline_css=Markup(inline_css),  # our own constants and stylesheet, not user text
            crumbs=[(text, root + href) for text, href in crumbs], **context,
        )


# ---------------------------------------------------------------------------
# Pages: each gathers plain values and renders its template


def overview_page(site: Site, rows: Sequence[Row], boards: dict[str, list[Board]]) -> str:
    if not rows:
        return site.page("overview.html", "index.html", "Leaderboard", empty=True)
    models = sorted({r.model for r in rows}, key=str.lower)
    columns = [text_col("Task"), text_col("Benchmark"), text_col("Split"), num_col("Models"), text_col("Ranked by"),
               num_col("Best"), text_col("Best model"), text_col("Source"), text_col("Updated")]
    table_rows, classes = [], []
    for task, task_boards in boards.items():
        for board in task_boards:
            leader = board.leader()
            table_rows.append([
                text_cell(task, href=PATHS.task(task) + "#" + board.anchor),
                text_cell(board.label.rsplit(" / ", 1)[0]), text_cell(board.split), num_cell(len(board.rows)), text_cell(board.primary),
                num_cell(board.best(board.primary)),
                text_cell(leader.model, href=PATHS.model(leader.model)) if leader else Cell(None),
                source_cell(leader) if leader else Cell(None),
                text_cell(_day(_last_update(board.rows))),
            ])
            classes.append("")
    tasks_table = Table("Best result per task, benchmark and split.", columns, table_rows, row_headers=True, row_classes=classes)
    mcols = [text_col("Model"), num_col("Params", title="model size from the model's metadata (params)"),
             num_col("Results"), text_col("Tasks"), text_col("Source"), link_col("Metadata"), text_col("Updated")]
    by_model: dict[str, list[Row]] = {}
    for r in rows:
        by_model.setdefault(r.model, []).append(r)
    mrows = []
    for model in models:
        mine = by_model[model]
        size = row_size(mine[0])
        other = "; ".join(f"{k}: {_clip(v, 60)}" for k, v in sorted(mine[0].meta.items()) if k not in SIZE_KEYS)
        mrows.append([
            text_cell(model, href=PATHS.model(model)),
            Cell(_first(mine[0], SIZE_KEYS, "meta"), sort=repr(size) if size else None),
            num_cell(len(mine)),
            text_cell(", ".join(sorted({r.task for r in mine}))),
            text_cell(", ".join(sorted({r.source for r in mine}))),
            Cell(other or None),
            text_cell(_day(_last_update(mine))),
        ])
    models_table = Table("Models on the board.", mcols, mrows, row_headers=True, sorted_by=0, descending=False)
    return site.page("overview.html", "index.html", "Leaderboard", empty=False, n_rows=len(rows), n_models=len(models),
                     n_tasks=len(boards), measured=sum(r.source == "measured" for r in rows), updated=_last_update(rows),
                     updated_day=_day(_last_update(rows)), tasks_table=render_table(tasks_table),
                     models_table=render_table(models_table))


def _trend_charts(board: Board, index: int) -> list[dict[str, Any]]:
    """The primary metric over model size and over date, where two or more rows have one."""
    figures = []
    metric = board.primary
    usable = [r for r in board.rows if _is_number(r.metrics.get(metric))]
    sized = [Point(r.model, s, r.metrics[metric], r.source) for r in usable if (s := row_size(r))]
    if len(sized) >= 2 and len({p.x for p in sized}) >= 2:
        scale = "log" if max(p.x for p in sized) / min(p.x for p in sized) > 20 else "linear"
        if scale == "linear":
            sized = [Point(p.label, p.x / 1e9, p.y, p.source) for p in sized]
        desc = f"{metric} of {len(sized)} models against their parameter count; best {board.best(metric):.1f}."
        svg = scatter_chart(sized, chart_id=f"size-{index}", title=f"{board.task} {board.label}: {metric} over model size",
                            desc=desc, x_label="parameters" + (" (log scale)" if scale == "log" else " (billions)"),
                            y_label=metric, x_scale=scale)
        figures.append({"svg": svg, "metric": metric, "over": "size"})
    dated = [Point(r.model, float(d.toordinal()), r.metrics[metric], r.source) for r in usable if (d := row_date(r))]
    if len(dated) >= 2 and len({p.x for p in dated}) >= 2:
        first, last = date.fromordinal(int(min(p.x for p in dated))), date.fromordinal(int(max(p.x for p in dated)))
        desc = f"{metric} of {len(dated)} results against their date, from {first} to {last}."
        svg = scatter_chart(dated, chart_id=f"date-{index}", title=f"{board.task} {board.label}: {metric} over time",
                            desc=desc, x_label="date", y_label=metric, x_scale="date")
        figures.append({"svg": svg, "metric": metric, "over": "date"})
    return figures


def board_table(board: Board) -> Table:
    columns = [text_col("Model"), text_col("Source")]
    columns += [num_col(m) for m in board.metrics]
    columns += [num_col("Samples"), num_col("Params"), text_col("Date"), link_col("Details")]
    best = {m: board.best(m) for m in board.metrics}
    rows, classes = [], []
    for r in board.rows:
        size = row_size(r)
        d = row_date(r)
        cells = [Cell(r.model, href=f"../{PATHS.model(r.model)}", title=r.model), source_cell(r)]
        cells += [num_cell(r.metrics.get(m), best=best[m] is not None and r.metrics.get(m) == best[m]) for m in board.metrics]
        cells += [
            num_cell(r.n_samples),
            Cell(_first(r, SIZE_KEYS, "meta"), sort=repr(size) if size else None),
            Cell(date_label(r) if d else None, sort=d.isoformat() if d else None, css="date"),
            Cell("details", href=f"../{PATHS.result(r)}", label=f"details of {r.model}"),
        ]
        rows.append(cells)
        classes.append(f"src-{source_class(r.source)}")
    primary = board.metrics.index(board.primary) + 2 if board.primary in board.metrics else None
    caption = f"{board.task} on {board.label}: {len(board.rows)} result{'s' * (len(board.rows) != 1)}, ranked by {board.primary}."
    return Table(caption, columns, rows, row_headers=True, row_classes=classes, sorted_by=primary,
                 descending=board.primary not in LOWER_IS_BETTER)


def task_page(site: Site, task: str, boards: Sequence[Board]) -> str:
    sections = []
    for i, board in enumerate(boards):
        counts = ", ".join(f"{n} {s}" for s in sorted({r.source for r in board.rows}) if (n := sum(r.source == s for r in board.rows)))
        sections.append({"anchor": board.anchor, "label": board.label, "counts": counts, "table": render_table(board_table(board)),
                         "gt": next((r.gt_sha256 for r in board.rows if r.gt_sha256), None), "figures": _trend_charts(board, i)})
    return site.page("task.html", PATHS.task(task), task, crumbs=[("Overview", "index.html")],
                     summary=TASKS[task].summary if task in TASKS else "", boards=boards, sections=sections)


def model_page(site: Site, model: str, rows: Sequence[Row], boards: dict[str, list[Board]]) -> str:
    facts = [(k, link_or_text(v)) for k, v in sorted(rows[0].meta.items())]
    rank: dict[tuple, tuple[int, int, str]] = {}
    for task_boards in boards.values():
        for b in task_boards:
            for i, r in enumerate(b.rows):
                if r.model == model:
                    rank[row_id(r)] = (i + 1, len(b.rows), b.primary)
    columns = [text_col("Task"), text_col("Benchmark"), text_col("Split"), text_col("Metric"), num_col("Value"),
               num_col("Rank"), text_col("Source"), text_col("Added"), link_col("Details")]
    trs, classes = [], []
    for r in rows:
        position, size, primary = rank[row_id(r)]
        trs.append([
            text_cell(r.task, href="../" + PATHS.task(r.task)),
            text_cell(r.benchmark if r.version == OFFICIAL else f"{r.benchmark} ({r.version})"), text_cell(r.split), text_cell(primary),
            num_cell(r.metrics.get(primary)),
            Cell(f"{position} of {size}", sort=str(position)), source_cell(r),
            text_cell(_day(r.added_at)),
            Cell("details", href=f"../{PATHS.result(r)}", label=f"details of {r.task} {r.benchmark} {r.split}"),
        ])
        classes.append(f"src-{source_class(r.source)}")
    results_table = Table(f"Results of {model}, each with the metric its board is ranked by.", columns, trs, row_headers=True,
                          row_classes=classes)
    return site.page("model.html", PATHS.model(model), model, crumbs=[("Overview", "index.html")], facts=facts_html(facts),
                     results_table=render_table(results_table))


def breakdown_view(row: Row, bd: Breakdown) -> dict[str, Any]:
    """The breakdown's table and bar chart (the template shows ``problem`` instead when there is none)."""
    if bd.kind is None:
        return {"problem": bd.problem}
    label = BREAKDOWNS[bd.kind]
    columns_seen: list[str] = []
    for values in bd.rows.values():
        columns_seen += [k for k in values if k not in columns_seen]
    numeric = {c for c in columns_seen if all(v.get(c) is None or _is_number(v.get(c)) for v in bd.rows.values())}
    columns = [text_col(label.capitalize())] + [num_col(c) if c in numeric else text_col(c) for c in columns_seen]
    trs = []
    for name, values in bd.rows.items():
        cells = [text_cell(name)]
        for c in columns_seen:
            v = values.get(c)
            if c in numeric:
                cells.append(num_cell(v, digits=0 if isinstance(v, int) else 1))
            else:
                shown = v if isinstance(v, (str, bool)) or v is None else json.dumps(v, ensure_ascii=False)
                cells.append(text_cell(_clip(fmt_value(shown), 80)))
        trs.append(cells)
    chart, chart_caption = None, ""
    metric = next((m for m in CHART_METRICS if m in numeric and any(_is_number(v.get(m)) for v in bd.rows.values())), None)
    if metric:
        items = sorted(((n, float(v[metric])) for n, v in bd.rows.items() if _is_number(v.get(metric))), key=lambda t: -t[1])
        missing = len(bd.rows) - len(items)
        note = f" {missing} {label}{'es' if label == 'class' and missing != 1 else '' if missing == 1 else 's'} without a value left out." if missing else ""
        shown = items
        if len(items) > MAX_BARS:
            half = MAX_BARS // 2
            shown = items[:half] + items[-half:]
            note += f" Showing the {half} highest and {half} lowest of {len(items)}; the table has all."
        best, worst = items[0], items[-1]
        desc = (f"{metric} per {label} for {row.model}, {len(items)} bars sorted high to low; highest {best[0]} "
                f"{best[1]:.1f}, lowest {worst[0]} {worst[1]:.1f}.")
        chart = bar_chart(shown, chart_id="breakdown-chart", title=f"{metric} per {label}: {row.model} on {row.task}", desc=desc)
        chart_caption = f"{metric} per {label}, highest first.{note}"
    caption = f"{bd.kind.replace('_', ' ')} of {row.model} ({len(bd.rows)} rows), from the result file."
    table = Table(caption, columns, trs, row_headers=True)
    return {"problem": None, "chart": chart, "chart_caption": chart_caption, "breakdown_table": render_table(table)}


def _samples(row: Row, root: Path) -> Any:
    from psalm_bench.leaderboard.browse_site import samples_for_row

    stem = PATHS.result(row)[len("results/"):-len(".html")]
    return samples_for_row(row, root, f"results/{stem}-samples", (f"../{stem}.html", f"{row.model} on {row.task}: drill-down"))


def _code(value: Any) -> Cell:
    return Cell(value, wrap="code")


def result_page(site: Site, row: Row, board: Board, samples: Any = None) -> str:
    headline = [m for m in board.metrics if m in row.metrics] + [m for m in row.metrics if m not in board.metrics]
    best = {m: board.best(m) for m in board.metrics}
    mrows = [[text_cell(m), num_cell(row.metrics.get(m), best=best.get(m) is not None and row.metrics.get(m) == best.get(m), digits=2)]
             for m in headline]
    metrics_table = Table(f"Metrics of {row.model} (percent; bold: best on this board).", [text_col("Metric"), num_col("Value")],
                          mrows, row_headers=True)
    facts = [
        ("Model", Cell(row.model, href=f"../{PATHS.model(row.model)}")),
        ("Board", Cell(f"{row.task} / {board.label}", href=f"../{PATHS.task(row.task)}#{board.anchor}")),
        ("Source", Cell(badge=badge(row))),
    ]
    if link := row_link(row):
        facts.append(("Link", link_or_text(link)))
    for key, value in citation_of(row).items():
        if key in ("title", "table") or value in (None, "", [], {}):
            continue
        facts.append((f"Citation: {key}", link_or_text(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))))
    params = json.dumps(row.params, indent=1, sort_keys=True, ensure_ascii=False)
    facts += [
        ("Samples", Cell(row.n_samples)),
        ("Added", Cell(row.added_at)),
        ("psalm-bench", Cell(row.toolkit_version or None)),
        ("Ground truth sha256", _code(row.gt_sha256) if row.gt_sha256 else Cell(f"{MISSING} (not scored by psalm-bench)")),
        ("Predictions sha256", _code(row.pred_sha256) if row.pred_sha256 else Cell(None)),
        ("Records sha256", _code(row.records_sha256) if row.records_sha256 else Cell(None)),
        ("Result file", _code(row.result_path) if row.result_path else Cell(None)),
        ("Parameters", Cell(params, wrap="pre") if row.params else Cell(None)),
    ]
    bd = load_breakdown(row)
    heading = f"{row.model} — {row.task} / {board.label}"
    return site.page("result.html", PATHS.result(row), heading,
                     crumbs=[("Overview", "index.html"), (row.task, PATHS.task(row.task)), (row.model, PATHS.model(row.model))],
                     metrics_table=render_table(metrics_table, sortable=False), facts=facts_html(facts), warnings=bd.warnings, samples=samples, **breakdown_view(row, bd))


def not_found_page(site: Site, base_url: str | None) -> str:
    root = base_url.rstrip("/") + "/" if base_url else ""
    return site.page("not_found.html", "404.html", "Page not found", root=root, standalone=True)


# ---------------------------------------------------------------------------
# Writing the site


@dataclass(frozen=True)
class SiteReport:
    """What a render wrote."""

    out: Path
    pages: int
    results: int
    models: int
    tasks: int
    seconds: float
    files: list[str] = field(default_factory=list)  # relative paths, sorted

    def describe(self) -> str:
        return (f"wrote {self.pages} page(s) for {self.results} result(s) of {self.models} model(s) on {self.tasks} task(s) "
                f"to {self.out} in {self.seconds:.2f} s; open {self.out / 'index.html'}")


def _write_pages(rows: Sequence[Row], root: Path, site: Site) -> list[str]:
    boards = build_boards(rows)
    pages: dict[str, str] = {"index.html": overview_page(site, rows, boards)}
    by_model: dict[str, list[Row]] = {}
    drawn: list[str] = []
    for task, task_boards in boards.items():
        pages[PATHS.task(task)] = task_page(site, task, task_boards)
        for board in task_boards:
            for row in board.rows:
                by_model.setdefault(row.model, []).append(row)
                samples = _samples(row, root)
                drawn += samples.files
                pages[PATHS.result(row)] = result_page(site, row, board, samples)
    for model, mine in by_model.items():
        pages[PATHS.model(model)] = model_page(site, model, mine, boards)
    for folder in ("assets", "tasks", "models", "results"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in ASSET_FILES:
        shutil.copyfile(ASSETS / name, root / "assets" / name)
    for rel, text in pages.items():
        (root / rel).write_text(text, encoding="utf-8", newline="\n")
    return sorted([*pages, *drawn])


def _is_our_site(folder: Path) -> bool:
    index = folder / "index.html"
    try:
        head = index.read_text(encoding="utf-8", errors="replace")[:2000]
    except OSError:
        return False
    return '<meta name="generator" content="psalm-bench' in head


def _prepare_out(out: Path) -> Path:
    """Check ``out`` may be (re)written; return a fresh temporary folder beside it."""
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder; choose a folder for the site", file=out)
    if out.is_dir() and any(out.iterdir()) and not _is_our_site(out):
        raise InputError("folder is not empty and holds no psalm-bench site; choose an empty or new folder", file=out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the site from a web server's user
        return tmp
    except OSError as exc:
        raise InputError(f"cannot write here ({exc.strerror})", file=out.parent) from None


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``tmp`` (old site removed only once the new one is in place)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{tmp.name.rsplit('.', 2)[-2]}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _site(rows: Sequence[Row], title: str, downloads: bool) -> Site:
    tasks = [t for t in TASKS if any(r.task == t for r in rows)]
    tasks += sorted({r.task for r in rows} - set(tasks))
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Site(title=title, tasks=tasks, generated=generated, downloads=downloads)


KEEP_FILES = ("CNAME",)  # a host's own files in an earlier render (GitHub Pages' custom domain) survive a re-render


def _build(rows: Sequence[Row], out: Path, title: str, extra: Callable[[Path, list[str]], list[str]] | None) -> SiteReport:
    start = time.perf_counter()
    out = Path(out)
    tmp = _prepare_out(out)
    try:
        files = _write_pages(rows, tmp, _site(rows, title, downloads=extra is not None))
        if extra is not None:
            files += extra(tmp, files)
        for name in KEEP_FILES:
            if (out / name).is_file() and not (tmp / name).exists():
                shutil.copy2(out / name, tmp / name)
                files.append(name)
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(set(files) | {f"assets/{n}" for n in ASSET_FILES})
    return SiteReport(
        out=out, pages=sum(f.endswith(".html") for f in files), results=len(rows), models=len({r.model for r in rows}),
        tasks=len({r.task for r in rows}), seconds=time.perf_counter() - start, files=files,
    )


def render_site(store: ResultsStore, out: str | Path, *, title: str = DEFAULT_TITLE) -> SiteReport:
    """Write the static site for everything the store holds into ``out``."""
    return _build(store.list(), Path(out), title, None)


def check_base_url(base_url: str | None) -> str | None:
    if base_url is None:
        return None
    if not re.match(r"^https?://[^\s<>\"'#?]+$", base_url.strip()):
        raise InputError(f"--base-url must be an http(s) URL without query or fragment, got {base_url!r}")
    return base_url.strip().rstrip("/")


def publish_site(store: ResultsStore, out: str | Path, *, base_url: str | None = None, title: str = DEFAULT_TITLE) -> SiteReport:
    """``render_site`` plus what a static host needs and the board as data files."""
    base = check_base_url(base_url)
    rows = store.list()

    def host_files(root: Path, pages: list[str]) -> list[str]:
        site = _site(rows, title, downloads=True)
        written = [".nojekyll", "404.html", "robots.txt", "data/leaderboard.json", "data/leaderboard.csv"]
        (root / ".nojekyll").write_text("", encoding="utf-8")
        (root / "404.html").write_text(not_found_page(site, base), encoding="utf-8", newline="\n")
        robots = "User-agent: *\nAllow: /\n" + (f"Sitemap: {base}/sitemap.xml\n" if base else "")
        (root / "robots.txt").write_text(robots, encoding="utf-8")
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / "leaderboard.json").write_text(board_json(rows), encoding="utf-8")
        store.export(root / "data" / "leaderboard.csv", "csv")
        if base:
            (root / "sitemap.xml").write_text(sitemap(base, pages, _last_update(rows)), encoding="utf-8")
            written.append("sitemap.xml")
        return written

    return _build(rows, Path(out), title, host_files)


def board_json(rows: Sequence[Row]) -> str:
    """The board for download: every row with its metrics, provenance and model metadata."""
    payload = {
        "generator": GENERATOR,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results": [
            {
                "model": r.model, "task": r.task, "benchmark": r.benchmark, "version": getattr(r, "version", OFFICIAL), "split": r.split,
                "source": r.source,
                "metrics": r.metrics, "n_samples": r.n_samples, "added_at": r.added_at, "toolkit_version": r.toolkit_version,
                "gt_sha256": r.gt_sha256, "pred_sha256": r.pred_sha256, "records_sha256": r.records_sha256,
                "params": r.params, "citation": getattr(r, "citation", None), "meta": r.meta,
            }
            for r in rows
        ],
    }
    return json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def sitemap(base: str, pages: Sequence[str], lastmod: str) -> str:
    day = _day(lastmod) if lastmod else datetime.now(timezone.utc).date().isoformat()
    locs = [base + "/" + quote(p) for p in sorted(pages) if p.endswith(".html") and p != "404.html"]
    return environment().get_template("sitemap.xml").render(locs=locs, day=day)
