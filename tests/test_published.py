"""Published numbers: the curated data file, its sources, and loading it into the store."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from conftest import assert_one_line_error, run_cli
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
    ("UNINEXT", "<tr><td>UNINEXT [31]</td><td>82.2</td><td>83.4</td><td>81.3</td><td>72.5</td><td>76.4</td><td>66.2</td><td>74.4</td><td>76.4</td></tr>", REF_COLUMNS),
    ("LISA-7B", "<tr><td>LISA-7B [26]</td><td>74.1</td><td>76.5</td><td>71.1</td><td>62.4</td><td>67.4</td><td>56.5</td><td>66.4</td><td>68.5</td></tr>", REF_COLUMNS),
    ("GSVA-7B", "<tr><td>GSVA-7B [65]</td><td>76.4</td><td>77.4</td><td>72.8</td><td>64.5</td><td>67.7</td><td>58.6</td><td>71.1</td><td>72.0</td></tr>", REF_COLUMNS),
    ("LISA-13B", "<tr><td>LISA-13B [65]</td><td>73.4</td><td>76.2</td><td>69.5</td><td>62.3</td><td>66.6</td><td>56.3</td><td>68.2</td><td>68.5</td></tr>", REF_COLUMNS),
    ("GSVA-13B", "<tr><td>GSVA-13B [65]</td><td>77.7</td><td>79.9</td><td>74.2</td><td>68.0</td><td>71.5</td><td>61.5</td><td>73.2</td><td>73.9</td></tr>", REF_COLUMNS),
    ("GLaMM", "<tr><td>GLaMM [45]</td><td>79.5</td><td>83.2</td><td>76.9</td><td>75.9</td><td>78.7</td><td>68.8</td><td>76.8</td><td>78.4</td></tr>", REF_COLUMNS),
    ("PSALM", "<tr><td>PSALM [74]</td><td>83.6</td><td>84.7</td><td>81.6</td><td>72.9</td><td>75.5</td><td>70.1</td><td>73.8</td><td>74.4</td></tr>", REF_COLUMNS),
    ("MAttNet", "MAttNet [67] | CVPR’18 | 56.51 | 62.37 | 51.70 | 46.67 | 52.39 | 40.08 | 47.64 | 48.61", REF_COLUMNS),
    ("PixelLM", "PixelLM [46] | CVPR’24 | 73.0 | 76.5 | 68.2 | 66.3 | 71.7 | 58.3 | 69.3 | 70.5", REF_COLUMNS),
    ("PerceptionGPT", "PerceptionGPT [42] | CVPR’24 | 75.1 | 78.6 | 71.7 | 68.5 | 73.9 | 61.3 | 70.3 | 71.7", REF_COLUMNS),
    ("X-Decoder", "X-Decoder [81] | CVPR’23 | - | - | - | - | - | - | 64.6 | -", [("refcoco", "refcocog", "val", "cIoU")]),
    ("SEEM", "SEEM [82] | NeurIPS’23 | - | - | - | - | - | - | 65.7 | -", [("refcoco", "refcocog", "val", "cIoU")]),
    ("PSALM", "<tr><td>PSALM [219]</td><td>55.9 / 66.6</td><td>83.6 / 72.9 / 73.8</td><td>-</td><td>-</td><td>64.3 / 67.3</td></tr>",
     [("panoptic", "coco", "val", "PQ"), ("semantic", "coco", "val", "mIoU"), None, None, None,
      ("interactive", "coco-interactive", "val", "point_mIoU"), ("interactive", "coco-interactive", "val", "box_mIoU")]),
    ("Mask2Former (Swin-B)", "Mask2Former | Swin-B | 50 | 55.1 | 45.2 | 65.1 | 48558700_5",
     [None, ("panoptic", "coco", "val", "PQ"), ("instance", "coco", "val", "AP"), ("semantic", "coco", "val", "mIoU")]),
    ("Mask2Former (Swin-B IN21k)", "Mask2Former | Swin-B (IN21k) | 50 | 56.4 | 46.3 | 67.1 | 48558700_7",
     [None, ("panoptic", "coco", "val", "PQ"), ("instance", "coco", "val", "AP"), ("semantic", "coco", "val", "mIoU")]),
    ("ODISE (label)", "ODISE (label) | 22.6 | 14.4 | 29.9 | 55.4 | 46.0 | 65.2 | 11.1 | 57.3 | 14.5 | 84.6 | checkpoint",
     [None, ("ov-instance", "ade20k-150", "val", "AP"), ("ov-semantic", "ade20k-150", "val", "mIoU"), ("panoptic", "coco", "val", "PQ"),
      ("instance", "coco", "val", "AP"), ("semantic", "coco", "val", "mIoU"), ("ov-semantic", "ade20k-847", "val", "mIoU"),
      ("ov-semantic", "pc59", "val", "mIoU"), ("ov-semantic", "pc459", "val", "mIoU"), ("ov-semantic", "voc21", "val", "mIoU")]),
    ("XMem", "| XMem | 86.2 | 82.9 | 89.5 | 22.6 | 33.9 |", [("vos", "davis2017", "val", "J&F"), ("vos", "davis2017", "val", "J"), ("vos", "davis2017", "val", "F"), None, None]),
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
    return published.load_data()


def _entry_metrics(data, model: str) -> dict[tuple[str, str, str, str], float]:
    out = {}
    for e in published.entries(data):
        if e.model == model:
            for metric, value in e.metrics.items():
                out[(e.task, e.benchmark, e.split, metric)] = value
    return out


def test_at_least_fifteen_excerpts():
    assert len(EXCERPTS) >= 15


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
    row = json.loads(json.dumps(next(r for r in data.rows if r["model"] == "PSALM")))
    row["results"][0]["metrics"]["cIoU"] = 86.3
    problems = published.check_row(data, row)
    assert problems and "86.3" in problems[0] and "83.6" in problems[0]


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
    assert {o.status for o in first} == {"added"} and len(first) == len(published.entries(data))
    before = store.list()
    second = published.load_published(store)
    assert {o.status for o in second} == {"unchanged"}
    assert store.list() == before  # not even the dates moved
    rows = store.list(source="published")
    assert len(rows) == len(first) and all(r.gt_sha256 is None and r.citation for r in rows)
    psalm = store.list(model="PSALM", task="refcoco", benchmark="refcoco", split="val")[0]
    assert psalm.metrics == {"cIoU": 83.6} and psalm.citation["table"] == "Table 2"
    assert store.meta("PSALM")["llm"] == "Phi-1.5"


def test_task_filter(store):
    outcomes = published.load_published(store, task="vos")
    assert [(o.model, o.task) for o in outcomes] == [("XMem", "vos")]
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
    doc = json.loads(open(published.default_path(), encoding="utf-8").read())
    doc["rows"] = [r for r in doc["rows"] if r["model"] != "XMem"]
    for r in doc["rows"]:
        if r["model"] == "ReLA":
            r["results"][0]["metrics"]["cIoU"] = 1.0
            r["quote"] = r["quote"].replace("73.8", "1.0", 1)
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(doc))
    other = dict(doc, collection="my_papers", rows=[r for r in doc["rows"] if r["model"] == "PixelLM"])
    for r in other["rows"]:
        r["model"] = "PixelLM (my table)"
    (tmp_path / "other.json").write_text(json.dumps(other))
    published.load_published(store, tmp_path / "other.json")
    outcomes = published.load_published(store, fixed)
    status = {(o.model, o.task, o.benchmark, o.split): o.status for o in outcomes}
    assert status[("XMem", "vos", "davis2017", "val")] == "removed"
    assert status[("ReLA", "refcoco", "refcoco", "val")] == "replaced"
    assert store.list(model="XMem") == []
    assert store.meta("XMem") == {}
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
        assert s.schema_version == SCHEMA_VERSION == 2
        rows = {r.model: r for r in s.list()}
        assert rows["old-measured"].source == "measured" and rows["old-measured"].gt_sha256 == GT_A
        assert rows["old-reported"].source == "reported" and rows["old-measured"].meta == {"llm": "x"}
        assert s.benchmarks() == []
        published.load_published(s, task="vos")
        # the old guard still holds on the migrated rows
        with pytest.raises(InputError, match="ground truth differs"):
            s.add(_result(gt=GT_B), "new")
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
