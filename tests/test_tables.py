"""The one table model (psalm_bench.tables) and its four renderers."""

from __future__ import annotations

import html.parser
import re

import pytest

from psalm_bench.errors import InputError
from psalm_bench.results import EvalResult
from psalm_bench.tables import (
    MISSING, Col, Table, fmt, grid, latex_escape, md_escape, render, render_as, render_html, render_latex, render_markdown, render_text,
)


def _table(**kw) -> Table:
    cols = [Col("Method", "left"), Col("val", group="RefCOCO"), Col("testA", group="RefCOCO"), Col("LE", group="Ego", direction="lower")]
    rows = [["PSALM", 83.61, None, 0.5], ["A|B <x> & y_1 50% $#", 7.0, 12.349, None]]
    return Table(kw.pop("title", "T <1> & co"), cols, rows, kw.pop("notes", ["n1 <b>"]), **kw)


def test_missing_mark_is_one_en_dash_everywhere():
    assert MISSING == "\u2013" and fmt(None) == MISSING and fmt(1.25, 1) == "1.2" and fmt(True) == "yes" and fmt(3) == "3"
    table = _table()
    assert MISSING in render_text(table) and MISSING in render_markdown(table) and MISSING in render_html(table)
    latex = render_latex(table)
    assert MISSING not in latex and "& -- &" in latex  # LaTeX writes it as --
    # the report's and the paper tables' renderers share the mark
    from psalm_bench.leaderboard import paper_tables, report

    assert paper_tables.MISSING == MISSING and report._f(None) == MISSING


def test_text_alignment_groups_rule_and_notes():
    text = render_text(_table())
    lines = text.splitlines()
    assert lines[0] == "T <1> & co" and lines[1] == ""
    groups, under, header, rule = lines[2:6]
    assert "RefCOCO" in groups and "Ego" in groups and set(under.strip()) == {"-", " "}
    assert header.startswith("Method") and set(rule.replace(" ", "")) == {"-"}
    ends = [m.end() for m in re.finditer(r"-+", rule)]
    psalm = lines[6]
    assert psalm.startswith("PSALM ") and psalm.index("83.6") + 4 == ends[1]  # right-aligned to its rule
    assert psalm.endswith("0.5") and len(psalm) == ends[-1]
    assert lines[7].startswith("A|B <x> & y_1 50% $#") and "12.3" in lines[7]
    assert lines[-2:] == ["", "n1 <b>"]
    assert all(line == line.rstrip() for line in lines)
    # a group title wider than its columns widens them
    wide = Table("", [Col("a", "left"), Col("x", group="a very long group title")], [["r", 1.0]])
    top, under = render_text(wide).splitlines()[:2]
    assert "a very long group title" in top and len(under.strip()) == len("a very long group title")


def test_text_without_title_rule_or_rows():
    table = Table("", [Col("a", "left"), Col("b", "center"), Col("c")], [])
    assert render_text(table) == "a  b  c\n-  -  -"
    assert render_text(table, rule=False) == "a  b  c"
    assert render_text(Table("", [Col("a")], [], empty="(no rows)")).splitlines()[-1] == "(no rows)"
    centred = render_text(Table("", [Col("long", "center")], [["x"]])).splitlines()[-1]
    assert centred == " x"  # centred in 4 (trailing spaces dropped)


def test_grid_is_the_eval_printout_layout():
    assert grid(["name", "AP"], [["cat", 50.0], ["dog", None]]) == "name    AP\n----  ----\ncat   50.0\ndog      \u2013"
    assert grid(["AP", "AP50"], [[1.0, 2.0]], first_left=False) == " AP  AP50\n---  ----\n1.0   2.0"
    result = EvalResult(task="instance", metrics={"AP": 41.234, "AP50": None}, n_samples=3, params={"protocol": "coco"})
    out = render(result, [["AP", "AP50"]])
    assert out.splitlines()[0] == "instance: 3 images" and "41.2" in out and MISSING in out and "protocol: coco" in out


def test_markdown_escapes_pipes_html_and_entities():
    md = render_markdown(_table())
    lines = md.splitlines()
    assert lines[0] == "**T &lt;1&gt; & co**" and md.endswith("\n")
    assert lines[2] == "| Method | RefCOCO val | RefCOCO testA | Ego LE |"
    assert lines[3] == "|:--|--:|--:|--:|"
    assert "| A\\|B &lt;x&gt; & y_1 50% $# | 7.0 | 12.3 | \u2013 |" in lines
    assert {line.count(" | ") for line in lines if line.startswith("| ")} == {3}
    assert md_escape("&amp; &#60; &x") == "&amp;amp; &amp;#60; &x"  # an entity cannot be smuggled in
    assert md_escape("two\nlines") == "two lines"
    assert "| (none) | |" in render_markdown(Table("", [Col("a"), Col("b")], [], empty="(none)"))
    assert _mk_center() == "|:-:|"


def _mk_center() -> str:
    return render_markdown(Table("", [Col("c", "center")], [])).splitlines()[1]


def test_latex_booktabs_groups_and_specials():
    tex = render_latex(_table())
    assert "\\caption{T \\textless{}1\\textgreater{} \\& co}" in tex
    assert "\\begin{tabular}{l rr r}" in tex and "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert " & \\multicolumn{2}{c}{RefCOCO} & \\multicolumn{1}{c}{Ego} \\\\" in tex
    assert "\\cmidrule(lr){2-3} \\cmidrule(lr){4-4}" in tex
    assert "A\\textbar{}B \\textless{}x\\textgreater{} \\& y\\_1 50\\% \\$\\# & 7.0 & 12.3 & -- \\\\" in tex
    assert "\\footnotesize n1 \\textless{}b\\textgreater{}\\par}" in tex
    assert latex_escape("\\~^{}") == "\\textbackslash{}\\textasciitilde{}\\textasciicircum{}\\{\\}"
    assert tex.count("\\begin{tabular}") == tex.count("\\end{tabular}") == 1


class _Parser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_every_text_and_carries_values():
    out = render_html(_table())
    assert "<x>" not in out and "<b>" not in out and "<1>" not in out
    assert "<caption>T &lt;1&gt; &amp; co</caption>" in out
    assert "A|B &lt;x&gt; &amp; y_1 50% $#" in out
    p = _Parser()
    p.feed(out)
    tags = [t for t, _ in p.tags]
    assert tags.count("table") == 1 and "script" not in tags and "b" not in tags and "x" not in tags
    assert "T <1> & co" in p.text and "n1 <b>" in p.text  # the text reads back exactly
    tds = [a for t, a in p.tags if t == "td"]
    assert tds[1] == {"class": "right", "data-value": "83.61"} and tds[2] == {"class": "right na"}
    ths = [a for t, a in p.tags if t == "th"]
    assert {"colspan": "2", "scope": "colgroup"} in ths and {"scope": "col", "class": "right", "data-better": "lower"} in ths
    hostile = render_html(Table("", [Col('"><script>', "left")], [['" onmouseover="x']]), css_class='a" b')
    assert "<script>" not in hostile and 'onmouseover="x' not in hostile and 'class="a&quot; b"' in hostile


def test_render_as_and_bad_input():
    table = _table()
    assert render_as(table, "markdown") == render_markdown(table) and render_as(table, "html") == render_html(table)
    with pytest.raises(InputError, match="--format"):
        render_as(table, "rtf")
    with pytest.raises(ValueError, match="row 0 has 1 cells for 2 columns"):
        Table("", [Col("a"), Col("b")], [["x"]])
    with pytest.raises(ValueError, match="align"):
        Col("a", "middle")


def test_leaderboard_table_prints_html_escaped(tmp_path):
    from conftest import run_cli
    from psalm_bench.leaderboard.published import load_published
    from psalm_bench.leaderboard.store import ResultsStore

    db = tmp_path / "lb.db"
    with ResultsStore.open(db) as store:
        load_published(store, task="vos")
        metrics = {"J&F": 50.0, "J": 49.0, "F": 51.0, "J-recall": 1.0, "J-decay": 0.0, "F-recall": 1.0, "F-decay": 0.0}
        store.add({"task": "vos", "metrics": metrics, "n_samples": 1,
                   "provenance": {"gt_sha256": "c" * 64, "pred_sha256": "p", "params": {}}}, "<b>Net</b> & co")
    run = run_cli("leaderboard", "table", "--task", "vos", "--format", "html", "--db", db)
    assert run.returncode == 0, run.stderr
    assert "<caption>PSALM Table 13" in run.stdout and "&lt;b&gt;Net&lt;/b&gt; &amp; co" in run.stdout and "<b>" not in run.stdout
    assert 'data-value="50.0"' in run.stdout and "J&amp;F" in run.stdout


def test_html_cells_links_wraps_badges_and_sortable_tables():
    from psalm_bench.tables import Badge, Cell, cell_html, safe_href

    cols = [Col("Model", "left"), Col("PQ_th"), Col("Source", "left", title="where <it> is from"), Col("Link", "left", sort="none")]
    rows = [
        [Cell("A & B", href="../models/a.html", title="A & B"), Cell(55.123, wrap="strong", css="best", digits=2),
         Cell(sort="paper", css="src", badge=Badge("reported", "reported", "LISA <2024>", "LISA: long <title>")), Cell("x", href="javascript:alert(1)")],
        [Cell("C"), None, Cell(None), Cell("arxiv", href="https://arxiv.org/abs/1", rel="nofollow noopener")],
    ]
    table = Table("cap", cols, rows, row_headers=True, row_classes=["src-reported", ""], sorted_by=1, descending=False)
    out = render_html(table, css_class="", sortable=True, hint="Select a column header to sort.")
    assert out.startswith('<table class="sortable">\n<caption>cap <span class="hint">Select a column header to sort.</span></caption>')
    p = _Parser()
    p.feed(out)
    ths = [a for t, a in p.tags if t == "th"]
    assert ths[0] == {"scope": "col", "class": "left", "data-type": "text"}
    assert ths[1] == {"scope": "col", "class": "right", "data-type": "number", "aria-sort": "ascending"}
    assert ths[2]["title"] == "where <it> is from" and "data-type" not in ths[3]  # sort="none": not sortable
    assert "PQ_<wbr>th" in out  # a long metric name may wrap after '_'
    assert ths[4] == {"scope": "row", "class": "left"}  # row headers
    assert '<tr class="src-reported"><th scope="row" class="left"><a href="../models/a.html" title="A &amp; B">A &amp; B</a></th>' in out
    assert '<td class="right best" data-value="55.123"><strong>55.12</strong></td>' in out
    assert ('<td class="left src" data-value="paper"><span class="badge badge-reported">reported</span> '
            '<cite title="LISA: long &lt;title&gt;">LISA &lt;2024&gt;</cite></td>') in out
    assert '<td class="left">x</td>' in out and "javascript" not in out  # an unsafe link stays text
    assert '<td class="right na">\u2013</td>' in out and '<td class="left na">\u2013</td>' in out  # None and Cell(None): the one mark
    assert '<a href="https://arxiv.org/abs/1" rel="nofollow noopener">arxiv</a>' in out
    # the other renderers print the values
    text = render_text(table)
    assert "A & B" in text and "55.12" in text and "reported (LISA <2024>)" in text and MISSING in text
    assert "| A & B | 55.12 |" in render_markdown(table)
    # outside a table
    assert str(cell_html(Cell("<x>", wrap="code"))) == "<code>&lt;x&gt;</code>" and str(cell_html(None)) == MISSING
    assert str(cell_html(Cell("'q'", href="a b.html"))) == "&#x27;q&#x27;"  # a space is no link
    for bad in ("javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,x", "//evil.example", 'a"b', "a<b", "vbscript:x", ""):
        assert safe_href(bad) is None, bad
    for good in ("a.html", "../tasks/x.html#b", "#top", "https://x.org/a?b=1", "HTTP://X.ORG"):
        assert safe_href(good) == good
    with pytest.raises(ValueError, match="wrap"):
        Cell("x", wrap="script")
    with pytest.raises(ValueError, match="sort"):
        Col("a", sort="date")
    with pytest.raises(ValueError, match="row classes"):
        Table("", [Col("a")], [[1]], row_classes=["a", "b"])


def test_hostile_text_is_escaped_in_every_part_of_a_table():
    from psalm_bench.tables import Badge, Cell

    evil = '<script>alert("x")</script>'
    shown = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    cols = [Col(evil, "left", group=evil, title=evil), Col("v")]
    rows = [[Cell(evil, href="a.html", title=evil, label=evil, sort=evil), Cell(sort=evil, badge=Badge(evil, evil, evil, evil))],
            [Cell(evil, wrap="pre"), evil]]
    out = render_html(Table(evil, cols, rows, [evil], row_headers=True, row_classes=[evil, evil]), css_class=evil, sortable=True, hint=evil)
    assert "<script" not in out and out.count(shown) == 20, out.count(shown)
