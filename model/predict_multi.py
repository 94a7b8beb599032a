"""The reference model's MUSE and GCG predictions, in the files any model would write.

PSALM has no MUSE or GCG head; these are what its existing paths give, and
the labels in ``reproduce`` say so:

- MUSE (``predict_muse``): each question goes through the referring path
  (one SEG query per proposal, as gRefCOCO); every proposal scoring above
  ``threshold`` is one predicted object (greedy non-maximum suppression at
  mask IoU ``nms_iou`` so one object is not answered twice), the top-1 when
  none passes. psalm-bench's MUSE JSON Lines, one line per record.
- GCG (``gcg_from_instances``): no model run of its own; the instance
  prediction of the same images (``predict_categories``) becomes a grounded
  caption: its ``max_phrases`` highest-scoring detections (greedy NMS at
  mask IoU ``nms_iou``), each phrase "the CLASS" grounded to the detection's
  mask, captioned "A picture of the A, the B and the C.". Written as GLaMM's
  ``infer.py`` folder (``{image_id}.json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import orjson

from psalm_bench.formats.coco import load_catalog
from psalm_bench.formats.jsonl import write_jsonl
from psalm_bench.jsonio import load_json

from .inference import proposal_scores, upsample_masks
from .predict import Predictor, _empty_targets, _rle, read_image
from .samples import TrainSample


def _nms(masks: np.ndarray, order: list[int], iou: float) -> list[int]:
    kept: list[int] = []
    for q in order:
        m = masks[q]
        if all(np.logical_and(m, masks[k]).sum() <= iou * np.logical_or(m, masks[k]).sum() for k in kept):
            kept.append(q)
    return kept


def muse_masks(seg_logits: Any, mask_logits: Any, *, threshold: float = 0.6, nms_iou: float = 0.5) -> list[np.ndarray]:
    """One question's predicted objects (module docstring), highest score first."""
    scores = proposal_scores(seg_logits, mask_logits).numpy()
    binary = (mask_logits > 0).numpy()
    order = [int(q) for q in np.argsort(-scores, kind="stable") if scores[q] > threshold and binary[q].any()]
    if not order:
        order = [int(np.argmax(scores))]
    return [binary[q] for q in _nms(binary, order, nms_iou)]


def predict_muse(predictor: Predictor, muse_json: Path, images_dir: Path, out: Path, *, threshold: float = 0.6, nms_iou: float = 0.5) -> Path:
    """psalm-bench MUSE predictions for a PixelLM MUSE file (its ``file_name`` images)."""
    records = load_json(muse_json)
    groups: dict[Any, list[list[dict[str, Any]]]] = {r["id"]: [[] for _ in r["questions"]] for r in records}

    def samples() -> Iterator[TrainSample]:
        for r in records:
            image = read_image(images_dir / r["file_name"])
            for q, text in enumerate(r["questions"]):
                sample = TrainSample("referring", image, _empty_targets(image), sentence=text)
                sample.muse_key = (r["id"], q)  # type: ignore[attr-defined]
                yield sample

    def consume(sample: TrainSample, outputs: Any) -> None:
        rid, q = sample.muse_key  # type: ignore[attr-defined]
        logits = upsample_masks(outputs.mask_logits, outputs.geometry)
        groups[rid][q] = [_rle_json(m) for m in muse_masks(outputs.seg_logits, logits, threshold=threshold, nms_iou=nms_iou)]

    predictor.run(samples(), sum(len(r["questions"]) for r in records), "muse", consume)
    return write_jsonl(out, [{"id": r["id"], "questions": [{"masks": g} for g in groups[r["id"]]]} for r in records])


def _rle_json(mask: np.ndarray) -> dict[str, Any]:
    rle = _rle(mask)
    counts = rle["counts"]
    return {"size": [int(v) for v in rle["size"]], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def gcg_from_instances(instances_results: Path, catalog_json: Path, caption_gt: Path, out_dir: Path, *,
                       max_phrases: int = 4, nms_iou: float = 0.5) -> Path:
    """GLaMM-style GCG prediction files from an instance prediction (module docstring)
    for the images of a GranD-f caption GT, matched by file name; ``catalog_json``
    is the COCO file the detections' image and category ids refer to."""
    catalog = load_catalog(catalog_json)
    names = {c["id"]: c["name"] for c in catalog["categories"]}
    stem_of = {im["id"]: Path(im["file_name"]).stem for im in catalog["images"]}
    by_stem: dict[str, list[dict[str, Any]]] = {}
    for det in load_json(instances_results):
        by_stem.setdefault(stem_of[det["image_id"]], []).append(det)
    out_dir.mkdir(parents=True, exist_ok=True)
    for image in load_json(caption_gt)["images"]:
        chosen, kept = [], []
        for d in sorted(by_stem.get(Path(image["file_name"]).stem, []), key=lambda d: -d["score"]):  # stable: file order on ties
            if len(chosen) == max_phrases:
                break
            m = mask_decode(d["segmentation"])
            if all(np.logical_and(m, k).sum() <= nms_iou * np.logical_or(m, k).sum() for k in kept):
                chosen.append(d)
                kept.append(m)
        phrases = [f"the {names[d['category_id']]}" for d in chosen]
        rec = {"image_id": image["id"], "caption": f"A picture of {_join(phrases)}." if phrases else "A picture.",
               "phrases": phrases, "pred_masks": [d["segmentation"] for d in chosen]}
        (out_dir / f"{image['id']}.json").write_bytes(orjson.dumps(rec))
    return out_dir


def mask_decode(rle: dict[str, Any]) -> np.ndarray:
    from pycocotools import mask as mask_api

    counts = rle["counts"]
    return mask_api.decode({"size": rle["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}).astype(bool)


__all__ = ["gcg_from_instances", "muse_masks", "predict_muse"]
