"""Vision tower (HF Swin under official names) and the ``mm_projector``.

The Swin is transformers' ``SwinBackbone``; checkpoints store the official MS-Swin key
names (``patch_embed.proj``, ``layers.i.blocks.j.attn.qkv`` fused, ``norm0..3``) and
``swin_hf_to_official`` / ``swin_official_to_hf`` translate, so that a transformers
upgrade that renames HF internals never invalidates a shipped checkpoint.
"""

from __future__ import annotations

import re

import torch
from torch import nn
from transformers import SwinBackbone, SwinConfig
from transformers.models.swin import modeling_swin

from .config import ProjectorConfig, VisionConfig

# transformers before 5.9 (all of 4.x: LISA/LLaVA-era environments) lays SwinBackbone out
# without the inner ``swin.`` model and with BERT-style block names (``attention.self.query``,
# ``intermediate.dense``, ...); 5.9 renamed them. Checkpoints and the key mapping below use the
# 5.9 names: with an older transformers, VisionTower's state dict is renamed to them on the way
# out (``_modern_key``) and back on the way in (``_installed_key``), so the same files load on both.
_LEGACY_SWIN = hasattr(modeling_swin, "SwinSelfAttention")
_LEGACY_BLOCK = {  # name inside a block before 5.9 -> its 5.9 name
    "attention.self.query": "attention.q_proj",
    "attention.self.key": "attention.k_proj",
    "attention.self.value": "attention.v_proj",
    "attention.output.dense": "attention.o_proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
}
_LEGACY_TABLE = ("attention.self.relative_position_bias_table",
                 "attention.relative_position_bias.relative_position_bias_table")


class VisionTower(nn.Module):
    """Swin stages 1-4, each through its own LayerNorm: res2..res5 at strides 4..32
    (or EfficientNet-Lite0's blocks at the same strides, ``cfg.backbone``)."""

    def __init__(self, cfg: VisionConfig, image_size: int):
        super().__init__()
        self.channels = cfg.channels
        if cfg.backbone == "efficientnet-lite0":
            from .efficientnet_lite import EfficientNetLite0, load_pretrained

            self.effnet = EfficientNetLite0()  # module keys: vision_tower.effnet.* (never official Swin names)
            load_pretrained(self.effnet)
            return
        hf = SwinConfig(
            image_size=image_size, patch_size=cfg.patch_size, embed_dim=cfg.embed_dim, depths=list(cfg.depths),
            num_heads=list(cfg.num_heads), window_size=cfg.window_size, mlp_ratio=cfg.mlp_ratio,
            drop_path_rate=cfg.drop_path_rate, layer_norm_eps=1e-5,
            out_features=["stage1", "stage2", "stage3", "stage4"],
        )
        if _LEGACY_SWIN and torch.empty(()).is_meta:
            # transformers < 4.53 calls .item() on a tensor while it builds the encoder, which a
            # meta tensor cannot do: build on the CPU, then move to meta.
            with torch.device("cpu"):
                self.backbone = SwinBackbone(hf).to("meta")
        else:
            self.backbone = SwinBackbone(hf)
        if hasattr(self.backbone, "swin"):
            self.backbone.swin.layernorm = nn.Identity()  # unused by the backbone outputs; no official key
        if _LEGACY_SWIN:
            # the older layout saves relative_position_index, a buffer computed from the window
            # size; 5.9 keeps it out of the state dict, and so does a checkpoint here.
            for m in self.backbone.modules():
                if isinstance(m, modeling_swin.SwinSelfAttention):
                    m.register_buffer("relative_position_index", m.relative_position_index, persistent=False)
            # torch 2.1-2.4 have these hooks only under their private names
            self.backbone._register_state_dict_hook(_state_dict_in_modern_names)
            self.backbone._register_load_state_dict_pre_hook(_load_from_modern_names)

    def forward(self, pixel_values: torch.Tensor) -> list[torch.Tensor]:
        if hasattr(self, "effnet"):
            return self.effnet(pixel_values)
        return list(self.backbone(pixel_values).feature_maps)


_HF_BLOCK = re.compile(r"^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.(.+)$")
_BLOCK_RENAMES = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.o_proj": "attn.proj",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}


def _modern_key(k: str) -> str:
    """A ``SwinBackbone`` key of the layout before transformers 5.9 -> its 5.9 name (5.9 keys pass as they are)."""
    if not k.startswith(("embeddings.", "encoder.")):
        return k
    k = "swin." + k
    if (m := _HF_BLOCK.match(k)):
        prefix, rest = k[: len(k) - len(m[3])], m[3]
        if rest == _LEGACY_TABLE[0]:
            return prefix + _LEGACY_TABLE[1]
        head, _, param = rest.rpartition(".")
        if head in _LEGACY_BLOCK:
            return f"{prefix}{_LEGACY_BLOCK[head]}.{param}"
    return k


def _installed_key(k: str) -> str:
    """A 5.9 ``SwinBackbone`` key -> its name in the installed transformers' layout."""
    if not _LEGACY_SWIN or not k.startswith("swin."):
        return k
    if (m := _HF_BLOCK.match(k)):
        prefix, rest = k[: len(k) - len(m[3])], m[3]
        if rest == _LEGACY_TABLE[1]:
            return prefix[len("swin."):] + _LEGACY_TABLE[0]
        head, _, param = rest.rpartition(".")
        old = {v: o for o, v in _LEGACY_BLOCK.items()}.get(head)
        if old is not None:
            return f"{prefix[len('swin.'):]}{old}.{param}"
    return k[len("swin."):]


def _state_dict_in_modern_names(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """State-dict hook: the older layout's keys under their 5.9 names (the backbone's keys come last, order kept)."""
    for k in [k for k in state_dict if k.startswith(prefix)]:
        state_dict[prefix + _modern_key(k[len(prefix):])] = state_dict.pop(k)


def _load_from_modern_names(state_dict: dict, prefix: str, *args) -> None:
    """Load pre-hook: 5.9 names back to the installed layout's."""
    for k in [k for k in state_dict if k.startswith(prefix)]:
        state_dict[prefix + _installed_key(k[len(prefix):])] = state_dict.pop(k)


def swin_hf_key_to_official(k: str) -> str | None:
    """One HF ``SwinBackbone`` key -> its official name (q/k/v all name the fused qkv); None = no key."""
    if k.startswith("swin.embeddings.patch_embeddings.projection."):
        return "patch_embed.proj." + k.rsplit(".", 1)[1]
    if k.startswith("swin.embeddings.norm."):
        return "patch_embed.norm." + k.rsplit(".", 1)[1]
    if k.startswith("hidden_states_norms.stage"):
        stage, param = k[len("hidden_states_norms.stage"):].split(".")
        return f"norm{int(stage) - 1}.{param}"
    if (m := re.match(r"^swin\.encoder\.layers\.(\d+)\.downsample\.(.+)$", k)):
        return f"layers.{m[1]}.downsample.{m[2]}"
    if (m := _HF_BLOCK.match(k)):
        prefix, rest = f"layers.{m[1]}.blocks.{m[2]}.", m[3]
        if (q := re.match(r"^attention\.[qkv]_proj\.(weight|bias)$", rest)):
            return f"{prefix}attn.qkv.{q[1]}"
        if rest == "attention.relative_position_bias.relative_position_bias_table":
            return f"{prefix}attn.relative_position_bias_table"
        head, param = rest.rsplit(".", 1)
        if head in _BLOCK_RENAMES:
            return f"{prefix}{_BLOCK_RENAMES[head]}.{param}"
    if k.startswith("swin.layernorm."):
        return None
    raise KeyError(f"unmapped Swin key {k}")


def swin_hf_to_official(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HF ``SwinBackbone`` state dict -> official MS-Swin names (q/k/v fused into qkv, in that order)."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    for k, v in sd.items():
        name = swin_hf_key_to_official(k)
        if name is None:
            continue
        if ".attn.qkv." in name:
            qkv.setdefault(name, {})[k.split(".attention.")[1][0]] = v
        else:
            out[name] = v
    for name, parts in qkv.items():
        out[name] = torch.cat([parts["q"], parts["k"], parts["v"]], 0)
    return out


def swin_official_to_hf(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Official MS-Swin names -> HF ``SwinBackbone`` names. Returns (mapped, keys it did not know)."""
    inv = {v: k for k, v in _BLOCK_RENAMES.items()}
    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for k, v in sd.items():
        if k.endswith("relative_position_index") or k.endswith("attn_mask"):
            continue  # buffers HF recomputes
        if k.startswith("patch_embed.proj."):
            out["swin.embeddings.patch_embeddings.projection." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("patch_embed.norm."):
            out["swin.embeddings.norm." + k.rsplit(".", 1)[1]] = v
        elif (m := re.match(r"^norm(\d+)\.(weight|bias)$", k)):
            out[f"hidden_states_norms.stage{int(m[1]) + 1}.{m[2]}"] = v
        elif (m := re.match(r"^layers\.(\d+)\.downsample\.(.+)$", k)):
            out[f"swin.encoder.layers.{m[1]}.downsample.{m[2]}"] = v
        elif (m := re.match(r"^layers\.(\d+)\.blocks\.(\d+)\.(.+)\.(weight|bias|relative_position_bias_table)$", k)):
            prefix = f"swin.encoder.layers.{m[1]}.blocks.{m[2]}."
            head, param = m[3], m[4]
            if param == "relative_position_bias_table":
                if head != "attn":
                    unknown.append(k)
                    continue
                out[prefix + "attention.relative_position_bias.relative_position_bias_table"] = v
            elif head == "attn.qkv":
                if v.shape[0] % 3:
                    unknown.append(k)
                    continue
                for name, part in zip("qkv", v.chunk(3, 0)):
                    out[f"{prefix}attention.{name}_proj.{param}"] = part
            elif head in inv:
                out[f"{prefix}{inv[head]}.{param}"] = v
            else:
                unknown.append(k)
        else:
            unknown.append(k)
    return out, unknown


class BasicBlock(nn.Module):
    """ResNet BasicBlock (BatchNorm) with the released code's quirk: conv2 runs twice.

    The released block computes ``bn2(conv2(conv2(relu(bn1(conv1(x))))))`` + shortcut;
    ``double_conv2=False`` gives the textbook block.
    """

    def __init__(self, inplanes: int, planes: int, stride: int, double_conv2: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
        self.double_conv2 = double_conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        if self.double_conv2:
            out = self.conv2(out)
        out = self.bn2(out)
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class Projector(nn.Module):
    """res5 -> BasicBlock (stride 1 or 2) -> Linear to the LLM width; returns the token map."""

    def __init__(self, cfg: ProjectorConfig, in_channels: int, hidden: int):
        super().__init__()
        self.layer1 = nn.Sequential(BasicBlock(in_channels, cfg.mid_channels, cfg.stride, cfg.double_conv2))
        self.fc = nn.Linear(cfg.mid_channels, hidden)
        for m in self.modules():  # He init as released
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, (2.0 / n) ** 0.5)

    def forward(self, res5: torch.Tensor) -> torch.Tensor:
        """(B,C,h,w) -> (B,g,g,H): the image tokens in raster order, kept as a map for region pooling."""
        x = self.layer1(res5)
        return self.fc(x.permute(0, 2, 3, 1))
