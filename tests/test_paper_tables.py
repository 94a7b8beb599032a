"""Paper-style tables (psalm_bench.leaderboard.paper_tables): layouts and the three renderers."""

from __future__ import annotations

import re

import pytest

from conftest import assert_one_line_error, run_cli
from psalm_bench.errors import InputError
from psalm_bench.leaderboard import paper_tables as pt
from psalm_bench.leaderboard.published import load_published
from psalm_bench.leaderboard.store import ResultsStore, Row, task_metric_names

GT = "c" * 64


def row(model, task, benchmark, split, metrics, source="measured", meta=None, citation=None) -> Row:
    return Row(model=model, task=task, benchmark=benchmark, split=split, metrics=metrics, n_samples=1, records_sha256=None,
               result_path=None, toolkit_version="0.1.0", gt_sha256=None if source == "published" else GT, pred_sha256="",
               params={}, source=source, added_at="2024-01-01", meta=meta or {}, citation=citation)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    db = tmp_path_factory.mktemp("board") / "lb.db"
    with ResultsStore.open(db) as s:
        load_published(s)
        metrics = {m: 70.0 for m in task_metric_names("refcoco")}
        s.add({"task": "refcoco", "metrics": metrics, "n_samples": 1,
               "provenance": {"gt_sha256": GT, "pred_sha256": "p", "params": {"dataset": "refcoco", "split": "val"}}},
              "MyModel", {"llm": "Phi-1.5"})
        gref = {m: 40.0 for m in task_metric_names("gref")}
        s.add({"task": "gref", "metrics": gref, "n_samples": 1,
               "provenance": {"gt_sha256": GT, "pred_sha256": "p", "params": {"split": "val"}}}, "MyModel")
        yield s.list()


@pytest.mark.parametrize("name", sorted(pt.LAYOUTS))
@pytest.mark.parametrize("fmt", pt.FORMATS)
def test_every_layout_renders_in_every_format(board, name, fmt):
    layout = pt.layout_for(name)
    text = pt.render(pt.build_table(board, layout), fmt)
    assert text.strip()
    empty = pt.render(pt.build_table([], layout), fmt)
    assert "no rows" in empty
    for group in layout.groups:
        if group.title:
            assert (pt.latex_escape(group.title) if fmt == "latex" else group.title) in text


def test_task_names_map_to_layouts():
    assert pt.layout_for("refcoco").name == "refcoco"
    assert pt.layout_for("panoptic").name == pt.layout_for("semantic").name == "generic"
    assert pt.layout_for("ov-semantic").name == "ov"
    with pytest.raises(InputError, match="no paper table"):
        pt.layout_for("depth")


def test_refcoco_text_layout_is_aligned(board):
    text = pt.render(pt.build_table(board, pt.layout_for("refcoco")), "text")
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("Method"))
    rule = lines[lines.index(header) + 1]
    assert set(rule.replace(" ", "")) == {"-"}
    groups = lines[lines.index(header) - 2]
    for title in ("RefCOCO", "RefCOCO+", "RefCOCOg"):
        assert title in groups
    psalm = next(line for line in lines if line.startswith("PSALM "))
    # right-aligned numbers: each value ends where its column's rule segment ends
    ends = [m.end() for m in re.finditer(r"-+", rule)]
    assert psalm.rstrip().endswith("74.4") and len(psalm.rstrip()) == ends[-1]
    assert psalm.index("83.6") + 4 == ends[4]
    seem = next(line for line in lines if line.startswith("SEEM-L "))
    assert seem.count(pt.MISSING) >= 7 + 1 and "C, L, RC" in seem  # seven missing cells and no LLM; its seg data printed
    assert "published [" in psalm and "Phi-1.5" in psalm
    mine = next(line for line in lines if line.startswith("MyModel"))
    assert "measured" in mine and "70.0" in mine
    assert lines[-2].startswith("[1]") or any(line.startswith("[1] ") for line in lines)


def test_measured_and_published_are_marked_and_filtered(board):
    layout = pt.layout_for("refcoco")
    both = pt.build_table(board, layout)
    sources = {(line.model, line.source) for line in both.lines}
    assert ("MyModel", "measured") in sources and ("PSALM", "published") in sources
    assert any(ref.startswith("[1] ") for ref in both.references)
    measured = pt.build_table(board, layout, "measured")
    assert {line.source for line in measured.lines} == {"measured"} and not measured.references
    printed = pt.build_table(board, layout, "published")
    assert {line.source for line in printed.lines} == {"published"}
    with pytest.raises(InputError, match="--source"):
        pt.build_table(board, layout, "mine")


def test_measured_default_keys_land_in_the_layout(board):
    table = pt.build_table(board, pt.layout_for("gref"))
    [mine] = [line for line in table.lines if line.model == "MyModel"]
    assert mine.values[:2] == (40.0, 40.0) and mine.values[2:] == (None,) * 4
    assert pt.canonical("ov-semantic", "a150", "default") == ("ov-semantic", "ade20k-150", "val")
    assert pt.canonical("refcoco", "refcoco+", "testA") == ("refcoco", "refcoco+", "testA")


def test_markdown_table_shape(board):
    text = pt.render(pt.build_table(board, pt.layout_for("refcoco")), "markdown")
    table = [line for line in text.splitlines() if line.startswith("|")]
    widths = {line.count(" | ") for line in table if not line.startswith("|:")}
    assert len(widths) == 1  # every row has as many cells as the header
    assert table[0].startswith("| Method | Seg. data | LLM | Source | RefCOCO val |")
    assert table[1].startswith("|:--|:--|:--|:--|--:|")
    escaped = pt.render(pt.build_table([row("A|B", "vos", "davis2017", "val", {"J&F": 50.0})], pt.layout_for("vos")), "markdown")
    assert "A\\|B" in escaped


def test_latex_booktabs_multicolumn_and_escaping():
    rows = [
        row("Net_1 & 50% #x", "vos", "davis2017", "val", {"J&F": 86.21, "J": 82.9}),
        row("Printed", "vos", "default", "val", {"J&F": 70.0}, source="published", citation={"title": "A $5 paper_", "table": "Table 1"}),
    ]
    text = pt.render(pt.build_table(rows, pt.layout_for("vos")), "latex")
    assert "\\toprule" in text and "\\midrule" in text and "\\bottomrule" in text
    assert "\\multicolumn{3}{c}{DAVIS-2017}" in text and "\\cmidrule(lr){3-5}" in text
    assert "Net\\_1 \\& 50\\% \\#x" in text and "J\\&F" in text
    assert "86.2 & 82.9 & --" in text
    assert "A \\$5 paper\\_" in text  # the reference, escaped
    assert "\\\\ [" not in text  # a note never starts right after \\ (LaTeX would read [1] as a length)
    assert text.count("\\begin{tabular}") == text.count("\\end{tabular}") == 1


def test_numbers_round_to_one_decimal():
    table = pt.build_table([row("m", "vos", "davis2017", "val", {"J&F": 56.51, "J": 0.04, "F": 99.96})], pt.layout_for("vos"))
    text = pt.render(table, "text")
    assert "56.5" in text and "0.0" in text and "100.0" in text


def test_cli_table(tmp_path):
    db = tmp_path / "lb.db"
    assert run_cli("leaderboard", "load-published", "--db", db).returncode == 0
    text = run_cli("leaderboard", "table", "--task", "refcoco", "--db", db)
    assert text.returncode == 0, text.stderr
    assert "RefCOCO+" in text.stdout and "83.6" in text.stdout
    out = tmp_path / "t.tex"
    latex = run_cli("leaderboard", "table", "--task", "panoptic", "--format", "latex", "--source", "published", "--out", out, "--db", db)
    assert latex.returncode == 0 and "\\multicolumn" in out.read_text() and "55.9" in latex.stdout
    md = run_cli("leaderboard", "table", "--task", "vos", "--format", "markdown", "--source", "measured", "--db", db)
    assert md.returncode == 0 and "no rows" in md.stdout
    assert_one_line_error(run_cli("leaderboard", "table", "--task", "depth", "--db", db), "no paper table")
    assert_one_line_error(run_cli("leaderboard", "table", "--task", "refcoco", "--db", tmp_path / "none.db"), "no leaderboard database")
