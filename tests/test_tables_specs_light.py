"""Each task's MetricSpec is one object in psalm_bench.specs, the very one its evaluator
computes with; reading it (the registry's table rows, the store, the site's columns)
imports no evaluator, no numpy."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import numpy as np

from psalm_bench import specs
from psalm_bench.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]

# (evaluator module, its spec's name there) -> the task
EVALUATOR_SPECS = {
    ("panoptic", "SPEC"): "panoptic", ("instance", "SPEC"): "instance", ("semantic", "SPEC"): "semantic",
    ("referring", "REFCOCO_SPEC"): "refcoco", ("referring", "GREF_SPEC"): "gref", ("interactive", "SPEC"): "interactive",
    ("vos", "SPEC"): "vos", ("open_vocab", "OV_SEMANTIC_SPEC"): "ov-semantic", ("open_vocab", "OV_INSTANCE_SPEC"): "ov-instance",
    ("muse", "MUSE_SPEC"): "muse", ("gcg", "GCG_SPEC"): "gcg", ("correspondence", "SPEC"): "correspondence",
}


def test_every_evaluator_computes_with_the_one_spec_object():
    assert sorted(EVALUATOR_SPECS.values()) == sorted(specs.SPECS) == sorted(TASKS)
    for (module, name), task in EVALUATOR_SPECS.items():
        assert getattr(import_module(f"psalm_bench.evaluators.{module}"), name) is specs.SPECS[task], (module, name)
    from psalm_bench.evaluators import MetricSpec, metric_spec
    from psalm_bench.evaluators.base import MetricSpec as BaseSpec

    assert MetricSpec is BaseSpec is specs.MetricSpec
    assert all(metric_spec(t) is s for t, s in specs.SPECS.items()) and metric_spec("nope") is None


def test_evaluator_constants_are_the_specs_own():
    from psalm_bench.evaluators import correspondence, interactive, panoptic, referring, semantic, vos
    from psalm_bench.formats import egoexo
    from psalm_bench.formats import interactive as interactive_format

    assert panoptic.METRICS == list(specs.PANOPTIC.metrics) and panoptic.PROTOCOL == "panopticapi"
    assert semantic.PROTOCOLS == specs.SEMANTIC.protocols == specs.OV_SEMANTIC.protocols
    assert referring.PSALM_EPS == specs.PSALM_EPS == interactive.PSALM_EPS and referring.PSALM_CIOU_EPS == 1e-10
    assert interactive_format.PROMPTS is specs.PROMPTS and egoexo.DIRECTIONS is specs.DIRECTIONS
    assert vos.BOUND_TH == specs.VOS.eps["bound_th"] == 0.008
    assert correspondence.LOCATION_NORM == float(np.sqrt(480 ** 2 + 480 ** 2))  # math.sqrt rounds as numpy's did
    assert correspondence.METRICS == list(specs.CORRESPONDENCE.metrics)
    for spec in specs.SPECS.values():  # every printed metric is a reported one, each printed once
        assert set(spec.headline) <= set(spec.metrics) and len(set(spec.headline)) == len(spec.headline), spec.task
        assert spec.headline == tuple(m for row in TASKS[spec.task].table_rows for m in row)


def test_the_spec_module_imports_only_the_errors():
    tree = ast.parse((ROOT / "psalm_bench" / "specs.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported == {"__future__", "math", "collections.abc", "dataclasses", "psalm_bench.errors"}


PROBE = """
import json, sys, tempfile
from pathlib import Path
from psalm_bench.leaderboard.store import ResultsStore
from psalm_bench.tasks import TASKS
heavy = lambda: sorted(m for m in sys.modules if m.startswith("psalm_bench.evaluators") or m in ("numpy", "cv2", "pycocotools", "scipy"))
rows = {t: TASKS[t].table_rows for t in TASKS}
with tempfile.TemporaryDirectory() as tmp:
    with ResultsStore.open(Path(tmp) / "b.db") as store:
        for task in TASKS:
            metrics = {m: 1.0 for r in rows[task] for m in r}
            store.add({"task": task, "metrics": metrics, "provenance": {"gt_sha256": "a" * 64, "pred_sha256": "b", "params": {}}}, "M")
    added = heavy()
    from psalm_bench.leaderboard.site_data import headline_metrics  # the site's data layer (numpy for its report import)
    columns = {t: headline_metrics(t, []) for t in TASKS}
print(json.dumps({"added": added, "site": [m for m in heavy() if m != "numpy"], "rows": rows, "columns": columns}))
"""


def test_adding_every_task_to_the_store_imports_no_evaluator_nor_numpy():
    """`leaderboard add` and the site's board columns read the specs, not the evaluators."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got["added"] == [] and got["site"] == []
    for task, spec in specs.SPECS.items():
        assert got["rows"][task] == [list(r) for r in spec.rows] and got["columns"][task] == list(spec.headline)
