"""Result JSON: the one reader (psalm_bench.formats.result_json) that the report,
the store, `leaderboard set-gt` and the site use; each malformed shape is one
line naming the file."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.formats import result_json
from psalm_bench.formats.result_json import Provenance, ResultFile, read_result


def _result(gt_sha: str = "a" * 64, n: int = 12) -> dict:
    """A refcoco result whose metrics its records reproduce (as `eval --json` writes it)."""
    rng = np.random.default_rng(3)
    u = rng.integers(100, 500, n)
    i = (rng.uniform(0.2, 1.0, n) * u).astype(int)
    recs = [{"sent_id": k, "ref_id": k, "I": int(a), "U": int(b), "IoU": a / b, "gt_no_target": None, "pred_no_target": None}
            for k, (a, b) in enumerate(zip(i, u), 1)]
    iou = np.array([r["IoU"] for r in recs])
    metrics = {"cIoU": 100.0 * i.sum() / u.sum(), "gIoU": 100.0 * iou.mean()}
    metrics.update({f"Pr@{k}": 100.0 * float(np.mean(iou >= k)) for k in (0.5, 0.6, 0.7, 0.8, 0.9)})
    return {"task": "refcoco", "metrics": {k: float(v) for k, v in metrics.items()},
            "per_class": {"person": {"IoU": 51.5, "n": 3}}, "n_samples": n, "warnings": ["1 sentence without a prediction"],
            "records": recs,
            "provenance": {"psalm_bench": "0.1.0", "gt_sha256": gt_sha, "pred_sha256": "b" * 64,
                           "params": {"protocol": "lisa", "dataset": "refcoco", "split": "val"},
                           "inputs": {"gt": ["/gt"], "pred": ["/pred"]}}}


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_a_good_file_reads_into_the_dataclass(tmp_path):
    data = _result()
    path = _write(tmp_path / "r.json", data)
    res = read_result(path)
    assert isinstance(res, ResultFile)
    assert res.task == "refcoco" and res.metrics == data["metrics"] and all(isinstance(v, float) for v in res.metrics.values())
    assert res.n_samples == 12 and res.warnings == ["1 sentence without a prediction"]
    assert res.provenance == Provenance("0.1.0", "a" * 64, "b" * 64, data["provenance"]["params"], {"gt": ["/gt"], "pred": ["/pred"]})
    assert res.params["protocol"] == "lisa"
    assert (res.breakdown_name, res.breakdown) == ("per_class", {"person": {"IoU": 51.5, "n": 3}})
    assert res.records == data["records"] and res.curves is None
    assert (res.source, res.path) == (str(path), path)
    # the same dict in memory reads into the same values, named by its role
    mem = read_result(data, role="baseline")
    assert mem.source == "<baseline>" and mem.path is None
    assert {**vars(mem), "source": "", "path": None} == {**vars(res), "source": "", "path": None}


def test_optional_parts_may_be_absent(tmp_path):
    res = read_result({"task": "x", "metrics": {"a": None, "b": 3}})
    assert res.metrics == {"a": None, "b": 3.0} and res.n_samples is None and res.warnings == []
    assert res.provenance is None and res.params == {} and res.breakdown_name is None and res.records is None
    with pytest.raises(InputError, match="no \"provenance\""):
        read_result({"task": "x", "metrics": {}}, need_provenance=True)


def _mutations() -> list[tuple[str, object, str]]:
    """(what, mutate(data) or replacement text, fragment of the one-line message)."""
    def m(f):
        def apply(d):
            f(d)
            return d
        return apply

    return [
        ("not json", "{nope", "not valid JSON"),
        ("a list", "[1, 2]", "expected a JSON object"),
        ("no task", m(lambda d: d.pop("task")), "no \"task\""),
        ("task not a string", m(lambda d: d.update(task=3)), "no \"task\""),
        ("no metrics", m(lambda d: d.pop("metrics")), "no \"metrics\" object"),
        ("metrics a list", m(lambda d: d.update(metrics=[1])), "no \"metrics\" object"),
        ("metric a string", m(lambda d: d["metrics"].update(cIoU="high")), "metrics: cIoU: must be a number or null, got 'high'"),
        ("metric a bool", m(lambda d: d["metrics"].update(cIoU=True)), "metrics: cIoU: must be a number or null"),
        ("metric NaN", "NaN", "metric cIoU is nan; a metric that is NaN is not a measurement"),
        ("metric infinite", "Infinity", "metric cIoU is inf; +infinity is not a measurement"),
        ("n_samples a float", m(lambda d: d.update(n_samples=1.5)), "n_samples must be a count"),
        ("n_samples negative", m(lambda d: d.update(n_samples=-1)), "n_samples must be a count"),
        ("warnings a string", m(lambda d: d.update(warnings="oops")), "warnings must be a list of strings"),
        ("warnings hold a number", m(lambda d: d.update(warnings=[1])), "warnings must be a list of strings"),
        ("provenance a list", m(lambda d: d.update(provenance=[])), "provenance must be an object"),
        ("gt_sha256 a number", m(lambda d: d["provenance"].update(gt_sha256=5)), "provenance: gt_sha256 must be a string"),
        ("params a list", m(lambda d: d["provenance"].update(params=[1])), "provenance: params must be an object"),
        ("inputs a string", m(lambda d: d["provenance"].update(inputs="x")), "provenance: inputs must be an object"),
        ("two breakdowns", m(lambda d: d.update(per_prompt={"point": {}})), "more than one breakdown table (per_class, per_prompt)"),
        ("breakdown rows not objects", m(lambda d: d.update(per_class={"person": 3})), "per_class must be an object of objects, one per class"),
    ]


@pytest.mark.parametrize("what, mutate, fragment", _mutations(), ids=[w for w, _, _ in _mutations()])
def test_each_malformed_shape_is_one_line_naming_the_file(tmp_path, what, mutate, fragment):
    path = tmp_path / "bad.json"
    if callable(mutate):
        _write(path, mutate(copy.deepcopy(_result())))
    elif mutate in ("NaN", "Infinity"):  # Python's json writes these; the reader refuses them by name
        path.write_text(json.dumps(_result()).replace('"cIoU": ', f'"cIoU": {mutate}, "was": ', 1))
    else:
        path.write_text(str(mutate))
    with pytest.raises(InputError) as err:
        read_result(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: "), msg
    assert fragment in msg, msg


def test_require_names_the_file_for_an_unknown_task_and_missing_metrics(tmp_path):
    def require(task: str) -> list[str]:
        if task != "refcoco":
            raise InputError(f"unknown task {task!r}")
        return ["cIoU", "Pr@0.9", "extra"]

    data = _result()
    del data["metrics"]["Pr@0.9"]
    path = _write(tmp_path / "r.json", data)
    with pytest.raises(InputError, match=r"r\.json: missing metric\(s\) of task refcoco: Pr@0\.9, extra$"):
        read_result(path, require=require)
    data["task"] = "depth"
    with pytest.raises(InputError, match=r"r\.json: unknown task 'depth'$"):
        read_result(_write(path, data), require=require)


def test_a_path_that_is_neither_dict_nor_path_is_a_type_error():
    with pytest.raises(TypeError):
        read_result(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# the four call paths read through it and get the same dataclass


def test_report_store_set_gt_and_site_read_the_same_dataclass(tmp_path, monkeypatch):
    from psalm_bench.leaderboard import report, submit
    from psalm_bench.leaderboard.site_data import load_breakdown
    from psalm_bench.leaderboard.store import ResultsStore

    gt = tmp_path / "refer"
    gt.mkdir()
    (gt / "instances.json").write_text("{}")
    sha = submit.digest(submit.gt_inputs("refcoco", gt, {}))
    path = _write(tmp_path / "r.json", _result(gt_sha=sha))

    seen: list[tuple[str, ResultFile]] = []
    real = result_json.read_result

    def spy(source, **kw):
        res = real(source, **kw)
        seen.append((kw.get("role", "result"), res))
        return res

    monkeypatch.setattr(result_json, "read_result", spy)  # store, set-gt and the site import it when they read
    monkeypatch.setattr(report, "read_result", spy)  # the report imports it with the module

    report.compare_results(path, path, resamples=20)
    with ResultsStore.open(tmp_path / "lb.db") as store:
        store.add(path, "M")
        submit.register_gt(store, gt, result=path)
        [row] = store.list()
    bd = load_breakdown(row)
    assert bd.problem is None and (bd.kind, bd.rows) == ("per_class", {"person": {"IoU": 51.5, "n": 3}})
    assert [role for role, _ in seen] == ["baseline", "current", "result", "result", "result"]
    first = seen[0][1]
    assert first.path == path and first.source == str(path)
    assert all(res == first for _, res in seen), [res for _, res in seen if res != first]


def test_the_store_keeps_its_range_check_and_the_report_its_task_check(tmp_path):
    from psalm_bench.leaderboard.report import compare_results
    from psalm_bench.leaderboard.store import ResultsStore

    data = _result()
    data["metrics"]["cIoU"] = 150.0
    path = _write(tmp_path / "r.json", data)
    with ResultsStore.open(tmp_path / "lb.db") as store, pytest.raises(InputError, match=r"r\.json: metrics: cIoU: is 150, outside"):
        store.add(path, "M")
    data = _result()
    data["task"] = "telepathy"
    with pytest.raises(InputError, match=r"^<current>: unknown task 'telepathy'$"):
        compare_results(_result(), data)
    assert math.isfinite(read_result(_result()).metrics["cIoU"])
