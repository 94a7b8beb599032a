"""Pixel decoders: Mask2Former's MSDeformAttn decoder (official layout) and a light FPN.

Both take res2..res5 and return ``(mask_features at 1/4, [maps at 1/32, 1/16, 1/8])``.
Module names follow the official checkpoint (``input_proj.i.{0,1}``,
``transformer.level_embed``, ``transformer.encoder.layers.N.self_attn.*``,
``adapter_1``, ``layer_1``, ``mask_features``) so its weights load one to one. The PSALM
variant differs from detectron2's: ``adapter_1`` and ``layer_1`` are plain
``Sequential(Conv2d(bias=True), GroupNorm, ReLU)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import DecoderConfig


def sine_position_embedding(x: torch.Tensor, num_pos_feats: int, temperature: float = 10000.0) -> torch.Tensor:
    """DETR's normalised sine embedding for an unpadded (B,C,H,W) map -> (B, 2*num_pos_feats, H, W)."""
    B, _, H, W = x.shape
    dev = x.device
    scale, eps = 2 * math.pi, 1e-6
    y = torch.arange(1, H + 1, dtype=torch.float32, device=dev)
    xx = torch.arange(1, W + 1, dtype=torch.float32, device=dev)
    y = y / (H + eps) * scale
    xx = xx / (W + eps) * scale
    dim_t = torch.arange(num_pos_feats, dtype=torch.float32, device=dev)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_pos_feats)
    py = y[:, None] / dim_t  # (H, F)
    px = xx[:, None] / dim_t  # (W, F)
    py = torch.stack((py[:, 0::2].sin(), py[:, 1::2].cos()), dim=2).flatten(1)
    px = torch.stack((px[:, 0::2].sin(), px[:, 1::2].cos()), dim=2).flatten(1)
    pos = torch.cat((py[:, None, :].expand(H, W, -1), px[None, :, :].expand(H, W, -1)), dim=2)
    return pos.permute(2, 0, 1).unsqueeze(0).expand(B, -1, -1, -1).to(x.dtype)


def _conv_gn(cin: int, cout: int, k: int, relu: bool) -> nn.Sequential:
    conv = nn.Conv2d(cin, cout, k, padding=k // 2)
    nn.init.kaiming_uniform_(conv.weight, a=1)  # c2_xavier_fill
    nn.init.zeros_(conv.bias)
    mods: list[nn.Module] = [conv, nn.GroupNorm(32, cout)]
    if relu:
        mods.append(nn.ReLU(inplace=True))
    return nn.Sequential(*mods)


def _input_proj(cin: int, d: int) -> nn.Sequential:
    proj = nn.Sequential(nn.Conv2d(cin, d, 1), nn.GroupNorm(32, d))
    nn.init.xavier_uniform_(proj[0].weight, gain=1)
    nn.init.zeros_(proj[0].bias)
    return proj


# ---------------------------------------------------------------------------------------
# Multi-scale deformable attention (pure PyTorch, as the released fallback computes it)
# ---------------------------------------------------------------------------------------
def ms_deform_attn(value: torch.Tensor, shapes: list[tuple[int, int]], locations: torch.Tensor,
                   weights: torch.Tensor) -> torch.Tensor:
    """value (B,S,M,D), locations (B,Lq,M,L,P,2) in [0,1], weights (B,Lq,M,L,P) -> (B,Lq,M*D)."""
    B, _, M, D = value.shape
    _, Lq, _, L, P, _ = locations.shape
    out_dtype = value.dtype
    value, weights = value.float(), weights.float()  # sampling positions need fp32 even under autocast
    values = value.split([h * w for h, w in shapes], dim=1)
    grids = 2 * locations.float() - 1
    sampled = []
    for lvl, (h, w) in enumerate(shapes):
        v = values[lvl].flatten(2).transpose(1, 2).reshape(B * M, D, h, w)
        g = grids[:, :, :, lvl].transpose(1, 2).flatten(0, 1)  # (B*M, Lq, P, 2)
        sampled.append(F.grid_sample(v, g, mode="bilinear", padding_mode="zeros", align_corners=False))
    attn = weights.transpose(1, 2).reshape(B * M, 1, Lq, L * P)
    out = (torch.stack(sampled, dim=-2).flatten(-2) * attn).sum(-1).view(B, M * D, Lq)
    return out.transpose(1, 2).contiguous().to(out_dtype)


class MSDeformAttn(nn.Module):
    def __init__(self, d_model: int, n_levels: int, n_heads: int, n_points: int):
        super().__init__()
        self.n_levels, self.n_heads, self.n_points = n_levels, n_heads, n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.sampling_offsets.weight)
        thetas = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = (grid / grid.abs().max(-1, keepdim=True)[0]).view(self.n_heads, 1, 1, 2)
        grid = grid.repeat(1, self.n_levels, self.n_points, 1)
        grid = grid * torch.arange(1, self.n_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.view(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(self, query: torch.Tensor, reference_points: torch.Tensor, value_in: torch.Tensor,
                shapes: list[tuple[int, int]]) -> torch.Tensor:
        B, Lq, _ = query.shape
        M, L, P = self.n_heads, self.n_levels, self.n_points
        value = self.value_proj(value_in).view(B, value_in.shape[1], M, -1)
        offsets = self.sampling_offsets(query).view(B, Lq, M, L, P, 2).float()
        weights = self.attention_weights(query).view(B, Lq, M, L * P).float().softmax(-1).view(B, Lq, M, L, P)
        normalizer = torch.tensor([[w, h] for h, w in shapes], dtype=torch.float32, device=query.device)
        locations = reference_points.float()[:, :, None, :, None, :] + offsets / normalizer[None, None, None, :, None, :]
        return self.output_proj(ms_deform_attn(value, shapes, locations, weights))


class MSDeformEncoderLayer(nn.Module):
    def __init__(self, d: int, ffn: int, n_levels: int, n_heads: int, n_points: int):
        super().__init__()
        self.self_attn = MSDeformAttn(d, n_levels, n_heads, n_points)
        self.norm1 = nn.LayerNorm(d)
        self.linear1 = nn.Linear(d, ffn)
        self.linear2 = nn.Linear(ffn, d)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, src, pos, ref, shapes):
        src = self.norm1(src + self.self_attn(src + pos, ref, src, shapes))
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))


class _MSDeformEncoder(nn.Module):
    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class MSDeformTransformer(nn.Module):
    """Encoder-only deformable transformer over the 3 coarse levels (no padding mask, as released)."""

    def __init__(self, d: int, heads: int, layers: int, ffn: int, n_levels: int, n_points: int):
        super().__init__()
        self.encoder = _MSDeformEncoder([MSDeformEncoderLayer(d, ffn, n_levels, heads, n_points) for _ in range(layers)])
        self.level_embed = nn.Parameter(torch.empty(n_levels, d))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m.reset_parameters()
        nn.init.normal_(self.level_embed)

    @staticmethod
    def reference_points(shapes: list[tuple[int, int]], device, dtype) -> torch.Tensor:
        refs = []
        for h, w in shapes:
            ry, rx = torch.meshgrid(torch.linspace(0.5, h - 0.5, h, device=device, dtype=torch.float32),
                                    torch.linspace(0.5, w - 0.5, w, device=device, dtype=torch.float32), indexing="ij")
            refs.append(torch.stack((rx.reshape(-1) / w, ry.reshape(-1) / h), -1))
        ref = torch.cat(refs, 0)[None, :, None, :]  # (1, S, 1, 2), valid ratios are 1
        return ref.expand(1, -1, len(shapes), -1).to(dtype)

    def forward(self, srcs: list[torch.Tensor], pos: list[torch.Tensor]) -> torch.Tensor:
        shapes = [(s.shape[2], s.shape[3]) for s in srcs]
        flat = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)
        lvl_pos = torch.cat([p.flatten(2).transpose(1, 2) + self.level_embed[i].view(1, 1, -1) for i, p in enumerate(pos)], 1)
        ref = self.reference_points(shapes, flat.device, torch.float32).expand(flat.shape[0], -1, -1, -1)
        out = flat
        for layer in self.encoder.layers:
            out = layer(out, lvl_pos, ref, shapes)
        return out


class MSDeformPixelDecoder(nn.Module):
    """Mask2Former ``MSDeformAttnPixelDecoder`` with PSALM's FPN lateral (bias + ReLU)."""

    def __init__(self, cfg: DecoderConfig, in_channels: list[int]):
        super().__init__()
        d = cfg.hidden_dim
        self.d = d
        self.input_proj = nn.ModuleList([_input_proj(c, d) for c in in_channels[1:][::-1]])  # res5, res4, res3
        self.transformer = MSDeformTransformer(d, cfg.enc_heads, cfg.enc_layers, cfg.enc_dim_feedforward, 3, cfg.enc_n_points)
        self.mask_features = nn.Conv2d(d, d, 1)
        nn.init.kaiming_uniform_(self.mask_features.weight, a=1)
        nn.init.zeros_(self.mask_features.bias)
        self.adapter_1 = _conv_gn(in_channels[0], d, 1, relu=True)
        self.layer_1 = _conv_gn(d, d, 3, relu=True)

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        res2, coarse = feats[0], feats[1:][::-1]
        srcs = [proj(x) for proj, x in zip(self.input_proj, coarse)]
        pos = [sine_position_embedding(x, self.d // 2) for x in coarse]
        y = self.transformer(srcs, pos)
        B = y.shape[0]
        outs, start = [], 0
        for s in srcs:
            h, w = s.shape[2:]
            outs.append(y[:, start : start + h * w].transpose(1, 2).reshape(B, -1, h, w))
            start += h * w
        lat = self.adapter_1(res2)
        top = lat + F.interpolate(outs[-1], size=lat.shape[-2:], mode="bilinear", align_corners=False)
        fine = self.layer_1(top)
        return self.mask_features(fine), outs[:3]


class _FPNEncoderLayer(nn.Module):
    """Post-norm self-attention layer (full attention over the 1/32 map)."""

    def __init__(self, d: int, heads: int, ffn: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.linear1 = nn.Linear(d, ffn)
        self.linear2 = nn.Linear(ffn, d)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        q = x + pos
        x = self.norm1(x + self.self_attn(q, q, x, need_weights=False)[0])
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class _FPNEncoder(nn.Module):
    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class FPNPixelDecoder(nn.Module):
    """A light pixel decoder for small models: attention on 1/32, then a top-down FPN to 1/4.

    Same interface and naming style as the msdeform decoder; the stride-4 level is the
    PSALM ``adapter_1``/``layer_1`` pair.
    """

    def __init__(self, cfg: DecoderConfig, in_channels: list[int]):
        super().__init__()
        d = cfg.hidden_dim
        self.d = d
        self.input_proj = nn.ModuleList([_input_proj(c, d) for c in in_channels[1:][::-1]])  # res5, res4, res3
        self.transformer = _FPNEncoder([_FPNEncoderLayer(d, cfg.enc_heads, cfg.enc_dim_feedforward) for _ in range(cfg.enc_layers)])
        self.output_convs = nn.ModuleList([_conv_gn(d, d, 3, relu=True) for _ in range(2)])  # 1/16, 1/8
        self.adapter_1 = _conv_gn(in_channels[0], d, 1, relu=True)
        self.layer_1 = _conv_gn(d, d, 3, relu=True)
        self.mask_features = nn.Conv2d(d, d, 1)
        nn.init.kaiming_uniform_(self.mask_features.weight, a=1)
        nn.init.zeros_(self.mask_features.bias)

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        res2, coarse = feats[0], feats[1:][::-1]
        srcs = [proj(x) for proj, x in zip(self.input_proj, coarse)]
        top = srcs[0]
        B, d, h, w = top.shape
        if len(self.transformer.layers):
            x = top.flatten(2).transpose(1, 2)
            pos = sine_position_embedding(top, d // 2).flatten(2).transpose(1, 2)
            for layer in self.transformer.layers:
                x = layer(x, pos)
            top = x.transpose(1, 2).reshape(B, d, h, w)
        outs = [top]
        for src, conv in zip(srcs[1:], self.output_convs):
            outs.append(conv(src + F.interpolate(outs[-1], size=src.shape[-2:], mode="bilinear", align_corners=False)))
        lat = self.adapter_1(res2)
        fine = self.layer_1(lat + F.interpolate(outs[-1], size=lat.shape[-2:], mode="bilinear", align_corners=False))
        return self.mask_features(fine), outs


def build_pixel_decoder(cfg: DecoderConfig, in_channels: list[int]) -> nn.Module:
    if cfg.pixel_decoder == "msdeform":
        return MSDeformPixelDecoder(cfg, in_channels)
    return FPNPixelDecoder(cfg, in_channels)
