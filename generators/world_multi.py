"""The world's MUSE-style and GCG-style splits, written in the peers' release layouts.

Both are derived from files the world already holds, with no new randomness,
so they are pure functions of the seed like everything else:

- ``muse/muse_val.json`` (PixelLM's MUSE layout, formats.muse_official): one
  record per image of the generalized-referring val split (the first
  ``MUSE_MAX_ITEMS``), its questions the first sentence of up to
  ``MUSE_MAX_QUESTIONS`` of its gRefCOCO expressions that have a target
  (multi-target ones first, then single), its answers those targets'
  annotations. Images: ``coco/refer2017``.
- ``gcg/val_gcg_coco_mask_gt.json`` and ``gcg/val_gcg_coco_caption_gt.json``
  (GLaMM's GranD-f layout, formats.gcg_official): one image per COCO val
  image that has a non-crowd object (the first ``GCG_MAX_IMAGES``); its caption names its largest objects
  ("A picture of the red circle, the blue star and the green ring."), each
  phrase grounded to that object's visible mask (compressed RLE). Images:
  ``coco/val2017``; image ids are the file stems (strings, as GranD-f's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from psalm_bench.masks import to_rle

MUSE_GT = "muse/muse_val.json"
GCG_MASK_GT = "gcg/val_gcg_coco_mask_gt.json"
GCG_CAPTION_GT = "gcg/val_gcg_coco_caption_gt.json"
MUSE_MAX_ITEMS = 60  # images: keeps the model's pass over the split short (reproduce)
MUSE_MAX_QUESTIONS = 2  # per image, multi-target expressions first
GCG_MAX_PHRASES = 4  # per caption, the largest objects
GCG_MAX_IMAGES = 100  # METEOR's per-image round trips to Java dominate GCG's scoring time


def _dump(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(obj))


def _muse_ann(ann: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    name = names[ann["category_id"]]
    return {"id": ann["id"], "segmentation": ann["segmentation"], "bbox": ann["bbox"], "area": ann["area"],
            "category_id": ann["category_id"], "category_name": name, "rephrased_name": name}


def muse_records(images: list[dict[str, Any]], annotations: list[dict[str, Any]], grefs: list[dict[str, Any]],
                 names: dict[int, str]) -> list[dict[str, Any]]:
    """PixelLM MUSE records from the gRefCOCO val split (module docstring)."""
    anns = {a["id"]: a for a in annotations}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ref in grefs:
        if ref["split"] == "val" and not ref.get("no_target") and ref["ann_id"] != [-1]:
            by_image.setdefault(ref["image_id"], []).append(ref)
    out = []
    for image in images:
        refs = sorted(by_image.get(image["id"], []), key=lambda ref: len(ref["ann_id"]) < 2)[:MUSE_MAX_QUESTIONS]  # stable
        if not refs:
            continue
        if len(out) == MUSE_MAX_ITEMS:
            break
        ann_list = [_muse_ann(a, names) for a in annotations if a["image_id"] == image["id"] and not a["iscrowd"]]
        out.append({"id": image["id"], "file_name": image["file_name"].rsplit("/", 1)[-1], "height": image["height"], "width": image["width"],
                    "ann_list": ann_list, "questions": [ref["sentences"][0]["sent"] for ref in refs],
                    "answers": [[_muse_ann(anns[a], names) for a in ref["ann_id"]] for ref in refs]})
    return out


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def gcg_files(images: list[dict[str, Any]], annotations: list[dict[str, Any]], phrases: dict[int, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """GranD-f's mask GT and caption GT from the COCO val split; ``phrases`` maps an
    annotation id to its noun phrase ("the red circle")."""
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in annotations:
        if not a["iscrowd"]:
            by_image.setdefault(a["image_id"], []).append(a)
    g_images, m_anns, c_anns = [], [], []
    for image in images:
        chosen = sorted(by_image.get(image["id"], []), key=lambda a: (-a["area"], a["id"]))[:GCG_MAX_PHRASES]
        if not chosen:
            continue
        if len(g_images) == GCG_MAX_IMAGES:
            break
        sid = image["file_name"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        h, w = image["height"], image["width"]
        g_images.append({"id": sid, "file_name": image["file_name"], "height": h, "width": w})
        labels = [phrases[a["id"]] for a in chosen]
        for a in chosen:
            rle = to_rle(a["segmentation"], h, w)
            m_anns.append({"id": a["id"], "image_id": sid, "category_id": 1, "iscrowd": 0, "area": a["area"], "bbox": a["bbox"],
                           "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")}})
        c_anns.append({"id": len(c_anns) + 1, "image_id": sid, "caption": f"A picture of {_join(labels)}.", "labels": labels})
    masks = {"images": g_images, "annotations": m_anns, "categories": [{"id": 1, "name": "object"}]}
    return masks, {"images": g_images, "annotations": c_anns}


def write_multi_target(root: Path, muse: list[dict[str, Any]], gcg: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, int]:
    """Write both splits under ``root``; their counts for the manifest."""
    _dump(root / MUSE_GT, muse)
    _dump(root / GCG_MASK_GT, gcg[0])
    _dump(root / GCG_CAPTION_GT, gcg[1])
    return {"muse_val_items": len(muse), "muse_val_questions": sum(len(r["questions"]) for r in muse),
            "muse_val_multi_target_questions": sum(len(a) > 1 for r in muse for a in r["answers"]),
            "gcg_val_images": len(gcg[1]["images"]), "gcg_val_phrases": len(gcg[0]["annotations"])}
