"""Prompt-aware interactive selection: its own labelled rule and reproduce row, beside the paper's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from psalm_bench.errors import InputError  # noqa: E402
from psalm_bench.generators.world import load_manifest  # noqa: E402
from psalm_bench.model.config import get_config  # noqa: E402
from psalm_bench.model.inference import interactive_inference, interactive_inference_prompt_iou, mask_scores  # noqa: E402
from psalm_bench.model.predict import Predictor, predict_interactive  # noqa: E402
from psalm_bench.model.recipe import Recipe, train_on_world  # noqa: E402
from psalm_bench.reproduce import MODEL_SYSTEM, PROMPT_IOU_SYSTEM, render_tables, reproduce  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _logits(*boxes: tuple[slice, slice], size: int = 8) -> torch.Tensor:
    m = torch.full((len(boxes), size, size), -4.0)
    for q, (ys, xs) in enumerate(boxes):
        m[q, ys, xs] = 4.0
    return m


def test_box_and_mask_prompts_take_the_query_that_fits_the_prompt_points_keep_the_released_rule():
    # q0 is the prompt's own square, q1 the whole image, q2 the same square as q0
    m = _logits((slice(2, 6), slice(2, 6)), (slice(0, 8), slice(0, 8)), (slice(2, 6), slice(2, 6)))
    prompt = torch.zeros(8, 8, dtype=torch.bool)
    prompt[2:6, 2:6] = True
    prompts = torch.stack([prompt] * 3)
    region = torch.tensor([[-2.0, 5.0, 0.0]] * 3)  # the released score prefers q1, then q2
    released = interactive_inference(region, m)
    assert released.queries.tolist() == [1, 1, 1]
    res = interactive_inference_prompt_iou(region, m, prompts, ["box", "mask", "point"])
    assert res.queries.tolist() == [2, 2, 1]  # IoU 1 for q0 and q2: the tie goes to the higher score (q2)
    assert res.masks[0].sum() == 16 and res.masks[2].all()
    assert res.scores[0] == pytest.approx(float(torch.sigmoid(region[0, 2]) * mask_scores(m)[2]), rel=1e-6)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    cfg = get_config("tiny")
    cfg.llm.vocab_size = 256  # room for the world's words
    out = tmp_path_factory.mktemp("model")
    train_on_world(cfg, out, Recipe(steps=3, batch_size=2, warmup_steps=1, checkpoint_every=0), progress=False, threads=1)
    return out


def _lines(path: Path) -> dict[tuple[int, str], str]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {(r["ann_id"], r["prompt"]): json.dumps(r["segmentation"], sort_keys=True) for r in rows}


def test_both_rules_come_from_one_pass_and_differ_only_on_box_and_mask(tiny_world, tiny_model, tmp_path):
    entry = load_manifest(tiny_world)["tasks"]["interactive"]["val"]
    predictor = Predictor.load(tiny_model, progress=False)
    released, aware = tmp_path / "r.jsonl", tmp_path / "a.jsonl"
    assert predict_interactive(predictor, tiny_world / entry["gt"], tiny_world / entry["images"], released, also={aware: "prompt-iou"}) == released
    a, b = _lines(released), _lines(aware)
    assert a.keys() == b.keys() and a
    assert all(a[k] == b[k] for k in a if k[1] in ("point", "scribble"))
    with pytest.raises(InputError, match="selection rule"):
        predict_interactive(predictor, tiny_world / entry["gt"], tiny_world / entry["images"], released, also={aware: "best"})


def test_reproduce_prints_the_rule_as_its_own_row(tiny_world, tiny_model, tmp_path):
    rep = reproduce(tiny_model, world=tiny_world, tasks=("interactive",), progress=False)
    systems = [e.system for e in rep.entries]
    model, prompt_iou = rep.labels.model, rep.labels.prompt_iou  # a trained run's rows carry its own name (reproduce.model_label)
    assert model in systems and prompt_iou in systems and prompt_iou == model + PROMPT_IOU_SYSTEM[len(MODEL_SYSTEM):]  # the paper's rule stays the model's row
    ours, paper = rep.get(prompt_iou, "interactive", "val"), rep.get(model, "interactive", "val")
    for kind in ("point", "scribble"):
        assert ours.result.metrics[f"{kind}_mIoU"] == paper.result.metrics[f"{kind}_mIoU"]
    assert "not the paper's rule" in render_tables(rep)
