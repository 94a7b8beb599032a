"""browse and the site's sample pages read a result through formats/result_json.read_result:
the same checks and the same one-line errors as report, store and set-gt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import assert_one_line_error, run_cli
from psalm_bench.errors import InputError
from psalm_bench.formats.result_json import read_result
from psalm_bench.leaderboard.browse import browse
from psalm_bench.leaderboard.browse_site import samples_for_row
from psalm_bench.leaderboard.store import ResultsStore
from psalm_bench.tasks import get_task


def _result() -> dict:
    metrics = {m: 50.0 for row in get_task("interactive").table_rows for m in row}
    return {"task": "interactive", "metrics": metrics, "n_samples": 1, "warnings": [],
            "per_prompt": {"point": {"mIoU": 50.0, "cIoU": 40.0}},
            "records": [{"image_id": 1, "ann_id": 7, "prompt": "point", "I": 1, "U": 2, "IoU": 0.5}],
            "provenance": {"psalm_bench": "0.1.0", "gt_sha256": "a" * 64, "pred_sha256": "b" * 64, "params": {},
                           "inputs": {"gt": ["gt.json"], "pred": ["pred.jsonl"]}}}


BAD = [
    ("metrics a list", lambda d: d.update(metrics=[1]), 'no "metrics" object'),
    ("metric a string", lambda d: d["metrics"].update(point_mIoU="high"), "must be a number or null"),
    ("warnings not strings", lambda d: d.update(warnings=[1]), "warnings must be a list of strings"),
    ("provenance a string", lambda d: d.update(provenance="x"), "provenance must be an object"),
    ("two breakdowns", lambda d: d.update(per_class={"a": {}}), "more than one breakdown"),
    ("n_samples negative", lambda d: d.update(n_samples=-1), "n_samples must be a count"),
]


@pytest.mark.parametrize("name, mutate, fragment", BAD, ids=[b[0] for b in BAD])
def test_browse_refuses_what_the_one_reader_refuses_with_its_line(tmp_path, name, mutate, fragment):
    data = _result()
    mutate(data)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as reader:
        read_result(path)
    with pytest.raises(InputError) as browsed:
        browse(path, tmp_path, tmp_path, tmp_path / "o")
    assert str(browsed.value) == str(reader.value)
    assert fragment in str(browsed.value) and str(path) in str(browsed.value)
    assert not (tmp_path / "o").exists()


def test_browse_cli_prints_the_readers_one_line(tmp_path):
    data = _result()
    data["metrics"]["point_mIoU"] = "high"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert_one_line_error(run_cli("browse", path, "--out", tmp_path / "o"), "bad.json", "point_mIoU", "must be a number or null")


def test_site_sample_pages_say_the_readers_problem(tmp_path):
    """A result file that no longer reads as a result: the site's sample link says why, in the reader's words."""
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_result()))
    store = ResultsStore.open(tmp_path / "board.db")
    try:
        store.add(path, "M")
        (row,) = store.list()
    finally:
        store.close()
    data = _result()
    data["provenance"] = "x"
    path.write_text(json.dumps(data))
    link = samples_for_row(row, tmp_path / "site", "m", ("../index.html", "back"))
    assert link.href is None
    assert link.text == f"No samples to show: {path}: provenance must be an object"
    assert not (tmp_path / "site" / "m").exists()


def test_to_dict_reads_back_as_the_same_result(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_result()))
    first = read_result(path)
    again = read_result(first.to_dict())
    assert first.to_dict() == _result()
    for field in ("task", "metrics", "n_samples", "warnings", "provenance", "breakdown_name", "breakdown", "records", "curves"):
        assert getattr(again, field) == getattr(first, field), field
    assert first.table("per_prompt") == {"point": {"mIoU": 50.0, "cIoU": 40.0}} and first.table("per_class") is None
    no_prov = read_result({"task": "panoptic", "metrics": {}})
    assert no_prov.to_dict() == {"task": "panoptic", "metrics": {}, "n_samples": None, "warnings": []}


def test_browse_through_the_reader_still_needs_records(tmp_path):
    data = _result()
    del data["records"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="no per-sample 'records'"):
        browse(path, tmp_path, tmp_path, tmp_path / "o")
    assert isinstance(read_result(path).provenance.inputs, dict)
    assert Path(read_result(path).provenance.inputs["gt"][0]).name == "gt.json"
