"""`merge` of every evaluator: the samples scored as three states and folded
together, in file order and in shuffled orders, give one state's result.

The states go through each task's own `evaluate_*` (an engine passed as
``workers``, as Ray and `--shard` do), so what is compared is the result the
user gets: metrics, breakdown, warnings and records, byte for byte. A state
folded in file order must equal one process exactly, records included; in any
other order the records are a permutation of one process's, and every metric
and breakdown value is the same number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pytest

from conftest import expected, fixture_cases, fixture_options, needs_fixtures
from psalm_bench.jsonio import dump_json

ORDERS = [(0, 1, 2), (2, 0, 1), (1, 2, 0)]


class ThreeStates:
    """An engine: the samples split into three states (thirds in file order),
    each scored by a fresh twin of the evaluator, folded into it in ``order``."""

    workers = 1

    def __init__(self, order: Sequence[int]):
        self.order = tuple(order)
        self.sizes: list[int] = []

    def run(self, evaluator, samples, load, *, desc: str = "", progress: bool = False, chunk_size: int | None = None):
        n = len(samples)
        cuts = [0, n // 3, (2 * n) // 3, n]
        states = []
        for k in range(3):
            state = evaluator.fresh()
            for sample in samples[cuts[k]:cuts[k + 1]]:
                state.update(*load(sample))
            states.append(state)
        self.sizes = [cuts[k + 1] - cuts[k] for k in range(3)]
        for k in self.order:
            evaluator.merge(states[k])
        return evaluator


def _as_json(result, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "r.json"
    dump_json(result.to_dict(), path)
    out = json.loads(path.read_text())
    out.pop("provenance")
    return out


def _record_rows(records: Any) -> list[str]:
    """Records as a sorted list of rows (lists of dicts, columns, or panoptic's two tables)."""
    if isinstance(records, dict) and any(isinstance(v, dict) for v in records.values()):  # tables of columns
        return sorted(f"{name}:{row}" for name, table in records.items() for row in _record_rows(table))
    if isinstance(records, dict):
        keys = sorted(records)
        n = len(records[keys[0]]) if keys else 0
        return sorted(json.dumps([records[k][i] for k in keys]) for i in range(n))
    return sorted(json.dumps(r, sort_keys=True) for r in records)


def _check(run: Callable[[Any], Any], tmp_path: Path) -> None:
    one = _as_json(run(1), tmp_path)
    assert one["n_samples"] >= 3, "too few samples to split into three states"
    for order in ORDERS:
        engine = ThreeStates(order)
        got = _as_json(run(engine), tmp_path)
        assert min(engine.sizes) >= 1, engine.sizes
        if order == (0, 1, 2):
            assert got == one, order
            continue
        assert {k: v for k, v in got.items() if k != "records"} == {k: v for k, v in one.items() if k != "records"}, order
        if got.get("records") != one.get("records"):  # a permutation of one process's records
            assert _record_rows(got["records"]) == _record_rows(one["records"]), order


# ---------------------------------------------------------------------------
# tasks with official fixtures


def _fixture_run(task: str, index: int = 0, **extra: Any) -> Callable[[Any], Any]:
    from psalm_bench import evaluate

    case = fixture_cases(task)[index]
    exp = expected(case)
    options = {**fixture_options(case), **extra}
    return lambda workers: evaluate(task, case / exp["gt"], case / exp["pred"], workers=workers, progress=False, **options)


@needs_fixtures
@pytest.mark.parametrize("task,index,extra", [
    ("refcoco", 0, {}), ("refcoco", 1, {"protocol": "psalm"}),
    ("gref", 0, {}), ("gref", 0, {"protocol": "gsva"}),
    ("interactive", 0, {}), ("interactive", 1, {"protocol": "psalm"}),
    ("vos", 0, {}),
    ("semantic", 0, {}), ("semantic", 1, {"protocol": "mmseg"}),
    ("panoptic", 0, {}), ("panoptic", 1, {}),
    ("instance", 0, {"records": True}), ("instance", 1, {}),
])
def test_three_states_merge_to_one(task, index, extra, tmp_path):
    _check(_fixture_run(task, index, **extra), tmp_path)


@needs_fixtures
def test_instance_evaluator_in_memory_merge(tmp_path):
    """InstanceEvaluator (the in-memory COCOeval one, for training loops): three
    states of images in any order give one state's AP/AR."""
    from psalm_bench.evaluators.instance import ImageGT, InstanceEvaluator
    from psalm_bench.formats.coco import load_detections, load_instances

    case = fixture_cases("instance")[1]
    exp = expected(case)
    truth = load_instances(case / exp["gt"])
    dets = load_detections(case / exp["pred"], truth, "segm").detections
    samples = []
    for image_id in sorted(truth.images):
        anns = [a for a in truth.annotations if a["image_id"] == image_id]
        samples.append((ImageGT(truth.images[image_id], anns), [d for d in dets if d["image_id"] == image_id]))
    assert len(samples) >= 3

    def run(workers):
        evaluator = InstanceEvaluator(truth.categories)
        if workers == 1:
            for gt, pred in samples:
                evaluator.update(gt, pred)
        else:
            workers.run(evaluator, samples, lambda s: s)
        return evaluator.compute()

    _check(run, tmp_path)


# ---------------------------------------------------------------------------
# tasks whose cases the tests build


def test_muse_merge(tmp_path):
    from test_report import _multi_target_case

    from psalm_bench.evaluators.multi_target import evaluate_muse

    gt, good, _ = _multi_target_case(tmp_path, "muse", n=12, seed=2)
    for protocol in ("pixellm", "per-image"):
        _check(lambda w: evaluate_muse(gt, good, protocol=protocol, workers=w, progress=False), tmp_path)


def test_gcg_merge(tmp_path):
    from test_report import _multi_target_case, _same_text

    from psalm_bench.evaluators.multi_target import evaluate_gcg

    gt, good, _ = _multi_target_case(tmp_path, "gcg", n=12, seed=3)
    _check(lambda w: evaluate_gcg(gt, good, text_similarity=_same_text, captions=False, workers=w, progress=False), tmp_path)


def test_correspondence_merge(tmp_path):
    from test_correspondence import _write, official_case

    from psalm_bench.evaluators.correspondence import evaluate_correspondence

    gt, pred = _write(tmp_path, *official_case())
    _check(lambda w: evaluate_correspondence(gt, pred, workers=w, progress=False), tmp_path)


def test_ov_semantic_merge(tmp_path):
    from test_open_vocab import _png

    from psalm_bench.evaluators.open_vocab import evaluate_ov_semantic

    rng = np.random.default_rng(7)
    for k in range(5):
        gt = rng.integers(0, 151, (20, 24)).astype(np.uint8)  # ADE official: 0 is ignore, 1..150
        pred = np.where(rng.random((20, 24)) < 0.6, np.maximum(gt.astype(np.int64) - 1, 0), rng.integers(0, 150, (20, 24))).astype(np.uint8)
        _png(tmp_path / "annotations" / f"ADE_val_{k:08d}.png", gt)
        _png(tmp_path / "pred" / f"ADE_val_{k:08d}.png", pred)
    _check(lambda w: evaluate_ov_semantic(tmp_path / "annotations", tmp_path / "pred", benchmark="a150", workers=w, progress=False), tmp_path)


def test_the_engine_can_fail(tmp_path):
    """The check tells a lost state apart: folding only two of the three states differs."""
    from test_report import _multi_target_case

    from psalm_bench.evaluators.multi_target import evaluate_muse

    class TwoOfThree(ThreeStates):
        def run(self, evaluator, samples, load, **kw):
            super().run(evaluator.fresh(), samples, load, **kw)
            n = len(samples)
            for sample in samples[n // 3:]:
                evaluator.update(*load(sample))
            return evaluator

    gt, good, _ = _multi_target_case(tmp_path, "muse", n=12, seed=2)
    one = _as_json(evaluate_muse(gt, good, workers=1, progress=False), tmp_path)
    two = _as_json(evaluate_muse(gt, good, workers=TwoOfThree((0, 1, 2)), progress=False), tmp_path)
    assert two["n_samples"] < one["n_samples"] and two != one
