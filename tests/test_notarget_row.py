"""reproduce's gRefCOCO row for a model trained with no-target sentences: its own row, never zero-shot."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from psalm_bench.errors import InputError  # noqa: E402
from psalm_bench.model.config import get_config  # noqa: E402
from psalm_bench.model.finetune import FinetuneRecipe, finetune  # noqa: E402
from psalm_bench.model.recipe import Recipe, train_on_world  # noqa: E402
from psalm_bench.reproduce import TABLES, no_target_fraction_of, no_target_trained_label, render_tables, reproduce  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    cfg = get_config("tiny")
    cfg.llm.vocab_size = 256  # room for the world's words
    root = tmp_path_factory.mktemp("models")
    plain = root / "plain"
    train_on_world(cfg, plain, Recipe(steps=2, batch_size=2, warmup_steps=1, checkpoint_every=0), progress=False, threads=1)
    tuned = root / "tuned"
    finetune(plain, tuned, FinetuneRecipe(steps=1, batch_size=2, no_target_fraction=0.5), progress=False)
    return plain, tuned


def test_labels_say_what_was_trained_and_never_zero_shot():
    prov = {"finetune": {"base": "bundled", "steps_done": 202, "no_target_fraction": 0.3}}
    assert no_target_fraction_of(prov) == 0.3 and no_target_fraction_of({"data": {"no_target_fraction": 0.0}}) == 0.0
    label = no_target_trained_label("x", prov)
    assert label.startswith("PSALM (bundled) + 202-step fine-tune with 30% no-target sentences") and "NOT zero-shot" in label
    table12 = next(t for t in TABLES if t.title.startswith("Table 12"))
    assert {c.metric for c in table12.columns} == {"cIoU", "gIoU", "N-acc", "T-acc"}


def test_the_trained_variant_gets_its_own_gref_rows(tiny_world, models, tmp_path):
    plain, tuned = models
    rep = reproduce(plain, world=tiny_world, tasks=("gref",), progress=False, no_target_model=tuned)
    variant = [e for e in rep.entries if "NOT zero-shot" in e.system]
    assert sorted(e.split for e in variant) == ["testA", "testB", "val"]
    assert all(e.task == "gref" and e.result.metrics.get("N-acc") is not None for e in variant)
    assert len(rep.entries) == 9  # released rule, no-target rule, the trained variant; three splits each
    assert "NOT zero-shot" in render_tables(rep, "markdown")


def test_a_model_without_no_target_training_is_refused_before_any_work(tiny_world, models):
    plain, _ = models
    with pytest.raises(InputError, match="no no-target training"):
        reproduce(plain, world=tiny_world, tasks=("gref",), progress=False, no_target_model=plain)


def test_the_cli_refuses_it_in_one_line(tiny_world, models):
    from conftest import assert_one_line_error, run_cli

    plain, _ = models
    run = run_cli("reproduce", "--model", plain, "--world", tiny_world, "--no-target-model", plain, "--quiet")
    assert_one_line_error(run, "provenance.json", "no no-target training")
