"""Plain-text tables that read the same in a terminal and in a CI log."""

from __future__ import annotations

from typing import Any

from psalm_bench.results import EvalResult


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def grid(headers: list[str], rows: list[list[Any]], *, first_left: bool = True) -> str:
    """Columns right-aligned (the first left-aligned), one rule under the header."""
    cells = [headers] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(headers))]

    def line(row: list[Any]) -> str:
        parts = []
        for i, cell in enumerate(row):
            cell = str(cell)
            parts.append(cell.ljust(widths[i]) if (i == 0 and first_left) else cell.rjust(widths[i]))
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in cells[1:]])


def headline(result: EvalResult, rows: list[list[str]]) -> str:
    """The paper's layout: one row of metrics per group (e.g. AP..., then AR...)."""
    blocks = []
    for names in rows:
        blocks.append(grid(names, [[result.metrics.get(n) for n in names]], first_left=False))
    return "\n\n".join(blocks)


def breakdown_table(result: EvalResult) -> str:
    if not result.breakdown:
        return ""
    first = next(iter(result.breakdown.values()))
    columns = [k for k in first if k not in ("id",)]
    label = {"per_class": "class", "per_prompt": "prompt", "per_sequence": "sequence"}.get(result.breakdown_name or "", "name")
    rows = [[name] + [values.get(c) for c in columns] for name, values in result.breakdown.items()]
    return grid([label] + columns, rows)


def render(result: EvalResult, rows: list[list[str]], *, per_class: bool = False) -> str:
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
