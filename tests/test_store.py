"""The leaderboard results store (psalm_bench.leaderboard.store)."""

from __future__ import annotations

import copy
import json
import sqlite3
import time

import pandas as pd
import pytest

from conftest import expected, fixture_cases, fixture_options, needs_fixtures
from psalm_bench.errors import InputError
from psalm_bench.leaderboard.store import SCHEMA_VERSION, ResultsStore, parse_meta, records_digest, render_board
from psalm_bench.tasks import TASKS

GT_A = "a" * 64
GT_B = "b" * 64


def _metric_names(task: str) -> list[str]:
    return [m for row in TASKS[task].table_rows for m in row]


def hand_result(task: str = "refcoco", value: float = 50.0, gt: str = GT_A, pred: str = "p" * 64, **params) -> dict:
    params = params or {"dataset": "refcoco", "split": "val"}
    return {
        "task": task,
        "metrics": {m: value + i for i, m in enumerate(_metric_names(task))},
        "n_samples": 10,
        "warnings": [],
        "records": [{"sent_id": i, "I": i, "U": 2 * i + 1} for i in range(3)],
        "provenance": {"psalm_bench": "0.1.0", "gt_sha256": gt, "pred_sha256": pred, "params": params},
    }


@pytest.fixture
def store(tmp_path):
    s = ResultsStore.open(tmp_path / "leaderboard.db")
    yield s
    s.close()


# ---------------------------------------------------------------------------
# add / list / remove


def test_add_list_round_trip_with_meta(store, tmp_path):
    res = hand_result()
    path = tmp_path / "r.json"
    path.write_text(json.dumps(res))
    out = store.add(path, "PSALM", {"llm": "Phi-1.5", "link": "https://arxiv.org/abs/2403.14598"})
    assert out.status == "added"
    assert (out.task, out.benchmark, out.split) == ("refcoco", "refcoco", "val")
    [row] = store.list()
    assert row.model == "PSALM" and row.metrics == res["metrics"]
    assert row.meta == {"llm": "Phi-1.5", "link": "https://arxiv.org/abs/2403.14598"}
    assert row.gt_sha256 == GT_A and row.pred_sha256 == "p" * 64 and row.toolkit_version == "0.1.0"
    assert row.records_sha256 == records_digest(res["records"]) and len(row.records_sha256) == 64
    assert row.result_path == str(path.resolve())
    assert row.params == {"dataset": "refcoco", "split": "val"}
    assert row.source == "measured" and row.n_samples == 10 and row.added_at
    # the records themselves are not stored
    raw = sqlite3.connect(store.path).execute("SELECT * FROM results").fetchone()
    assert "sent_id" not in json.dumps(raw)


def test_persists_across_reopen(tmp_path):
    db = tmp_path / "b.db"
    with ResultsStore.open(db) as s:
        s.add(hand_result(), "m1", {"backbone": "Swin-B"})
    with ResultsStore.open(db, create=False) as s:
        assert [r.model for r in s.list()] == ["m1"]
        assert s.meta("m1") == {"backbone": "Swin-B"}
        assert s.schema_version == SCHEMA_VERSION


def test_benchmark_and_split_defaults(store):
    store.add(hand_result("semantic", gt=GT_A, protocol="detectron2"), "m")
    store.add(hand_result("ov-semantic", gt=GT_A, benchmark="ade20k-150"), "m")
    keys = {(r.task, r.benchmark, r.split) for r in store.list()}
    assert keys == {("semantic", "default", "default"), ("ov-semantic", "ade20k-150", "default")}


def test_idempotent_re_add(store, tmp_path):
    res = hand_result()
    path = tmp_path / "r.json"
    path.write_text(json.dumps(res))
    assert store.add(path, "m").status == "added"
    before = store.list()
    out = store.add(path, "m")
    assert out.status == "unchanged"
    assert store.add(copy.deepcopy(res), "m").status == "unchanged"  # the dict form too
    assert store.list() == before  # not even the date moved


def test_same_key_other_numbers_replaces(store):
    store.add(hand_result(value=50.0), "m")
    out = store.add(hand_result(value=60.0, pred="q" * 64), "m")
    assert out.status == "replaced"
    assert out.previous_metrics["cIoU"] == 50.0
    [row] = store.list()
    assert row.metrics["cIoU"] == 60.0 and row.pred_sha256 == "q" * 64


def test_meta_update_on_unchanged_result(store):
    store.add(hand_result(), "m", {"llm": "a"})
    out = store.add(hand_result(), "m", {"llm": "b", "params": "1.3B"})
    assert out.status == "unchanged" and out.meta_changed
    assert store.meta("m") == {"llm": "b", "params": "1.3B"}


def test_gt_hash_conflict_refused_and_nothing_stored(store):
    store.add(hand_result(gt=GT_A), "m1")
    with pytest.raises(InputError) as err:
        store.add(hand_result(gt=GT_B), "m2", {"llm": "x"})
    msg = str(err.value)
    assert GT_A in msg and GT_B in msg and "refcoco/refcoco/val" in msg and "\n" not in msg
    assert [r.model for r in store.list()] == ["m1"]
    assert store.meta("m2") == {}  # the transaction rolled back the meta too
    # another split of the same benchmark is a different table
    store.add(hand_result(gt=GT_B, dataset="refcoco", split="testA"), "m2")
    assert len(store.list()) == 2


def test_add_many_is_all_or_nothing(store):
    store.add(hand_result(gt=GT_A), "other")
    good = hand_result("gref", gt=GT_B, split="val")
    bad = hand_result(gt=GT_B)  # conflicts with "other" on refcoco/val
    with pytest.raises(InputError):
        store.add_many([good, bad], "m")
    assert [r.model for r in store.list()] == ["other"]


def test_unknown_task_refused(store):
    res = hand_result()
    res["task"] = "depth"
    with pytest.raises(InputError, match="unknown task 'depth'"):
        store.add(res, "m")
    assert store.list() == []


def test_missing_metric_refused(store, tmp_path):
    res = hand_result()
    del res["metrics"]["Pr@0.9"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(res))
    with pytest.raises(InputError) as err:
        store.add(path, "m")
    assert "Pr@0.9" in str(err.value) and str(path) in str(err.value)
    assert store.list() == []


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda r: r["metrics"].update(cIoU="high"), "cIoU"),
        (lambda r: r.pop("provenance"), "provenance"),
        (lambda r: r["provenance"].update(gt_sha256=""), "gt_sha256"),
        (lambda r: r.pop("metrics"), "metrics"),
    ],
)
def test_malformed_results_refused(store, mutate, fragment):
    res = hand_result()
    mutate(res)
    with pytest.raises(InputError, match=fragment):
        store.add(res, "m")


def test_bad_json_file_and_model_name(store, tmp_path):
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputError, match="bad.json"):
        store.add(tmp_path / "bad.json", "m")
    with pytest.raises(InputError, match="model"):
        store.add(hand_result(), "  ")


def test_null_metric_kept(store):
    res = hand_result()
    res["metrics"]["gIoU"] = None
    store.add(res, "m")
    assert store.list()[0].metrics["gIoU"] is None


def test_remove(store):
    store.add(hand_result(), "m1", {"llm": "x"})
    store.add(hand_result("gref", split="val"), "m1")
    store.add(hand_result(), "m2")
    assert store.remove("m1", task="gref") == 1
    assert store.meta("m1") == {"llm": "x"}  # still has a row
    assert store.remove("m1") == 1
    assert store.meta("m1") == {}
    assert store.remove("nobody") == 0
    assert [r.model for r in store.list()] == ["m2"]


def test_list_filter_and_order(store):
    store.add(hand_result(), "zeta")
    store.add(hand_result(), "alpha")
    store.add(hand_result("gref", split="val"), "alpha")
    assert [(r.task, r.model) for r in store.list()] == [("gref", "alpha"), ("refcoco", "alpha"), ("refcoco", "zeta")]
    assert [r.model for r in store.list(task="refcoco")] == ["alpha", "zeta"]


def test_parse_meta():
    assert parse_meta(["llm=Phi-1.5", "link=https://x.org/a=b"]) == {"llm": "Phi-1.5", "link": "https://x.org/a=b"}
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_meta(["oops"])


# ---------------------------------------------------------------------------
# schema


def test_newer_schema_refused(tmp_path):
    db = tmp_path / "new.db"
    ResultsStore.open(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(InputError) as err:
        ResultsStore.open(db)
    assert "newer" in str(err.value) and str(db) in str(err.value)


def test_foreign_or_corrupt_database_refused(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="not a leaderboard database"):
        ResultsStore.open(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a leaderboard database"):
        ResultsStore.open(junk)
    with pytest.raises(InputError, match="no leaderboard database"):
        ResultsStore.open(tmp_path / "missing.db", create=False)


def test_migration_from_empty_sets_version(tmp_path):
    db = tmp_path / "x.db"
    ResultsStore.open(db).close()
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


# ---------------------------------------------------------------------------
# export


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trip(store, tmp_path, fmt):
    store.add(hand_result(value=50.0), "m1", {"llm": "Phi-1.5"})
    store.add(hand_result(value=40.0), "m2")
    store.add(hand_result("vos", value=70.0, split="val"), "m1")
    vos = hand_result("vos", split="val")
    vos["metrics"]["J-decay"] = None
    store.add(vos, "m2")
    path = tmp_path / f"board.{fmt}"
    assert store.export(path) == 4
    df = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    assert len(df) == 4
    assert list(df[["task", "model"]].itertuples(index=False, name=None)) == [
        ("refcoco", "m1"), ("refcoco", "m2"), ("vos", "m1"), ("vos", "m2")
    ]
    ref = df[df.task == "refcoco"].set_index("model")
    assert ref.loc["m1", "cIoU"] == pytest.approx(50.0) and ref.loc["m2", "cIoU"] == pytest.approx(40.0)
    assert ref.loc["m1", "meta.llm"] == "Phi-1.5" and pd.isna(ref.loc["m2", "meta.llm"])
    assert pd.isna(ref.loc["m1", "J&F"])  # other task's metric
    vos_rows = df[df.task == "vos"].set_index("model")
    assert pd.isna(vos_rows.loc["m2", "J-decay"])
    assert set(df["gt_sha256"]) == {GT_A}
    assert json.loads(df["params"].iloc[0]) == {"dataset": "refcoco", "split": "val"}
    for name in _metric_names("refcoco") + _metric_names("vos"):
        assert name in df.columns


def test_export_empty_and_bad_format(store, tmp_path):
    assert store.export(tmp_path / "e.csv") == 0
    assert "model" in pd.read_csv(tmp_path / "e.csv").columns
    with pytest.raises(InputError, match="export format"):
        store.export(tmp_path / "e.xlsx")
    assert store.export(tmp_path / "e.out", format="parquet") == 0


# ---------------------------------------------------------------------------
# real results from the fixtures


def _real(task: str, index: int = 0) -> dict:
    from psalm_bench import evaluate

    case = fixture_cases(task)[index]
    exp = expected(case)
    result = evaluate(task, case / exp["gt"], case / exp["pred"], **fixture_options(case))
    return result.to_dict(case / exp["gt"], case / exp["pred"])


@needs_fixtures
@pytest.mark.parametrize("task", ["semantic", "refcoco", "gref", "interactive", "vos", "instance", "panoptic"])
def test_real_results(task, tmp_path):
    from psalm_bench.jsonio import dump_json

    res = _real(task)
    path = tmp_path / "result.json"
    dump_json(res, path)
    with ResultsStore.open(tmp_path / "lb.db") as s:
        assert s.add(path, "PSALM", {"llm": "Phi-1.5"}).status == "added"
        assert s.add(res, "PSALM").status == "unchanged"  # in-memory dict (numpy records) digests the same
        [row] = s.list()
        assert row.task == task
        assert row.gt_sha256 == res["provenance"]["gt_sha256"]
        for name in _metric_names(task):
            want = res["metrics"][name]
            assert (row.metrics[name] is None) if want is None else row.metrics[name] == pytest.approx(want, abs=1e-12)
        assert (row.records_sha256 is None) == ("records" not in res)
        s.export(tmp_path / "b.parquet")
        df = pd.read_parquet(tmp_path / "b.parquet")
        assert df.loc[0, "model"] == "PSALM"


@needs_fixtures
def test_real_refcoco_two_cases_two_tables(tmp_path):
    a, b = _real("refcoco", 0), _real("refcoco", 1)
    with ResultsStore.open(tmp_path / "lb.db") as s:
        s.add(a, "m")
        s.add(b, "m")
        assert {(r.benchmark, r.split) for r in s.list()} == {("refcoco", "val"), ("refcocog", "test")}
        # the same benchmark/split on other ground truth is refused
        fake = copy.deepcopy(b)
        fake["provenance"]["params"].update(dataset="refcoco", split="val")
        with pytest.raises(InputError, match="ground truth differs"):
            s.add(fake, "other")


# ---------------------------------------------------------------------------
# timing


def test_timing_500_adds(tmp_path, capsys):
    tasks = list(TASKS)[:10]
    results = []
    for task in tasks:
        params = {"split": "val"}
        results.append(hand_result(task, gt=GT_A, **params))
    start = time.perf_counter()
    with ResultsStore.open(tmp_path / "t.db") as s:
        for m in range(50):
            for res in results:
                s.add(res, f"model{m:02d}", {"llm": "x"})
        rows = s.list()
        s.export(tmp_path / "t.parquet")
    elapsed = time.perf_counter() - start
    assert len(rows) == 500
    with capsys.disabled():
        print(f"\n[store timing] 500 adds (50 models x 10 tasks, one transaction each) + list + parquet export: {elapsed:.2f} s")
    assert elapsed < 60


def test_render_board(store):
    from psalm_bench.leaderboard.store import render_board

    assert render_board([]) == "no results on the board"
    store.add(hand_result(value=50.0), "PSALM")
    store.add(hand_result(value=40.0), "LISA")
    text = render_board(store.list())
    assert text.startswith("refcoco / refcoco / val")
    assert "LISA" in text and "PSALM" in text and "Pr@0.9" in text and "50.0" in text


# ---------------------------------------------------------------------------
# boards are (task, benchmark, version, split): the world never shares one with real data

WORLD = "world-v1.0.0-small-seed0"


def test_world_and_official_results_are_different_boards(store):
    from psalm_bench.leaderboard.published import load_published

    load_published(store, task="refcoco")
    real = store.add(hand_result(gt=GT_A), "PSALM")
    world = store.add(hand_result(gt=GT_B, dataset="refcoco", split="val", world=WORLD), "PSALM")
    # other ground truth, yet no conflict: the world's refcoco/val is not RefCOCO's
    assert (real.status, real.version) == ("added", "official") and (world.status, world.version) == ("added", WORLD)
    assert "(world-v1.0.0-small-seed0)" in world.describe()
    boards = {r.board for r in store.list(model="PSALM", task="refcoco", split="val", benchmark="refcoco")}
    assert boards == {("refcoco", "refcoco", "official", "val"), ("refcoco", "refcoco", WORLD, "val")}
    assert {r.source for r in store.list(version="official", model="PSALM", benchmark="refcoco", split="val")} == {"measured", "published"}
    assert [r.source for r in store.list(version=WORLD)] == ["measured"]
    # the GT guard works within each board
    with pytest.raises(InputError, match=r"refcoco/refcoco \(world-v1.0.0-small-seed0\)/val: ground truth differs"):
        store.add(hand_result(gt=GT_A, world=WORLD, dataset="refcoco", split="val"), "other")
    with pytest.raises(InputError, match="refcoco/refcoco/val: ground truth differs"):
        store.add(hand_result(gt=GT_B), "other")
    text = render_board(store.list(task="refcoco", benchmark="refcoco", split="val"))
    assert "refcoco / refcoco / val" in text and "refcoco / refcoco (world-v1.0.0-small-seed0) / val" in text
    assert store.remove("PSALM", version=WORLD) == 1 and store.list(version=WORLD) == []
    with pytest.raises(InputError, match="params.world must name the world"):
        store.add(hand_result(world={"seed": 0}), "m")


def test_ov_on_the_world_and_semantic_add_together(store):
    """ov-semantic is recorded as itself, so it no longer collides with semantic (issue: 'two results for semantic/default/default')."""
    outcomes = store.add_many([hand_result("semantic", gt=GT_A, world=WORLD), hand_result("ov-semantic", gt=GT_B, world=WORLD, benchmark="ov")], "m")
    assert {(o.task, o.benchmark, o.version) for o in outcomes} == {("semantic", "default", WORLD), ("ov-semantic", "ov", WORLD)}


def _v2_database(path) -> None:
    """A database as schema version 2 wrote it: measured, reported and published rows and a registered board."""
    from psalm_bench.leaderboard.store import MIGRATIONS, _statements

    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        for statement in _statements(script):
            conn.execute(statement)
    insert = ("INSERT INTO results (model, task, benchmark, split, source, metrics, n_samples, records_sha256, result_path, toolkit_version, "
              "gt_sha256, pred_sha256, params, citation, added_at) VALUES (?, 'refcoco', 'refcoco', 'val', ?, '{\"cIoU\":50.0}', 3, NULL, NULL, "
              "'0.1.0', ?, 'p', '{}', ?, '2025-01-01T00:00:00+00:00')")
    conn.execute(insert, ("world-model", "measured", GT_A, None))
    conn.execute(insert, ("paper-model", "published", None, '{"title":"t","collection":"psalm_tables"}'))
    conn.execute("INSERT INTO model_meta VALUES ('world-model', 'llm', 'x')")
    conn.execute("INSERT INTO benchmarks VALUES ('refcoco', 'refcoco', 'val', '/gt', ?, '{}', '2025-01-01')", (GT_A,))
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()


def test_version_2_database_migrates(tmp_path):
    db = tmp_path / "v2.db"
    _v2_database(db)
    with ResultsStore.open(db) as s:
        assert s.schema_version == SCHEMA_VERSION == 3
        rows = {r.model: r for r in s.list()}
        # a version-2 row may have been scored on the world: it is kept apart from the official board
        assert rows["world-model"].board == ("refcoco", "refcoco", "unrecorded", "val") and rows["world-model"].meta == {"llm": "x"}
        assert rows["paper-model"].board == ("refcoco", "refcoco", "official", "val") and rows["paper-model"].citation["title"] == "t"
        assert [(b.version, b.gt_sha256) for b in s.benchmarks()] == [("unrecorded", GT_A)]
        # a new result on the official data joins the published row's board, whatever the old rows' GT
        assert s.add(hand_result(gt=GT_B), "new").status == "added"
        assert {r.model for r in s.list(version="official")} == {"paper-model", "new"}
        # re-adding the old result puts it on the official board too, beside its unrecorded copy
        assert s.add(hand_result(gt=GT_B), "world-model").version == "official"
        with pytest.raises(InputError, match="ground truth differs"):
            s.add(hand_result(gt=GT_A), "another")
    with ResultsStore.open(db) as again:  # opening a migrated database changes nothing
        assert again.schema_version == 3 and len(again.list()) == 4
    with pytest.raises(sqlite3.IntegrityError):  # one row per key and source, version included
        conn = sqlite3.connect(db)
        conn.execute("INSERT INTO results SELECT * FROM results WHERE model = 'new'")


def test_world_results_record_their_task_and_world_through_the_cli(tiny_world, tmp_path):
    """eval on the world: ov-semantic is recorded as ov-semantic on the world's own board, and adds beside semantic."""
    from conftest import run_cli

    sem = tmp_path / "sem.json"
    ov = tmp_path / "ov.json"
    run = run_cli("eval", "--task", "semantic", "--world", tiny_world, "--pred", tiny_world / "coco" / "semantic_val2017", "--json", sem)
    assert run.returncode == 0, run.stderr
    run = run_cli("eval", "--task", "ov-semantic", "--world", tiny_world, "--pred", tiny_world / "ov" / "semantic", "--json", ov)
    assert run.returncode == 0, run.stderr
    doc = json.loads(ov.read_text())
    world = json.loads((tiny_world / "world.json").read_text())
    assert doc["task"] == "ov-semantic" and doc["metrics"]["mIoU"] == 100.0
    assert doc["provenance"]["params"]["world"] == f"world-v{world['version']}-tiny-seed{world['seed']}"
    db = tmp_path / "lb.db"
    added = run_cli("leaderboard", "add", sem, ov, "--model", "perfect", "--db", db)
    assert added.returncode == 0, added.stderr
    assert "perfect on ov-semantic/ov (world-v" in added.stdout and "perfect on semantic/default (world-v" in added.stdout
    with ResultsStore.open(db) as s:
        assert {r.version for r in s.list()} == {doc["provenance"]["params"]["world"]}


def test_stamp_world_names_the_task_and_the_world(tiny_world):
    """reproduce stamps each world result as eval does: ov-panoptic has no registry task and stays panoptic, on the world's ov benchmark."""
    from psalm_bench.reproduce import stamp_world
    from psalm_bench.results import EvalResult

    world = json.loads((tiny_world / "world.json").read_text())
    name = f"world-v{world['version']}-tiny-seed{world['seed']}"
    for key, evaluator, task, benchmark in (("ov-instance", "instance", "ov-instance", "ov"), ("ov-panoptic", "panoptic", "panoptic", "ov"),
                                             ("refcoco", "refcoco", "refcoco", None)):
        params = {"dataset": "refcoco", "split": "val"} if key == "refcoco" else {}
        result = stamp_world(EvalResult(evaluator, {"x": 1.0}, 1, params=params), tiny_world, key)
        assert (result.task, result.params.get("benchmark"), result.params["world"]) == (task, benchmark, name)


def test_the_site_feed_keeps_world_and_real_boards_apart(store):
    from psalm_bench.leaderboard import site
    from psalm_bench.leaderboard.published import load_published

    load_published(store, task="refcoco")
    store.add(hand_result(gt=GT_B, dataset="refcoco", split="testA", world=WORLD), "PSALM (bundled)")
    boards = {b.label: b for b in site.build_boards(store.list())["refcoco"]}
    real, world = boards["refcoco / testA"], boards[f"refcoco ({WORLD}) / testA"]
    assert "PSALM (bundled)" not in {r.model for r in real.rows} and {r.model for r in world.rows} == {"PSALM (bundled)"}
    assert real.leader().model == "PSALM" and real.anchor != world.anchor
    row = world.rows[0]
    assert site.row_id(row)[-1] == WORLD and len(site.row_id(real.rows[0])) == 5  # official pages keep their names
    feed = json.loads(site.board_json(store.list()))
    assert {(r["model"], r["version"]) for r in feed["results"] if r["split"] == "testA" and r["model"] in ("PSALM", "PSALM (bundled)")} == {
        ("PSALM", "official"), ("PSALM (bundled)", WORLD)}
