"""One table model and its renderers: text (terminal, CI log), Markdown, LaTeX, HTML.

Every table psalm-bench prints (``eval``'s printout, ``reproduce``, ``report``,
``leaderboard table``, the site) is a :class:`Table`: a title, columns (header,
alignment, optional group title and direction), rows of cells and notes.
Cells are values, not strings: the renderer formats numbers, writes the one
missing-value mark (:data:`MISSING`, an en dash, as the papers print it) for
``None`` and escapes text for its format (Markdown ``|`` and ``<``, LaTeX's
specials, HTML always), so escaping no longer rests on every caller.

A cell that needs more than its value on a web page (a link, bold, code, a
source badge, a sort key) is a :class:`Cell`; those are the only markup the
HTML renderer writes, from its Jinja2 template (``templates/table.html``,
autoescaped), and the other renderers print the cell's value.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from psalm_bench.errors import InputError
from psalm_bench.results import BREAKDOWNS

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

MISSING = "\u2013"  # en dash: a value not defined, not measured or not reported
ALIGNS = ("left", "right", "center")
DIRECTIONS = (None, "higher", "lower")
FORMATS = ("text", "markdown", "latex", "html")
SORTS = ("", "number", "text", "none")
WRAPS = ("", "strong", "code", "pre")
TEMPLATES = Path(__file__).resolve().with_name("templates")


@dataclass(frozen=True)
class Col:
    """A column: its header, alignment, the group title it sits under (adjacent
    columns with one title share a spanning header) and, for a score, whether
    higher or lower is better."""

    header: str
    align: str = "right"
    group: str = ""
    direction: str | None = None
    digits: int = 1
    title: str = ""  # HTML: the header's tooltip
    sort: str = ""  # HTML, sortable tables: number | text | none; "" sorts right-aligned columns as numbers

    def __post_init__(self) -> None:
        if self.align not in ALIGNS:
            raise ValueError(f"align must be one of {ALIGNS}, got {self.align!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, got {self.sort!r}")

    @property
    def sort_type(self) -> str:
        return self.sort or ("number" if self.align == "right" else "text")


@dataclass(frozen=True)
class Badge:
    """A short label in a coloured box (``badge-<kind>``), e.g. a result's source,
    with an optional citation beside it (shortened; whole in its tooltip)."""

    text: str
    kind: str = ""
    cite: str | None = None
    cite_title: str | None = None


@dataclass(frozen=True)
class Cell:
    """A value with what a web page adds to it: a link (relative or http(s) only;
    anything else stays text), an emphasis from :data:`WRAPS`, a badge, a sort key
    (``data-value``), a CSS class. Text, Markdown and LaTeX print the value alone."""

    value: Any = None
    href: str | None = None
    title: str | None = None
    label: str | None = None  # the link's aria-label
    rel: str | None = None
    wrap: str = ""
    badge: Badge | None = None
    sort: str | None = None
    css: str = ""
    digits: int | None = None

    def __post_init__(self) -> None:
        if self.wrap not in WRAPS:
            raise ValueError(f"wrap must be one of {WRAPS}, got {self.wrap!r}")


@dataclass
class Table:
    """Title, columns, rows of cells (str, number, bool or None) and notes.

    ``empty`` is what a table without rows prints in its body ("" prints nothing)."""

    title: str
    columns: list[Col]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: str = ""
    row_headers: bool = False  # HTML: each row's first cell is its header (<th scope="row">)
    row_classes: list[str] = field(default_factory=list)  # HTML: a class per row ("" for none)
    sorted_by: int | None = None  # HTML: the column the rows are in order of (aria-sort)
    descending: bool = True

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} has {len(row)} cells for {len(self.columns)} columns")
        if self.row_classes and len(self.row_classes) != len(self.rows):
            raise ValueError(f"{len(self.row_classes)} row classes for {len(self.rows)} rows")


def fmt(value: Any, digits: int = 1) -> str:
    """A cell's text: ``None`` is the missing mark, floats rounded to ``digits``."""
    if isinstance(value, Cell):
        if value.value is None and value.badge is not None:
            return value.badge.text + (f" ({value.badge.cite})" if value.badge.cite else "")
        return fmt(value.value, digits if value.digits is None else value.digits)
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _texts(table: Table) -> list[list[str]]:
    return [[fmt(v, c.digits) for v, c in zip(row, table.columns)] for row in table.rows]


def _spans(columns: Sequence[Col]) -> list[tuple[str, int, int]]:
    """Runs of adjacent columns under one group title: (title, first index, width)."""
    spans: list[tuple[str, int, int]] = []
    for i, col in enumerate(columns):
        if spans and spans[-1][0] == col.group:
            title, start, width = spans[-1]
            spans[-1] = (title, start, width + 1)
        else:
            spans.append((col.group, i, 1))
    return spans


def _grouped(table: Table) -> bool:
    return any(c.group for c in table.columns)


# ---------------------------------------------------------------------------
# text


def _pad(text: str, width: int, align: str) -> str:
    if align == "left":
        return text.ljust(width)
    if align == "center":
        return text.center(width)
    return text.rjust(width)


def render_text(table: Table, *, rule: bool = True) -> str:
    """Aligned columns two spaces apart, a rule under the header, group titles
    centred over their columns; lines carry no trailing spaces."""
    body = _texts(table)
    cols = table.columns
    widths = [max([len(c.header)] + [len(r[i]) for r in body]) for i, c in enumerate(cols)]
    spans = _spans(cols)
    for title, start, width in spans:  # widen a group's last column so its title fits
        have = sum(widths[start:start + width]) + 2 * (width - 1)
        if len(title) > have:
            widths[start + width - 1] += len(title) - have

    def join(cells: Sequence[str]) -> str:
        return "  ".join(_pad(c, widths[i], cols[i].align) for i, c in enumerate(cells)).rstrip()

    out = [table.title, ""] if table.title else []
    if _grouped(table):
        top, under = [], []
        for title, start, width in spans:
            span = sum(widths[start:start + width]) + 2 * (width - 1)
            top.append(title.center(span))
            under.append("-" * span if title else " " * span)
        out += ["  ".join(top).rstrip(), "  ".join(under).rstrip()]
    out.append(join([c.header for c in cols]))
    if rule:
        out.append("  ".join("-" * w for w in widths))
    out += [join(r) for r in body]
    if not body and table.empty:
        out.append(table.empty)
    if table.notes:
        out += [""] + list(table.notes)
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Markdown

def _md_row(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


_ENTITY = re.compile(r"&(?=#\d+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
_MD_ALIGN = {"left": ":--", "right": "--:", "center": ":-:"}


def md_escape(text: str) -> str:
    """A cell's text for a GitHub table: ``|`` cannot end the cell, ``<``/``>``
    cannot open HTML, ``&`` cannot start an entity, a newline cannot end the row."""
    text = _ENTITY.sub("&amp;", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return re.sub(r"[\r\n]+", " ", text)


def render_markdown(table: Table) -> str:
    """A GitHub table under a bold title; group titles prefix their columns' headers."""
    cols = table.columns
    headers = [f"{c.group} {c.header}".strip() if c.group and c.group != c.header else c.header for c in cols]
    out = [f"**{md_escape(table.title)}**", ""] if table.title else []
    out.append(_md_row([md_escape(h) for h in headers]))
    out.append("|" + "|".join(_MD_ALIGN[c.align] for c in cols) + "|")
    body = _texts(table)
    for row in body:
        out.append(_md_row([md_escape(c) for c in row]))
    if not body and table.empty:
        out.append(_md_row([md_escape(table.empty)] + [""] * (len(cols) - 1)))
    if table.notes:
        out.append("")
        out += [md_escape(n) + "  " for n in table.notes]
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------
# LaTeX

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", MISSING: "--",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_LATEX_ALIGN = {"left": "l", "right": "r", "center": "c"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters (and write the en dash as --)."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def render_latex(table: Table) -> str:
    """A booktabs table: caption, \\multicolumn group titles with \\cmidrule, notes below."""
    cols = table.columns
    spans = _spans(cols)
    spec = " ".join("".join(_LATEX_ALIGN[c.align] for c in cols[s:s + w]) for _, s, w in spans)
    out = [
        "% generated by psalm-bench; needs \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
    ]
    if table.title:
        out.append(f"\\caption{{{latex_escape(table.title)}}}")
    out += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    if _grouped(table):
        top, rules = [], []
        for title, start, width in spans:
            if title:
                top.append(f"\\multicolumn{{{width}}}{{c}}{{{latex_escape(title)}}}")
                rules.append(f"\\cmidrule(lr){{{start + 1}-{start + width}}}")
            else:
                top += [""] * width
        out.append(" & ".join(top) + " \\\\")
        out.append(" ".join(rules))
    out.append(" & ".join(latex_escape(c.header) for c in cols) + " \\\\")
    out.append("\\midrule")
    body = _texts(table)
    for row in body:
        out.append(" & ".join(latex_escape(c) for c in row) + " \\\\")
    if not body and table.empty:
        out.append(f"\\multicolumn{{{len(cols)}}}{{c}}{{{latex_escape(table.empty)}}} \\\\")
    out += ["\\bottomrule", "\\end{tabular}"]
    if table.notes:  # \par between notes: a note never follows \\ (LaTeX would read [1] as a length)
        out.append("\\par\\smallskip{\\footnotesize " + " \\par ".join(latex_escape(n) for n in table.notes) + "\\par}")
    out.append("\\end{table}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# HTML


def _sort_key(value: Any) -> str:
    """Full precision for numbers (the site sorts on it), a cell's own key, empty otherwise."""
    if isinstance(value, Cell):
        return value.sort if value.sort is not None else _sort_key(value.value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return repr(float(value)) if math.isfinite(value) else ""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, Cell) and value.value is None and value.badge is None)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def safe_href(href: str | None) -> str | None:
    """``href`` if it is a relative link or an http(s) URL, else None (the cell shows text)."""
    if not href or any(ch in href for ch in "\"\'<>\\") or any(ord(ch) < 33 for ch in href) or href.startswith("//"):
        return None
    if _SCHEME.match(href):
        return href if href.lower().startswith(("http://", "https://")) else None
    return href


def escape(value: Any) -> "Markup":
    """Every ``{{ value }}`` as ``html.escape`` writes it (quotes as &quot; and &#x27;), unless it is Markup already."""
    from markupsafe import Markup

    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))


@lru_cache(maxsize=1)
def environment() -> "jinja2.Environment":
    """The table template's environment: autoescape on, nothing undefined passes silently.
    Jinja2 is imported here, not at module level: ``eval``'s start-up does not pay for it."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True, finalize=escape, undefined=jinja2.StrictUndefined)


@dataclass(frozen=True)
class _HtmlCell:
    """What the template draws for one cell: plain strings, escaped by the template."""

    tag: str
    css: str
    key: str | None
    text: str
    href: str | None = None
    title: str | None = None
    label: str | None = None
    rel: str | None = None
    wrap: str = ""
    badge: Badge | None = None


def _html_cell(value: Any, col: Col | None, tag: str = "td") -> _HtmlCell:
    digits = col.digits if col is not None else 1
    css = [col.align] if col is not None else []
    cell = value if isinstance(value, Cell) else Cell(value)
    if cell.css:
        css.append(cell.css)
    if _missing(value):
        css.append("na")
    key = cell.sort if cell.sort is not None else (_sort_key(value) or None)  # an explicit "" sorts with the missing
    return _HtmlCell(tag, " ".join(css), key, fmt(value, digits), safe_href(cell.href), cell.title, cell.label, cell.rel,
                     cell.wrap, cell.badge)


def cell_html(value: Any) -> "Markup":
    """One value as the tables show it (a link, bold, code, a badge, the missing mark), outside a table: e.g. a page's facts."""
    return environment().get_template("cell.html").module.content(_html_cell(value, None))  # type: ignore[attr-defined]


def render_html(table: Table, *, css_class: str = "psalm-table", sortable: bool = False, hint: str = "") -> str:
    """A ``<table>`` from the template ``templates/table.html``, every text escaped (caption,
    headers, cells, notes, attributes); numbers carry their full value in ``data-value``,
    scores their direction in ``data-better``, missing cells the class ``na``, and a
    header may wrap after each ``_``. ``sortable`` adds the class and the columns' types
    (``data-type``) that the site's script sorts by; ``hint`` follows the caption."""
    cols = table.columns
    rows = []
    for row in table.rows:
        tags = ["th" if table.row_headers and i == 0 else "td" for i in range(len(cols))]
        rows.append([_html_cell(v, c, tag) for v, c, tag in zip(row, cols, tags)])
    classes = table.row_classes or [""] * len(rows)
    spans = _spans(cols) if _grouped(table) else []
    return environment().get_template("table.html").render(
        table=table, cols=cols, rows=list(zip(classes, rows)), spans=spans, sortable=sortable, hint=hint,
        css_class=" ".join(c for c in (css_class, "sortable" if sortable else "") if c))


def render_as(table: Table, format: str = "text") -> str:
    """text, markdown, latex or html."""
    renderers = {"text": render_text, "markdown": render_markdown, "latex": render_latex, "html": render_html}
    if format not in renderers:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    return renderers[format](table)


# ---------------------------------------------------------------------------
# eval's printout


def grid(headers: list[str], rows: list[list[Any]], *, first_left: bool = True) -> str:
    """Columns right-aligned (the first left-aligned), one rule under the header."""
    cols = [Col(h, "left" if (i == 0 and first_left) else "right") for i, h in enumerate(headers)]
    return render_text(Table("", cols, [list(r) for r in rows]))


def headline(result: Any, rows: list[list[str]]) -> str:
    """The paper's layout: one row of metrics per group (e.g. AP..., then AR...)."""
    return "\n\n".join(grid(names, [[result.metrics.get(n) for n in names]], first_left=False) for names in rows)


def breakdown_table(result: Any) -> str:
    if not result.breakdown:
        return ""
    first = next(iter(result.breakdown.values()))
    columns = [k for k in first if k not in ("id",)]
    label = BREAKDOWNS.get(result.breakdown_name or "", "name")
    rows = [[name] + [values.get(c) for c in columns] for name, values in result.breakdown.items()]
    return grid([label] + columns, rows)


def render(result: Any, rows: list[list[str]], *, per_class: bool = False) -> str:
    """``eval``'s printout of an :class:`~psalm_bench.results.EvalResult`: headline
    metrics in the paper's rows, the breakdown on request, parameters, warnings."""
    params = result.params
    title = f"{result.task}: {result.n_samples} {'images' if result.task in ('panoptic', 'instance', 'semantic') else 'samples'}"
    parts = [title, "", headline(result, rows)]
    if per_class and result.breakdown:
        parts += ["", breakdown_table(result)]
    notes = [f"protocol: {params.get('protocol', 'default')}"]
    notes += [f"{k}: {fmt(v)}" for k, v in params.items() if k != "protocol" and not isinstance(v, (list, dict))]
    parts += ["", "  ".join(notes)]
    for warning in result.warnings:
        parts.append(f"warning: {warning}")
    return "\n".join(parts)
