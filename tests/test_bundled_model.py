"""The bundled weights: they load, and score the tiny world as recorded beside them."""

from __future__ import annotations

import json

import pytest

from psalm_bench.commands.bundle import CHECK_FILE, CHECK_WORLD, check_metrics
from psalm_bench.model.predict import bundled_model_dir

BUNDLED = bundled_model_dir()
# Numbers can move by a pixel's worth between CPUs (float summation order in
# matmuls); a real change of the model or the pipeline moves them further.
TOLERANCE = 0.5


def test_bundled_model_has_its_release_files_and_provenance():
    for name in ("model.safetensors", "config.json", "tokenizer.json", "provenance.json", CHECK_FILE):
        assert (BUNDLED / name).is_file(), name
    provenance = json.loads((BUNDLED / "provenance.json").read_text())
    for key in ("config_name", "steps", "seed", "device_kind", "wall_seconds", "final_losses", "data"):
        assert key in provenance, key
    assert (BUNDLED / "model.safetensors").stat().st_size < 50 * 2 ** 20


def test_bundled_model_scores_the_tiny_world_as_recorded(tiny_world):
    recorded = json.loads((BUNDLED / CHECK_FILE).read_text())
    assert recorded["world"]["size"] == CHECK_WORLD["size"] and recorded["world"]["seed"] == CHECK_WORLD["seed"]
    measured = check_metrics(BUNDLED, world=tiny_world)
    assert measured["world"]["version"] == recorded["world"]["version"], "the world changed: re-record with python -m psalm_bench.commands.bundle"
    assert measured["metrics"].keys() == recorded["metrics"].keys()
    for key, metrics in recorded["metrics"].items():
        for name, value in metrics.items():
            got = measured["metrics"][key][name]
            if value is None:
                assert got is None, (key, name)
            else:
                assert got == pytest.approx(value, abs=TOLERANCE), (key, name, got, value)
