"""The model's data from the world, its prediction files, and `reproduce` end to end (tiny sizes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.generators.world_scene import CATEGORIES
from psalm_bench.model.config import get_config
from psalm_bench.model.data import WorldSampleSource, known_class_names
from psalm_bench.model.predict import read_image
from psalm_bench.model.recipe import Recipe, train_on_world
from psalm_bench.reproduce import ALL_TASKS, TABLES, render_tables, reproduce

EXE = [sys.executable, "-m", "psalm_bench"]


@pytest.fixture(scope="module")
def world(tiny_world) -> Path:
    return tiny_world


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    cfg = get_config("tiny")
    cfg.llm.vocab_size = 256  # room for the world's words
    out = tmp_path_factory.mktemp("model")
    summary = train_on_world(cfg, out, Recipe(steps=3, batch_size=2, warmup_steps=1, checkpoint_every=0), progress=False, threads=1)
    assert summary.completed
    return out


def test_samples_are_a_pure_function_of_the_step():
    a, b = WorldSampleSource(batch_size=2)(4), WorldSampleSource(batch_size=2)(4)
    assert [s.task for s in a] == ["referring"] * 2
    for x, y in zip(a, b):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.target_masks, y.target_masks) and x.sentence == y.sentence


def test_samples_hold_valid_targets_and_never_a_held_out_category():
    source = WorldSampleSource(batch_size=3)
    names = known_class_names()
    assert not set(names) & {c.name for c in CATEGORIES.novel}
    pan, ref, inter = source(0), source(1), source(2)
    for s in pan:
        assert s.class_names == names and len(s.target_labels) == len(s.target_masks) > 0
        assert s.target_masks.any(axis=(1, 2)).all()
    for s in ref:
        assert s.sentence and s.target_masks.shape[0] == 1 and s.target_masks.any()
    for s in inter:
        assert s.prompt_masks.shape == s.target_masks.shape and len(s.prompt_kinds) == len(s.prompt_masks)
        for kind, prompt, target in zip(s.prompt_kinds, s.prompt_masks, s.target_masks):
            assert prompt.any()
            if kind == "point":  # the stored point lies on its object
                assert target[prompt].all()


def test_an_image_that_does_not_open_is_one_line(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="image does not open"):
        read_image(bad)


def test_reproduce_scores_every_task_and_writes_results(world, tiny_model, tmp_path):
    rep = reproduce(tiny_model, world=world, out=tmp_path, progress=False)
    scored = {(e.task, e.split) for e in rep.entries}
    for key in ("panoptic", "instance", "semantic", "interactive", "vos", "ov-semantic", "ov-instance", "ov-panoptic", "correspondence", "muse", "gcg"):
        assert (key, "val") in scored
    for split in ("val", "testA", "testB"):
        assert ("refcoco", split) in scored and ("gref", split) in scored
    baselines = {e.system for e in rep.entries if e.baseline}
    assert len(baselines) == 5  # prompt, first frame, query copy, MUSE and GCG whole image
    results = sorted((tmp_path / "results").rglob("*.json"))
    assert len(results) == len(rep.entries)
    text = render_tables(rep)
    for spec in TABLES:
        assert spec.title in text
    assert (tmp_path / "tables.md").read_text().count("### Table") == len(TABLES)
    for e in rep.entries:  # every metric is a number in range (decays are differences: may be negative)
        for name, value in e.result.metrics.items():
            assert value is None or (-100.0 if "decay" in name else 0.0) <= value <= 100.0


def test_predict_command_writes_files_eval_reads(world, tiny_model, tmp_path):
    out = tmp_path / "refcoco_val.jsonl"
    run = subprocess.run([*EXE, "predict", "--task", "refcoco", "--model", str(tiny_model), "--gt", str(world / "refcoco"),
                          "--images", str(world / "coco"), "--out", str(out), "-q"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    scored = subprocess.run([*EXE, "eval", "--task", "refcoco", "--gt", str(world / "refcoco"), "--pred", str(out), "-q"], capture_output=True, text=True)
    assert scored.returncode == 0, scored.stderr and "cIoU" in scored.stdout


def test_predict_with_a_missing_model_is_one_line(world, tmp_path):
    run = subprocess.run([*EXE, "predict", "--task", "interactive", "--model", str(tmp_path / "nowhere"), "--gt", str(world / "coco" / "coco_interactive_val.json"),
                          "--images", str(world / "coco" / "val2017"), "--out", str(tmp_path / "x.jsonl"), "-q"], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "no such model directory" in run.stderr


def test_official_checkpoint_folders_are_told_apart(tiny_model, tmp_path):
    import json

    from psalm_bench.model.predict import is_official_checkpoint

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava_phi", "hidden_size": 2048}))
    assert is_official_checkpoint(tmp_path)
    assert not is_official_checkpoint(tiny_model) and not is_official_checkpoint(tmp_path / "missing")


def test_a_paused_run_exports_loadable_weights(tmp_path):
    from psalm_bench.model.checkpoint import load_model
    from psalm_bench.model.recipe import export_paused_run

    cfg = get_config("tiny")
    cfg.llm.vocab_size = 256
    summary = train_on_world(cfg, tmp_path / "run", Recipe(steps=5, batch_size=2, warmup_steps=1, checkpoint_every=0), max_seconds=0, progress=False, threads=1)
    assert not summary.completed and summary.step == 1
    model, _, provenance = load_model(export_paused_run(tmp_path / "run", tmp_path / "export"))
    assert provenance["stopped_at_step"] == 1 and provenance["completed"] is False and provenance["steps"] == 5
    with pytest.raises(InputError, match="no training checkpoint"):
        export_paused_run(tmp_path / "nothing", tmp_path / "x")
