"""build-interactive's ``--preview``: PNG sheets of the first image records,
every prompt type over the image, as in the PSALM paper's Figure 4."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_api

from psalm_bench.formats.interactive import PROMPTS
from psalm_bench.generators.coco_reader import instance_mask
from psalm_bench.generators.interactive_rle import _Skip
from psalm_bench.generators.interactive_writer import iter_records
from psalm_bench.generators.prompt_drawers import PROMPT_KEYS

_PALETTE = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
            (204, 121, 167), (255, 255, 255), (120, 220, 120), (255, 120, 120), (160, 120, 255), (60, 200, 200))
_PANEL_MIN_WIDTH = 360


def _find_image(file_name: str, instances: Path, images: Path | None) -> np.ndarray | None:
    for folder in ([images] if images is not None else []) + [instances.parent]:
        path = Path(folder) / file_name
        if file_name and path.is_file():
            return cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None


def _outline(canvas: np.ndarray, m: np.ndarray, colour: tuple[int, int, int], thickness: int) -> None:
    contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(canvas, contours, -1, colour, thickness, lineType=cv2.LINE_AA)


def render_preview(record: dict[str, Any], image: np.ndarray | None = None, mode: str = "released") -> np.ndarray:
    """A 2 x 2 sheet (BGR) of one image record: per prompt type, every instance's
    outline (thin) and its prompt (filled, in the same colour), as in the PSALM
    paper's Figure 4. Released-mode points and scribbles (one pixel wide) are
    thickened to be seen."""
    info = record["image_info"]
    height, width = info["height"], info["width"]
    if image is None or image.shape[:2] != (height, width):
        base, note = np.full((height, width, 3), 96, np.uint8), "no image file: grey canvas"
    else:
        base, note = image, ""
    scale = max(1, math.ceil(_PANEL_MIN_WIDTH / width))
    big = cv2.resize(base, (width * scale, height * scale), interpolation=cv2.INTER_NEAREST) if scale > 1 else base.copy()
    big = (big * 0.55).astype(np.uint8)

    def up(m: np.ndarray) -> np.ndarray:
        return cv2.resize(m, (width * scale, height * scale), interpolation=cv2.INTER_NEAREST) if scale > 1 else m

    instance_masks = []
    for ann in record["anns"]:
        try:
            instance_masks.append(up(instance_mask(ann["segmentation"], height, width).full(height, width)))
        except _Skip:
            instance_masks.append(np.zeros(big.shape[:2], np.uint8))
    panels = []
    grow = {"point": 4 * scale + 2, "scribble": scale + 1} if mode == "released" else {}  # one-pixel prompts, made visible
    for name, key in zip(PROMPTS, PROMPT_KEYS):
        canvas = big.copy()
        for i, ann in enumerate(record["anns"]):
            colour = _PALETTE[i % len(_PALETTE)]
            prompt = up(mask_api.decode({"size": ann[key]["size"], "counts": ann[key]["counts"].encode()}))
            if name in grow and prompt.any():
                k = 2 * grow[name] + 1
                prompt = cv2.dilate(prompt, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
            _outline(canvas, instance_masks[i], colour, 1)
            if prompt.any():
                fill = prompt.astype(bool)
                alpha = 0.35 if name in ("box", "mask") else 0.9
                canvas[fill] = (canvas[fill] * (1 - alpha) + np.array(colour) * alpha).astype(np.uint8)
                _outline(canvas, prompt, colour, 2 if name in ("box", "mask") else 1)
        cv2.rectangle(canvas, (0, 0), (8 + 11 * len(name), 22), (0, 0, 0), -1)
        cv2.putText(canvas, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(canvas)
    sep = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    top, bottom = np.hstack([panels[0], sep, panels[1]]), np.hstack([panels[2], sep, panels[3]])
    grid = np.vstack([top, np.full((4, top.shape[1], 3), 255, np.uint8), bottom])
    header = np.full((26, grid.shape[1], 3), 32, np.uint8)
    title = f"{record['image']}  image {info['id']}  new_img_id {record['new_img_id']}  {len(record['anns'])} instances  {mode}"
    if note:
        title += f"  ({note})"
    cv2.putText(header, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([header, grid])


def write_previews(path: Path, folder: Path, n: int, *, instances: Path, images: Path | None = None, mode: str = "released") -> list[Path]:
    """PNG sheets of the first ``n`` image records of a COCO-Interactive file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for record in iter_records(Path(path)):
        if len(written) >= n:
            break
        image = _find_image(record["image"], Path(instances), images)
        target = folder / f"{record['new_img_id']:06d}_{Path(record['image']).stem or record['image_info']['id']}.png"
        cv2.imwrite(str(target), render_preview(record, image, mode))
        written.append(target)
    return written
