"""Multi-target benchmarks: MUSE (PixelLM) and grounded captions (GCG: GLaMM, MGLMM).

The peers' release files are read as they are, detected by their layout:
PixelLM's MUSE ground truth (formats.muse_official) and GLaMM's GranD-f ground
truth and ``infer.py`` prediction folder (formats.gcg_official). PixelLM
publishes no mask prediction file (its evaluation runs the model in the same
loop), so MUSE predictions are always the JSON Lines below. The layouts below
are psalm-bench's own. Masks are COCO RLE
(compressed or uncompressed counts) or polygon lists, as everywhere in
psalm-bench (FORMATS.md); each must have its image's size.

MUSE ground truth: a JSON list (or ``{"samples": [...]}``), one record per
evaluation item::

    {"id": str | int, "height": int, "width": int,
     "question": str (optional),
     "masks": [segmentation, ...]}                    # the GT instances

An item that PixelLM evaluates with several questions at once (its
``questions_list``: one image, several questions, one mask group each) uses
``"questions": [{"question": str, "masks": [...]}, ...]`` instead of
``question``/``masks``.

MUSE predictions: JSON Lines, one line per item::

    {"id": ..., "masks": [RLE, ...]}                  # or, per question:
    {"id": ..., "questions": [{"masks": [RLE, ...]}, ...]}   # same order as GT

GCG ground truth: a JSON list (or ``{"samples": [...]}``), one record per image::

    {"id": str | int, "height": int, "width": int, "caption": str,
     "phrases": [{"text": str, "mask": segmentation}        # or "masks": [...]
                 , ...]}

GCG predictions: JSON Lines, one line per image::

    {"id": ..., "caption": str, "phrases": [{"text": str, "mask": RLE}, ...]}

``phrases`` is required (``[]`` for a caption with no grounded phrase): GLaMM's
evaluation stops with a KeyError on a prediction without it.

A phrase given with several masks (``"masks"``) is scored as their union:
GLaMM's GranD-f ground truth has exactly one mask per grounded phrase.

Every problem is an :class:`InputError` naming the file and the record (line
number or sample id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycocotools import mask as mask_api

from psalm_bench.errors import InputError
from psalm_bench.jsonio import load_json
from psalm_bench.formats.jsonl import read_jsonl
from psalm_bench.masks import RLE, MaskFormatError, to_rle

SampleId = str | int


# ---------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class MuseQuestion:
    question: str | None
    masks: list[RLE]


@dataclass(frozen=True)
class MuseSample:
    id: SampleId
    height: int
    width: int
    questions: list[MuseQuestion]


@dataclass(frozen=True)
class GcgPhrase:
    text: str
    mask: RLE


@dataclass(frozen=True)
class GcgSample:
    id: SampleId
    height: int
    width: int
    caption: str
    phrases: list[GcgPhrase]
    # GLaMM's files list phrase texts apart from the masks, paired by position; when
    # the two counts differ the texts are kept here (Recall uses them; see gcg_official)
    labels: tuple[str, ...] | None = None
    references: tuple[str, ...] = ()  # further reference captions of the image (COCO captions file)


@dataclass
class GcgPrediction:
    caption: str
    phrases: list[GcgPhrase] = field(default_factory=list)
    labels: tuple[str, ...] | None = None  # as GcgSample.labels


# ---------------------------------------------------------------------------
# Helpers


def _samples(data: Any, path: Path) -> list[Any]:
    if isinstance(data, dict) and "samples" in data:
        data = data["samples"]
    if not isinstance(data, list):
        raise InputError('expected a JSON list of samples or {"samples": [...]}', file=path)
    return data


def _sample_id(value: Any, path: Path, record: str) -> SampleId:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError("'id' must be a string or an integer", file=path, record=record)
    return value


def _size(record: dict[str, Any], path: Path, where: str) -> tuple[int, int]:
    h, w = record.get("height"), record.get("width")
    for name, v in (("height", h), ("width", w)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise InputError(f"'{name}' must be a positive integer", file=path, record=where)
    return h, w


def _mask(segmentation: Any, h: int, w: int, path: Path, where: str) -> RLE:
    try:
        rle = to_rle(segmentation, h, w)  # counts checked exactly (masks.first_bad_counts)
    except MaskFormatError as exc:
        raise InputError(str(exc), file=path, record=where) from None
    return rle


def _mask_list(value: Any, h: int, w: int, path: Path, where: str) -> list[RLE]:
    if not isinstance(value, list):
        raise InputError("'masks' must be a list of masks", file=path, record=where)
    return [_mask(seg, h, w, path, f"{where}: mask {k}") for k, seg in enumerate(value)]


def _union(rles: list[RLE]) -> RLE:
    return rles[0] if len(rles) == 1 else mask_api.merge(rles, intersect=False)


def _index(samples: list[Any], path: Path) -> dict[SampleId, Any]:
    index: dict[SampleId, Any] = {}
    for s in samples:
        if s.id in index:
            raise InputError("duplicate id", file=path, record=f"id {s.id!r}")
        index[s.id] = s
    return index


def _pred_line(record: dict[str, Any], number: int, path: Path, gt: dict[SampleId, Any], seen: set, ignore_extra: bool) -> Any:
    """The GT sample a prediction line is for; None for an ignored extra line."""
    where = f"line {number}"
    if "id" not in record:
        raise InputError("missing 'id'", file=path, record=where)
    sid = _sample_id(record["id"], path, where)
    if sid not in gt:
        if ignore_extra:
            return None
        raise InputError(f"id {sid!r} is not in the ground truth (use ignore_extra to skip such lines)", file=path, record=where)
    if sid in seen:
        raise InputError(f"duplicate prediction for id {sid!r}", file=path, record=where)
    seen.add(sid)
    return gt[sid]


# ---------------------------------------------------------------------------
# MUSE


def _sample_header(rec: Any, k: int, path: Path) -> tuple[Any, str, int, int]:
    """A GT sample's id, its name in messages, and its image size."""
    where = f"sample {k}"
    if not isinstance(rec, dict):
        raise InputError("each sample must be a JSON object", file=path, record=where)
    if "id" not in rec:
        raise InputError("missing 'id'", file=path, record=where)
    sid = _sample_id(rec["id"], path, where)
    where = f"id {sid!r}"
    h, w = _size(rec, path, where)
    return sid, where, h, w


def load_muse_gt(path: str | Path) -> list[MuseSample]:
    """psalm-bench's MUSE layout, or PixelLM's release file as it is (detected by
    its ``questions``/``answers`` records; formats.muse_official)."""
    path = Path(path)
    data = load_json(path)
    from psalm_bench.formats.muse_official import is_pixellm_muse, pixellm_muse_samples

    if is_pixellm_muse(data):
        official = pixellm_muse_samples(data, path)
        _index(official, path)
        return official
    out: list[MuseSample] = []
    for k, rec in enumerate(_samples(data, path)):
        sid, where, h, w = _sample_header(rec, k, path)
        if "questions" in rec:
            qs = rec["questions"]
            if not isinstance(qs, list) or not qs:
                raise InputError("'questions' must be a non-empty list", file=path, record=where)
            questions = []
            for q, qrec in enumerate(qs):
                if not isinstance(qrec, dict):
                    raise InputError(f"question {q} must be a JSON object", file=path, record=where)
                questions.append(MuseQuestion(qrec.get("question"), _mask_list(qrec.get("masks"), h, w, path, f"{where}: question {q}")))
        else:
            questions = [MuseQuestion(rec.get("question"), _mask_list(rec.get("masks"), h, w, path, where))]
        out.append(MuseSample(sid, h, w, questions))
    _index(out, path)
    return out


class _PredictionLines:
    """Iterate (line number, record, GT sample) over a prediction JSONL file,
    counting the lines skipped as ids the ground truth lacks in ``extra``."""

    def __init__(self, path: Path, gt: dict[SampleId, Any], ignore_extra: bool):
        self.path, self.gt, self.ignore_extra = path, gt, ignore_extra
        self.extra = 0

    def __iter__(self):
        seen: set = set()
        for number, record in read_jsonl(self.path):
            sample = _pred_line(record, number, self.path, self.gt, seen, self.ignore_extra)
            if sample is None:
                self.extra += 1
                continue
            yield number, record, sample


def read_muse_predictions(path: str | Path, gt: dict[SampleId, MuseSample], *, ignore_extra: bool = False) -> tuple[dict[SampleId, list[list[RLE]]], int]:
    """Predicted masks per sample and question; also the number of ignored
    lines for ids the ground truth lacks."""
    path = Path(path)
    preds: dict[SampleId, list[list[RLE]]] = {}
    lines = _PredictionLines(path, gt, ignore_extra)
    for number, rec, sample in lines:
        where = f"line {number}"
        h, w = sample.height, sample.width
        if "questions" in rec:
            qs = rec["questions"]
            if not isinstance(qs, list) or len(qs) != len(sample.questions):
                raise InputError(f"'questions' must be a list of {len(sample.questions)} (as the ground truth)", file=path, record=where)
            groups = []
            for q, qrec in enumerate(qs):
                if not isinstance(qrec, dict):
                    raise InputError(f"question {q} must be a JSON object", file=path, record=where)
                groups.append(_mask_list(qrec.get("masks"), h, w, path, f"{where}: question {q}"))
        else:
            if len(sample.questions) != 1:
                raise InputError(f"the ground truth has {len(sample.questions)} questions: give 'questions'", file=path, record=where)
            groups = [_mask_list(rec.get("masks"), h, w, path, where)]
        preds[sample.id] = groups
    return preds, lines.extra


def read_muse_scores(path: str | Path, gt: dict[SampleId, MuseSample]) -> dict[SampleId, float | list[float]]:
    """Externally computed text scores: ``{id: score}`` with a score in [0, 1]
    per sample, or ``{id: [score, ...]}`` with one score per GT instance (in GT
    order, all questions concatenated). JSON object keys are strings, so an
    integer sample id is looked up by its decimal string."""
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict):
        raise InputError("expected a JSON object {id: score}", file=path)
    by_str = {str(k): k for k in gt}
    out: dict[SampleId, float | list[float]] = {}
    for key, value in data.items():
        if key not in by_str:
            raise InputError("id is not in the ground truth", file=path, record=f"id {key!r}")
        sid = by_str[key]
        n_gt = sum(len(q.masks) for q in gt[sid].questions)
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) != n_gt:
            raise InputError(f"expected {n_gt} scores (one per GT instance), got {len(value)}", file=path, record=f"id {key!r}")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= float(v) <= 1.0):
                raise InputError(f"score must be a number in [0, 1], got {v!r}", file=path, record=f"id {key!r}")
        out[sid] = [float(v) for v in value] if isinstance(value, list) else float(value)
    return out


# ---------------------------------------------------------------------------
# GCG


def _phrases(value: Any, h: int, w: int, path: Path, where: str) -> list[GcgPhrase]:
    if not isinstance(value, list):
        raise InputError("'phrases' must be a list", file=path, record=where)
    out = []
    for k, p in enumerate(value):
        pw = f"{where}: phrase {k}"
        if not isinstance(p, dict):
            raise InputError("each phrase must be a JSON object", file=path, record=pw)
        text = p.get("text")
        if not isinstance(text, str):
            raise InputError("phrase 'text' must be a string", file=path, record=pw)
        if "mask" in p:
            rle = _mask(p["mask"], h, w, path, pw)
        elif "masks" in p:
            masks = _mask_list(p["masks"], h, w, path, pw)
            if not masks:
                raise InputError("phrase 'masks' is empty", file=path, record=pw)
            rle = _union(masks)
        else:
            raise InputError("phrase needs a 'mask' (or 'masks')", file=path, record=pw)
        out.append(GcgPhrase(text, rle))
    return out


def load_gcg_gt(path: str | Path, split: str | None = None) -> list[GcgSample]:
    """psalm-bench's GCG layout, or GLaMM's GranD-f pair of COCO files (either file,
    or their folder with ``split``; formats.gcg_official)."""
    path = Path(path)
    from psalm_bench.formats.gcg_official import glamm_gt_paths, load_glamm_gt

    official = glamm_gt_paths(path, split)
    if official is not None:
        samples = load_glamm_gt(*official)
        _index(samples, official[1])
        return samples
    if split is not None:
        raise InputError("--split picks GLaMM's {split}_gcg_coco_*_gt.json files from their folder; this is one psalm-bench GCG file", file=path)
    out: list[GcgSample] = []
    for k, rec in enumerate(_samples(load_json(path), path)):
        sid, where, h, w = _sample_header(rec, k, path)
        caption = rec.get("caption")
        if not isinstance(caption, str):
            raise InputError("'caption' must be a string", file=path, record=where)
        out.append(GcgSample(sid, h, w, caption, _phrases(rec.get("phrases"), h, w, path, where)))
    _index(out, path)
    return out


def read_gcg_predictions(path: str | Path, gt: dict[SampleId, GcgSample], *, ignore_extra: bool = False) -> tuple[dict[SampleId, GcgPrediction], int]:
    """psalm-bench's JSONL, or a folder of GLaMM ``infer.py`` files (``{image_id}.json``;
    formats.gcg_official); also the number of lines (files) for ids the GT lacks."""
    path = Path(path)
    if path.is_dir():
        from psalm_bench.formats.gcg_official import read_glamm_predictions

        return read_glamm_predictions(path, gt)
    preds: dict[SampleId, GcgPrediction] = {}
    lines = _PredictionLines(path, gt, ignore_extra)
    for number, rec, sample in lines:
        where = f"line {number}"
        caption = rec.get("caption")
        if not isinstance(caption, str):
            raise InputError("'caption' must be a string", file=path, record=where)
        if "phrases" not in rec:
            # GLaMM eval/gcg/evaluate.py main() reads pred['phrases'] unguarded and stops with
            # KeyError, so such a file has no official score; [] (no grounded phrase) is scored.
            raise InputError("missing 'phrases' (GLaMM's evaluate.py stops on it; give [] for a caption without grounded phrases)", file=path, record=where)
        preds[sample.id] = GcgPrediction(caption, _phrases(rec["phrases"], sample.height, sample.width, path, where))
    return preds, lines.extra
