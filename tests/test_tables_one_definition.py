"""One definition of what the tables print: the breakdown labels (results.BREAKDOWNS) and the
one missing-value mark (tables.MISSING), read by eval's printout, the site and the browser."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from psalm_bench import tables
from psalm_bench.leaderboard import site_data
from psalm_bench.leaderboard.site_templates import render
from psalm_bench.results import BREAKDOWNS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(BREAKDOWNS))
def test_breakdown_table_labels_its_rows_with_the_one_label(name, monkeypatch):
    result = SimpleNamespace(breakdown_name=name, breakdown={"a": {"IoU": 1.0}})
    assert tables.breakdown_table(result).split()[0] == BREAKDOWNS[name]
    monkeypatch.setitem(BREAKDOWNS, name, "thing")  # read at call time, not copied
    assert tables.breakdown_table(result).split()[0] == "thing"


def test_site_values_use_the_one_missing_mark(monkeypatch):
    for value in (None, float("nan"), float("inf")):
        assert site_data.fmt_value(value) == tables.MISSING == tables.fmt(None)
    assert site_data.fmt_value(1.25, 1) == tables.fmt(1.25, 1) and site_data.fmt_value(True) == "yes"
    assert site_data._day("") == tables.MISSING
    assert f"bold; {tables.MISSING} marks a metric" in render("legend.html")


def test_no_other_module_or_template_writes_its_own_missing_mark():
    """The en dash appears only where it is defined (tables.MISSING) and in the reader of
    papers' cells (published.py, which accepts every mark papers print)."""
    allowed = {"psalm_bench/tables.py", "leaderboard/published.py"}
    offenders = []
    for folder in ("psalm_bench", "leaderboard", "evaluators", "generators"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".html", ".svg", ".j2") or not path.is_file():
                continue
            rel = path.relative_to(ROOT).as_posix()
            if rel not in allowed and re.search("\u2013|\\\\u2013", path.read_text(encoding="utf-8")):
                offenders.append(rel)
    assert offenders == []
