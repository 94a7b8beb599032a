"""The Python API: evaluate() on in-memory predictions gives the CLI's (the official) numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, expected, fixture_options, needs_fixtures

from psalm_bench import InputError, evaluate
from psalm_bench.masks import decode, to_rle


def _mask(segmentation: dict) -> np.ndarray:
    height, width = segmentation["size"]
    return decode(to_rle(segmentation, height, width)).astype(bool)


def _case(task: str, name: str | None = None) -> Path:
    cases = sorted(p.parent for p in (FIXTURES / task).glob("*/expected.json"))
    return next(c for c in cases if name is None or c.name == name)


def _assert_official(result, case: Path) -> None:
    for name, value in expected(case)["metrics"].items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-6), name


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@needs_fixtures
def test_refcoco_records_and_mask_arrays() -> None:
    case = _case("refcoco", "refcoco_unc_val")
    exp = expected(case)
    records = _lines(case / exp["pred"])
    from_path = evaluate("refcoco", gt=case / exp["gt"], pred=case / exp["pred"], progress=False, **fixture_options(case))
    from_dicts = evaluate("refcoco", gt=case / exp["gt"], pred=records, progress=False, **fixture_options(case))
    arrays = [dict(r, segmentation=_mask(r["segmentation"])) if isinstance(r["segmentation"], dict) else r for r in records]
    assert sum(isinstance(r["segmentation"], np.ndarray) for r in arrays) > 10
    from_arrays = evaluate("refcoco", gt=case / exp["gt"], pred=arrays, progress=False, **fixture_options(case))
    for result in (from_path, from_dicts, from_arrays):
        _assert_official(result, case)
    assert from_dicts.metrics == from_path.metrics == from_arrays.metrics
    assert from_dicts.records == from_path.records


@needs_fixtures
def test_instance_results_as_a_list() -> None:
    case = _case("instance", "basic")
    exp = expected(case)
    detections = json.loads((case / exp["pred"]).read_text())
    _assert_official(evaluate("instance", gt=case / exp["gt"], pred=detections), case)


@needs_fixtures
def test_semantic_and_vos_label_arrays() -> None:
    from psalm_bench.pngio import read_label_map

    case = _case("semantic")
    exp = expected(case)
    labels = {p.stem: read_label_map(p) for p in sorted((case / exp["pred"]).glob("*.png"))}
    _assert_official(evaluate("semantic", gt=case / exp["gt"], pred=labels, progress=False, **fixture_options(case)), case)

    case = _case("vos")
    exp = expected(case)
    from PIL import Image

    videos = {seq.name: np.stack([np.asarray(Image.open(f)) for f in sorted(seq.glob("*.png"))])
              for seq in sorted((case / exp["pred"]).iterdir())}
    _assert_official(evaluate("vos", gt=case / exp["gt"], pred=videos, progress=False, **fixture_options(case)), case)


def test_gt_none_is_the_embedded_world_and_to_pandas(tiny_world: Path) -> None:
    """gt=None scores on the world, as `eval` without --gt; results concatenate as DataFrame rows."""
    import pandas as pd

    from psalm_bench.generators.baselines import baseline_lines
    from psalm_bench.generators.embedded import world_job

    job = world_job(tiny_world, "interactive")
    records = [json.loads(line) for line in baseline_lines(job.gt)]
    result = evaluate("interactive", pred=records, world=tiny_world, progress=False)
    on_files = evaluate("interactive", gt=job.gt, pred=records, progress=False, **job.options)
    assert result.metrics == on_files.metrics and result.n_samples == len(records) > 0
    frame = result.to_pandas()
    assert list(frame.index) == ["interactive"] and frame.loc["interactive", "n_samples"] == result.n_samples
    assert frame.loc["interactive", "point_mIoU"] == pytest.approx(result.metrics["point_mIoU"])
    both = pd.concat([frame, on_files.to_pandas()])
    assert both.shape == (2, len(result.metrics) + 1)
    per_prompt = result.to_pandas("breakdown")
    assert {"point", "scribble", "box", "mask"} <= set(per_prompt.index)


def test_in_memory_errors_are_one_line_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="list of records"):
        evaluate("refcoco", gt=tmp_path, pred=42)
    with pytest.raises(InputError, match="must be a 2-D mask"):
        evaluate("refcoco", gt=tmp_path, pred=[{"sent_id": 1, "segmentation": np.zeros((2, 2, 2))}])
    with pytest.raises(InputError, match="integer labels"):
        evaluate("semantic", gt=tmp_path, pred={"a": np.zeros((4, 4), dtype=np.float32)})
    with pytest.raises(InputError, match="PNG folder"):
        evaluate("panoptic", gt=tmp_path, pred=[{}])
    with pytest.raises(InputError, match="pred is required"):
        evaluate("refcoco", gt=tmp_path)
    for error in ("list of records", "2-D mask"):
        try:
            evaluate("refcoco", gt=tmp_path, pred=42 if error == "list of records" else [{"segmentation": np.zeros(3)}])
        except InputError as exc:
            assert "\n" not in str(exc)


def test_to_pandas_refuses_what_a_result_lacks() -> None:
    from psalm_bench.results import EvalResult

    result = EvalResult(task="instance", metrics={"AP": 50.0, "AP50": None}, n_samples=3)
    assert result.to_pandas()["AP50"].isna().all()
    with pytest.raises(InputError, match="no breakdown"):
        result.to_pandas("breakdown")
    with pytest.raises(InputError, match="metrics, breakdown or records"):
        result.to_pandas("everything")
