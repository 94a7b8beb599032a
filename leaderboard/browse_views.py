"""Per-task browse views: which samples a result scored, and how to draw one.

Each view reads the result's own per-sample records for the scores (nothing
is re-scored) and the GT / prediction files only for the samples drawn.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.formats.result_json import ResultFile
from psalm_bench.leaderboard.browse import Picture, Sample, TaskView, register_view
from psalm_bench.leaderboard.browse_draw import (
    GT_COLOUR,
    PALETTE,
    PRED_COLOUR,
    PROMPT_COLOUR,
    Layer,
    compose,
    load_image,
    prompt_layers,
    with_zoom,
)
from psalm_bench.masks import decode, to_rle
from psalm_bench.tables import MISSING


def rows(records: Any, source: Path) -> list[dict[str, Any]]:
    """Records as a list of dicts, whether stored as columns or as rows."""
    if isinstance(records, list) and all(isinstance(r, dict) for r in records):
        return records
    if isinstance(records, dict) and all(isinstance(v, list) for v in records.values()):
        lengths = {len(v) for v in records.values()}
        if len(lengths) == 1:
            keys = list(records)
            return [dict(zip(keys, values)) for values in zip(*records.values())]
    raise InputError("'records' is neither a list of records nor equal-length columns", file=source)


def find_image(file_name: str, roots: list[Path]) -> Path | None:
    """The sample's image under the first root that has it (as named, or by its base name)."""
    for root in roots:
        for candidate in (root / file_name, root / Path(file_name).name):
            if candidate.is_file():
                return candidate
    return None


def _need(row: dict[str, Any], keys: tuple[str, ...], source: Path, index: int) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise InputError(f"record lacks {', '.join(missing)}", file=source, record=f"records[{index}]")


def _image_note(found: bool, name: str) -> list[str]:
    return [] if found else [f"image {name} not found (pass --images DIR); drawn on grey"]


@register_view("interactive")
class InteractiveView(TaskView):
    """One (instance, prompt type) per sample: the prompt drawn as the model saw it."""

    filters = ("prompt",)

    def samples(self, result: ResultFile, source: Path) -> list[Sample]:
        out = []
        for i, row in enumerate(rows(result.records, source)):
            _need(row, ("ann_id", "prompt", "IoU"), source, i)
            metrics = {"IoU": float(row["IoU"]), "I": row.get("I"), "U": row.get("U")}
            out.append(Sample(f"{row['ann_id']}:{row['prompt']}", float(row["IoU"]), f"ann {row['ann_id']} {row['prompt']}",
                              {k: v for k, v in metrics.items() if v is not None}, {"prompt": str(row["prompt"])}, (int(row["ann_id"]), str(row["prompt"]))))
        return out

    @cached_property
    def gt(self):
        from psalm_bench.formats.interactive import load_interactive_gt

        return load_interactive_gt(self.inputs.gt)

    @cached_property
    def pred(self):
        from psalm_bench.formats.interactive import load_interactive_predictions

        return load_interactive_predictions(self.inputs.pred, self.gt, ignore_extra=True)

    def draw(self, sample: Sample) -> Picture:
        ann_id, kind = sample.handle
        where = self.gt.ann_index.get(ann_id)
        if where is None:
            raise InputError(f"annotation {ann_id} of the result is not in the ground truth", file=self.inputs.gt)
        image = self.gt.images[where[0]]
        ann = image.anns[where[1]]
        roots = [r for r in (self.inputs.images, self.inputs.gt.parent / "val2017", self.inputs.gt.parent) if r is not None]
        path = find_image(image.file_name, roots)
        rgb, found = load_image(path, image.height, image.width)
        gt_mask = decode(ann.rle)
        rle = self.pred.masks.get((ann_id, kind))
        pred_mask = decode(rle) if rle is not None else np.zeros_like(gt_mask)
        prompt_rle = ann.prompts.get(kind)
        prompt = decode(prompt_rle) if prompt_rle is not None else np.zeros_like(gt_mask)
        layers = [Layer(gt_mask, GT_COLOUR), Layer(pred_mask, PRED_COLOUR), *prompt_layers(kind, prompt)]
        notes = _image_note(found, image.file_name)
        if rle is None:
            notes.append("no prediction for this prompt: scored as an empty mask")
        image = with_zoom(compose(rgb, layers), [gt_mask, pred_mask, prompt])
        return Picture(image, [(GT_COLOUR, "ground truth"), (PRED_COLOUR, "prediction"), (PROMPT_COLOUR, f"{kind} prompt")],
                       [f"visual prompt: {kind}"], notes)


@register_view("refcoco", "gref")
class ReferringView(TaskView):
    """One sentence per sample, the sentence shown; gRefCOCO's no-target cases said in words."""

    filters = ("target",)

    def samples(self, result: ResultFile, source: Path) -> list[Sample]:
        out = []
        for i, row in enumerate(rows(result.records, source)):
            _need(row, ("sent_id", "IoU"), source, i)
            metrics = {k: row[k] for k in ("IoU", "I", "U", "ref_id") if k in row}
            fields = {"target": "none" if row.get("gt_no_target") else "some"}
            if "gt_no_target" in row:
                metrics["GT no target"] = "yes" if row["gt_no_target"] else "no"
                metrics["predicted no target"] = "yes" if row.get("pred_no_target") else "no"
            out.append(Sample(str(row["sent_id"]), float(row["IoU"]), f"sentence {row['sent_id']}", metrics, fields, int(row["sent_id"])))
        return out

    @cached_property
    def data(self):
        from psalm_bench.formats.refer import load_grefer, load_refer

        if self.gref:
            return load_grefer(self.inputs.gt)
        return load_refer(self.inputs.gt, self.inputs.params.get("dataset") or "refcoco", self.inputs.params.get("split_by"))

    @property
    def gref(self) -> bool:
        return self.inputs.task == "gref"

    @cached_property
    def sentences(self) -> dict[int, tuple[str, Any]]:
        from psalm_bench.formats.refer import load_refs_file

        out: dict[int, tuple[str, Any]] = {}
        raw = load_refs_file(self.data.refs_path)
        by_ref = {ref.ref_id: ref for ref in self.data.refs}
        for rec in raw:
            ref = by_ref.get(rec.get("ref_id")) if isinstance(rec, dict) else None
            if ref is None:
                continue
            for sent in rec.get("sentences") or []:
                if isinstance(sent, dict) and "sent_id" in sent:
                    out[int(sent["sent_id"])] = (str(sent.get("sent", sent.get("raw", ""))), ref)
        return out

    @cached_property
    def _pred_lines(self) -> dict[int, dict[str, Any]]:
        from psalm_bench.formats.jsonl import read_jsonl

        return {rec["sent_id"]: rec for _, rec in read_jsonl(self.inputs.pred) if isinstance(rec, dict) and "sent_id" in rec}

    def draw(self, sample: Sample) -> Picture:
        sent_id = sample.handle
        if sent_id not in self.sentences:
            raise InputError(f"sentence {sent_id} of the result is not in the ground truth", file=self.data.refs_path)
        text, ref = self.sentences[sent_id]
        info = self.data.image_of(ref)
        h, w = info.height, info.width
        gt_mask = decode(self.data.target_masks([ref])[ref.ref_id])
        rec = self._pred_lines.get(sent_id)
        notes = []
        if rec is None:
            pred_mask = np.zeros((h, w), bool)
            notes.append("no prediction for this sentence: scored as an empty mask")
        else:
            pred_mask = decode(to_rle(rec["segmentation"], h, w))
        file_name = getattr(info, "file_name", "")
        roots = [r for r in (self.inputs.images, self.inputs.gt, self.inputs.gt.parent, self.inputs.gt.parent / "coco") if r is not None]
        rgb, found = load_image(find_image(file_name, roots), h, w)
        notes = _image_note(found, file_name) + notes
        prompt = [f"\u201c{text}\u201d"]
        if ref.no_target:
            prompt.append("GROUND TRUTH: NO TARGET (the sentence names nothing in the image)")
        if rec is not None and (rec.get("no_target") is True or (rec.get("no_target") is None and not pred_mask.any())):
            prompt.append("PREDICTION: NO TARGET")
        layers = [Layer(gt_mask, GT_COLOUR), Layer(pred_mask, PRED_COLOUR)]
        image = with_zoom(compose(rgb, layers), [gt_mask, pred_mask])
        return Picture(image, [(GT_COLOUR, "ground truth"), (PRED_COLOUR, "prediction")], prompt, notes)


@register_view("semantic")
class SemanticView(TaskView):
    """One image per sample, scored by its own mean IoU over the classes it shows."""

    score_name = "image mIoU"
    filters = ("class",)

    def samples(self, result: ResultFile, source: Path) -> list[Sample]:
        names = list(result.table("per_class") or {})
        n = int(self.inputs.params.get("num_classes") or len(names))
        if not n:
            raise InputError("semantic result names no classes (no per_class, no num_classes)", file=source)
        out = []
        for i, row in enumerate(rows(result.records, source)):
            _need(row, ("image", "cells", "counts"), source, i)
            confusion = np.zeros(n * (n + 1), dtype=np.int64)
            confusion[np.asarray(row["cells"], dtype=np.int64)] = np.asarray(row["counts"], dtype=np.int64)
            confusion = confusion.reshape(n, n + 1)
            inter = np.diag(confusion[:, :n])
            union = confusion.sum(axis=1) + confusion[:, :n].sum(axis=0) - inter
            present = union > 0
            ious = inter[present] / union[present]
            score = float(ious.mean()) if present.any() else 1.0
            label = names if len(names) == n else [str(c) for c in range(n)]
            classes = [label[c] for c in np.flatnonzero(present)]
            worst = min(zip(ious, classes)) if classes else (1.0, MISSING)
            metrics = {"image mIoU": score, "pixel accuracy": float(inter.sum() / max(1, confusion[:, :n].sum())),
                       "classes": len(classes), "worst class": f"{worst[1]} ({worst[0]:.3f})"}
            out.append(Sample(str(row["image"]), score, str(row["image"]), metrics, {"class": ""}, (str(row["image"]), label)))
        return out

    def hashed_inputs(self) -> tuple[list[Path], list[Path]]:
        if self.inputs.gt.suffix == ".json":
            raise InputError("browse reads semantic ground truth as a folder of label PNGs, not a panoptic JSON", file=self.inputs.gt)
        return [self.inputs.gt], [self.inputs.pred]

    def draw(self, sample: Sample) -> Picture:
        from psalm_bench.pngio import read_label_map

        stem, names = sample.handle
        gt = read_label_map(self.inputs.gt / f"{stem}.png")
        pred = read_label_map(self.inputs.pred / f"{stem}.png")
        h, w = gt.shape
        roots = [r for r in (self.inputs.images, self.inputs.gt.parent) if r is not None]
        path = None
        for ext in (".jpg", ".png", ".jpeg"):
            path = path or find_image(stem + ext, roots)
        rgb, found = load_image(path, h, w)
        ignore = int(self.inputs.params.get("ignore_label", 255))
        shown = sorted(set(np.unique(gt).tolist()) | set(np.unique(pred).tolist()) - {ignore})
        shown = [c for c in shown if c != ignore]

        def paint(labels: np.ndarray) -> np.ndarray:
            layers = [Layer(labels == c, tuple(PALETTE[k % len(PALETTE)]), alpha=0.5) for k, c in enumerate(shown)]
            return compose(rgb, layers)

        wrong = (gt != pred) & (gt != ignore)
        error = compose(rgb, [Layer(wrong, (255, 0, 0), alpha=0.7, outline=False)])
        gap = np.full((h, 4, 3), 255, np.uint8)
        image = np.concatenate([paint(np.where(gt == ignore, -1, gt)), gap, paint(pred), gap, error], axis=1)
        legend = [(tuple(PALETTE[k % len(PALETTE)]), names[c] if c < len(names) else str(c)) for k, c in enumerate(shown)]
        legend.append(((255, 0, 0), "wrong pixel (right panel)"))
        return Picture(image, legend, ["left: ground truth, middle: prediction, right: errors"], _image_note(found, stem))
