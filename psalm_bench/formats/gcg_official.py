"""GLaMM's GCG files (GranD-f ``val_test`` annotations and ``eval/gcg/infer.py``
predictions) read as they are.

Ground truth is two COCO files (GLaMM ``eval/gcg/evaluate.py`` ``main``):
``{split}_gcg_coco_mask_gt.json`` (``images``; ``annotations`` with
``image_id``, ``segmentation``, ``category_id`` 1) and
``{split}_gcg_coco_caption_gt.json`` (``images``; ``annotations`` with
``image_id``, ``caption`` and ``labels``, the grounded phrases). Given either
file, the other is found by its name; given their folder, ``split`` picks
them (default ``val``). The images are the caption file's (evaluate.py's
``all_images_ids``); an image's GT masks are its mask annotations in file
order and its phrases the ``labels`` of its first caption annotation, paired
by position (``find_best_matches`` indexes both matrices with one index); its
references for METEOR/CIDEr are all its caption annotations, as
``COCOEvalCap`` takes them.

Predictions are a folder holding ``{image_id}.json`` per image, each
``{"image_id", "caption", "phrases": [str, ...], "pred_masks": [RLE, ...]}``
or that record under one key (evaluate.py takes the first key's value when
it holds ``caption`` and ``phrases``, else the whole file). Masks are scored
in file order with score 1.0 and phrases paired with masks by position, as
evaluate.py does. Files for ids the ground truth lacks are not read (as
evaluate.py); an image without a file is scored as no prediction, with a
warning (evaluate.py stops on it).

Where a phrase count differs from its mask count, Recall follows
evaluate.py exactly: the greedy loop indexes the phrase-similarity matrix with
the IoU matrix's best cell, and when that cell lies outside the similarity
matrix the IndexError is caught per image, which then adds its GT phrases
but no true positive.

Refused in one line: files that do not parse as COCO; an annotation of
another category or a crowd one (evaluate.py would score it in mIoU and
Recall but leave it out of AP); an image without a caption annotation or
without ``labels`` (evaluate.py silently drops it from Recall); the two GT
files listing different images; a prediction file without ``caption``,
``phrases`` or ``pred_masks`` (evaluate.py stops with a KeyError); image ids
that are not plain file names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError
from psalm_bench.formats.multi_target import GcgPhrase, GcgPrediction, GcgSample, SampleId, _mask
from psalm_bench.jsonio import load_json
from psalm_bench.paths import inside

MASK_SUFFIX = "_gcg_coco_mask_gt.json"
CAPTION_SUFFIX = "_gcg_coco_caption_gt.json"


def glamm_gt_paths(path: Path, split: str | None) -> tuple[Path, Path] | None:
    """(mask GT, caption GT) when ``path`` is GLaMM's layout (their folder or
    either file, by name); None for psalm-bench's own file."""
    if path.is_dir():
        s = split or "val"
        mask, caption = path / f"{s}{MASK_SUFFIX}", path / f"{s}{CAPTION_SUFFIX}"
        for p in (mask, caption):
            if not p.is_file():
                raise InputError(f"GLaMM's GCG ground truth folder has no {p.name} (split {s!r})", file=path)
        return mask, caption
    name = path.name
    if name.endswith(MASK_SUFFIX):
        return path, path.with_name(name[: -len(MASK_SUFFIX)] + CAPTION_SUFFIX)
    if name.endswith(CAPTION_SUFFIX):
        return path.with_name(name[: -len(CAPTION_SUFFIX)] + MASK_SUFFIX), path
    return None


def _coco(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
        raise InputError("expected a COCO JSON object with 'images' and 'annotations' lists (GLaMM's GCG ground truth)", file=path)
    for k, rec in enumerate(data["images"]):
        if not isinstance(rec, dict) or isinstance(rec.get("id"), bool) or not isinstance(rec.get("id"), (str, int)):
            raise InputError("each image needs an 'id' (string or integer)", file=path, record=f"image {k}")
    for k, rec in enumerate(data["annotations"]):
        if not isinstance(rec, dict) or isinstance(rec.get("image_id"), bool) or not isinstance(rec.get("image_id"), (str, int)):
            raise InputError("each annotation needs an 'image_id' (string or integer)", file=path, record=f"annotation {k}")
    return data["images"], data["annotations"]


def _by_image(images: list[dict[str, Any]], anns: list[dict[str, Any]], path: Path) -> dict[SampleId, list[dict[str, Any]]]:
    out: dict[SampleId, list[dict[str, Any]]] = {}
    for rec in images:
        if rec["id"] in out:
            raise InputError("duplicate image id", file=path, record=f"image {rec['id']!r}")
        out[rec["id"]] = []
    for k, a in enumerate(anns):
        if a["image_id"] not in out:
            raise InputError(f"image_id {a['image_id']!r} is not in the file's images", file=path, record=f"annotation {k}")
        out[a["image_id"]].append(a)
    return out


def _image_size(rec: dict[str, Any], path: Path, where: str) -> tuple[int, int]:
    h, w = rec.get("height"), rec.get("width")
    for name, v in (("height", h), ("width", w)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise InputError(f"image '{name}' must be a positive integer", file=path, record=where)
    return h, w


def load_glamm_gt(mask_path: Path, caption_path: Path) -> list[GcgSample]:
    """GcgSamples of GLaMM's two GT files, in the caption file's image order."""
    m_images, m_anns = _coco(mask_path)
    c_images, c_anns = _coco(caption_path)
    masks_of = _by_image(m_images, m_anns, mask_path)
    captions_of = _by_image(c_images, c_anns, caption_path)
    if set(masks_of) != set(captions_of):
        odd = next(iter(sorted(map(repr, set(masks_of) ^ set(captions_of)))))
        raise InputError(f"the mask and caption files list different images (e.g. {odd}); GLaMM scores AP on one and the rest on the other", file=caption_path)
    sizes = {rec["id"]: rec for rec in m_images}
    out: list[GcgSample] = []
    for rec in c_images:
        sid = rec["id"]
        where = f"image {sid!r}"
        h, w = _image_size(sizes[sid], mask_path, where)
        masks = []
        for a in masks_of[sid]:
            aw = f"{where}: annotation {a.get('id', len(masks))!r}"
            if a.get("category_id", 1) != 1:
                raise InputError("category_id must be 1 (GLaMM's AP scores category 1 only, mIoU and Recall every annotation)", file=mask_path, record=aw)
            if a.get("iscrowd"):
                raise InputError("a crowd annotation (GLaMM's AP ignores it, mIoU and Recall score it)", file=mask_path, record=aw)
            if "segmentation" not in a:
                raise InputError("annotation has no 'segmentation'", file=mask_path, record=aw)
            masks.append(_mask(a["segmentation"], h, w, mask_path, aw))
        caps = captions_of[sid]
        if not caps:
            raise InputError("image has no caption annotation (GLaMM's Recall would silently skip it)", file=caption_path, record=where)
        for a in caps:
            if not isinstance(a.get("caption"), str):
                raise InputError("caption annotation needs a string 'caption'", file=caption_path, record=where)
        labels = caps[0].get("labels")
        if not isinstance(labels, list) or not all(isinstance(t, str) for t in labels):
            raise InputError("first caption annotation needs 'labels', a list of phrase strings (GLaMM's Recall would silently skip the image)", file=caption_path, record=where)
        phrases = [GcgPhrase(labels[i] if i < len(labels) else "", rle) for i, rle in enumerate(masks)]
        out.append(GcgSample(sid, h, w, caps[0]["caption"], phrases,
                             labels=None if len(labels) == len(masks) else tuple(labels),
                             references=tuple(a["caption"] for a in caps[1:])))
    return out


def _unwrap(data: Any, path: Path) -> dict[str, Any]:
    """evaluate.py's reading of one prediction file: the first key's value when it
    holds 'caption' and 'phrases', else the whole object."""
    if not isinstance(data, dict) or not data:
        raise InputError("expected a JSON object {caption, phrases, pred_masks} (GLaMM's infer.py output)", file=path)
    inner = next(iter(data.values()))
    rec = inner if isinstance(inner, dict) and "caption" in inner and "phrases" in inner else data
    for key in ("caption", "phrases", "pred_masks"):
        if key not in rec:
            raise InputError(f"missing '{key}' (GLaMM's evaluate.py stops with a KeyError)", file=path)
    return rec


def read_glamm_predictions(folder: Path, gt: dict[SampleId, GcgSample]) -> tuple[dict[SampleId, GcgPrediction], int]:
    """Predictions of a GLaMM ``infer.py`` output folder; also the number of
    ``.json`` files there for ids the ground truth lacks (not read)."""
    preds: dict[SampleId, GcgPrediction] = {}
    names = set()
    for sid, sample in gt.items():
        name = f"{sid}.json"
        if "/" in name or "\\" in name:
            raise InputError(f"image id {sid!r} is not a plain file name, so it names no prediction file", file=folder)
        path = inside(folder, name, file=folder, record=f"image {sid!r}")
        names.add(name)
        if not path.exists():
            continue
        rec = _unwrap(load_json(path), path)
        if not isinstance(rec["caption"], str):
            raise InputError("'caption' must be a string", file=path)
        texts, segs = rec["phrases"], rec["pred_masks"]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise InputError("'phrases' must be a list of strings", file=path)
        if not isinstance(segs, list):
            raise InputError("'pred_masks' must be a list of RLE masks", file=path)
        masks = [_mask(seg, sample.height, sample.width, path, f"pred_masks {k}") for k, seg in enumerate(segs)]
        phrases = [GcgPhrase(texts[i] if i < len(texts) else "", rle) for i, rle in enumerate(masks)]
        preds[sid] = GcgPrediction(rec["caption"], phrases, labels=None if len(texts) == len(masks) else tuple(texts))
    extra = sum(1 for p in folder.glob("*.json") if p.name not in names)
    return preds, extra
