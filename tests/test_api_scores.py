"""Infinite detection scores, as pycocotools 2.0.11 scores them.

`json.load` reads a score written ``1e999`` as +inf (``-1e999`` as -inf) and
COCOeval only ranks scores (``np.argsort(-score, kind='mergesort')``), so +inf
comes first and ties keep file order. psalm-bench gives the same numbers from a
file, from in-memory records with ``float('inf')``, and from the per-image
records `report` bootstraps over (JSON has no inf: they keep the order)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import FIXTURES, needs_fixtures, run_cli
from test_shards import invoke

from psalm_bench.api import evaluate

pytestmark = needs_fixtures

CASE = FIXTURES / "instance" / "basic"
PLUS, MINUS = (2, 7, 20), (5, 13)  # detections given +inf (three: a tie) and -inf

# pycocotools 2.0.11 (COCO.loadRes of json.load, COCOeval segm, stats x 100) on _write_case().
OFFICIAL = {"AP": 49.28376102916413, "AP50": 82.9090051862329, "AP75": 44.78076379066477, "APs": 23.333333333333332,
            "APm": 25.561056105610565, "APl": 63.76732673267327, "AR1": 40.23809523809524, "AR10": 50.23809523809525,
            "AR100": 50.23809523809525, "ARs": 23.333333333333332, "ARm": 26.666666666666668, "ARl": 66.00000000000001}


def _write_case(path: Path) -> Path:
    parts = []
    for i, det in enumerate(json.loads((CASE / "pred.json").read_text())):
        text = json.dumps(det)
        if i in PLUS or i in MINUS:
            text = re.sub(r'"score": [0-9.e-]+', f'"score": {"" if i in PLUS else "-"}1e999', text)
        parts.append(text)
    path.write_text("[" + ",".join(parts) + "]")
    assert path.read_text().count("1e999") == len(PLUS) + len(MINUS)
    return path


def _check(metrics: dict) -> None:
    for name, value in OFFICIAL.items():
        assert metrics[name] == pytest.approx(value, abs=1e-6), name


def test_a_1e999_score_ranks_first_as_in_pycocotools(tmp_path: Path) -> None:
    pred = _write_case(tmp_path / "pred.json")
    invoke("eval", "--task", "instance", "--gt", CASE / "gt.json", "--pred", pred, "--json", tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    _check(doc["metrics"])
    plain = json.loads((CASE / "expected.json").read_text())["metrics"]
    assert doc["metrics"]["AP50"] != pytest.approx(plain["AP50"])  # the ranks changed the numbers


def test_in_memory_infinite_scores_are_scored_as_the_file(tmp_path: Path) -> None:
    records = json.loads((CASE / "pred.json").read_text())
    for i in PLUS:
        records[i]["score"] = float("inf")
    for i in MINUS:
        records[i]["score"] = float("-inf")
    _check(evaluate("instance", CASE / "gt.json", records, progress=False).metrics)
    records[3]["score"] = float("nan")  # NaN stays refused, in memory as in a file
    with pytest.raises(Exception, match="NaN|score"):
        evaluate("instance", CASE / "gt.json", records, progress=False)


def test_records_keep_the_rank_of_infinite_scores(tmp_path: Path) -> None:
    """The records reproduce the file's AP (null scores would not) and report reads them."""
    pred = _write_case(tmp_path / "pred.json")
    out = tmp_path / "rec.json"
    invoke("eval", "--task", "instance", "--gt", CASE / "gt.json", "--pred", pred, "--records", "--json", out)
    doc = json.loads(out.read_text())
    _check(doc["metrics"])
    scores = doc["records"]["dets"]["score"]
    assert None not in scores and max(scores) > 0.89751 and min(scores) < 0.20094
    base = tmp_path / "base.json"
    invoke("eval", "--task", "instance", "--gt", CASE / "gt.json", "--pred", CASE / "pred.json", "--records", "--json", base)
    run = run_cli("report", "--baseline", base, "--current", out, "--resamples", "50", "--fail-on", "never")
    assert run.returncode == 0, run.stderr
    assert "AP50" in run.stdout


def test_finite_scores_keep_order_and_ties() -> None:
    import numpy as np

    from psalm_bench.evaluators.instance_state import finite_scores

    for score in ([0.5, np.inf, 0.2, -np.inf, np.inf, 0.5], [np.inf, -np.inf], [np.finfo(np.float64).max, np.inf, 0.0]):
        score = np.asarray(score)
        fixed = finite_scores(score)
        assert np.isfinite(fixed).all()
        assert (np.argsort(-fixed, kind="mergesort") == np.argsort(-score, kind="mergesort")).all()
        assert ((fixed[:, None] == fixed[None, :]) == (score[:, None] == score[None, :])).all()
    same = np.asarray([0.25, 0.5])
    assert finite_scores(same) is not None and (finite_scores(same) == same).all()
