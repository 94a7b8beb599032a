"""One metric definition per task: each evaluator module's MetricSpec and its
summed-records -> metrics function, the records schema, constants defined once."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, expected, fixture_cases, fixture_options, needs_fixtures
from psalm_bench.evaluators import metric_spec, metric_specs
from psalm_bench.results import RECORDS, record_fields
from psalm_bench.tasks import TASKS

nan = float("nan")


def _same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for name, value in want.items():
        g = float(np.asarray(got[name]).reshape(-1)[0])
        if value is None or (isinstance(value, float) and math.isnan(value)):
            assert math.isnan(g), (name, g)
        else:
            assert g == pytest.approx(value, abs=1e-12), (name, g, value)


# ---------------------------------------------------------------------------
# the specs agree with the registry, the evaluators and the report


def test_every_task_has_one_spec_matching_its_table():
    specs = metric_specs()
    assert set(specs) == set(TASKS)
    for name, spec in specs.items():
        assert spec.task == name
        assert len(set(spec.metrics)) == len(spec.metrics), name
        assert [list(row) for row in spec.rows] == TASKS[name].table_rows, name
        assert set().union(*map(set, spec.rows)) <= set(spec.metrics), name
        assert spec.lower_is_better <= set(spec.metrics) and set(spec.corpus) <= set(spec.metrics), name
        assert spec.unit is None or name in RECORDS, name
    assert metric_spec("no-such-task") is None


def test_lower_is_better_comes_from_the_specs():
    from psalm_bench.leaderboard import report

    assert report.LOWER_IS_BETTER == {"J-decay", "F-decay", "EgoExo_LE", "ExoEgo_LE"}
    assert not metric_spec("vos").higher_is_better("J-decay") and metric_spec("vos").higher_is_better("J&F")


def test_constants_are_defined_once():
    """PROMPTS, PSALM's eps and the Pr@ thresholds each have one definition in the package."""
    sources = [p for d in ("psalm_bench", "evaluators", "generators", "model", "leaderboard") for p in (REPO / d).rglob("*.py")]
    for name in ("PROMPTS", "PSALM_CIOU_EPS", "PSALM_EPS", "PR_THRESHOLDS", "LOWER_IS_BETTER", "TASK_METRICS"):
        pattern = re.compile(rf"^{name}\s*(:[^=]+)?=", re.MULTILINE)
        where = [p.relative_to(REPO).as_posix() for p in sources if pattern.search(p.read_text())]
        assert len(where) <= 1, (name, where)


# ---------------------------------------------------------------------------
# the metric functions, by hand


def test_referring_metrics_by_hand():
    from psalm_bench.evaluators.referring import PSALM_CIOU_EPS, referring_metrics

    sums = [[30.0, 60.0, 1.5, 2, 1, 1, 1, 0]]  # I, U, IoU, then Pr@0.5..0.9 counts
    _same(referring_metrics("refcoco", sums, [3], "lisa"),
          {"cIoU": 50.0, "gIoU": 50.0, "Pr@0.5": 200 / 3, "Pr@0.6": 100 / 3, "Pr@0.7": 100 / 3, "Pr@0.8": 100 / 3, "Pr@0.9": 0.0})
    assert referring_metrics("refcoco", sums, [3], "psalm")["cIoU"][0] == 100.0 * (30.0 / (60.0 + PSALM_CIOU_EPS))
    # gref: TP, FN, TN, FP of the no-target confusion; psalm computes no N-acc / T-acc
    _same(referring_metrics("gref", [[5.0, 10.0, 2.0, 1, 3, 4, 0]], [8], "rela"), {"cIoU": 50.0, "gIoU": 25.0, "N-acc": 25.0, "T-acc": 100.0})
    _same(referring_metrics("gref", [[0.0, 0.0, 0.0, 0, 0, 0, 0]], [0], "psalm"), {"cIoU": nan, "gIoU": nan, "N-acc": nan, "T-acc": nan})


def test_interactive_metrics_by_hand():
    from psalm_bench.evaluators.interactive import GROUPS, interactive_metrics

    rows = {"point": (2, 1.5, 30, 40), "scribble": (0, 0, 0, 0), "box": (1, 0.5, 5, 10), "mask": (1, 0.0, 0, 0), "": (4, 2.0, 35, 50)}
    sums = [[v for g in GROUPS for v in rows[g]]]
    got = interactive_metrics(sums, "all-instances")
    _same({k: got[k] for k in ("point_mIoU", "point_cIoU", "scribble_mIoU", "box_cIoU", "mask_cIoU", "mIoU", "cIoU")},
          {"point_mIoU": 75.0, "point_cIoU": 75.0, "scribble_mIoU": nan, "box_cIoU": 50.0, "mask_cIoU": nan, "mIoU": 50.0, "cIoU": 70.0})
    assert interactive_metrics(sums, "psalm")["mask_cIoU"][0] == 0.0  # sum U + 1e-10: zero, not undefined, once a sample exists


def test_vos_metrics_by_hand():
    from psalm_bench.evaluators.vos import vos_metrics

    got = vos_metrics([[160.0, 180.0, 10.0, 120.0, 100.0, -4.0]], [2])
    _same(got, {"J&F": 70.0, "J": 80.0, "J-recall": 90.0, "J-decay": 5.0, "F": 60.0, "F-recall": 50.0, "F-decay": -2.0})
    assert all(math.isnan(v[0]) for v in vos_metrics([[0.0] * 6], [0]).values())


def test_semantic_metrics_protocols_by_hand():
    from psalm_bench.evaluators.semantic import semantic_metrics

    # 3 classes; class 2 is only predicted: detectron2 leaves it out of mIoU, mmseg counts it as IoU 0
    tp, pos_gt, pos_pred = [6.0, 2.0, 0.0], [8.0, 4.0, 0.0], [7.0, 3.0, 2.0]
    iou0, iou1 = 6 / 9, 2 / 5
    d2 = semantic_metrics([tp + pos_gt + pos_pred], "detectron2")
    _same(d2, {"mIoU": 100 * (iou0 + iou1) / 2, "fwIoU": 100 * (iou0 * 8 / 12 + iou1 * 4 / 12),
               "mACC": 100 * (6 / 8 + 2 / 4) / 2, "pACC": 100 * 8 / 12})
    assert semantic_metrics([tp + pos_gt + pos_pred], "mmseg")["mIoU"][0] == pytest.approx(100 * (iou0 + iou1) / 3)


def test_panoptic_metrics_by_hand():
    from psalm_bench.evaluators.panoptic import panoptic_metrics

    # two things and one unused stuff category: thing A 2 TP (IoU 1.6), 1 FP; thing B 0 TP, 1 FN
    tp, fp, fn, iou = [2.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.6, 0.0, 0.0]
    got = panoptic_metrics([tp + fp + fn + iou], np.array([True, True, False]))
    pq_a, sq_a, rq_a = 1.6 / 2.5, 0.8, 2 / 2.5
    _same(got, {"PQ": 50 * pq_a, "SQ": 50 * sq_a, "RQ": 50 * rq_a, "PQ_th": 50 * pq_a, "SQ_th": 50 * sq_a, "RQ_th": 50 * rq_a,
                "PQ_st": nan, "SQ_st": nan, "RQ_st": nan})


def test_muse_and_gcg_metrics_by_hand():
    from psalm_bench.evaluators.multi_target import PIXELLM_CIOU_EPS, PIXELLM_COUNT_EPS, gcg_metrics, muse_metrics

    sums = [[20.0, 40.0, 3.0, 6.0, 2.0, 1.25]]  # I, U, iou_sum, max_num, scored, IoU
    _same(muse_metrics(sums, [3], "per-image"), {"gIoU": 62.5, "cIoU": 50.0})
    pix = muse_metrics(sums, [3], "pixellm")
    assert pix["gIoU"][0] == 100.0 * 3.0 / (6.0 + PIXELLM_COUNT_EPS) and pix["cIoU"][0] == 100.0 * 20.0 / (40.0 + PIXELLM_CIOU_EPS)
    # two images, one GT each, both detections matched at every IoU threshold (10 bits set)
    got = gcg_metrics([[1.5, 1.0, 2.0]], [2], True, [[1023], [1023]], [1, 1], np.ones((1, 2)))
    _same(got, {"mIoU": 75.0, "Recall": 50.0, "AP50": 100.0, "AP": 100.0})
    assert math.isnan(gcg_metrics([[1.5, 0.0, 2.0]], [2], False, [[1023], [1023]], [1, 1], np.ones((1, 2)))["Recall"][0])


# ---------------------------------------------------------------------------
# real results: metric names and records as the specs and the schema say


@needs_fixtures
@pytest.mark.parametrize("task,extra", [("refcoco", {}), ("gref", {}), ("interactive", {}), ("vos", {}), ("semantic", {}),
                                        ("panoptic", {}), ("instance", {"records": True})])
def test_results_carry_the_spec_metrics_and_schema_records(task, extra, tmp_path):
    from psalm_bench import evaluate
    from psalm_bench.jsonio import dump_json

    case = fixture_cases(task)[0]
    exp = expected(case)
    result = evaluate(task, case / exp["gt"], case / exp["pred"], progress=False, **fixture_options(case), **extra)
    dump_json(result.to_dict(), tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    spec, schema = metric_spec(task), RECORDS[task]
    assert list(data["metrics"]) == list(spec.metrics)
    fields = record_fields(data["records"], schema.layout)
    assert set(schema.fields) - schema.optional <= fields <= set(schema.fields), (task, fields ^ set(schema.fields))
    assert set(schema.unit) <= fields


def test_multi_target_records_follow_the_schema(tmp_path):
    from test_report import _multi_target_case, _score

    for task in ("muse", "gcg"):
        gt, good, _ = _multi_target_case(tmp_path, task, n=6)
        data = json.loads(json.dumps(_score(task, gt, good), default=lambda o: o.tolist() if hasattr(o, "tolist") else o.__dict__))
        assert list(data["metrics"]) == list(metric_spec(task).metrics)
        assert record_fields(data["records"], "rows") == set(RECORDS[task].fields), task


def test_record_fields_of_each_layout():
    assert record_fields([{"a": 1}, {"a": 2, "b": None}], "rows") == {"a", "b"}
    assert record_fields({"a": [1], "b": [2]}, "columns") == {"a", "b"}
    assert record_fields({"images": [1, 2], "dets": {"score": [0.5]}}, "tables") == {"images", "dets.score"}
