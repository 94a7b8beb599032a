"""The model's input records and the batch builder (sequence layout of PSALM).

One sequence per image, in causal order::

    [system + "This is an image"] [image tokens] [task instruction] [condition prompt]
    [assistant prefix] [Q mask tokens] [" <|endoftext|>"]

The conditions sit before the mask tokens, so mask tokens see image, instruction and
conditions, and the conditions never see the mask tokens. Placeholders (image tokens,
mask tokens, region slots) are recorded as index tensors and filled with embeddings in
``PSALM.forward``; condition spans become pooling-weight rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Sequence

import numpy as np
import torch

from psalm_bench.errors import InputError

from .config import PSALMConfig
from .preprocess import ImageGeometry, preprocess_image, prompt_to_region_mask, resize_masks
from .templates import ANSWER, ANSWER_INTERACTIVE, BACKGROUND, INSTRUCTION, LIST_END, SEPARATOR, SYSTEM
from .tokenizer import EOS, PSALMTokenizer

CATEGORY_TASKS = ("panoptic", "semantic", "instance")
TASKS = CATEGORY_TASKS + ("referring", "interactive")

END = " " + EOS

_IMAGE, _MASK, _REGION = -1, -2, -3


@dataclass
class TrainSample:
    """One image and one task: what the data module hands the model (train and eval alike).

    At eval time ``target_masks`` may be empty (``(0, H, W)``). Interactive prompts are raw
    prompt pixels (a clicked pixel, a 1-px scribble path, a filled box, a mask); ``collate``
    turns points into 10-px discs and dilates scribbles by 5 px (``prompt_to_region_mask``).
    """

    task: str  # "panoptic" | "referring" | "interactive" (also "semantic"/"instance" prompts)
    image: np.ndarray  # H,W,3 uint8
    target_masks: np.ndarray  # bool (N,H,W)
    class_names: list[str] | None = None  # category tasks: the candidate categories (no "background")
    target_labels: np.ndarray | None = None  # category tasks: index into class_names per target
    sentence: str | None = None  # referring: one expression (PSALM's protocol joins all of a ref's)
    prompt_masks: np.ndarray | None = None  # interactive: bool (K,H,W); target_masks[k] is prompt k's object
    prompt_kinds: list[str] | None = None  # "point"|"scribble"|"box"|"mask" per prompt
    prompt_image: np.ndarray | None = None  # interactive: image the prompts refer to (DAVIS: previous frame)


@dataclass
class Batch:
    """Tensors for one forward pass (one task per batch) plus what post-processing needs."""

    task: str
    pixel_values: torch.Tensor  # (B,3,S,S) normalised
    padding_mask: torch.Tensor  # (B,S,S) bool, True = padding
    geometries: list[ImageGeometry]
    input_ids: torch.Tensor  # (B,L) long; placeholder slots hold the pad id
    lengths: torch.Tensor  # (B,) real sequence lengths (right padding)
    image_pos: torch.Tensor  # (B,N_img) positions of the image tokens
    mask_pos: torch.Tensor  # (B,Q) positions of the mask tokens
    cond_weights: torch.Tensor | None = None  # (B,C,L) pooling weights; category: C = Cmax+1, background last
    cond_valid: torch.Tensor | None = None  # (B,C) bool: real class columns (background always valid)
    region_pos: torch.Tensor | None = None  # (B,K) positions of the <region> slots
    region_valid: torch.Tensor | None = None  # (B,K) bool
    region_points: torch.Tensor | None = None  # (B,K,P,2) grid_sample coords in [-1,1] (random points)
    region_weights: torch.Tensor | None = None  # (B,K,g,g) pooling weights, each sums to 1 (deterministic eval)
    prompt_pixel_values: torch.Tensor | None = None  # (B,3,S,S) when prompts refer to another image
    target_masks: list[torch.Tensor] = field(default_factory=list)  # per image (N_b,S,S) bool, padded
    target_labels: list[torch.Tensor] = field(default_factory=list)  # per image (N_b,) long
    class_names: list[list[str]] | None = None
    class_order: list[list[int]] | None = None  # order the classes were written in the prompt
    prompt_kinds: list[list[str]] | None = None

    @property
    def size(self) -> int:
        return self.pixel_values.shape[0]

    def to(self, device: torch.device | str) -> "Batch":
        """A copy with every tensor on ``device``."""
        kwargs = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                v = v.to(device, non_blocking=True)
            elif isinstance(v, list) and v and isinstance(v[0], torch.Tensor):
                v = [t.to(device, non_blocking=True) for t in v]
            kwargs[f.name] = v
        return Batch(**kwargs)


def _check_masks(name: str, masks: np.ndarray | None, hw: tuple[int, int], i: int) -> np.ndarray:
    if masks is None:
        raise InputError(f"sample {i}: {name} is missing")
    m = np.asarray(masks)
    if m.ndim != 3 or tuple(m.shape[1:]) != tuple(hw):
        raise InputError(f"sample {i}: {name} has shape {tuple(m.shape)}, expected (N, {hw[0]}, {hw[1]}) to match the image")
    return m.astype(bool, copy=False)


@dataclass
class _Seq:
    ids: list[int]
    spans: list[tuple[int, int]]  # condition spans in column order
    regions: list[int]
    order: list[int] | None


def _build_sequence(sample: TrainSample, task: str, cfg: PSALMConfig, tok: PSALMTokenizer,
                    order: list[int] | None) -> _Seq:
    enc = tok.encode
    ids: list[int] = enc(SYSTEM)
    ids += [_IMAGE] * cfg.num_image_tokens
    ids += enc(INSTRUCTION[task])
    spans: list[tuple[int, int]] = []
    regions: list[int] = []
    if task in CATEGORY_TASKS:
        names = list(sample.class_names or [])
        C = len(names)
        written = (order if order is not None else list(range(C))) + [C]
        by_col: dict[int, tuple[int, int]] = {}
        for n, j in enumerate(written):
            if n:
                ids += enc(SEPARATOR)
            start = len(ids)
            ids += enc(names[j] if j < C else BACKGROUND) + [tok.seg_id]
            by_col[j] = (start, len(ids))
        spans = [by_col[j] for j in range(C + 1)]  # columns in the original class order, background last
        ids += enc(LIST_END) + enc(ANSWER)
    elif task == "referring":
        start = len(ids)
        ids += enc(" " + (sample.sentence or "")) + [tok.seg_id]
        spans = [(start, len(ids))]
        ids += enc(ANSWER)
    else:
        K = len(sample.prompt_kinds or [])
        for k in range(K):
            if k:
                ids += enc(SEPARATOR)
            regions.append(len(ids))
            ids.append(_REGION)
        ids += enc(LIST_END) + enc(ANSWER_INTERACTIVE)
    ids += [_MASK] * cfg.decoder.num_queries
    ids += enc(END)
    return _Seq(ids, spans, regions, order)


def _region_points(mask: torch.Tensor, n: int, rng: np.random.Generator) -> torch.Tensor:
    """``n`` random pixels inside ``mask`` (S x S) as grid coords, as the released code samples them.

    Uniform without repetition when the mask has at least ``n`` pixels, else with
    repetition; x/W and y/H mapped to [-1, 1] for ``grid_sample(align_corners=True)``.
    """
    ys, xs = np.nonzero(mask.numpy())
    pick = rng.choice(len(ys), size=n, replace=len(ys) < n)
    H, W = mask.shape
    gx = xs[pick] / W * 2.0 - 1.0
    gy = ys[pick] / H * 2.0 - 1.0
    return torch.from_numpy(np.stack([gx, gy], -1).astype(np.float32))


def _point_weights(masks: torch.Tensor, g: int) -> torch.Tensor:
    """(K,S,S) bool -> (K,g,g): the expected weights of the random-point estimator.

    Averaging ``grid_sample`` (bilinear, ``align_corners=True``, pixel x at x/S) over *every*
    pixel of the mask is the expectation of the released 256-random-point feature, so eval
    is deterministic and sees the same pooling geometry as training.
    """
    S = masks.shape[-1]
    pos = torch.arange(S, dtype=torch.float32) / S * (g - 1)
    A = (1 - (pos[None, :] - torch.arange(g, dtype=torch.float32)[:, None]).abs()).clamp(min=0)  # (g,S)
    m = masks.float()
    w = torch.einsum("iy,kyx,jx->kij", A, m, A)
    return w / m.flatten(1).sum(1).clamp(min=1)[:, None, None]


@dataclass
class _Parsed:
    """What one checked sample contributes to the batch (filled by the per-task readers)."""

    labels: np.ndarray
    order: list[int] | None = None
    region_points: torch.Tensor | None = None  # (K,P,2), training or "points" eval pooling
    region_weights: torch.Tensor | None = None  # (K,g,g), deterministic eval pooling
    prompt_pixels: torch.Tensor | None = None  # (3,S,S) when the prompts refer to another image


def _check_batch(samples: Sequence[TrainSample], config: PSALMConfig, tokenizer: PSALMTokenizer) -> str:
    """The batch's one task, after the checks that need no per-sample work."""
    if not samples:
        raise InputError("collate: no samples")
    task = samples[0].task
    if task not in TASKS:
        raise InputError(f"sample 0: task {task!r} is not one of {', '.join(TASKS)}")
    if tokenizer.vocab_size > config.llm.vocab_size:
        raise InputError(f"tokenizer has {tokenizer.vocab_size} tokens but llm.vocab_size is {config.llm.vocab_size}")
    for i, s in enumerate(samples):
        if s.task != task:
            raise InputError(f"sample {i}: task {s.task!r} differs from the batch's {task!r} (one task per batch)")
    return task


def _parse_category(s: TrainSample, i: int, N: int, config: PSALMConfig, train: bool,
                    rng: np.random.Generator) -> _Parsed:
    """Labels must index ``class_names``; training draws the prompt's class order."""
    if not s.class_names:
        raise InputError(f"sample {i}: class_names is empty")
    C = len(s.class_names)
    labels = np.zeros(0, np.int64) if s.target_labels is None else np.asarray(s.target_labels, np.int64)
    if labels.shape != (N,):
        raise InputError(f"sample {i}: target_labels has {labels.size} entries for {N} target masks")
    if N and (labels.min() < 0 or labels.max() >= C):
        raise InputError(f"sample {i}: target_labels must index class_names (0..{C - 1})")
    order = [int(j) for j in rng.permutation(C)] if train and config.shuffle_classes else None
    return _Parsed(labels, order)


def _parse_referring(s: TrainSample, i: int, N: int) -> _Parsed:
    if not s.sentence or not s.sentence.strip():
        raise InputError(f"sample {i}: sentence is empty")
    if N > 1:
        raise InputError(f"sample {i}: referring takes one target mask, got {N}")
    return _Parsed(np.zeros(N, np.int64))


def _parse_interactive(s: TrainSample, i: int, N: int, geo: ImageGeometry, config: PSALMConfig, train: bool,
                       rng: np.random.Generator) -> _Parsed:
    """Prompts become region masks on the model grid, then random points (train) or pooling weights."""
    img_p = s.prompt_image if s.prompt_image is not None else s.image
    ppv = None
    pgeo = geo
    if s.prompt_image is not None:
        ppv, _, pgeo = preprocess_image(s.prompt_image, config.image_size, what=f"sample {i}: prompt_image")
    pmasks = _check_masks("prompt_masks", s.prompt_masks, img_p.shape[:2], i)
    K = pmasks.shape[0]
    kinds = list(s.prompt_kinds or [])
    if K == 0:
        raise InputError(f"sample {i}: interactive needs at least one prompt")
    if len(kinds) != K:
        raise InputError(f"sample {i}: {len(kinds)} prompt_kinds for {K} prompt_masks")
    if N not in (0, K):
        raise InputError(f"sample {i}: {N} target masks for {K} prompts (target k is prompt k's object)")
    regions = np.stack([
        prompt_to_region_mask(kd, pmasks[k], point_radius=config.point_radius, scribble_radius=config.scribble_radius)
        for k, kd in enumerate(kinds)
    ])
    rm = resize_masks(regions, pgeo, keep_nonempty=True)
    empty = [k for k in range(K) if not bool(rm[k].any())]
    if empty:
        raise InputError(f"sample {i}: prompt {empty[0]} ({kinds[empty[0]]}) is empty")
    parsed = _Parsed(np.arange(N, dtype=np.int64), prompt_pixels=ppv)
    if train or config.region_pooling_eval == "points":
        parsed.region_points = torch.stack([_region_points(rm[k], config.region_points, rng) for k in range(K)])
    else:
        parsed.region_weights = _point_weights(rm, config.grid_size)
    return parsed


def _token_tensors(batch_seqs: list[_Seq], config: PSALMConfig, tokenizer: PSALMTokenizer
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids (placeholders hold the pad id), lengths, image and mask token positions."""
    B = len(batch_seqs)
    L = max(len(q.ids) for q in batch_seqs)
    ids = torch.full((B, L), tokenizer.pad_id, dtype=torch.long)
    lengths = torch.tensor([len(q.ids) for q in batch_seqs])
    image_pos = torch.zeros(B, config.num_image_tokens, dtype=torch.long)
    mask_pos = torch.zeros(B, config.decoder.num_queries, dtype=torch.long)
    for b, q in enumerate(batch_seqs):
        row = torch.tensor(q.ids)
        image_pos[b] = torch.nonzero(row == _IMAGE)[:, 0]
        mask_pos[b] = torch.nonzero(row == _MASK)[:, 0]
        ids[b, : len(q.ids)] = row.clamp(min=0) + (row < 0) * tokenizer.pad_id
    return ids, lengths, image_pos, mask_pos


def _condition_weights(batch_seqs: list[_Seq], task: str, config: PSALMConfig, L: int
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,C,L) pooling rows over the condition spans and (B,C) validity; category: background last."""
    B = len(batch_seqs)
    C = max(len(q.spans) for q in batch_seqs)  # category: Cmax + 1 with background forced to the last column
    w = torch.zeros(B, C, L)
    valid = torch.zeros(B, C, dtype=torch.bool)
    last = task == "referring" and config.sentence_pooling == "last"
    for b, q in enumerate(batch_seqs):
        cols = list(range(len(q.spans) - 1)) + [C - 1] if task in CATEGORY_TASKS else [0]
        for col, (a, e) in zip(cols, q.spans):
            if last:
                w[b, col, e - 1] = 1.0
            else:
                w[b, col, a:e] = 1.0 / (e - a)
            valid[b, col] = True
    return w, valid


def _add_regions(batch: Batch, batch_seqs: list[_Seq], parsed: list[_Parsed], config: PSALMConfig) -> None:
    """Region slot positions, padded point coords or pooling weights, and the prompt images if any."""
    B = len(batch_seqs)
    K = max(len(q.regions) for q in batch_seqs)
    rpos = torch.zeros(B, K, dtype=torch.long)
    rvalid = torch.zeros(B, K, dtype=torch.bool)
    for b, q in enumerate(batch_seqs):
        rpos[b, : len(q.regions)] = torch.tensor(q.regions)
        rvalid[b, : len(q.regions)] = True
    batch.region_pos, batch.region_valid = rpos, rvalid
    if parsed[0].region_points is not None:
        pts = torch.zeros(B, K, config.region_points, 2)
        for b, p in enumerate(parsed):
            pts[b, : p.region_points.shape[0]] = p.region_points
        batch.region_points = pts
    else:
        g = config.grid_size
        rw = torch.zeros(B, K, g, g)
        for b, p in enumerate(parsed):
            rw[b, : p.region_weights.shape[0]] = p.region_weights
        batch.region_weights = rw
    if any(p.prompt_pixels is not None for p in parsed):
        batch.prompt_pixel_values = torch.stack([
            p.prompt_pixels if p.prompt_pixels is not None else batch.pixel_values[b] for b, p in enumerate(parsed)])


def collate(samples: Sequence[TrainSample], config: PSALMConfig, tokenizer: PSALMTokenizer, train: bool,
            generator: np.random.Generator | None = None) -> Batch:
    """Build one batch. ``train`` shuffles class order and samples random region points.

    All randomness comes from ``generator`` (default: seed 0), so a batch is a pure
    function of its inputs; that is what makes training resumable bit for bit.
    """
    task = _check_batch(samples, config, tokenizer)
    rng = generator if generator is not None else np.random.default_rng(0)
    pix, pads, geos, seqs, tmasks, tlabels, parsed = [], [], [], [], [], [], []
    for i, s in enumerate(samples):
        pv, pm, geo = preprocess_image(s.image, config.image_size, what=f"sample {i}: image")
        tm = _check_masks("target_masks", s.target_masks, geo.orig_size, i)
        N = tm.shape[0]
        if task in CATEGORY_TASKS:
            p = _parse_category(s, i, N, config, train, rng)
        elif task == "referring":
            p = _parse_referring(s, i, N)
        else:
            p = _parse_interactive(s, i, N, geo, config, train, rng)
        seqs.append(_build_sequence(s, task, config, tokenizer, p.order))
        parsed.append(p)
        pix.append(pv)
        pads.append(pm)
        geos.append(geo)
        tmasks.append(resize_masks(tm, geo))
        tlabels.append(torch.from_numpy(p.labels))

    ids, lengths, image_pos, mask_pos = _token_tensors(seqs, config, tokenizer)
    batch = Batch(task=task, pixel_values=torch.stack(pix), padding_mask=torch.stack(pads), geometries=geos,
                  input_ids=ids, lengths=lengths, image_pos=image_pos, mask_pos=mask_pos,
                  target_masks=tmasks, target_labels=tlabels)
    if task in CATEGORY_TASKS or task == "referring":
        batch.cond_weights, batch.cond_valid = _condition_weights(seqs, task, config, ids.shape[1])
        if task in CATEGORY_TASKS:
            batch.class_names = [list(s.class_names or []) for s in samples]
            batch.class_order = [p.order if p.order is not None else list(range(len(s.class_names or [])))
                                 for s, p in zip(samples, parsed)]
    else:
        _add_regions(batch, seqs, parsed, config)
        batch.prompt_kinds = [list(s.prompt_kinds or []) for s in samples]
    return batch
