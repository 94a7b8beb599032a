"""Paper-style tables from the results store: the layouts of PSALM's tables.

Each layout is declared as data: groups of columns, each column one
(task, benchmark, split, metric) cell of the board, plus the model metadata
columns the paper prints. Rendering is separate from the layout and comes in
the one table model's (psalm_bench.tables: aligned text for terminals and CI
logs, GitHub Markdown, LaTeX with booktabs and multicolumn group headers,
HTML) plus CSV. Missing cells print as the one missing mark, an en dash.
Every row says where its numbers come from (measured by psalm-bench, or
published, with a numbered reference to the paper table it was read from),
so printed and measured numbers are never mistaken for each other.

Board keys differ between measured and published rows where an evaluator
records no dataset name (gRefCOCO, COCO panoptic, DAVIS, ...): measured rows
say ``default``. :func:`canonical` maps both onto the layout's names.

One table ranks one version of the data: the paper's rows and the numbers
measured on the released benchmark (``official``). Numbers measured on
psalm-bench's synthetic world (or rows of an old database that recorded no
version) are printed as a table of their own below it, never in the ranking.
PSALM's ablations (Tables 2-7) are one layout of their own; the system
layouts show the system tables' rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from psalm_bench import tables
from psalm_bench.errors import InputError
from psalm_bench.specs import PROMPTS
from psalm_bench.tables import MISSING, Col, Table, latex_escape  # noqa: F401  (latex_escape: public here too)

FORMATS = ("text", "markdown", "latex", "html", "csv")
SOURCE_FILTERS = ("all", "measured", "published")

# The board names of benchmarks whose evaluators record no dataset (or a short one).
BENCHMARK_ALIASES: dict[str, dict[str, str]] = {
    "gref": {"default": "grefcoco"},
    "panoptic": {"default": "coco"},
    "instance": {"default": "coco"},
    "semantic": {"default": "coco"},
    "interactive": {"default": "coco-interactive"},
    "vos": {"default": "davis2017"},
    "ov-semantic": {"a150": "ade20k-150", "pas20": "voc20"},
    "ov-instance": {"a150": "ade20k-150"},
    "muse": {"default": "muse"},
    "gcg": {"default": "gcg"},
    "correspondence": {"default": "ego-exo4d"},
}
# The published rows of PSALM's ablation tables: shown by the "ablations" layout only.
ABLATION_SOURCES = frozenset(f"psalm-eccv-t{n}" for n in range(2, 8))
OFFICIAL = "official"


def canonical(task: str, benchmark: str, split: str) -> tuple[str, str, str]:
    """The layout's name for a board key (``default`` split means val)."""
    benchmark = BENCHMARK_ALIASES.get(task, {}).get(benchmark, benchmark)
    return task, benchmark, "val" if split == "default" else split


@dataclass(frozen=True)
class Column:
    task: str
    benchmark: str
    split: str
    metric: str
    label: str


@dataclass(frozen=True)
class Group:
    title: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    groups: tuple[Group, ...]
    meta: tuple[tuple[str, tuple[str, ...]], ...] = (("Seg. data", ("segmentation_data", "seg_data", "training_data")), ("LLM", ("llm",)))
    ablation: bool = False  # the ablation tables' rows, and only them

    @property
    def columns(self) -> list[Column]:
        return [c for g in self.groups for c in g.columns]

    @property
    def tasks(self) -> list[str]:
        return sorted({c.task for c in self.columns})


def _group(title: str, task: str, benchmark: str, cells: Sequence[tuple[str, str, str]]) -> Group:
    """A group of (split, metric, label) cells of one task and benchmark."""
    return Group(title, tuple(Column(task, benchmark, split, metric, label) for split, metric, label in cells))


def _ov(title: str, benchmark: str) -> Group:
    """Open-vocabulary instance AP and semantic mIoU on one benchmark."""
    return Group(title, (Column("ov-instance", benchmark, "val", "AP", "AP"), Column("ov-semantic", benchmark, "val", "mIoU", "mIoU")))


def _splits(task: str, benchmark: str, title: str, splits: Sequence[str], metric: str) -> Group:
    return _group(title, task, benchmark, [(s, metric, s) for s in splits])


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in [
        Layout(
            "refcoco",
            "PSALM Table 8: referring segmentation on RefCOCO, RefCOCO+ and RefCOCOg (cIoU)",
            (
                _splits("refcoco", "refcoco", "RefCOCO", ("val", "testA", "testB"), "cIoU"),
                _splits("refcoco", "refcoco+", "RefCOCO+", ("val", "testA", "testB"), "cIoU"),
                _splits("refcoco", "refcocog", "RefCOCOg", ("val", "test"), "cIoU"),
            ),
        ),
        Layout(
            "gref",
            "PSALM Table 12: generalized referring segmentation on gRefCOCO",
            tuple(_group(split, "gref", "grefcoco", [(split, "cIoU", "cIoU"), (split, "gIoU", "gIoU")]) for split in ("val", "testA", "testB")),
        ),
        Layout(
            "interactive",
            "PSALM Table 10: interactive segmentation on COCO-Interactive",
            tuple(
                _group(prompt.capitalize(), "interactive", "coco-interactive", [("val", f"{prompt}_mIoU", "mIoU"), ("val", f"{prompt}_cIoU", "cIoU")])
                for prompt in PROMPTS  # the paper's column order
            ),
            meta=(),
        ),
        Layout(
            "generic",
            "PSALM Table 9: panoptic, instance and semantic segmentation on COCO val",
            (
                _group("Panoptic", "panoptic", "coco", [("val", "PQ", "PQ")]),
                _group("Instance", "instance", "coco", [("val", "AP", "AP")]),
                _group("Semantic", "semantic", "coco", [("val", "mIoU", "mIoU")]),
            ),
            meta=(("Backbone", ("backbone",)), ("LLM", ("llm",))),
        ),
        Layout(
            "ov",
            "PSALM Table 11: open-vocabulary segmentation (zero-shot)",
            (
                _ov("ADE20K-150", "ade20k-150"),
                _ov("Cityscapes", "cityscapes"),
                _group("ADE20K-847", "ov-semantic", "ade20k-847", [("val", "mIoU", "mIoU")]),
                _group("PC-59", "ov-semantic", "pc59", [("val", "mIoU", "mIoU")]),
                _group("PC-459", "ov-semantic", "pc459", [("val", "mIoU", "mIoU")]),
                _group("VOC-20", "ov-semantic", "voc20", [("val", "mIoU", "mIoU")]),
                _group("VOC-21", "ov-semantic", "voc21", [("val", "mIoU", "mIoU")]),
            ),
            meta=(("Seg. data", ("segmentation_data", "seg_data", "training_data")),),
        ),
        Layout(
            "vos",
            "PSALM Table 13: video object segmentation on DAVIS-2017 val",
            (_group("DAVIS-2017", "vos", "davis2017", [("val", "J&F", "J&F"), ("val", "J", "J"), ("val", "F", "F")]),),
            meta=(),
        ),
        Layout(
            "muse",
            "Multi-target reasoning segmentation on MUSE",
            tuple(_group(split, "muse", "muse", [(split, "gIoU", "gIoU"), (split, "cIoU", "cIoU")]) for split in ("val", "test")),
        ),
        Layout(
            "gcg",
            "MGLMM Table 3: grounded conversation generation (GCG) and multi-granularity SegCap (MGSCData)",
            tuple(
                _group(split, "gcg", "gcg", [(split, m, m) for m in ("METEOR", "CIDEr", "AP50", "mIoU", "Recall")])
                for split in ("val", "test")
            ) + (_group("MGSCData", "gcg", "mgscdata", [("val", m, m) for m in ("METEOR", "CIDEr", "AP50", "mIoU", "Recall")]),),
        ),
        Layout(
            "correspondence",
            "PSALM Table 18: Ego-Exo4D correspondence (IoU)",
            (
                _group("Ego query (ego to exo)", "correspondence", "ego-exo4d", [("test", "EgoExo_IoU", "Test IoU"), ("val", "EgoExo_IoU", "Val IoU")]),
                _group("Exo query (exo to ego)", "correspondence", "ego-exo4d", [("test", "ExoEgo_IoU", "Test IoU"), ("val", "ExoEgo_IoU", "Val IoU")]),
            ),
            meta=(),
        ),
        Layout(
            "ablations",
            "PSALM Tables 2-7: ablations (mask tokens, decoupling, number of mask tokens, condition prompts, VL alignment, joint training)",
            (
                _group("COCO-Pan", "panoptic", "coco", [("val", "PQ", "PQ")]),
                _group("RefCOCO", "refcoco", "refcoco", [("val", "cIoU", "val cIoU"), ("testA", "cIoU", "testA cIoU"), ("testB", "cIoU", "testB cIoU")]),
                _group("COCO-Point", "interactive", "coco-interactive", [("val", "point_mIoU", "mIoU")]),
                _group("A150-OV", "ov-instance", "ade20k-150", [("val", "AP", "mAP")]),
                _group("COCO semantic", "semantic", "coco", [("val", "mIoU", "mIoU"), ("val", "fwIoU", "fwIoU")]),
            ),
            meta=(),
            ablation=True,
        ),
    ]
}

TASK_LAYOUT = {
    "refcoco": "refcoco", "gref": "gref", "interactive": "interactive", "panoptic": "generic", "instance": "generic",
    "semantic": "generic", "ov-semantic": "ov", "ov-instance": "ov", "vos": "vos", "muse": "muse", "gcg": "gcg",
    "correspondence": "correspondence",
}


def layout_for(name: str) -> Layout:
    """The layout of a task (``refcoco``, ``panoptic``, ...) or a layout name (``generic``, ``ov``)."""
    key = TASK_LAYOUT.get(name, name)
    if key not in LAYOUTS:
        choices = sorted(set(TASK_LAYOUT) | set(LAYOUTS))
        raise InputError(f"no paper table for {name!r}; choose one of {', '.join(choices)}")
    return LAYOUTS[key]


# ---------------------------------------------------------------------------
# Building


@dataclass(frozen=True)
class TableLine:
    model: str
    source: str  # measured, reported, published
    source_label: str  # what the Source column prints, e.g. "published [1]"
    meta: tuple[str, ...]
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class PaperTable:
    layout: Layout
    lines: list[TableLine]
    references: list[str] = field(default_factory=list)  # "[1] title, table (arXiv ...)"
    version: str = OFFICIAL  # the version of the data every line is on

    @property
    def title(self) -> str:
        if self.version == OFFICIAL:
            return self.layout.title
        what = "psalm-bench's synthetic world" if self.version.startswith("world-") else "data of unrecorded version (added before schema 3)"
        return f"{self.layout.title}: measured on {what}, {self.version}; a board of its own, not comparable with the paper's numbers"


_SOURCE_ORDER = {"published": 0, "reported": 1, "measured": 2}


def _reference(citation: dict[str, Any]) -> str:
    parts = [citation.get("title", "?"), citation.get("version", ""), citation.get("table", "")]
    text = ", ".join(p for p in parts if p)
    if citation.get("arxiv"):
        text += f" (arXiv {citation['arxiv']})"
    return text


def is_ablation(row: Any) -> bool:
    """A published row of PSALM's ablation tables."""
    return bool(row.citation) and row.citation.get("source_id") in ABLATION_SOURCES


def build_table(rows: Sequence[Any], layout: Layout, source: str = "all") -> PaperTable:
    """Arrange board rows (store ``Row`` records, all of one version of the data) in ``layout``.

    ``source``: all, measured (psalm-bench's own numbers) or published (numbers
    papers print: ``published`` and the version-1 ``reported`` rows).
    """
    if source not in SOURCE_FILTERS:
        raise InputError(f"--source must be one of {', '.join(SOURCE_FILTERS)}, got {source!r}")
    versions = {getattr(row, "version", OFFICIAL) for row in rows}
    if len(versions) > 1:
        raise InputError(f"one table ranks one version of the data, got {', '.join(sorted(versions))}")
    index = {(c.task, c.benchmark, c.split, c.metric): i for i, c in enumerate(layout.columns)}
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if source == "measured" and row.source != "measured":
            continue
        if source == "published" and row.source not in ("published", "reported"):
            continue
        if is_ablation(row) != layout.ablation or (layout.ablation and row.source == "measured"):
            continue
        task, benchmark, split = canonical(row.task, row.benchmark, row.split)
        hits = {index[(task, benchmark, split, m)]: v for m, v in row.metrics.items() if (task, benchmark, split, m) in index}
        if not hits:
            continue
        entry = grouped.setdefault((row.model, row.source), {"values": {}, "meta": dict(row.meta), "citations": []})
        entry["values"].update(hits)
        if row.citation:
            entry["citations"].append(row.citation)
    references: list[str] = []
    lines = []
    for (model, src), entry in sorted(grouped.items(), key=lambda kv: (_SOURCE_ORDER.get(kv[0][1], 3), kv[0][0].lower())):
        label = src
        refs = []
        for cite in entry["citations"]:
            ref = _reference(cite)
            if ref not in references:
                references.append(ref)
            number = references.index(ref) + 1
            if number not in refs:
                refs.append(number)
        if refs:
            label += " " + "".join(f"[{n}]" for n in sorted(refs))
        meta = tuple(next((entry["meta"][k] for k in keys if entry["meta"].get(k)), MISSING) for _, keys in layout.meta)
        values = tuple(entry["values"].get(i) for i in range(len(layout.columns)))
        lines.append(TableLine(model, src, label, meta, values))
    version = next(iter(versions)) if versions else OFFICIAL
    return PaperTable(layout, lines, [f"[{i + 1}] {r}" for i, r in enumerate(references)], version)


# ---------------------------------------------------------------------------
# Rendering


def _head(table: PaperTable) -> tuple[list[str], list[str], list[tuple[str, int]]]:
    """Leading labels, column labels, and (group title, width) spans."""
    lead = ["Method"] + [name for name, _ in table.layout.meta] + ["Source"]
    spans = [(g.title, len(g.columns)) for g in table.layout.groups]
    return lead, [c.label for c in table.layout.columns], spans


def _notes(table: PaperTable) -> list[str]:
    notes = ["Numbers in percent; " + MISSING + " = not reported. Source: measured = scored by psalm-bench; published = printed in the paper table cited."]
    return notes + table.references


def to_table(table: PaperTable) -> Table:
    """The paper table as the one table model: lead columns left, the layout's groups over right-aligned values."""
    lead, _, _ = _head(table)
    cols = [Col(h, "left") for h in lead]
    cols += [Col(c.label, "right", g.title, "higher") for g in table.layout.groups for c in g.columns]
    rows = [[line.model, *line.meta, line.source_label, *(None if v is None else float(v) for v in line.values)] for line in table.lines]
    return Table(table.title, cols, rows, _notes(table), empty="(no rows)")


def render_csv(table: PaperTable) -> str:
    """One header row, one row per line: full-precision numbers, empty where not reported.

    Every line carries the table's data version and its references, so a CSV
    cut from a larger file still says what it is; text cells that a
    spreadsheet would run as a formula are quoted with a leading apostrophe."""
    import csv
    import io

    lead, labels, spans = _head(table)
    titles: list[str] = []
    for title, width in spans:
        titles += [title] * width
    headers = lead + [f"{t} {label}".strip() if t and t != label else label for t, label in zip(titles, labels)] + ["Data version", "References"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    refs = {r.split(" ", 1)[0]: r for r in table.references}
    for line in table.lines:
        cited = " ".join(refs[m] for m in re.findall(r"\[\d+\]", line.source_label) if m in refs)
        cells = [line.model, *line.meta, line.source_label, *("" if v is None else repr(float(v)) for v in line.values), table.version, cited]
        writer.writerow(["'" + c if isinstance(c, str) and c.startswith(("=", "+", "-", "@", "\t", "\r")) else c for c in cells])
    return buf.getvalue()


def render(table: PaperTable, fmt: str = "text") -> str:
    """text, markdown, latex, html or csv."""
    if fmt == "csv":
        return render_csv(table)
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return tables.render_as(to_table(table), fmt)


def board_tables(rows: Sequence[Any], layout: Layout, source: str = "all") -> list[PaperTable]:
    """The paper table on the official data, then one table per other version with lines in the layout (the world's)."""
    by_version: dict[str, list[Any]] = {OFFICIAL: []}
    for row in rows:
        by_version.setdefault(getattr(row, "version", OFFICIAL), []).append(row)
    tables = [build_table(by_version.pop(OFFICIAL), layout, source)]
    for version in sorted(by_version):
        table = build_table(by_version[version], layout, source)
        if table.lines:
            tables.append(table)
    return tables


def board_table(store: Any, name: str, fmt: str = "text", source: str = "all") -> str:
    """One entry point for the CLI: the paper table of ``name`` from ``store``, measured rows beside the paper's."""
    layout = layout_for(name)
    rows = [r for task in layout.tasks for r in store.list(task=task)]
    tables = board_tables(rows, layout, source)
    if fmt == "csv":  # one header: the version column tells the tables apart
        parts = [render_csv(t) for t in tables]
        return parts[0] + "".join(p.split("\n", 1)[1] for p in parts[1:])
    return "\n\n".join(render(t, fmt).rstrip("\n") for t in tables) + "\n"
