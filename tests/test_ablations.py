"""`reproduce --ablations`: Tables 7 and 2 from equal-step runs, beside the paper's rows."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from psalm_bench.ablations import COLUMNS, RUNS, AblationResult, published_ablation_rows, run_ablations  # noqa: E402
from psalm_bench.errors import InputError  # noqa: E402
from psalm_bench.model.config import PSALMConfig, get_config  # noqa: E402
from psalm_bench.model.psalm import PSALM  # noqa: E402
from psalm_bench.model.samples import collate  # noqa: E402
from psalm_bench.model.tokenizer import build_tokenizer  # noqa: E402
from psalm_bench.model.toy import TOY_WORDS, toy_source  # noqa: E402
from psalm_bench.tables import render_text  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
HEADERS = [h for h, *_ in COLUMNS]


def test_queries_bypass_the_llm_only_when_asked():
    """query_source="embeddings": the decoder's first queries no longer depend on the LLM."""
    tok = build_tokenizer(TOY_WORDS + ["sky", "grass"])
    batch = collate(toy_source(batch=2)(0), get_config("tiny"), tok, False, np.random.default_rng(0))
    for source, depends in (("llm", True), ("embeddings", False)):
        cfg = get_config("tiny")
        cfg = replace(cfg, decoder=replace(cfg.decoder, query_source=source)).validate()
        torch.manual_seed(0)
        model = PSALM(cfg, tok).eval()
        with torch.no_grad():
            model.seg_query.normal_()
            before = model(batch).predictions[0].masks.clone()
            for p in model.llm.layers.parameters():
                p.add_(0.5)
            after = model(batch).predictions[0].masks
        assert (not torch.allclose(before, after)) == depends, source


def test_unknown_query_source_is_one_line():
    data = get_config("tiny").to_dict()
    data["decoder"]["query_source"] = "prefix"
    with pytest.raises(InputError, match=r"decoder.query_source: 'prefix' is not one of llm, embeddings"):
        PSALMConfig.from_dict(data)


def test_tables_put_measured_rows_under_the_papers_and_say_whether_the_claim_holds():
    result = AblationResult(settings={"config": "tiny", "steps": 5, "batch_size": 2, "seed": 0, "world": "w"})
    result.metrics = {
        "joint": dict(zip(HEADERS, (10.0, 20.0, 30.0, 1.0))),
        "panoptic-only": dict(zip(HEADERS, (9.0, None, None, 2.0))),
        "referring-only": dict(zip(HEADERS, (None, 15.0, None, None))),
        "interactive-only": dict(zip(HEADERS, (None, None, 25.0, None))),
        "joint-no-llm-queries": dict(zip(HEADERS, (11.0, 18.0, 29.0, 0.5))),
    }
    t7, t2 = result.tables(published_ablation_rows())
    assert [r[0] for r in t7.rows] == ["paper: Task Specific Train", "paper: Joint Train", "measured: task-specific",
                                       "measured: joint", "measured: joint - specific"]
    assert t7.rows[1][1:] == [55.9, 83.6, 64.1, 9.0]  # PSALM Table 7, Joint Train
    assert t7.rows[2][1:] == [9.0, 15.0, 25.0, 2.0]  # each column from its own task's run
    assert t7.rows[4][1:] == [1.0, 5.0, 5.0, -1.0]
    assert t2.rows[1][1:] == [54.8, 74.3, 53.1, 8.2]  # Table 2, mask tokens not into the LLM
    assert t2.rows[-1][1:] == [-1.0, 2.0, 1.0, 0.5]
    verdicts = result.verdicts()
    assert verdicts[0].startswith("Table 7 (joint training helps every column): does not reproduce: 3 of 4")
    assert verdicts[1].startswith("Table 2 (mask tokens through the LLM help every column): does not reproduce: 3 of 4")
    assert "OV mAP" in render_text(t7)


def test_two_runs_train_score_and_resume(tmp_path, tiny_world):
    runs = [r for r in RUNS if r.name in ("joint", "joint-no-llm-queries")]
    result = run_ablations(tmp_path, steps=2, batch_size=2, world=tiny_world, runs=runs, progress=False)
    assert set(result.metrics) == {"joint", "joint-no-llm-queries"}
    for row in result.metrics.values():
        assert all(isinstance(row[h], float) and 0.0 <= row[h] <= 100.0 for h in HEADERS), row
    saved = json.loads((tmp_path / "ablations.json").read_text())
    assert saved["metrics"] == result.metrics and saved["settings"]["steps"] == 2
    provenance = json.loads((tmp_path / "runs" / "joint-no-llm-queries" / "provenance.json").read_text())
    assert provenance["config"]["decoder"]["query_source"] == "embeddings"
    again = run_ablations(tmp_path, steps=2, batch_size=2, world=tiny_world, runs=runs[:1], progress=False)
    assert again.metrics["joint"] == result.metrics["joint"]  # the finished run is reused, same numbers


def test_cli_refuses_an_unknown_geometry_before_training(tmp_path):
    from conftest import assert_one_line_error, run_cli

    run = run_cli("reproduce", "--ablations", "--ablation-config", "huge", "--out", tmp_path, "-q")
    assert_one_line_error(run, "unknown model config 'huge'")
    assert not (tmp_path / "runs").exists()
