"""The world as every command's default: cache, manifest jobs, CLI without --gt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from psalm_bench.errors import InputError
from psalm_bench.generators.baselines import write_prompt_baseline
from psalm_bench.generators.embedded import ensure_world, world_dir, world_job

EXE = [sys.executable, "-m", "psalm_bench"]


@pytest.fixture(scope="module")
def cached_world(tiny_world) -> tuple[Path, Path]:
    return tiny_world.parent, tiny_world


def test_world_is_built_once_into_the_cache(cached_world):
    cache, root = cached_world
    assert root == world_dir(cache, size="tiny") and (root / "world.json").is_file()
    stamp = (root / "world.json").stat().st_mtime_ns
    assert ensure_world(cache, size="tiny", progress=False) == root
    assert (root / "world.json").stat().st_mtime_ns == stamp


def test_an_interrupted_build_is_rebuilt(tmp_path):
    half = world_dir(tmp_path, size="tiny")
    half.mkdir(parents=True)
    (half / "leftover.txt").write_text("from a build that was killed")
    root = ensure_world(tmp_path, size="tiny", progress=False, workers=1)
    assert (root / "world.json").is_file() and not (root / "leftover.txt").exists()


def test_world_jobs_name_ground_truth_and_options(cached_world):
    _, root = cached_world
    job = world_job(root, "refcoco", "testA")
    assert job.eval_task == "refcoco" and job.options["split"] == "testA" and job.gt.is_dir()
    sem = world_job(root, "ov-semantic")
    assert sem.eval_task == "semantic" and Path(sem.options["classes"]).is_file()
    with pytest.raises(InputError, match="no split 'testC'"):
        world_job(root, "refcoco", "testC")
    with pytest.raises(InputError, match="no ground truth for task 'correspondence'"):
        world_job(root, "correspondence")  # its takes are a world of their own (world_egoexo)


def test_eval_without_gt_scores_against_the_world(cached_world, tmp_path):
    _, root = cached_world
    pred = write_prompt_baseline(root / "coco" / "coco_interactive_val.json", tmp_path / "baseline.jsonl")
    run = subprocess.run([*EXE, "eval", "--task", "interactive", "--world", str(root), "--pred", str(pred), "--json", str(tmp_path / "r.json")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "ground truth: the embedded world, interactive val" in run.stderr
    assert "point_mIoU" in run.stdout
    both = subprocess.run([*EXE, "eval", "--task", "interactive", "--world", str(root), "--gt", str(root), "--pred", str(pred)], capture_output=True, text=True)
    assert both.returncode == 2 and both.stderr.count("\n") == 1 and "cannot go with --gt" in both.stderr
