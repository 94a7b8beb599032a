"""Image and mask preprocessing exactly as PSALM's dataset mappers do it.

Longest side resized to ``image_size`` (detectron2 ``ResizeShortestEdge(S, max_size=S)``,
PIL bilinear), padded right/bottom to ``S x S`` with pixel value 128 (detectron2's default
``FixedSizeCrop`` pad value) *before* normalisation, then normalised with the ImageNet
mean/std in the 0-255 scale. Masks follow with nearest-neighbour resizing and zero padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from psalm_bench.errors import InputError
from psalm_bench.specs import PROMPTS

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
PAD_VALUE = 128.0

PROMPT_KINDS = PROMPTS  # the task's prompt types, defined once (psalm_bench.specs)


@dataclass
class ImageGeometry:
    """Where an image sits inside the padded square: needed to undo the resize at eval."""

    orig_size: tuple[int, int]  # (H, W) of the input image
    valid_size: tuple[int, int]  # (h, w) after resizing, before padding
    padded_size: tuple[int, int]  # (S, S)


def resized_shape(h: int, w: int, size: int) -> tuple[int, int]:
    """detectron2 ResizeShortestEdge(short=size, max=size): the long side ends at ``size``."""
    scale = size / min(h, w)
    if max(h, w) * scale > size:
        scale = size / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def preprocess_image(image: np.ndarray, size: int, *, what: str = "image") -> tuple[torch.Tensor, torch.Tensor, ImageGeometry]:
    """uint8 ``H x W x 3`` -> normalised ``3 x S x S`` float tensor, padding mask (True = pad), geometry."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"{what}: expected an H x W x 3 array, got shape {getattr(image, 'shape', None)}")
    if image.dtype != np.uint8:
        raise InputError(f"{what}: expected uint8 pixels, got {image.dtype}")
    h, w = image.shape[:2]
    nh, nw = resized_shape(h, w, size)
    if (nh, nw) != (h, w):
        image = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    padded = np.full((size, size, 3), PAD_VALUE, dtype=np.float32)
    padded[:nh, :nw] = image
    t = torch.from_numpy(padded).permute(2, 0, 1)
    mean = torch.tensor(PIXEL_MEAN).view(3, 1, 1)
    std = torch.tensor(PIXEL_STD).view(3, 1, 1)
    t = (t - mean) / std
    pad_mask = torch.ones(size, size, dtype=torch.bool)
    pad_mask[:nh, :nw] = False
    return t.contiguous(), pad_mask, ImageGeometry((h, w), (nh, nw), (size, size))


def resize_masks(masks: np.ndarray, geometry: ImageGeometry, *, keep_nonempty: bool = False) -> torch.Tensor:
    """bool ``N x H x W`` -> bool ``N x S x S``: nearest resize to the valid box, zero padding.

    ``keep_nonempty`` keeps a mask that nearest resizing would erase (a 1-pixel prompt):
    such a mask falls back to "any pixel covered" (max pooling).
    """
    n = masks.shape[0]
    S = geometry.padded_size[0]
    nh, nw = geometry.valid_size
    out = torch.zeros(n, S, S, dtype=torch.bool)
    if n == 0:
        return out
    t = torch.from_numpy(np.ascontiguousarray(masks)).to(torch.uint8).unsqueeze(1)
    if (nh, nw) == tuple(masks.shape[1:]):
        small = t[:, 0].bool()
    else:
        small = F.interpolate(t, size=(nh, nw), mode="nearest-exact")[:, 0].bool()
        if keep_nonempty:
            lost = (~small.flatten(1).any(1)) & t.flatten(1).any(1)
            if lost.any():
                grown = F.adaptive_max_pool2d(t[lost].float(), (nh, nw))[:, 0] > 0
                small[lost] = grown
    out[:, :nh, :nw] = small
    return out


def _disk(radius: int) -> np.ndarray:
    r = int(radius)
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return (x * x + y * y <= r * r).astype(np.uint8)


def prompt_to_region_mask(kind: str, mask: np.ndarray, *, point_radius: int = 10, scribble_radius: int = 5) -> np.ndarray:
    """A visual prompt as the region PSALM pools from.

    Points become discs of radius ``point_radius`` (10 px, as the released masks) and
    scribbles are dilated by ``scribble_radius`` (5 px); boxes (filled) and masks are used
    as they are. ``mask`` marks the raw prompt pixels (the clicked pixel, the 1-px
    scribble path, the filled box, the mask).
    """
    if kind not in PROMPT_KINDS:
        raise InputError(f"prompt kind {kind!r} is not one of {', '.join(PROMPT_KINDS)}")
    m = np.asarray(mask, dtype=bool)
    if kind in ("box", "mask"):
        return m
    radius = point_radius if kind == "point" else scribble_radius
    return cv2.dilate(m.astype(np.uint8), _disk(radius)).astype(bool)
