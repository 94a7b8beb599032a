"""Browse views for segment-level and video tasks: panoptic (matched and unmatched
segments with class names and IoU) and VOS (one object over its frames)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from psalm_bench.errors import InputError
from psalm_bench.formats.panoptic import (PanopticAnnotation, PanopticDataset, default_png_dir, load_panoptic_gt, load_panoptic_image_files,
                                          load_panoptic_pred)
from psalm_bench.formats.result_json import ResultFile
from psalm_bench.leaderboard.browse import Picture, Sample, TaskView, register_view
from psalm_bench.leaderboard.browse_draw import GT_COLOUR, PALETTE, PRED_COLOUR, Layer, compose, compose_segments, load_image, strip
from psalm_bench.leaderboard.browse_views import find_image, rows

FP_COLOUR = (255, 40, 40)
FN_COLOUR = (40, 120, 255)
OFFSET = 256 * 256 * 256


@register_view("panoptic")
class PanopticView(TaskView):
    """One image per sample, scored by its own PQ (sum of matched IoU over TP + FP/2 + FN/2)."""

    score_name = "image PQ"

    def png_dirs(self) -> tuple[Path, Path]:
        """The PNG folders: those the result was scored with, else each JSON's path without .json."""
        return (self.inputs.gt_dir or default_png_dir(self.inputs.gt), self.inputs.pred_dir or default_png_dir(self.inputs.pred))

    def hashed_inputs(self) -> tuple[list[Path], list[Path]]:
        gt_dir, pred_dir = self.png_dirs()
        return [self.inputs.gt, gt_dir], [self.inputs.pred, pred_dir]

    def samples(self, result: ResultFile, source: Path) -> list[Sample]:
        records = result.records
        if not isinstance(records, dict) or "images" not in records or "segments" not in records:
            raise InputError("panoptic records need 'images' and 'segments'", file=source)
        iou_sum: dict[int, float] = {}
        for seg in rows(records["segments"], source):
            if seg.get("outcome") == 0 and seg.get("iou") is not None:
                iou_sum[seg["image_id"]] = iou_sum.get(seg["image_id"], 0.0) + float(seg["iou"])
        out = []
        for image in rows(records["images"], source):
            tp, fp, fn = int(image["tp"]), int(image["fp"]), int(image["fn"])
            denominator = tp + fp / 2 + fn / 2
            score = iou_sum.get(image["image_id"], 0.0) / denominator if denominator else 1.0
            metrics = {"image PQ": score, "TP": tp, "FP": fp, "FN": fn, "ignored": int(image.get("ignored", 0))}
            out.append(Sample(str(image["image_id"]), score, f"image {image['image_id']}", metrics, {}, int(image["image_id"])))
        return out

    @cached_property
    def gt(self) -> PanopticDataset:
        """The ground truth, read and checked as `eval` reads it (formats.panoptic)."""
        return load_panoptic_gt(self.inputs.gt, self.png_dirs()[0])

    @cached_property
    def pred(self) -> PanopticDataset:
        return load_panoptic_pred(self.inputs.pred, self.gt, self.png_dirs()[1])

    @cached_property
    def names(self) -> dict[int, str]:
        return {cat_id: cat.name for cat_id, cat in self.gt.categories.items()}

    @cached_property
    def _images(self) -> dict[int, str]:
        return load_panoptic_image_files(self.inputs.gt)

    @staticmethod
    def _annotation(data: PanopticDataset, image_id: int) -> PanopticAnnotation:
        ann = data.by_image.get(image_id)
        if ann is None:
            raise InputError(f"no annotation for image {image_id}", file=data.path)
        return ann

    def draw(self, sample: Sample) -> Picture:
        from psalm_bench.pngio import read_panoptic_ids

        image_id = sample.handle
        gt_ann = self._annotation(self.gt, image_id)
        pred_ann = self._annotation(self.pred, image_id)
        gt_ids = read_panoptic_ids(self.gt.png_path(gt_ann)).astype(np.int64)
        pred_ids = read_panoptic_ids(self.pred.png_path(pred_ann)).astype(np.int64)
        gt_segs = {s.id: s for s in gt_ann.segments}
        pred_segs = {s.id: s for s in pred_ann.segments}
        pairs, gt_area, pred_area = _pair_counts(gt_ids, pred_ids)
        matched: list[tuple[int, int, float]] = []
        for (g, p), inter in pairs.items():
            gs, ps = gt_segs.get(g), pred_segs.get(p)
            if gs is None or ps is None or gs.iscrowd or gs.category_id != ps.category_id:
                continue
            union = pred_area[p] + gt_area[g] - inter - pairs.get((0, p), 0)
            iou = inter / union
            if iou > 0.5:
                matched.append((g, p, iou))
        matched_gt = {g for g, _, _ in matched}
        matched_pred = {p for _, p, _ in matched}
        file_name = self._images.get(image_id, "")
        h, w = gt_ids.shape
        roots = [r for r in (self.inputs.images, self.inputs.gt.parent / "val2017", self.inputs.gt.parent / "images", self.inputs.gt.parent) if r is not None]
        rgb, found = load_image(find_image(file_name, roots), h, w)
        gt_styles: dict[int, tuple[tuple[int, int, int], float]] = {}
        pred_styles: dict[int, tuple[tuple[int, int, int], float]] = {}
        table = [["", "class", "IoU", "GT id", "pred id"]]
        for k, (g, p, iou) in enumerate(sorted(matched, key=lambda m: m[2])):
            colour = tuple(int(c) for c in PALETTE[k % len(PALETTE)])
            gt_styles[g] = pred_styles[p] = (colour, 0.45)
            table.append(["matched", self.names.get(gt_segs[g].category_id, "?"), f"{iou:.3f}", str(g), str(p)])
        for g, seg in gt_segs.items():
            if g not in matched_gt and not seg.iscrowd and gt_area.get(g):
                gt_styles[g] = (FN_COLOUR, 0.6)
                table.append(["missed (FN)", self.names.get(seg.category_id, "?"), "", str(g), ""])
        for p, seg in pred_segs.items():
            if p not in matched_pred and pred_area.get(p):
                pred_styles[p] = (FP_COLOUR, 0.6)
                table.append(["unmatched (FP or ignored)", self.names.get(seg.category_id, "?"), "", "", str(p)])
        gap = np.full((h, 4, 3), 255, np.uint8)
        picture = np.concatenate([compose_segments(rgb, gt_ids, gt_styles), gap, compose_segments(rgb, pred_ids, pred_styles)], axis=1)
        legend = [((200, 200, 200), "left: ground truth, right: prediction; a matched pair shares a colour"),
                  (FN_COLOUR, "ground-truth segment with no match"), (FP_COLOUR, "predicted segment with no match")]
        notes = [] if found else [f"image {file_name or image_id} not found (pass --images DIR); drawn on grey"]
        if len(matched) != sample.metrics["TP"]:
            notes.append(f"{len(matched)} matches drawn, the result counted {sample.metrics['TP']} TP")
        return Picture(picture, legend, [], notes, table)


def _pair_counts(gt_ids: np.ndarray, pred_ids: np.ndarray) -> tuple[dict[tuple[int, int], int], dict[int, int], dict[int, int]]:
    joint, counts = np.unique(gt_ids * OFFSET + pred_ids, return_counts=True)
    pairs = {(int(j // OFFSET), int(j % OFFSET)): int(c) for j, c in zip(joint, counts)}
    gt_area: dict[int, int] = {}
    pred_area: dict[int, int] = {}
    for (g, p), c in pairs.items():
        gt_area[g] = gt_area.get(g, 0) + c
        pred_area[p] = pred_area.get(p, 0) + c
    return pairs, gt_area, pred_area


@register_view("vos")
class VosView(TaskView):
    """One object of one sequence per sample, scored by its (J + F) / 2 over the scored frames; a strip shows its frames."""

    score_name = "J&F"
    filters = ("sequence",)
    strip_frames = 8

    def samples(self, result: ResultFile, source: Path) -> list[Sample]:
        per: dict[tuple[str, int], list[tuple[Any, float, float]]] = {}
        for i, row in enumerate(rows(result.records, source)):
            if not all(k in row for k in ("sequence", "object", "frame", "J", "F")):
                raise InputError("record lacks sequence, object, frame, J or F", file=source, record=f"records[{i}]")
            per.setdefault((str(row["sequence"]), int(row["object"])), []).append((row["frame"], float(row["J"]), float(row["F"])))
        out = []
        for (seq, obj), frames in per.items():
            j = float(np.mean([f[1] for f in frames]))
            f = float(np.mean([f[2] for f in frames]))
            worst = min(frames, key=lambda t: t[1])
            metrics = {"J&F": (j + f) / 2, "J": j, "F": f, "frames": len(frames), "worst frame": f"{worst[0]} (J {worst[1]:.3f})"}
            out.append(Sample(f"{seq}/{obj}", (j + f) / 2, f"{seq} object {obj}", metrics, {"sequence": seq}, (seq, obj, frames)))
        return out

    def _frame_png(self, root: Path, seq: str, frame: Any) -> Path:
        name = frame if isinstance(frame, str) else f"{int(frame):05d}"
        return root / seq / f"{name}.png"

    def draw(self, sample: Sample) -> Picture:
        from psalm_bench.pngio import read_label_map

        seq, obj, frames = sample.handle
        annotations = self.inputs.gt / "Annotations" / "480p"
        images = self.inputs.images or self.inputs.gt / "JPEGImages" / "480p"
        order = sorted(frames, key=lambda t: str(t[0]))
        pick = sorted({round(i) for i in np.linspace(0, len(order) - 1, min(self.strip_frames, len(order)))})
        worst = min(order, key=lambda t: t[1])
        tiles, main, notes = [], None, []
        for frame, j, _ in [order[i] for i in pick] + [worst]:
            gt_png = self._frame_png(annotations, seq, frame)
            gt = read_label_map(gt_png) == obj
            pred_png = self._frame_png(self.inputs.pred, seq, frame)
            pred = read_label_map(pred_png) == obj if pred_png.is_file() else np.zeros_like(gt)
            rgb, found = load_image(find_image(f"{gt_png.stem}.jpg", [images / seq]), *gt.shape)
            if not found and not notes:
                notes.append(f"frames of {seq} not found under {images}; drawn on grey")
            tiles.append(compose(rgb, [Layer(gt, GT_COLOUR), Layer(pred, PRED_COLOUR)]))
            main = tiles[-1]
        assert main is not None
        notes.append(f"large view: the worst frame, {worst[0]} (J {worst[1]:.3f}); strip: {len(pick)} frames evenly spread")
        return Picture(main, [(GT_COLOUR, "ground truth"), (PRED_COLOUR, "prediction")], [], notes, [], strip(tiles[:-1]))
