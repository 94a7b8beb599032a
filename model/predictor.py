"""PSALM's masked-attention transformer decoder and its condition heads.

Mask2Former's decoder (cross-attention, self-attention, FFN, post-norm; memory levels
1/32, 1/16, 1/8 round-robin; attention blocked where the previous mask's sigmoid < 0.5)
with PSALM's heads: the initial query *features* come from the LLM's mask tokens; class
logits are a plain dot product of ``CLASS_proj(q)`` with the class-condition embeddings
(background is the word "background", no temperature); ``SEG_proj`` against the
sentence embedding; ``REGION_proj`` against each visual-prompt embedding. Names match the
official checkpoint (``transformer_cross_attention_layers.N.multihead_attn`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import DecoderConfig
from .pixel_decoder import sine_position_embedding

NEG = -1e4  # logit for padded class columns: exp() underflows to 0 in fp32 and bf16


class MLP(nn.Module):
    def __init__(self, din: int, hidden: int, dout: int, layers: int):
        super().__init__()
        dims = [din] + [hidden] * (layers - 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:] + [dout]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


def _xavier(module: nn.Module) -> None:
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


class SelfAttentionLayer(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads)
        self.norm = nn.LayerNorm(d)
        _xavier(self)

    def forward(self, tgt: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        q = tgt + query_pos
        return self.norm(tgt + self.self_attn(q, q, tgt, need_weights=False)[0])


class CrossAttentionLayer(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d, heads)
        self.norm = nn.LayerNorm(d)
        _xavier(self)

    def forward(self, tgt, memory, attn_mask, pos, query_pos):
        out = self.multihead_attn(tgt + query_pos, memory + pos, memory, attn_mask=attn_mask, need_weights=False)[0]
        return self.norm(tgt + out)


class FFNLayer(nn.Module):
    def __init__(self, d: int, ffn: int):
        super().__init__()
        self.linear1 = nn.Linear(d, ffn)
        self.linear2 = nn.Linear(ffn, d)
        self.norm = nn.LayerNorm(d)
        _xavier(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.linear2(F.relu(self.linear1(x))))


@dataclass
class Conditions:
    """Condition embeddings (width d) the heads compare queries against; None where unused."""

    classes: torch.Tensor | None = None  # (B, C, d), background last
    class_valid: torch.Tensor | None = None  # (B, C) bool
    sentence: torch.Tensor | None = None  # (B, 1, d)
    regions: torch.Tensor | None = None  # (B, K, d)


def mask_shape_crops(masks: torch.Tensor, n: int) -> torch.Tensor:
    """(B,Q,h,w) mask logits -> (B,Q,n,n) mask probabilities cropped to each mask's box.

    The box is the extent of pixels with probability > 0.5 (the whole map when there is
    none), so the crop keeps the outline and drops position and size: a shape descriptor.
    """
    B, Q, h, w = masks.shape
    prob = masks.float().sigmoid()
    on = prob > 0.5
    rows, cols = on.any(-1), on.any(-2)  # (B,Q,h), (B,Q,w)

    def extent(hit: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.arange(size, device=hit.device, dtype=torch.float32)
        lo = torch.where(hit, idx, torch.full_like(idx, float(size))).amin(-1)
        hi = torch.where(hit, idx, torch.full_like(idx, -1.0)).amax(-1)
        empty = hi < lo
        lo, hi = torch.where(empty, 0.0, lo), torch.where(empty, size - 1.0, hi)
        return (lo + 0.5) / size * 2 - 1, (hi + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]

    y0, y1 = extent(rows, h)
    x0, x1 = extent(cols, w)
    t = (torch.arange(n, device=masks.device, dtype=torch.float32) + 0.5) / n  # (n,)
    gy = y0[..., None] + (y1 - y0)[..., None] * t  # (B,Q,n)
    gx = x0[..., None] + (x1 - x0)[..., None] * t
    grid = torch.stack([gx[..., None, :].expand(-1, -1, n, -1), gy[..., :, None].expand(-1, -1, -1, n)], -1)
    crops = F.grid_sample(prob.reshape(B * Q, 1, h, w), grid.reshape(B * Q, n, n, 2), mode="bilinear",
                          align_corners=False)
    return crops.reshape(B, Q, n, n).to(masks.dtype)


@dataclass
class PredictionSet:
    masks: torch.Tensor  # (B, Q, h, w) logits at 1/4 resolution
    class_logits: torch.Tensor | None  # (B, Q, C)
    seg_logits: torch.Tensor | None  # (B, Q, 1)
    region_logits: torch.Tensor | None  # (B, K, Q)


class MaskedAttentionDecoder(nn.Module):
    """The ``predictor``: returns one PredictionSet after the initial queries and after each layer."""

    num_feature_levels = 3

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        d = cfg.hidden_dim
        self.d, self.num_heads, self.num_layers = d, cfg.nheads, cfg.dec_layers
        self.transformer_self_attention_layers = nn.ModuleList(SelfAttentionLayer(d, cfg.nheads) for _ in range(cfg.dec_layers))
        self.transformer_cross_attention_layers = nn.ModuleList(CrossAttentionLayer(d, cfg.nheads) for _ in range(cfg.dec_layers))
        self.transformer_ffn_layers = nn.ModuleList(FFNLayer(d, cfg.dim_feedforward) for _ in range(cfg.dec_layers))
        self.decoder_norm = nn.LayerNorm(d)
        self.query_embed = nn.Embedding(cfg.num_queries, d)
        self.level_embed = nn.Embedding(self.num_feature_levels, d)
        self.input_proj = nn.ModuleList(nn.Sequential() for _ in range(self.num_feature_levels))  # conv_dim == d
        self.mask_embed = MLP(d, d, d, 3)
        self.SEG_proj = MLP(d, d, d, 2)
        self.CLASS_proj = MLP(d, d, d, 2)
        self.REGION_proj = MLP(d, d, d, 2)
        self.shape_size = cfg.class_shape_descriptor
        if self.shape_size:  # off in PSALM; see DecoderConfig.class_shape_descriptor
            self.shape_embed = MLP(self.shape_size**2, d, d, 2)

    def heads(self, output: torch.Tensor, mask_features: torch.Tensor, cond: Conditions,
              target_size: tuple[int, int]) -> tuple[PredictionSet, torch.Tensor]:
        q = self.decoder_norm(output).transpose(0, 1)  # (B, Q, d)
        masks = torch.einsum("bqc,bchw->bqhw", self.mask_embed(q), mask_features)
        cls = seg = region = None
        if cond.classes is not None:
            class_q = self.CLASS_proj(q)
            if self.shape_size:
                class_q = class_q + self.shape_embed(mask_shape_crops(masks.detach(), self.shape_size).flatten(2))
            cls = torch.einsum("bqd,bcd->bqc", class_q, cond.classes)
            if cond.class_valid is not None:
                cls = cls.masked_fill(~cond.class_valid[:, None, :], NEG)
        if cond.sentence is not None:
            seg = torch.einsum("bqd,bcd->bqc", self.SEG_proj(q), cond.sentence)
        if cond.regions is not None:
            region = torch.einsum("bkd,bqd->bkq", cond.regions, self.REGION_proj(q))
        with torch.no_grad():
            am = F.interpolate(masks.detach().float(), size=target_size, mode="bilinear", align_corners=False)
            am = (am.sigmoid().flatten(2) < 0.5)  # (B, Q, HW): True = blocked
            am = am.unsqueeze(1).expand(-1, self.num_heads, -1, -1).flatten(0, 1)
        return PredictionSet(masks, cls, seg, region), am

    def forward(self, feats: list[torch.Tensor], mask_features: torch.Tensor, queries: torch.Tensor,
                cond: Conditions) -> list[PredictionSet]:
        """feats: 3 maps (1/32, 1/16, 1/8); queries: (B, Q, d) initial query features from the LLM."""
        src, pos, sizes = [], [], []
        for i, x in enumerate(feats):
            sizes.append(tuple(x.shape[-2:]))
            pos.append(sine_position_embedding(x, self.d // 2).flatten(2).permute(2, 0, 1))
            src.append((self.input_proj[i](x).flatten(2) + self.level_embed.weight[i][None, :, None]).permute(2, 0, 1))
        B = queries.shape[0]
        query_pos = self.query_embed.weight.unsqueeze(1).expand(-1, B, -1)
        output = queries.transpose(0, 1)  # (Q, B, d)
        preds = []
        p, attn_mask = self.heads(output, mask_features, cond, sizes[0])
        preds.append(p)
        for i in range(self.num_layers):
            lvl = i % self.num_feature_levels
            attn_mask = attn_mask & ~attn_mask.all(-1, keepdim=True)  # a fully blocked row attends everywhere
            output = self.transformer_cross_attention_layers[i](output, src[lvl], attn_mask, pos[lvl], query_pos)
            output = self.transformer_self_attention_layers[i](output, query_pos)
            output = self.transformer_ffn_layers[i](output)
            p, attn_mask = self.heads(output, mask_features, cond, sizes[(i + 1) % self.num_feature_levels])
            preds.append(p)
        return preds
