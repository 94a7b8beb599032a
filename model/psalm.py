"""The PSALM model: Swin -> projector -> Phi (with mask tokens and conditions) -> mask generator."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PhiConfig, PhiModel

from psalm_bench.errors import InputError

from .config import PSALMConfig
from .pixel_decoder import build_pixel_decoder
from .predictor import NEG, Conditions, MaskedAttentionDecoder, PredictionSet
from .samples import CATEGORY_TASKS, Batch
from .tokenizer import PSALMTokenizer


@dataclass
class PSALMOutputs:
    """Per prediction set (initial queries, then each decoder layer) logits for one batch.

    Only the batch's task head is filled (as released: panoptic keeps class logits,
    referring SEG logits, interactive region logits). Class logits carry background in
    the last column and ``NEG`` in padded class columns (``class_valid`` False).
    """

    task: str
    predictions: list[PredictionSet]
    class_valid: torch.Tensor | None = None  # (B, C)
    region_valid: torch.Tensor | None = None  # (B, K)
    pixel_class_logits: torch.Tensor | None = None  # (B, C, h/8, w/8): loss.pixel_class_weight > 0, training only

    @property
    def final(self) -> PredictionSet:
        return self.predictions[-1]

    @property
    def masks(self) -> list[torch.Tensor]:
        return [p.masks for p in self.predictions]


def phi_config(cfg: PSALMConfig) -> PhiConfig:
    llm = cfg.llm
    # transformers 5 takes the rotary settings as one rope_parameters dict; 4.x (LISA/LLaVA-era
    # environments) takes the same two numbers as plain fields and has no rope_parameters.
    if "rope_parameters" in inspect.signature(PhiConfig.__init__).parameters:
        rope = {"rope_parameters": {"rope_type": "default", "rope_theta": llm.rope_theta,
                                    "partial_rotary_factor": llm.partial_rotary_factor}}
    else:
        rope = {"rope_theta": llm.rope_theta, "partial_rotary_factor": llm.partial_rotary_factor}
    pc = PhiConfig(
        vocab_size=llm.vocab_size, hidden_size=llm.hidden_size, intermediate_size=llm.intermediate_size,
        num_hidden_layers=llm.num_layers, num_attention_heads=llm.num_heads,
        max_position_embeddings=llm.max_position_embeddings, layer_norm_eps=llm.layer_norm_eps,
        hidden_act=llm.hidden_act, resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0,
        **rope, use_cache=False,
    )
    # Phi has an SDPA attention from transformers 4.40; 4.37-4.39 refuse "sdpa" and run eager.
    pc._attn_implementation = "sdpa" if getattr(PhiModel, "_supports_sdpa", False) else "eager"
    return pc


class PSALM(nn.Module):
    """Attribute names map to the official checkpoint: ``llm`` -> ``model.*``, ``vision_tower`` ->
    ``model.vision_tower.*`` (Swin renamed), ``mm_projector`` -> ``model.mm_projector.*``;
    everything else keeps its official name (see ``checkpoint.canonical_state_dict``)."""

    def __init__(self, config: PSALMConfig, tokenizer: PSALMTokenizer | None = None):
        super().__init__()
        from .vision import Projector, VisionTower

        config.validate()
        self.config = config
        self.tokenizer = tokenizer
        if tokenizer is not None and tokenizer.vocab_size > config.llm.vocab_size:
            raise InputError(f"tokenizer has {tokenizer.vocab_size} tokens but llm.vocab_size is {config.llm.vocab_size}")
        H, d, Q = config.llm.hidden_size, config.decoder.hidden_dim, config.decoder.num_queries
        self.vision_tower = VisionTower(config.vision, config.image_size)
        self.mm_projector = Projector(config.projector, config.vision.channels[-1], H)
        self.llm = PhiModel(phi_config(config))
        self.lm_head = nn.Linear(H, config.llm.vocab_size, bias=False)  # unused for segmentation; kept for key parity
        self.seg_query = nn.Parameter(torch.zeros(Q, H))  # zero-initialised as released
        self.seg_query_projector = nn.Linear(H, d)
        self.SEG_token_projector = nn.Linear(H, d)
        self.class_name_projector = nn.Linear(H, d)
        self.region_projector = nn.Linear(H, d)
        self.pixel_decoder = build_pixel_decoder(config.decoder, config.vision.channels)
        self.predictor = MaskedAttentionDecoder(config.decoder)
        if not config.vision.train:
            self.vision_tower.requires_grad_(False)

    def train(self, mode: bool = True) -> "PSALM":
        super().train(mode)
        if not self.config.vision.train:
            self.vision_tower.eval()  # a frozen tower runs without drop-path
        return self

    # -------------------------------------------------------------------------------------
    def _pool_regions(self, token_map: torch.Tensor, batch: Batch) -> torch.Tensor:
        """One feature per visual prompt from the projector map (B,g,g,H) -> (B,K,H)."""
        fmap = token_map.permute(0, 3, 1, 2)  # (B,H,g,g)
        if batch.region_points is not None:
            pts = batch.region_points.to(fmap.dtype)  # (B,K,P,2)
            sampled = F.grid_sample(fmap, pts, mode="bilinear", align_corners=True)  # (B,H,K,P)
            return sampled.mean(-1).transpose(1, 2)
        if batch.region_weights is None:
            raise InputError("interactive batch has neither region_points nor region_weights")
        w = batch.region_weights.to(fmap.dtype)  # (B,K,g,g), rows sum to 1
        return torch.einsum("bkij,bhij->bkh", w, fmap)

    def _image_features(self, pixel_values: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """The vision tower's features, each image of the batch once: at inference a
        batch that holds an image several times in a row (an image's referring
        sentences are predicted together, ~10 per image) runs the tower and the
        pixel decoder on it once, about half of a referring forward. ``owner``
        maps each row to its image's features (None: every row its own)."""
        rows = pixel_values.shape[0]
        if self.training or rows < 2:
            return self.vision_tower(pixel_values), None
        first = [0] + [i for i in range(1, rows) if not torch.equal(pixel_values[i], pixel_values[i - 1])]
        if len(first) == rows:
            return self.vision_tower(pixel_values), None
        starts = torch.zeros(rows, dtype=torch.long, device=pixel_values.device)
        starts[first] = 1
        owner = torch.cumsum(starts, 0) - 1
        return self.vision_tower(pixel_values[first]), owner

    def forward(self, batch: Batch) -> PSALMOutputs:
        task = batch.task
        B = batch.size
        feats, owner = self._image_features(batch.pixel_values)
        token_map = self.mm_projector(feats[-1] if owner is None else feats[-1][owner])  # (B,g,g,H)
        embeds = self.llm.embed_tokens(batch.input_ids)
        dt = embeds.dtype
        rows = torch.arange(B, device=embeds.device)[:, None]
        img = token_map.flatten(1, 2).to(dt)
        embeds = embeds.index_put((rows.expand_as(batch.image_pos), batch.image_pos), img)
        seg = self.seg_query.to(dt).unsqueeze(0).expand(B, -1, -1)
        embeds = embeds.index_put((rows.expand_as(batch.mask_pos), batch.mask_pos), seg)
        if task == "interactive":
            if batch.prompt_pixel_values is not None:
                prompt_map = self.mm_projector(self.vision_tower(batch.prompt_pixel_values)[-1])
            else:
                prompt_map = token_map
            regions = self._pool_regions(prompt_map, batch).to(dt)
            valid = batch.region_valid
            embeds = embeds.index_put((rows.expand_as(batch.region_pos)[valid], batch.region_pos[valid]), regions[valid])
        hidden = self.llm(inputs_embeds=embeds, use_cache=False).last_hidden_state  # right padding: no mask needed
        if self.config.decoder.query_source == "embeddings":  # Table 2's ablation: the LLM never sees them
            queries = self.seg_query_projector(seg.to(hidden.dtype))
        else:
            queries = self.seg_query_projector(hidden[rows, batch.mask_pos])
        cond = Conditions()
        if task in CATEGORY_TASKS:
            pooled = torch.bmm(batch.cond_weights.to(hidden.dtype), hidden)
            cond.classes, cond.class_valid = self.class_name_projector(pooled), batch.cond_valid
        elif task == "referring":
            pooled = torch.bmm(batch.cond_weights.to(hidden.dtype), hidden)
            cond.sentence = self.SEG_token_projector(pooled)
        else:
            cond.regions = self.region_projector(hidden[rows, batch.region_pos])
        mask_features, multi_scale = self.pixel_decoder(feats)
        if owner is not None:  # each row its image's
            mask_features, multi_scale = mask_features[owner], [level[owner] for level in multi_scale]
        preds = self.predictor(multi_scale, mask_features, queries, cond)
        pixel_cls = None
        if self.training and self.config.loss.pixel_class_weight > 0 and cond.classes is not None:
            pixel_cls = self.pixel_class_logits(multi_scale[-1], cond)
        return PSALMOutputs(task, preds, class_valid=batch.cond_valid if task in CATEGORY_TASKS else None,
                            region_valid=batch.region_valid, pixel_class_logits=pixel_cls)

    @staticmethod
    def pixel_class_logits(fmap: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """(B,d,h,w) 1/8 map x (B,C,d) class embeddings -> (B,C,h,w) logits, padded columns NEG."""
        logits = torch.einsum("bdhw,bcd->bchw", fmap, cond.classes.to(fmap.dtype))
        if cond.class_valid is not None:
            logits = logits.masked_fill(~cond.class_valid[:, :, None, None], NEG)
        return logits

    # -------------------------------------------------------------------------------------
    def parameter_counts(self) -> dict[str, int]:
        """Parameters per part (``llm`` includes embeddings and ``lm_head``)."""
        def n(*mods: nn.Module) -> int:
            return sum(p.numel() for m in mods for p in m.parameters())

        counts = {
            "vision": n(self.vision_tower),
            "projector": n(self.mm_projector),
            "llm": n(self.llm, self.lm_head),
            "decoder": n(self.pixel_decoder, self.predictor),
            "heads": self.seg_query.numel() + n(self.seg_query_projector, self.SEG_token_projector,
                                                self.class_name_projector, self.region_projector),
        }
        counts["total"] = sum(counts.values())
        counts["trainable"] = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return counts
