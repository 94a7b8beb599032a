"""Published numbers: the curated data file, its sources, and loading it into the store."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from conftest import REPO, assert_one_line_error, run_cli
from psalm_bench.errors import InputError
from psalm_bench.leaderboard import published
from psalm_bench.leaderboard.store import MIGRATIONS, SCHEMA_VERSION, ResultsStore, _statements, task_metric_names
from psalm_bench.tasks import TASKS

GT_A = "a" * 64
GT_B = "b" * 64

REF_COLUMNS = [("refcoco", d, s, "cIoU") for d, ss in (("refcoco", ("val", "testA", "testB")), ("refcoco+", ("val", "testA", "testB")), ("refcocog", ("val", "test"))) for s in ss]

# Verbatim table rows as read in the sources during curation (see the data file's
# "sources" for where), and the board cells each number in them belongs to
# (None: a column the board does not keep). Parsed here independently of
# psalm_bench.leaderboard.published, so a typo in the data file, in its quotes or
# in the parser shows up as a mismatch.
EXCERPTS: list[tuple[str, str, list]] = [
    ("ReLA", "<tr><td>ReLA [34]</td><td>73.8</td><td>76.5</td><td>70.2</td><td>66.0</td><td>71.0</td><td>57.7</td><td>65.0</td><td>66.0</td></tr>", REF_COLUMNS),
    ("GSVA-7B", "<tr><td>GSVA-7B [65]</td><td>76.4</td><td>77.4</td><td>72.8</td><td>64.5</td><td>67.7</td><td>58.6</td><td>71.1</td><td>72.0</td></tr>", REF_COLUMNS),
    ("LISA-13B", "<tr><td>LISA-13B [65]</td><td>73.4</td><td>76.2</td><td>69.5</td><td>62.3</td><td>66.6</td><td>56.3</td><td>68.2</td><td>68.5</td></tr>", REF_COLUMNS),
    ("MAttNet", "MAttNet [67] | CVPR’18 | 56.51 | 62.37 | 51.70 | 46.67 | 52.39 | 40.08 | 47.64 | 48.61", REF_COLUMNS),
    ("PerceptionGPT", "PerceptionGPT [42] | CVPR’24 | 75.1 | 78.6 | 71.7 | 68.5 | 73.9 | 61.3 | 70.3 | 71.7", REF_COLUMNS),
    ("X-Decoder", "X-Decoder [81] | CVPR’23 | - | - | - | - | - | - | 64.6 | -", [("refcoco", "refcocog", "val", "cIoU")]),
    ("Mask2Former (Swin-B IN21k)", "Mask2Former | Swin-B (IN21k) | 50 | 56.4 | 46.3 | 67.1 | 48558700_7",
     [None, ("panoptic", "coco", "val", "PQ"), ("instance", "coco", "val", "AP"), ("semantic", "coco", "val", "mIoU")]),
    ("ODISE (label)", "ODISE (label) | 22.6 | 14.4 | 29.9 | 55.4 | 46.0 | 65.2 | 11.1 | 57.3 | 14.5 | 84.6 | checkpoint",
     [None, ("ov-instance", "ade20k-150", "val", "AP"), ("ov-semantic", "ade20k-150", "val", "mIoU"), ("panoptic", "coco", "val", "PQ"),
      ("instance", "coco", "val", "AP"), ("semantic", "coco", "val", "mIoU"), ("ov-semantic", "ade20k-847", "val", "mIoU"),
      ("ov-semantic", "pc59", "val", "mIoU"), ("ov-semantic", "pc459", "val", "mIoU"), ("ov-semantic", "voc21", "val", "mIoU")]),
    ("XMem (RESULTS.md)", "| XMem | 86.2 | 82.9 | 89.5 | 22.6 | 33.9 |", [("vos", "davis2017", "val", "J&F"), ("vos", "davis2017", "val", "J"), ("vos", "davis2017", "val", "F"), None, None]),
]


def _numbers(excerpt: str) -> list[float]:
    """Every standalone decimal number in a row, after dropping the model name and [ref] markers."""
    text = re.sub(r"<[^>]+>", " | ", excerpt)
    cells = [c.strip() for c in re.split(r"\s\|\s|\|", text) if c.strip()]
    values = []
    for cell in cells[1:]:
        for part in cell.split(" / "):
            if re.fullmatch(r"\d+(\.\d+)?", part.strip()):
                values.append(float(part))
    return values


@pytest.fixture(scope="module")
def data() -> published.PublishedData:
    """The reprints file (rows other papers and model zoos print)."""
    return published.load_data(published.default_paths()[1])


def _entry_metrics(data, model: str) -> dict[tuple[str, str, str, str], float]:
    out = {}
    for e in published.entries(data):
        if e.model == model:
            for metric, value in e.metrics.items():
                out[(e.task, e.benchmark, e.split, metric)] = value
    return out


def test_excerpts_cover_the_reprints(data):
    # every reprinted row but SenseNova's LISA-7B (GCG) and ODISE (caption) has an independent excerpt
    assert len(EXCERPTS) >= 9 and len(data.rows) == 11


@pytest.mark.parametrize("model, excerpt, columns", EXCERPTS, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(EXCERPTS)])
def test_data_file_matches_verbatim_excerpt(data, model, excerpt, columns):
    numbers = _numbers(excerpt)
    if len(columns) < len(numbers):  # trailing columns the board does not keep (e.g. FPS)
        columns = columns + [None] * (len(numbers) - len(columns))
    have = _entry_metrics(data, model)
    assert len(numbers) == len(columns), (numbers, columns)
    for value, column in zip(numbers, columns):
        if column is not None:
            assert have.get(column) == value, (model, column, have.get(column), value)
    # and the row in the data file quotes this excerpt exactly
    assert any(r["model"] == model and r["quote"] == excerpt for r in data.rows)


def test_every_row_agrees_with_its_own_quote(data):
    assert published.check_all(data) == []


def test_entries_are_well_formed(data):
    known_benchmarks = {
        "refcoco": {"refcoco", "refcoco+", "refcocog"}, "panoptic": {"coco"}, "instance": {"coco"}, "semantic": {"coco"},
        "interactive": {"coco-interactive"}, "vos": {"davis2017"}, "gcg": {"gcg"},
        "ov-semantic": {"ade20k-150", "ade20k-847", "pc59", "pc459", "voc20", "voc21", "cityscapes"}, "ov-instance": {"ade20k-150", "cityscapes"},
    }
    entries = published.entries(data)
    assert len(entries) == len({(e.model, e.task, e.benchmark, e.split) for e in entries})
    for e in entries:
        assert e.task in TASKS and e.benchmark in known_benchmarks[e.task], e
        assert set(e.metrics) <= set(task_metric_names(e.task)), e
        assert all(0.0 <= v <= 100.0 for v in e.metrics.values()), e
        assert e.citation["title"] and e.citation["read_from"] and e.citation["quote"], e
        assert e.citation["collection"] == data.collection


def test_cell_parsers():
    assert published.quote_cells("<tr><td>A [1]</td><td>1.5</td><td>x &amp; y</td></tr>", "html") == ["A [1]", "1.5", "x & y"]
    assert published.quote_cells("| A | 1 | - |", "markdown") == ["A", "1", "-"]
    assert published.value_cells(["A", "1 / 2", "-"], 1) == ["1", "2", "-"]


def test_a_typo_is_caught(data):
    row = json.loads(json.dumps(next(r for r in data.rows if r["model"] == "ReLA")))
    row["results"][0]["metrics"]["cIoU"] = 78.3
    problems = published.check_row(data, row)
    assert problems and "78.3" in problems[0] and "73.8" in problems[0]


def test_bad_data_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(InputError, match="bad.json"):
        published.load_data(bad)
    bad.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(InputError, match="schema"):
        published.load_data(bad)
    with pytest.raises(InputError, match="no such file"):
        published.load_data(tmp_path / "missing.json")


# ---------------------------------------------------------------------------
# loading into the store


@pytest.fixture
def store(tmp_path):
    s = ResultsStore.open(tmp_path / "lb.db")
    yield s
    s.close()


def _result(task="refcoco", value=50.0, gt=GT_A, **params):
    params = params or {"dataset": "refcoco", "split": "val"}
    names = task_metric_names(task)
    return {"task": task, "metrics": {m: value for m in names}, "n_samples": 3,
            "provenance": {"psalm_bench": "0.1.0", "gt_sha256": gt, "pred_sha256": "p" * 64, "params": params}}


def test_load_is_idempotent_and_complete(store, data):
    first = published.load_published(store)
    shipped = published.load_shipped()
    assert {o.status for o in first} == {"added"} and len(first) == sum(len(published.entries(d)) for d in shipped)
    before = store.list()
    second = published.load_published(store)
    assert {o.status for o in second} == {"unchanged"}
    assert store.list() == before  # not even the dates moved
    rows = store.list(source="published")
    assert len(rows) == len(first) and all(r.gt_sha256 is None and r.citation for r in rows)
    psalm = store.list(model="PSALM", task="refcoco", benchmark="refcoco", split="val")[0]
    assert psalm.metrics == {"cIoU": 83.6} and psalm.citation["table"] == "Table 8"
    assert psalm.citation["version"].startswith("ECCV 2024") and psalm.citation["columns"] == {"cIoU": "RefCOCO val"}
    assert psalm.citation["printed_as"] == "PSALM" and psalm.added_at == "2024"  # the paper's date, not the load's
    vos = store.list(model="PSALM", task="vos")[0]
    assert vos.added_at == "2024-03-21" and vos.citation["version"].startswith("arXiv v1")
    assert store.meta("PSALM")["llm"] == "Phi-1.5 (1.3B)"


def test_task_filter(store):
    outcomes = published.load_published(store, task="vos")
    assert sorted(o.model for o in outcomes) == ["OMG-Seg", "PSALM", "Painter", "SEEM-B", "SegGPT", "XMem", "XMem (RESULTS.md)"]
    assert {o.task for o in outcomes} == {"vos"}
    with pytest.raises(InputError, match="unknown task"):
        published.load_published(store, task="depth")


def test_published_rows_neither_trigger_nor_face_the_gt_guard(store):
    published.load_published(store)
    # a measured result beside the published numbers, for the same model and key
    assert store.add(_result(gt=GT_A), "PSALM").status == "added"
    both = store.list(model="PSALM", task="refcoco", benchmark="refcoco", split="val")
    assert sorted(r.source for r in both) == ["measured", "published"]
    # the guard still works between measured rows
    with pytest.raises(InputError, match="ground truth differs"):
        store.add(_result(gt=GT_B), "LISA-7B")
    # and re-loading published numbers after measured ones is fine
    assert {o.status for o in published.load_published(store)} == {"unchanged"}


def test_user_meta_is_not_overwritten(store):
    store.add(_result(), "PSALM", {"llm": "phi-1.5 (ours)"})
    published.load_published(store)
    assert store.meta("PSALM")["llm"] == "phi-1.5 (ours)"
    assert store.meta("PSALM")["backbone"] == "Swin-B"  # a key the user had not set


def test_corrected_file_replaces_and_prunes_only_its_collection(store, data, tmp_path):
    published.load_published(store)
    doc = json.loads(open(published.default_paths()[1], encoding="utf-8").read())
    doc["rows"] = [r for r in doc["rows"] if r["model"] != "XMem (RESULTS.md)"]
    for r in doc["rows"]:
        if r["model"] == "ReLA":
            r["results"][0]["metrics"]["cIoU"] = 1.0
            r["quote"] = r["quote"].replace("73.8", "1.0", 1)
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(doc))
    other = dict(doc, collection="my_papers", rows=[r for r in doc["rows"] if r["model"] == "PerceptionGPT"])
    for r in other["rows"]:
        r["model"] = "PixelLM (my table)"
    (tmp_path / "other.json").write_text(json.dumps(other))
    published.load_published(store, tmp_path / "other.json")
    outcomes = published.load_published(store, fixed)
    status = {(o.model, o.task, o.benchmark, o.split): o.status for o in outcomes}
    assert status[("XMem (RESULTS.md)", "vos", "davis2017", "val")] == "removed"
    assert status[("ReLA", "refcoco", "refcoco", "val")] == "replaced"
    assert store.list(model="XMem (RESULTS.md)") == [] and store.meta("XMem (RESULTS.md)") == {}
    assert len(store.list(model="XMem")) == 1  # PSALM Table 13's XMem, another collection (papers)
    assert len(store.list(model="PixelLM (my table)")) == 8  # another collection is left alone


def test_bad_entries_refused_whole(store):
    from psalm_bench.leaderboard.store import PublishedEntry

    good = PublishedEntry("m", "refcoco", "refcoco", "val", {"cIoU": 50.0}, {"title": "t"})
    for bad, fragment in [
        (PublishedEntry("m", "refcoco", "refcoco", "testA", {"PQ": 50.0}, {"title": "t"}), "not a refcoco metric"),
        (PublishedEntry("m", "nope", "x", "val", {"cIoU": 1.0}, {"title": "t"}), "unknown task"),
        (PublishedEntry("m", "refcoco", "refcoco", "testB", {"cIoU": float("nan")}, {"title": "t"}), "is NaN"),
        (PublishedEntry("m", "refcoco", "refcoco", "test", {"cIoU": 1.0}, {}), "citation"),
        (good, "both"),
    ]:
        with pytest.raises(InputError, match=fragment) as err:
            store.add_published([good, bad])
        assert "\n" not in str(err.value)
        assert store.list() == []


# ---------------------------------------------------------------------------
# schema migration


def test_version_1_database_migrates(tmp_path):
    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db)
    for statement in _statements(MIGRATIONS[0]):
        conn.execute(statement)
    for model, source in (("old-measured", "measured"), ("old-reported", "reported")):
        conn.execute(
            "INSERT INTO results (model, task, benchmark, split, metrics, n_samples, records_sha256, result_path, toolkit_version, "
            "gt_sha256, pred_sha256, params, source, added_at) VALUES (?, 'refcoco', 'refcoco', 'val', '{\"cIoU\":50.0}', 3, NULL, NULL, "
            "'0.1.0', ?, 'p', '{}', ?, '2024-01-01T00:00:00+00:00')",
            (model, GT_A, source),
        )
    conn.execute("INSERT INTO model_meta VALUES ('old-measured', 'llm', 'x')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with ResultsStore.open(db) as s:
        assert s.schema_version == SCHEMA_VERSION == 3
        rows = {r.model: r for r in s.list()}
        assert rows["old-measured"].source == "measured" and rows["old-measured"].gt_sha256 == GT_A
        assert rows["old-reported"].source == "reported" and rows["old-measured"].meta == {"llm": "x"}
        assert {r.version for r in rows.values()} == {"unrecorded"}  # version 1 recorded no data version
        assert s.benchmarks() == []
        published.load_published(s, task="vos")
        assert {r.version for r in s.list(source="published")} == {"official"}
        # the guard still holds between the migrated rows, and between new ones
        s.add(_result(gt=GT_B), "new")
        with pytest.raises(InputError, match="ground truth differs"):
            s.add(_result(gt=GT_A), "newer")
        # a published row cannot carry a GT hash, a measured one must
        with pytest.raises(sqlite3.IntegrityError):
            s._conn.execute("UPDATE results SET gt_sha256 = 'x' WHERE source = 'published'")


def test_reported_and_measured_share_a_key(store):
    store.add(_result(value=50.0), "m", source="reported")
    out = store.add(_result(value=60.0), "m")
    assert out.status == "replaced" and [r.source for r in store.list()] == ["measured"]
    with pytest.raises(InputError, match="load-published"):
        store.add(_result(), "m", source="published")


# ---------------------------------------------------------------------------
# CLI


def test_cli_load_published_and_list(tmp_path):
    db = tmp_path / "lb.db"
    first = run_cli("leaderboard", "load-published", "--db", db)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("added")
    again = run_cli("leaderboard", "load-published", "--db", db, "--task", "refcoco")
    assert again.returncode == 0 and "unchanged" in again.stdout and "added" not in again.stdout
    listed = run_cli("leaderboard", "list", "--db", db, "--task", "vos")
    assert listed.returncode == 0
    assert "XMem" in listed.stdout and "published" in listed.stdout and "86.2" in listed.stdout
    assert_one_line_error(run_cli("leaderboard", "load-published", "--db", db, "--file", tmp_path / "nope.json"), "nope.json")


# ---------------------------------------------------------------------------
# the papers' own tables (papers.json), against the seed text

SEEDS = REPO.parent / "shared" / "seeds"
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not beside the clone")
DELTA = re.compile(r"\(\s*(?:[\u2191\u2193]|\\downarrow|\\uparrow)\s*\d+(\.\d+)?\)")  # "(↓0.3)", arXiv "(\downarrow0.3)"


@pytest.fixture(scope="module")
def papers() -> published.PublishedData:
    return published.load_data(published.default_paths()[0])


@pytest.fixture(scope="module")
def seed_lines() -> dict[str, list[str]]:
    return {p.name: p.read_text(encoding="utf-8").split("\n") for p in SEEDS.glob("*.txt")}


def _seed_numbers(line: str) -> list[float]:
    """The standalone decimals of a seed line, in order (not 'Phi-1.5', '(1.3B)' or an ablation's '(↓0.3)')."""
    return [float(t) for t in re.split(r"[\s\u00a0]+", DELTA.sub(" ", line)) if re.fullmatch(r"\d+\.\d+", t)]


def _row_numbers(papers, row) -> list[float]:
    """The row's result values, in the order of its column map (cells the row has no value for skipped)."""
    columns = row.get("columns", papers.sources[row["source"]]["columns"])
    have = {(r["task"], r["benchmark"], r["split"], m): v for r in row["results"] for m, v in r["metrics"].items()}
    return [have[tuple(c[:4])] for c in columns if tuple(c[:4]) in have]


def _table_lines(seed_lines, seed: str, table: str) -> list[str]:
    """The lines within 25 of a table's caption line (captions sit above or below their tables)."""
    lines = seed_lines[seed]
    at = [i for i, line in enumerate(lines) if line.startswith(table + ":")]
    assert at, (seed, table)
    return [line for i in at for line in lines[max(0, i - 25): i + 25]]


@needs_seeds
def test_every_paper_row_is_a_line_of_its_seed_with_the_same_numbers(papers, seed_lines):
    for row in papers.rows:
        src = papers.sources[row["source"]]
        assert src["read_from"] == f"../shared/seeds/{src['seed']}"
        assert row["quote"] in _table_lines(seed_lines, src["seed"], src["table"]), (row["model"], row["quote"])
        assert _seed_numbers(row["quote"]) == _row_numbers(papers, row), (row["model"], row["quote"])
    assert published.check_all(papers) == []


@needs_seeds
def test_row_counts_per_table(papers):
    counts: dict[str, int] = {}
    for row in papers.rows:
        counts[row["source"]] = counts.get(row["source"], 0) + 1
    assert counts == {
        "psalm-eccv-t2": 3, "psalm-eccv-t3": 2, "psalm-eccv-t4": 2, "psalm-eccv-t5": 3, "psalm-eccv-t6": 2, "psalm-eccv-t7": 2,
        "psalm-eccv-t8": 12, "psalm-eccv-t9": 6, "psalm-eccv-t10": 6, "psalm-eccv-t11": 5, "psalm-eccv-t12": 8,
        "psalm-arxiv-t13": 6, "psalm-arxiv-t18": 10, "mglmm-t3": 5,
    }


@needs_seeds
def test_a_typo_in_a_paper_row_fails(papers, seed_lines):
    row = json.loads(json.dumps(next(r for r in papers.rows if r["source"] == "psalm-eccv-t10" and r["model"] == "PSALM")))
    row["results"][0]["metrics"]["point_mIoU"] = 64.1
    assert published.check_row(papers, row) and _seed_numbers(row["quote"]) != _row_numbers(papers, row)
    row = json.loads(json.dumps(next(r for r in papers.rows if r["source"] == "psalm-eccv-t8" and r["model"] == "PSALM")))
    row["quote"] = row["quote"].replace("83.6", "83.9")
    src = papers.sources[row["source"]]
    assert row["quote"] not in _table_lines(seed_lines, src["seed"], src["table"])


@needs_seeds
def test_the_arxiv_version_prints_the_same_numbers(papers, seed_lines):
    """Tables 2-12 are quoted from the ECCV text; the arXiv text prints each row's numbers too."""
    arxiv = "000_7d00c265d5fb73c4.txt"
    for row in papers.rows:
        src = papers.sources[row["source"]]
        if not row["source"].startswith("psalm-eccv"):
            continue
        want = _seed_numbers(row["quote"])
        assert any(_seed_numbers(line) == want for line in _table_lines(seed_lines, arxiv, src["table"])), (src["table"], row["model"])
    # Table 4's LISA reference row is Table 8's LISA row (val, testA, testB), so it is not stored twice
    lisa4 = next(line for line in _table_lines(seed_lines, "001_4b75a78c0335b7f6.txt", "Table 4") if line.startswith("LISA\t"))
    lisa8 = next(r for r in papers.rows if r["source"] == "psalm-eccv-t8" and r["model"] == "LISA-7B")
    assert _seed_numbers(lisa4) == _row_numbers(papers, lisa8)[:3]


@needs_seeds
def test_disagreements_are_recorded_not_resolved(papers, seed_lines):
    by = {(r["source"], r["model"]): r for r in papers.rows}
    point = by[("psalm-eccv-t10", "PSALM")]
    joint = by[("psalm-eccv-t7", "PSALM ablation T7: joint training")]
    assert point["results"][0]["metrics"]["point_mIoU"] == 64.3 and "64.1" in point["note"]
    assert {r["task"]: r["metrics"] for r in joint["results"]}["interactive"] == {"point_mIoU": 64.1} and "64.3" in joint["note"]
    lisa_ft, gsva = by[("psalm-eccv-t12", "LISA-7B (ft)")], by[("psalm-eccv-t12", "GSVA-7B")]
    assert _row_numbers(papers, lisa_ft) == _row_numbers(papers, gsva) and "61.6" in lisa_ft["note"]
    mglmm_lisa = [line for line in _table_lines(seed_lines, "003_44f61e032143e0b0.txt", "Table 5") if line.startswith("LISA (Lai")]
    assert len(mglmm_lisa) == 1 and _seed_numbers(mglmm_lisa[0])[:2] == [61.7, 61.6]
    glamm = by[("psalm-eccv-t8", "GLaMM")]
    assert _row_numbers(papers, glamm)[3:] == [72.6, 78.7, 64.6, 74.2, 74.9] and "75.9" in glamm["note"]
    assert "74.4" in by[("psalm-eccv-t8", "UNINEXT-H")]["note"] and "65.7" in by[("psalm-eccv-t8", "SEEM-L")]["note"]


@needs_seeds
def test_no_model_has_two_published_rows_on_one_board():
    shipped = published.load_shipped()
    published.check_unique(shipped)
    twin = published.PublishedData("/tmp/twin.json", "twin", shipped[0].sources, shipped[0].rows[:1])
    with pytest.raises(InputError, match="also in"):
        published.check_unique([shipped[0], twin])


def test_paper_dates(papers):
    for sid, src in papers.sources.items():
        assert src.get("date_basis"), sid
        assert re.fullmatch(r"\d{4}(-\d{2}){0,2}", src["date"]), sid
    assert {e.date for e in published.entries(papers)} == {"2024", "2024-03-21", "2024-09"}


def test_table_18_gives_one_row_per_model_from_its_ego_and_exo_lines(papers):
    rows = {e.model: e for e in published.entries(papers, "correspondence")}
    assert sorted(rows) == ["PSALM", "XMem (Table 18 row 2)", "XMem (Table 18 row 4)", "XSegTx (Table 18 row 1)", "XSegTx (Table 18 row 3)"]
    psalm = rows["PSALM"]
    assert (psalm.benchmark, psalm.split, psalm.metrics) == ("ego-exo4d", "val", {"EgoExo_IoU": 7.9, "ExoEgo_IoU": 9.6})
    assert psalm.citation["quote"].split("\n") == ["Ego PSALM - 7.9", "Exo PSALM - 9.6"] and psalm.date == "2024-03-21"
    assert rows["XMem (Table 18 row 2)"].metrics == {"EgoExo_IoU": 4.6, "ExoEgo_IoU": 21.8}
    twice = published.PublishedData(papers.path, "x", papers.sources, [r for r in papers.rows if r["quote"] == "Ego PSALM - 7.9"] * 2)
    with pytest.raises(InputError, match="two rows give PSALM"):
        published.entries(twice)
