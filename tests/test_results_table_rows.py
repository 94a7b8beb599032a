"""The printed table rows of a task have one definition: its evaluator's MetricSpec."""

from __future__ import annotations

import dataclasses

from psalm_bench.evaluators import metric_spec, metric_specs
from psalm_bench.tasks import TASKS, Task


def test_the_registry_declares_no_rows_of_its_own():
    assert "table_rows" not in {f.name for f in dataclasses.fields(Task)}
    for name, spec in metric_specs().items():
        assert TASKS[name].table_rows == [list(row) for row in spec.rows], name


def test_a_change_of_the_spec_is_what_the_registry_prints(monkeypatch):
    from psalm_bench import specs

    spec = metric_spec("refcoco")
    monkeypatch.setitem(specs.SPECS, "refcoco", dataclasses.replace(spec, rows=(("gIoU", "cIoU"),)))
    assert TASKS["refcoco"].table_rows == [["gIoU", "cIoU"]]
    assert TASKS["gref"].table_rows == [list(row) for row in metric_spec("gref").rows]
