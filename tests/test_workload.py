"""The COCO workload generator: deterministic, and in formats every evaluator reads."""

import filecmp
from pathlib import Path

import pytest

from psalm_bench import evaluate
from psalm_bench.generators.coco_workload import write_examples, write_workload

from conftest import REPO


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_for_any_worker_count(tmp_path: Path) -> None:
    one = write_workload(tmp_path / "one", n_images=6, n_panoptic=3, seed=5, height=96, width=128, progress=False, workers=1)
    two = write_workload(tmp_path / "two", n_images=6, n_panoptic=3, seed=5, height=96, width=128, progress=False, workers=2)
    assert _tree_bytes(tmp_path / "one") == _tree_bytes(tmp_path / "two")
    other = write_workload(tmp_path / "other", n_images=6, n_panoptic=3, seed=6, height=96, width=128, progress=False)
    assert other.instances_pred.read_bytes() != one.instances_pred.read_bytes()


def test_every_evaluator_reads_the_workload(tmp_path: Path) -> None:
    w = write_workload(tmp_path, n_images=5, n_panoptic=5, seed=1, height=96, width=128, progress=False)
    instance = evaluate("instance", w.instances_gt, w.instances_pred)
    panoptic = evaluate("panoptic", w.panoptic_gt_json, w.panoptic_pred_json, progress=False)
    semantic = evaluate("semantic", w.semantic_gt_dir, w.semantic_pred_dir, classes=w.semantic_classes, progress=False)
    derived = evaluate("semantic", w.panoptic_gt_json, w.semantic_pred_dir, progress=False)
    for result in (instance, panoptic, semantic):
        headline = next(iter(result.metrics.values()))
        assert headline is not None and 0 < headline < 100
    assert derived.metrics == semantic.metrics  # label maps are the panoptic GT's classes


def test_shipped_examples_are_what_the_generator_writes(tmp_path: Path) -> None:
    shipped = REPO / "psalm_bench" / "examples"
    write_examples(tmp_path)
    comparison = filecmp.dircmp(shipped, tmp_path)
    assert _tree_bytes(shipped) == _tree_bytes(tmp_path), comparison.report()


def test_panoptic_count_cannot_exceed_images(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_panoptic"):
        write_workload(tmp_path, n_images=2, n_panoptic=3, progress=False)
