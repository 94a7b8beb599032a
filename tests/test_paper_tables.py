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
    assert "no rows" in empty or (fmt == "csv" and empty.count("\n") == 1)  # CSV: the header alone
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
    psalm = next(line for line in lines if line.startswith("PSALM ") and "published" in line)
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


# ---------------------------------------------------------------------------
# the papers' own tables, the world's own table, CSV

WORLD = "world-v1.0.0-small-seed0"


@pytest.fixture(scope="module")
def store_with_world(tmp_path_factory):
    db = tmp_path_factory.mktemp("world-board") / "lb.db"
    with ResultsStore.open(db) as s:
        load_published(s)
        for split, value in (("val", 18.6), ("testA", 18.64)):
            s.add({"task": "refcoco", "metrics": {m: value for m in task_metric_names("refcoco")}, "n_samples": 1,
                   "provenance": {"gt_sha256": GT, "pred_sha256": "p", "params": {"dataset": "refcoco", "split": split, "world": WORLD}}},
                  "PSALM (bundled)")
        s.add({"task": "refcoco", "metrics": {m: 70.0 for m in task_metric_names("refcoco")}, "n_samples": 1,
               "provenance": {"gt_sha256": "d" * 64, "pred_sha256": "p", "params": {"dataset": "refcoco", "split": "val"}}}, "=cmd|x")
    return db


def test_world_results_get_a_table_of_their_own(store_with_world):
    with ResultsStore.open(store_with_world) as s:
        rows = s.list(task="refcoco")
        main, world = pt.board_tables(rows, pt.layout_for("refcoco"))
        text = pt.board_table(s, "refcoco")
    assert main.version == "official" and "PSALM (bundled)" not in {line.model for line in main.lines}
    assert world.version == WORLD and [line.model for line in world.lines] == ["PSALM (bundled)"]
    assert world.lines[0].values[:2] == (18.6, 18.64) and "not comparable" in world.title
    first, second = text.split("\n\n" + world.title)
    assert "PSALM Table 8" in first and "83.6" in first and "18.6" not in first and "=cmd|x" in first
    assert "18.6" in second and "83.6" not in second
    with pytest.raises(InputError, match="one table ranks one version"):
        pt.build_table(rows, pt.layout_for("refcoco"))


def test_csv_is_full_precision_with_versions_and_defused_cells(store_with_world):
    import csv
    import io

    with ResultsStore.open(store_with_world) as s:
        text = pt.board_table(s, "refcoco", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["Method", "Seg. data", "LLM", "Source"] and header[-2:] == ["Data version", "References"]
    assert text.count("Method,") == 1  # one header for both tables
    bundled = [r for r in rows if r["Method"] == "PSALM (bundled)"]
    assert [(r["Data version"], r["RefCOCO testA"]) for r in bundled] == [(WORLD, "18.64")]
    psalm = next(r for r in rows if r["Method"] == "PSALM")
    assert psalm["RefCOCO val"] == "83.6" and psalm["RefCOCOg val"] == "73.8" and psalm["Data version"] == "official"
    assert "Table 8" in psalm["References"] and next(r for r in rows if r["Method"] == "SEEM-L")["RefCOCO val"] == ""
    assert any(r["Method"] == "'=cmd|x" for r in rows)  # a spreadsheet would run =cmd|x


def test_ablations_have_their_layout_and_stay_out_of_the_system_tables(board):
    ablations = pt.build_table(board, pt.layout_for("ablations"))
    assert len(ablations.lines) == 14 and all(line.model.startswith("PSALM ablation T") for line in ablations.lines)
    joint = next(line for line in ablations.lines if line.model.endswith("joint training"))
    assert joint.values == (55.9, 83.6, None, None, 64.1, 9.0, None, None)
    for name in ("refcoco", "generic", "interactive", "ov"):
        assert not any("ablation" in line.model for line in pt.build_table(board, pt.layout_for(name)).lines), name
    interactive = pt.build_table(board, pt.layout_for("interactive"))
    assert next(line for line in interactive.lines if line.model == "PSALM").values[0] == 64.3  # Table 10's, not Table 7's 64.1


def test_every_paper_table_is_a_layout(board):
    printed = {(c["title"].split(":")[0], c["table"]) for r in board if r.source == "published" and r.citation and r.citation.get("collection") == "papers"
               for c in [r.citation]}
    titles = " ".join(layout.title for layout in pt.LAYOUTS.values())
    for paper, table in printed:
        number = table.split()[1]
        assert f"Table {number}" in titles or (paper == "PSALM" and 2 <= int(number) <= 7), (paper, table)
    corr = pt.build_table(board, pt.layout_for("correspondence"))
    assert next(line for line in corr.lines if line.model == "PSALM").values == (None, 7.9, None, 9.6)
    gcg = pt.build_table(board, pt.layout_for("gcg"))
    assert next(line for line in gcg.lines if line.model == "MGLMM").values[-5:] == (17.8, 11.6, 7.4, 51.6, 23.2)  # MGSCData


def test_cli_table_csv(tmp_path):
    db = tmp_path / "lb.db"
    assert run_cli("leaderboard", "load-published", "--db", db).returncode == 0
    out = run_cli("leaderboard", "table", "--task", "ablations", "--format", "csv", "--db", db)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("Method,Source,COCO-Pan PQ") and len(out.stdout.splitlines()) == 15
