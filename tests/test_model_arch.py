"""PSALM model: config, tokenizer, preprocessing, sequence builder, forward shapes, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from psalm_bench.errors import InputError  # noqa: E402
from psalm_bench.model.config import PSALMConfig, get_config  # noqa: E402
from psalm_bench.model.preprocess import (  # noqa: E402
    PIXEL_MEAN,
    PIXEL_STD,
    preprocess_image,
    prompt_to_region_mask,
    resize_masks,
    resized_shape,
)
from psalm_bench.model.psalm import PSALM  # noqa: E402
from psalm_bench.model.samples import SYSTEM, TrainSample, collate  # noqa: E402
from psalm_bench.model.tokenizer import build_tokenizer, load_tokenizer  # noqa: E402
from psalm_bench.model.toy import TOY_WORDS, toy_sample, toy_scene  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(TOY_WORDS + ["sky", "grass"])


@pytest.fixture(scope="module")
def tiny(tok):
    torch.manual_seed(0)
    return PSALM(get_config("tiny"), tok).eval()


# ---------------------------------------------------------------- config
def test_config_json_round_trip(tmp_path):
    for name in ("tiny", "tiny-paper", "bundled", "swinb-phi15"):
        cfg = get_config(name)
        cfg.to_json(tmp_path / f"{name}.json")
        assert PSALMConfig.from_json(tmp_path / f"{name}.json") == cfg


def test_config_errors(tmp_path):
    with pytest.raises(InputError, match="unknown model config 'nope'"):
        get_config("nope")
    data = get_config("tiny").to_dict()
    data["decoder"]["bogus"] = 1
    (tmp_path / "c.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"c.json: decoder.bogus: unknown config key"):
        PSALMConfig.from_json(tmp_path / "c.json")
    data = get_config("tiny").to_dict()
    data["image_size"] = 70
    with pytest.raises(InputError, match="image_size: 70 is not a multiple of 32"):
        PSALMConfig.from_dict(data)
    data = get_config("tiny").to_dict()
    data["arch"] = "lisa"
    with pytest.raises(InputError, match="arch"):
        PSALMConfig.from_dict(data)


def test_paper_scale_size_without_memory():
    with torch.device("meta"):
        model = PSALM(get_config("swinb-phi15"))
    counts = model.parameter_counts()
    assert 1.55e9 < counts["total"] < 1.62e9  # the notes' ~1.59B
    assert counts["trainable"] == counts["total"] - counts["vision"]  # the Swin is frozen


def test_bundled_geometry():
    cfg = get_config("bundled")
    assert (cfg.image_size, cfg.num_image_tokens, cfg.decoder.num_queries, cfg.decoder.pixel_decoder) == (256, 64, 20, "fpn")


# ---------------------------------------------------------------- tokenizer
def test_tokenizer_round_trip(tmp_path, tok):
    ids = tok.encode(SYSTEM + "square")
    assert 1 not in ids  # no [UNK]: every template word is in the vocabulary
    assert tok.encode("Square, circle.") == tok.encode("square , circle .")
    assert tok.encode("[SEG]") == [tok.seg_id] and tok.encode(" <|endoftext|>") == [tok.eos_id]
    tok.save(tmp_path)
    again = load_tokenizer(tmp_path)
    assert again == tok and again.encode("the red square") == tok.encode("the red square")
    with pytest.raises(InputError, match="no tokenizer.json"):
        load_tokenizer(tmp_path / "missing")


# ---------------------------------------------------------------- preprocessing
def test_preprocess_resize_pad_normalise():
    assert resized_shape(480, 640, 1024) == (768, 1024)
    assert resized_shape(640, 480, 64) == (64, 48)
    img = np.full((30, 60, 3), 128, np.uint8)
    img[:, :, 0] = 255
    pv, pad, geo = preprocess_image(img, 64)
    assert pv.shape == (3, 64, 64) and geo.valid_size == (32, 64) and geo.orig_size == (30, 60)
    assert pad[:32].any().item() is False and pad[32:].all().item()
    expect_pad = (128 - np.array(PIXEL_MEAN)) / np.array(PIXEL_STD)
    np.testing.assert_allclose(pv[:, 40, 10].numpy(), expect_pad, rtol=1e-6)
    np.testing.assert_allclose(pv[0, 5, 5].item(), (255 - PIXEL_MEAN[0]) / PIXEL_STD[0], rtol=1e-6)
    m = np.zeros((1, 30, 60), bool)
    m[0, :15, :30] = True
    r = resize_masks(m, geo)
    assert r.shape == (1, 64, 64) and int(r.sum()) == 16 * 32 and not r[0, 32:].any()
    with pytest.raises(InputError, match="H x W x 3"):
        preprocess_image(np.zeros((4, 4), np.uint8), 64)


def test_prompt_to_region_mask():
    m = np.zeros((64, 64), bool)
    m[32, 32] = True
    disk = prompt_to_region_mask("point", m)
    assert disk[32, 42] and disk[42, 32] and not disk[32, 43] and not disk[40, 40]  # radius 10
    line = np.zeros((64, 64), bool)
    line[32, 10:50] = True
    thick = prompt_to_region_mask("scribble", line)
    assert thick[:, 30].sum() == 11  # 5 px each side
    box = np.zeros((64, 64), bool)
    box[5:9, 5:9] = True
    assert (prompt_to_region_mask("box", box) == box).all()
    with pytest.raises(InputError, match="prompt kind 'lasso'"):
        prompt_to_region_mask("lasso", box)


# ---------------------------------------------------------------- sequence builder
def test_collate_class_order_shuffle_is_undone(tok):
    cfg = get_config("tiny")
    img, m = toy_scene(0)
    names = ["square", "circle", "sky", "grass"]
    s = TrainSample("panoptic", img, m, class_names=names, target_labels=np.array([0, 1]))
    b = collate([s], cfg, tok, True, np.random.default_rng(3))
    assert b.class_order[0] != list(range(4))  # seed 3 does shuffle
    ids = b.input_ids[0]
    for col, name in enumerate(names + ["background"]):
        span = torch.nonzero(b.cond_weights[0, col])[:, 0]
        assert ids[span].tolist() == tok.encode(name) + [tok.seg_id]
        assert torch.allclose(b.cond_weights[0, col, span], torch.tensor(1.0 / len(span)))
    # image tokens come first, then conditions, then the mask tokens
    assert b.image_pos[0, -1] < torch.nonzero(b.cond_weights[0].sum(0))[0, 0] < b.mask_pos[0, 0]
    eval_b = collate([s], cfg, tok, False)
    assert eval_b.class_order[0] == [0, 1, 2, 3]


def test_collate_batches_mixed_class_counts_and_sentence_pooling(tok):
    cfg = get_config("tiny")
    img, m = toy_scene(1)
    a = TrainSample("panoptic", img, m, class_names=["square", "circle", "sky"], target_labels=np.array([0, 1]))
    c = TrainSample("panoptic", img, m[:1], class_names=["square"], target_labels=np.array([0]))
    b = collate([a, c], cfg, tok, False)
    assert b.cond_valid.tolist() == [[True, True, True, True], [True, False, False, True]]
    r = toy_sample("referring", 0)
    cfg.sentence_pooling = "last"
    b = collate([r], cfg, tok, False)
    pos = torch.nonzero(b.cond_weights[0, 0])[:, 0]
    assert len(pos) == 1 and b.input_ids[0, pos].item() == tok.seg_id


def test_collate_region_points_lie_inside_prompts(tok):
    cfg = get_config("tiny")
    s = toy_sample("interactive", 2)
    b = collate([s], cfg, tok, True, np.random.default_rng(0))
    assert b.region_points.shape == (1, 2, cfg.region_points, 2)
    S = cfg.image_size
    for k in range(2):
        xy = ((b.region_points[0, k] + 1) / 2 * S).round().long().clamp(max=S - 1)
        inside = resize_masks(s.prompt_masks, b.geometries[0])[k][xy[:, 1], xy[:, 0]]
        assert inside.all()
    eval_b = collate([s], cfg, tok, False)
    assert eval_b.region_points is None and eval_b.region_weights.shape == (1, 2, cfg.grid_size, cfg.grid_size)


def test_collate_input_errors(tok):
    cfg = get_config("tiny")
    s = toy_sample("interactive", 0)
    bad = TrainSample("interactive", s.image, s.target_masks, prompt_masks=s.prompt_masks[:, :32], prompt_kinds=["mask", "box"])
    with pytest.raises(InputError, match=r"sample 0: prompt_masks has shape \(2, 32, 64\), expected \(N, 64, 64\)"):
        collate([bad], cfg, tok, False)
    empty = TrainSample("interactive", s.image, s.target_masks, prompt_masks=np.zeros_like(s.prompt_masks), prompt_kinds=["mask", "box"])
    with pytest.raises(InputError, match="prompt 0 .* is empty"):
        collate([empty], cfg, tok, False)
    wrong = TrainSample("panoptic", s.image, s.target_masks[:, :10], class_names=["square"], target_labels=np.array([0, 0]))
    with pytest.raises(InputError, match="target_masks has shape"):
        collate([wrong], cfg, tok, False)
    with pytest.raises(InputError, match="one task per batch"):
        collate([toy_sample("panoptic", 0), toy_sample("referring", 0)], cfg, tok, False)
    labels = TrainSample("panoptic", s.image, s.target_masks, class_names=["square"], target_labels=np.array([0, 3]))
    with pytest.raises(InputError, match="target_labels must index class_names"):
        collate([labels], cfg, tok, False)


# ---------------------------------------------------------------- forward
@pytest.mark.parametrize("task", ["panoptic", "semantic", "referring", "interactive"])
def test_forward_shapes(tiny, tok, task):
    cfg = tiny.config
    samples = [toy_sample("panoptic" if task == "semantic" else task, i) for i in range(2)]
    for s in samples:
        s.task = task
    with torch.no_grad():
        out = tiny(collate(samples, cfg, tok, False))
    Q, h = cfg.decoder.num_queries, cfg.mask_size
    assert len(out.predictions) == cfg.decoder.dec_layers + 1
    for p in out.predictions:
        assert p.masks.shape == (2, Q, h, h)
        if task in ("panoptic", "semantic"):
            assert p.class_logits.shape == (2, Q, 3) and p.seg_logits is None and p.region_logits is None
        elif task == "referring":
            assert p.seg_logits.shape == (2, Q, 1) and p.class_logits is None
        else:
            assert p.region_logits.shape == (2, 2, Q) and p.class_logits is None


def test_forward_paper_layout_and_prompt_image(tok):
    torch.manual_seed(0)
    cfg = get_config("tiny-paper")
    model = PSALM(cfg, tok).eval()
    assert cfg.num_image_tokens == 1  # res5 2x2 through the stride-2 projector
    s = toy_sample("interactive", 0)
    s.prompt_image = toy_scene(5)[0]  # DAVIS: the prompts refer to the previous frame
    with torch.no_grad():
        b = collate([s], cfg, tok, False)
        assert b.prompt_pixel_values is not None
        out = model(b)
    assert out.final.region_logits.shape == (1, 2, cfg.decoder.num_queries)
    assert out.final.masks.shape == (1, cfg.decoder.num_queries, 16, 16)


def test_inference_is_deterministic_and_batch_independent(tiny, tok):
    cfg = tiny.config
    samples = [toy_sample("panoptic", i) for i in range(2)]
    with torch.no_grad():
        a = tiny(collate(samples, cfg, tok, False))
        b = tiny(collate(samples, cfg, tok, False))
        one = tiny(collate(samples[1:], cfg, tok, False))
    for pa, pb in zip(a.predictions, b.predictions):
        assert torch.equal(pa.masks, pb.masks) and torch.equal(pa.class_logits, pb.class_logits)
    torch.testing.assert_close(a.final.masks[1], one.final.masks[0], atol=1e-4, rtol=1e-4)


def test_parameter_counts(tiny):
    c = tiny.parameter_counts()
    assert c["total"] == sum(p.numel() for p in tiny.parameters())
    assert c["total"] == sum(v for k, v in c.items() if k not in ("total", "trainable"))


def test_eval_region_pooling_is_the_expectation_of_training_points(tiny, tok):
    cfg = tiny.config
    s = toy_sample("interactive", 3)
    b = collate([s], cfg, tok, False)
    fmap = torch.randn(1, cfg.grid_size, cfg.grid_size, cfg.llm.hidden_size)
    det = tiny._pool_regions(fmap, b)
    masks = resize_masks(s.prompt_masks, b.geometries[0])
    for k in range(2):  # every pixel of the prompt as a "random" point
        ys, xs = torch.nonzero(masks[k], as_tuple=True)
        pts = torch.stack([xs / cfg.image_size * 2 - 1, ys / cfg.image_size * 2 - 1], -1).float()
        b.region_points, b.region_weights = pts.view(1, 1, -1, 2), None
        full = tiny._pool_regions(fmap, b)
        torch.testing.assert_close(det[0, k], full[0, 0], atol=1e-5, rtol=1e-5)


def test_hf_style_tokenizer_gets_pad_then_seg(tmp_path):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    base = Tokenizer(WordLevel({"hello": 0, "<|endoftext|>": 1, "[UNK]": 2}, unk_token="[UNK]"))
    base.pre_tokenizer = Whitespace()
    base.save(str(tmp_path / "tokenizer.json"))
    t = load_tokenizer(tmp_path)
    assert (t.pad_id, t.seg_id, t.eos_id, t.vocab_size) == (3, 4, 1, 5)  # the official order: [PAD], then [SEG]


def test_deformable_attention_and_sine_pe_match_transformers_mask2former():
    """Cross-check against an independent implementation (HF Mask2Former's pixel-decoder parts)."""
    import inspect

    from transformers.models.mask2former import modeling_mask2former as hf

    from psalm_bench.model.pixel_decoder import MSDeformAttn, MSDeformTransformer, sine_position_embedding

    if "num_position_features" not in inspect.signature(hf.Mask2FormerSinePositionEmbedding.__init__).parameters:
        pytest.skip("the reference's call signature is transformers >= 5.9's (the [model] extra allows 4.37; CI runs the newest end)")

    torch.manual_seed(0)
    x = torch.randn(2, 32, 5, 7)
    ref = hf.Mask2FormerSinePositionEmbedding(num_position_features=16, normalize=True)(x.shape, x.device, x.dtype)
    torch.testing.assert_close(sine_position_embedding(x, 16), ref)

    ours = MSDeformAttn(32, 3, 4, 2)
    theirs = hf.Mask2FormerPixelDecoderEncoderMultiscaleDeformableAttention(32, 4, 3, 2)
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.2)
    theirs.load_state_dict(ours.state_dict())
    shapes = [(2, 3), (4, 5), (8, 9)]
    S = sum(h * w for h, w in shapes)
    src, pos = torch.randn(2, S, 32), torch.randn(2, S, 32)
    refs = MSDeformTransformer.reference_points(shapes, "cpu", torch.float32).expand(2, -1, -1, -1)
    hf_refs = hf.Mask2FormerPixelDecoderEncoderOnly.get_reference_points(shapes, torch.ones(2, 3, 2), "cpu")
    torch.testing.assert_close(refs, hf_refs)
    out = ours(src + pos, refs, src, shapes)
    expect = theirs(src, encoder_hidden_states=src, position_embeddings=pos, reference_points=hf_refs,
                    spatial_shapes_list=shapes)[0]
    torch.testing.assert_close(out, expect)
