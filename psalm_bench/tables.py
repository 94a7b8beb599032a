"""One table model and its renderers: text (terminal, CI log), Markdown, LaTeX, HTML.

Every table psalm-bench prints (``eval``'s printout, ``reproduce``, ``report``,
``leaderboard table``, the site) is a :class:`Table`: a title, columns (header,
alignment, optional group title and direction), rows of cells and notes.
Cells are values, not strings: the renderer formats numbers, writes the one
missing-value mark (:data:`MISSING`, an en dash, as the papers print it) for
``None`` and escapes text for its format (Markdown ``|`` and ``<``, LaTeX's
specials, HTML always), so escaping no longer rests on every caller.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from psalm_bench.errors import InputError

MISSING = "\u2013"  # en dash: a value not defined, not measured or not reported
ALIGNS = ("left", "right", "center")
DIRECTIONS = (None, "higher", "lower")
FORMATS = ("text", "markdown", "latex", "html")


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

    def __post_init__(self) -> None:
        if self.align not in ALIGNS:
            raise ValueError(f"align must be one of {ALIGNS}, got {self.align!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")


@dataclass
class Table:
    """Title, columns, rows of cells (str, number, bool or None) and notes.

    ``empty`` is what a table without rows prints in its body ("" prints nothing)."""

    title: str
    columns: list[Col]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: str = ""

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} has {len(row)} cells for {len(self.columns)} columns")


def fmt(value: Any, digits: int = 1) -> str:
    """A cell's text: ``None`` is the missing mark, floats rounded to ``digits``."""
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
    """Full precision for numbers (the site sorts on it), empty otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return repr(float(value)) if math.isfinite(value) else ""


def render_html(table: Table, *, css_class: str = "psalm-table") -> str:
    """A ``<table>`` with every text escaped (caption, headers, cells, notes);
    numbers carry their full value in ``data-value``, scores their direction in
    ``data-better``, missing cells the class ``na``."""
    esc = lambda s: html.escape(s, quote=True)  # noqa: E731
    cols = table.columns
    out = [f'<table class="{esc(css_class)}">']
    if table.title:
        out.append(f"<caption>{esc(table.title)}</caption>")
    out.append("<thead>")
    if _grouped(table):
        cells = [f'<th colspan="{w}" scope="colgroup">{esc(t)}</th>' if t else f'<th colspan="{w}"></th>' for t, _, w in _spans(cols)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    heads = []
    for c in cols:
        better = f' data-better="{c.direction}"' if c.direction else ""
        heads.append(f'<th scope="col" class="{c.align}"{better}>{esc(c.header)}</th>')
    out += ["<tr>" + "".join(heads) + "</tr>", "</thead>", "<tbody>"]
    for row in table.rows:
        tds = []
        for value, c in zip(row, cols):
            key = _sort_key(value)
            attr = f' data-value="{key}"' if key else ""
            cls = c.align + (" na" if value is None else "")
            tds.append(f'<td class="{cls}"{attr}>{esc(fmt(value, c.digits))}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    if not table.rows and table.empty:
        out.append(f'<tr><td colspan="{len(cols)}">{esc(table.empty)}</td></tr>')
    out += ["</tbody>", "</table>"]
    out += [f'<p class="note">{esc(n)}</p>' for n in table.notes]
    return "\n".join(out) + "\n"


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
    label = {"per_class": "class", "per_prompt": "prompt", "per_sequence": "sequence"}.get(result.breakdown_name or "", "name")
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
