"""reproduce names a model's rows by the model: "PSALM (bundled)" is the weights
that ship with psalm-bench, never a user's `psalm-bench train` run or an official checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from psalm_bench.commands.bundle import headline  # noqa: E402
from psalm_bench.model.predict import bundled_model_dir  # noqa: E402
from psalm_bench.reproduce import (  # noqa: E402
    COPY_BASELINE, MODEL_SYSTEM, MUSE_SYSTEM, NO_TARGET_SYSTEM, VOS_BASELINE, Labels, _slug, model_label, reproduce,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_bundled_weights_are_the_bundled_row_however_named():
    provenance = json.loads((bundled_model_dir() / "provenance.json").read_text())
    assert model_label("bundled", provenance) == model_label(bundled_model_dir(), provenance) == MODEL_SYSTEM
    assert Labels().model == MODEL_SYSTEM and Labels().no_target == NO_TARGET_SYSTEM and Labels().muse == MUSE_SYSTEM


@pytest.mark.parametrize("provenance, label", [
    ({"config_name": "tiny", "steps": 600}, "PSALM (my-run: tiny config, 600 steps)"),
    ({"config_name": "bundled", "steps": 1600}, "PSALM (my-run: bundled config, 1600 steps)"),  # `train`'s default geometry, not the bundled weights
    ({"config_name": "tiny", "steps": 5, "stopped_at_step": 1, "completed": False}, "PSALM (my-run: tiny config, step 1 of 5)"),
    ({}, "PSALM (my-run)"),
    ({"config_name": "swinb-phi15", "official": True}, "PSALM (official checkpoint my-run: swinb-phi15)"),
])
def test_any_other_model_is_named_by_its_folder_and_provenance(tmp_path, provenance, label):
    run = tmp_path / "my-run"
    run.mkdir()
    assert model_label(run, provenance) == label
    assert model_label(str(run / "."), provenance) == label  # the folder's own name, however the path is spelt


def test_derived_rows_keep_the_models_name():
    labels = Labels("PSALM (r: tiny config, 3 steps)")
    assert labels.no_target == "PSALM (r: tiny config, 3 steps), no-target if none > 0.6"
    assert labels.gcg.startswith("PSALM (r: tiny config, 3 steps), top-4 instance detections")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from psalm_bench.model.config import get_config
    from psalm_bench.model.recipe import Recipe, train_on_world

    cfg = get_config("tiny")
    cfg.llm.vocab_size = 256
    out = tmp_path_factory.mktemp("runs") / "user-run"
    assert train_on_world(cfg, out, Recipe(steps=2, batch_size=2, warmup_steps=1, checkpoint_every=0), progress=False, threads=1).completed
    return out


def test_a_trained_run_is_scored_under_its_own_name(trained, tiny_world, tmp_path):
    lines: list[str] = []
    rep = reproduce(trained, world=tiny_world, out=tmp_path, tasks=("vos", "correspondence"), progress=False, log=lines.append)
    config = json.loads((trained / "provenance.json").read_text())["config_name"]  # "custom": tiny with a bigger vocabulary
    label = f"PSALM (user-run: {config} config, 2 steps)"
    assert rep.labels.model == label
    assert rep.systems() == [label, VOS_BASELINE, COPY_BASELINE]
    assert not any("bundled" in e.system for e in rep.entries) and not any("bundled" in line for line in lines)
    assert {(e.task, e.split) for e in rep.entries if e.system == label} == {("vos", "val"), ("correspondence", "val")}
    assert sorted(p.name for p in (tmp_path / "results" / _slug(label)).iterdir()) == ["correspondence-val.json", "vos-val.json"]
    assert not (tmp_path / "results" / _slug(MODEL_SYSTEM)).exists()
    assert set(headline(rep)) == {"vos/val", "correspondence/val"}  # what `bundle` records: the model's rows, not the baselines'
    assert label in (tmp_path / "tables.md").read_text()
