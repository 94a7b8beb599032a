"""PSALM checkpoints: release round trip, official-checkpoint loading, key and architecture errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from safetensors.torch import load_file, save_file  # noqa: E402

from psalm_bench.errors import InputError  # noqa: E402
from psalm_bench.model.checkpoint import load_model, load_official, save_model  # noqa: E402
from psalm_bench.model.config import PSALMConfig, get_config  # noqa: E402
from psalm_bench.model.psalm import PSALM  # noqa: E402
from psalm_bench.model.samples import collate  # noqa: E402
from psalm_bench.model.toy import toy_sample  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")



def _fp16_rounded(model: PSALM) -> PSALM:
    """What an fp16 checkpoint keeps: persistent tensors rounded (not recomputed buffers like RoPE's)."""
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.half().float())
    return model


def test_release_round_trip(tmp_path, tok):
    torch.manual_seed(0)
    cfg = get_config("tiny")
    model = _fp16_rounded(PSALM(cfg, tok)).eval()
    save_model(model, tmp_path, {"seed": 0, "note": "test"})
    assert {p.name for p in tmp_path.iterdir()} >= {"model.safetensors", "config.json", "tokenizer.json", "provenance.json"}
    stored = load_file(str(tmp_path / "model.safetensors"))
    assert stored["seg_query"].dtype == torch.float16
    assert "model.vision_tower.layers.0.blocks.0.attn.qkv.weight" in stored  # official names on disk
    assert "model.layers.0.self_attn.q_proj.weight" in stored and "model.mm_projector.fc.weight" in stored
    assert not any(k.startswith(("llm.", "vision_tower.")) for k in stored)
    loaded, tok2, prov = load_model(tmp_path)
    assert prov == {"seed": 0, "note": "test"} and tok2 == tok and loaded.config == cfg
    assert next(loaded.parameters()).dtype == torch.float32
    for task in ("panoptic", "referring", "interactive"):
        batch = collate([toy_sample(task, 1), toy_sample(task, 2)], cfg, tok, False)
        with torch.no_grad():
            a, b = model(batch), loaded(batch)
        for pa, pb in zip(a.predictions, b.predictions):
            assert torch.equal(pa.masks, pb.masks)
            for x, y in ((pa.class_logits, pb.class_logits), (pa.seg_logits, pb.seg_logits), (pa.region_logits, pb.region_logits)):
                assert (x is None and y is None) or torch.equal(x, y)


def _raw_header(path) -> bytes:
    b = path.read_bytes()
    return b[8 : 8 + int.from_bytes(b[:8], "little")]


def test_same_weights_give_the_same_file_bytes(tmp_path, tok):
    """safetensors writes its metadata map in hash order; save_model sorts it, so bytes repeat."""
    from psalm_bench.model.checkpoint import _sort_header_metadata

    keys = [f"k{i}" for i in (7, 3, 9, 1, 5, 0, 8, 2)]
    raw = tmp_path / "raw.safetensors"
    save_file({"w": torch.arange(6.0)}, str(raw), metadata={k: "v" for k in keys})
    _sort_header_metadata(raw)
    meta = json.loads(_raw_header(raw))["__metadata__"]
    assert list(meta) == sorted(keys)
    assert torch.equal(load_file(str(raw))["w"], torch.arange(6.0))  # offsets untouched
    torch.manual_seed(0)
    model = PSALM(get_config("tiny"), tok)
    files = [save_model(model, tmp_path / f"m{i}", {"k": i}, tokenizer=tok) / "model.safetensors" for i in range(3)]
    assert _raw_header(files[0]).startswith(b'{"__metadata__":{"arch":')
    assert files[0].read_bytes() == files[1].read_bytes() == files[2].read_bytes()


def test_load_model_errors(tmp_path, tok):
    torch.manual_seed(0)
    cfg = get_config("tiny")
    save_model(PSALM(cfg, tok), tmp_path, {})
    other = get_config("tiny")
    other.decoder.num_queries = 7
    with pytest.raises(InputError, match=r"different architecture than the checkpoint: decoder.num_queries \(7 vs 6\)"):
        load_model(tmp_path, config=other)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    del tensors["predictor.decoder_norm.weight"]
    save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(InputError, match=r"model.safetensors: 1 missing keys: predictor.decoder_norm.weight"):
        load_model(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    data["arch"] = "lisa-7b"
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="config.json: arch 'lisa-7b'"):
        load_model(tmp_path)
    with pytest.raises(InputError, match="no such model directory"):
        load_model(tmp_path / "nothing")


# ------------------------------------------------------------------ official checkpoints
def official_shapes(cfg: PSALMConfig) -> dict[str, tuple[int, ...]]:
    """Key names and shapes of an official PSALM ``state_dict()``, written from the notes' key
    table (independently of the loader's mapping code)."""
    H, V, Q = cfg.llm.hidden_size, cfg.llm.vocab_size, cfg.decoder.num_queries
    I, d = cfg.llm.intermediate_size, cfg.decoder.hidden_dim
    v, ch = cfg.vision, cfg.vision.channels
    s: dict[str, tuple[int, ...]] = {"seg_query": (Q, H), "model.embed_tokens.weight": (V, H), "lm_head.weight": (V, H),
                                     "model.final_layernorm.weight": (H,), "model.final_layernorm.bias": (H,)}
    for i in range(cfg.llm.num_layers):
        p = f"model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "dense"):
            s[p + f"self_attn.{n}.weight"], s[p + f"self_attn.{n}.bias"] = (H, H), (H,)
        s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"] = (I, H), (I,)
        s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"] = (H, I), (H,)
        s[p + "input_layernorm.weight"], s[p + "input_layernorm.bias"] = (H,), (H,)
    t = "model.vision_tower."
    s[t + "patch_embed.proj.weight"], s[t + "patch_embed.proj.bias"] = (ch[0], 3, 4, 4), (ch[0],)
    s[t + "patch_embed.norm.weight"], s[t + "patch_embed.norm.bias"] = (ch[0],), (ch[0],)
    w = v.window_size
    for i, (depth, heads) in enumerate(zip(v.depths, v.num_heads)):
        C = ch[i]
        for j in range(depth):
            p = f"{t}layers.{i}.blocks.{j}."
            for n in ("norm1", "norm2"):
                s[p + n + ".weight"], s[p + n + ".bias"] = (C,), (C,)
            s[p + "attn.qkv.weight"], s[p + "attn.qkv.bias"] = (3 * C, C), (3 * C,)
            s[p + "attn.proj.weight"], s[p + "attn.proj.bias"] = (C, C), (C,)
            s[p + "attn.relative_position_bias_table"] = ((2 * w - 1) ** 2, heads)
            s[p + "attn.relative_position_index"] = (w * w, w * w)
            s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"] = (4 * C, C), (4 * C,)
            s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"] = (C, 4 * C), (C,)
        if i < 3:
            s[f"{t}layers.{i}.downsample.reduction.weight"] = (2 * C, 4 * C)
            s[f"{t}layers.{i}.downsample.norm.weight"] = s[f"{t}layers.{i}.downsample.norm.bias"] = (4 * C,)
        s[f"{t}norm{i}.weight"] = s[f"{t}norm{i}.bias"] = (C,)
    mid = cfg.projector.mid_channels
    pj = "model.mm_projector."
    s[pj + "layer1.0.conv1.weight"] = (mid, ch[3], 3, 3)
    s[pj + "layer1.0.conv2.weight"] = (mid, mid, 3, 3)
    s[pj + "layer1.0.downsample.0.weight"] = (mid, ch[3], 1, 1)
    for bn in ("bn1", "bn2", "downsample.1"):
        for n in ("weight", "bias", "running_mean", "running_var"):
            s[f"{pj}layer1.0.{bn}.{n}"] = (mid,)
        s[f"{pj}layer1.0.{bn}.num_batches_tracked"] = ()
    s[pj + "fc.weight"], s[pj + "fc.bias"] = (H, mid), (H,)
    pd = "pixel_decoder."
    for i, c in enumerate([ch[3], ch[2], ch[1]]):
        s[f"{pd}input_proj.{i}.0.weight"], s[f"{pd}input_proj.{i}.0.bias"] = (d, c, 1, 1), (d,)
        s[f"{pd}input_proj.{i}.1.weight"] = s[f"{pd}input_proj.{i}.1.bias"] = (d,)
    s[pd + "transformer.level_embed"] = (3, d)
    M, P, F = cfg.decoder.enc_heads, cfg.decoder.enc_n_points, cfg.decoder.enc_dim_feedforward
    for n in range(cfg.decoder.enc_layers):
        p = f"{pd}transformer.encoder.layers.{n}."
        s[p + "self_attn.sampling_offsets.weight"], s[p + "self_attn.sampling_offsets.bias"] = (M * 3 * P * 2, d), (M * 3 * P * 2,)
        s[p + "self_attn.attention_weights.weight"], s[p + "self_attn.attention_weights.bias"] = (M * 3 * P, d), (M * 3 * P,)
        for nm in ("value_proj", "output_proj"):
            s[p + f"self_attn.{nm}.weight"], s[p + f"self_attn.{nm}.bias"] = (d, d), (d,)
        s[p + "linear1.weight"], s[p + "linear1.bias"] = (F, d), (F,)
        s[p + "linear2.weight"], s[p + "linear2.bias"] = (d, F), (d,)
        for nm in ("norm1", "norm2"):
            s[p + nm + ".weight"] = s[p + nm + ".bias"] = (d,)
    s[pd + "mask_features.weight"], s[pd + "mask_features.bias"] = (d, d, 1, 1), (d,)
    s[pd + "adapter_1.0.weight"], s[pd + "adapter_1.0.bias"] = (d, ch[0], 1, 1), (d,)
    s[pd + "layer_1.0.weight"], s[pd + "layer_1.0.bias"] = (d, d, 3, 3), (d,)
    for nm in ("adapter_1.1", "layer_1.1"):
        s[f"{pd}{nm}.weight"] = s[f"{pd}{nm}.bias"] = (d,)
    pr = "predictor."
    for n in range(cfg.decoder.dec_layers):
        for layer, attn in (("transformer_self_attention_layers", "self_attn"), ("transformer_cross_attention_layers", "multihead_attn")):
            p = f"{pr}{layer}.{n}."
            s[p + f"{attn}.in_proj_weight"], s[p + f"{attn}.in_proj_bias"] = (3 * d, d), (3 * d,)
            s[p + f"{attn}.out_proj.weight"], s[p + f"{attn}.out_proj.bias"] = (d, d), (d,)
            s[p + "norm.weight"] = s[p + "norm.bias"] = (d,)
        p = f"{pr}transformer_ffn_layers.{n}."
        D = cfg.decoder.dim_feedforward
        s[p + "linear1.weight"], s[p + "linear1.bias"] = (D, d), (D,)
        s[p + "linear2.weight"], s[p + "linear2.bias"] = (d, D), (d,)
        s[p + "norm.weight"] = s[p + "norm.bias"] = (d,)
    s[pr + "decoder_norm.weight"] = s[pr + "decoder_norm.bias"] = (d,)
    s[pr + "query_feat.weight"], s[pr + "query_embed.weight"] = (Q, d), (Q, d)
    s[pr + "SEG_query_embed.weight"], s[pr + "level_embed.weight"] = (Q + 1, d), (3, d)
    for i in range(3):
        s[f"{pr}mask_embed.layers.{i}.weight"], s[f"{pr}mask_embed.layers.{i}.bias"] = (d, d), (d,)
    for head in ("SEG_proj", "CLASS_proj", "REGION_proj"):
        for i in range(2):
            s[f"{pr}{head}.layers.{i}.weight"], s[f"{pr}{head}.layers.{i}.bias"] = (d, d), (d,)
    for proj in ("seg_query_projector", "SEG_token_projector", "class_name_projector", "region_projector"):
        s[f"{proj}.weight"], s[f"{proj}.bias"] = (d, H), (d,)
    return s


def write_official(directory, cfg: PSALMConfig, seed: int = 0, drop: str | None = None,
                   reshape: str | None = None) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, shape in official_shapes(cfg).items():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(7)
        elif k.endswith("relative_position_index"):
            sd[k] = torch.zeros(shape, dtype=torch.long)
        elif k.endswith("running_var"):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[k] = torch.randn(shape, generator=g) * 0.05
    if drop:
        del sd[drop]
    if reshape:
        sd[reshape] = torch.zeros(3, 3)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(sd, directory / "pytorch_model.bin")
    (directory / "config.json").write_text(json.dumps({
        "model_type": "llava_phi", "mm_projector_type": "swin_conv", "hidden_size": cfg.llm.hidden_size,
        "num_hidden_layers": cfg.llm.num_layers, "swin_type": "base", "mask_decode_train": True}))
    return sd


def test_load_official_maps_every_key(tmp_path, tok):
    cfg = get_config("tiny-paper")
    sd = write_official(tmp_path, replace(cfg, llm=replace(cfg.llm, vocab_size=150)))  # file's vocab rows win
    model = load_official(tmp_path, cfg, tok)
    assert model.config.llm.vocab_size == 150
    own = model.state_dict()
    # LLM, heads, decoders: one to one
    assert torch.equal(own["llm.layers.1.self_attn.dense.weight"], sd["model.layers.1.self_attn.dense.weight"])
    assert torch.equal(own["llm.embed_tokens.weight"], sd["model.embed_tokens.weight"])
    assert torch.equal(own["seg_query"], sd["seg_query"]) and torch.equal(own["lm_head.weight"], sd["lm_head.weight"])
    assert torch.equal(own["pixel_decoder.adapter_1.0.bias"], sd["pixel_decoder.adapter_1.0.bias"])
    assert torch.equal(own["predictor.transformer_cross_attention_layers.2.multihead_attn.in_proj_weight"],
                       sd["predictor.transformer_cross_attention_layers.2.multihead_attn.in_proj_weight"])
    assert torch.equal(own["mm_projector.layer1.0.bn2.running_var"], sd["model.mm_projector.layer1.0.bn2.running_var"])
    # Swin: renamed, qkv split into q, k, v in that order
    t, v = "model.vision_tower.", "vision_tower.backbone."
    qkv = sd[t + "layers.2.blocks.1.attn.qkv.weight"]
    C = qkv.shape[1]
    for i, n in enumerate("qkv"):
        assert torch.equal(own[v + f"swin.encoder.layers.2.blocks.1.attention.{n}_proj.weight"], qkv[i * C : (i + 1) * C])
    assert torch.equal(own[v + "swin.encoder.layers.0.blocks.0.attention.relative_position_bias.relative_position_bias_table"],
                       sd[t + "layers.0.blocks.0.attn.relative_position_bias_table"])
    assert torch.equal(own[v + "swin.encoder.layers.0.blocks.0.layernorm_after.weight"], sd[t + "layers.0.blocks.0.norm2.weight"])
    assert torch.equal(own[v + "swin.encoder.layers.1.downsample.reduction.weight"], sd[t + "layers.1.downsample.reduction.weight"])
    assert torch.equal(own[v + "hidden_states_norms.stage1.weight"], sd[t + "norm0.weight"])
    assert torch.equal(own[v + "swin.embeddings.patch_embeddings.projection.weight"], sd[t + "patch_embed.proj.weight"])
    # every official tensor except the ignored ones landed somewhere
    ignored = [k for k in sd if "relative_position_index" in k or k.startswith(("predictor.query_feat", "predictor.SEG_query_embed"))]
    assert sum(x.numel() for k, x in sd.items() if k not in ignored) == sum(x.numel() for x in own.values())
    s = toy_sample("referring", 0)
    with torch.no_grad():
        out = model(collate([s], cfg, tok, False))
    assert out.final.seg_logits.shape == (1, cfg.decoder.num_queries, 1)


def test_load_official_key_errors(tmp_path, tok):
    cfg = get_config("tiny-paper")
    write_official(tmp_path / "a", cfg, drop="predictor.mask_embed.layers.1.weight")
    with pytest.raises(InputError, match=r"a: 1 missing keys: predictor.mask_embed.layers.1.weight"):
        load_official(tmp_path / "a", cfg, tok)
    write_official(tmp_path / "b", cfg, drop="model.vision_tower.layers.0.blocks.0.attn.qkv.weight")
    with pytest.raises(InputError, match=r"1 missing keys: model.vision_tower.layers.0.blocks.0.attn.qkv.weight"):
        load_official(tmp_path / "b", cfg, tok)
    write_official(tmp_path / "c", cfg, reshape="pixel_decoder.layer_1.0.weight")
    with pytest.raises(InputError, match=r"1 keys with mismatched shapes \(file vs model\): pixel_decoder.layer_1.0.weight \(3, 3\) vs \(32, 32, 3, 3\)"):
        load_official(tmp_path / "c", cfg, tok)
    sd = write_official(tmp_path / "d", cfg)
    sd["predictor.extra_head.weight"] = torch.zeros(2)
    torch.save(sd, tmp_path / "d" / "pytorch_model.bin")
    with pytest.raises(InputError, match=r"1 unexpected keys: predictor.extra_head.weight"):
        load_official(tmp_path / "d", cfg, tok)
    fpn = get_config("tiny")
    with pytest.raises(InputError, match="msdeform pixel decoder"):
        load_official(tmp_path / "d", fpn, tok)
    other = replace(cfg, llm=replace(cfg.llm, hidden_size=128))
    with pytest.raises(InputError, match="different architecture than the checkpoint: hidden_size 64 vs 128"):
        load_official(tmp_path / "d", other, tok)
    (tmp_path / "d" / "config.json").write_text(json.dumps({"model_type": "llava_llama"}))
    with pytest.raises(InputError, match="not a PSALM checkpoint"):
        load_official(tmp_path / "d", cfg, tok)


def test_official_safetensors_shards(tmp_path, tok):
    cfg = get_config("tiny-paper")
    sd = write_official(tmp_path, cfg, seed=1)
    (tmp_path / "pytorch_model.bin").unlink()
    keys = sorted(sd)
    save_file({k: sd[k] for k in keys[::2]}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({k: sd[k] for k in keys[1::2]}, str(tmp_path / "model-00002-of-00002.safetensors"))
    model = load_official(tmp_path, cfg, tok)
    assert torch.equal(model.state_dict()["predictor.query_embed.weight"], sd["predictor.query_embed.weight"])
    assert np.isfinite(model.parameter_counts()["total"])
