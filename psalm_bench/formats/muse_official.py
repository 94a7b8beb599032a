"""PixelLM's MUSE release files (``muse_val.json``, ``muse_test_less.json``,
``muse_test_many.json``) read as they are.

PixelLM's loader (``utils/multi_reason_seg_val_dataset.py``,
``MultiReasonSegValDataset.__getitem__``) takes a JSON list with one record
per image: the image's COCO fields (``file_name`` or ``coco_url``,
``height``, ``width``, usually ``id``), ``ann_list`` (the image's annotated
instances), ``questions`` (a list of strings) and ``answers`` (one list of
annotations per question, each with its ``segmentation``). Each question's
GT masks are its answer's segmentations (``mask.frPyObjects`` then decode);
the whole record is one evaluation item, so ``max(#pred, #GT)`` runs over all
its questions (evaluators.muse). Here each record becomes a
:class:`MuseSample` with one :class:`MuseQuestion` per question.

The sample id a prediction line names is the record's ``id`` when it has
one, else its image file name (``file_name``, or the last part of
``coco_url``), as PixelLM locates the image.

Refused, each in one line: a record whose ``ann_list`` is empty (PixelLM's
loader silently scores item 0 again in its place, ``return self[0]``), a
record with no question or with a different number of questions and
answers (PixelLM's ``assert len(batch_seg_token_count) ==
len(gt_target_count)`` fails). Known difference: a polygon answer whose
parts overlap is their union here; PixelLM sums the decoded parts
(``np.sum(m, axis=2)``), and its two-bin histogram then drops the pixels
counted twice. COCO-derived polygons rarely overlap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError
from psalm_bench.formats.multi_target import MuseQuestion, MuseSample, _mask_list, _size

OFFICIAL_KEYS = ("questions", "answers")


def is_pixellm_muse(data: Any) -> bool:
    """A JSON list whose records carry PixelLM's ``questions`` and ``answers``."""
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and all(k in data[0] for k in OFFICIAL_KEYS) and "masks" not in data[0]


def _record_id(rec: dict[str, Any], path: Path, where: str) -> str | int:
    if "id" in rec:
        value = rec["id"]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise InputError("'id' must be a string or an integer", file=path, record=where)
        return value
    for key in ("file_name", "coco_url"):
        value = rec.get(key)
        if isinstance(value, str) and value:
            return value.rsplit("/", 1)[-1]
    raise InputError("a PixelLM MUSE record needs 'id', 'file_name' or 'coco_url' (its image)", file=path, record=where)


def pixellm_muse_samples(data: list[Any], path: Path) -> list[MuseSample]:
    """The items of a PixelLM MUSE file, validated as psalm-bench's own (same checks)."""
    out = []
    for k, rec in enumerate(data):
        where = f"record {k}"
        if not isinstance(rec, dict):
            raise InputError("each record must be a JSON object", file=path, record=where)
        sid = _record_id(rec, path, where)
        where = f"record {k} (id {sid!r})"
        h, w = _size(rec, path, where)
        if not isinstance(rec.get("ann_list"), list) or not rec["ann_list"]:
            raise InputError("'ann_list' is empty or missing (PixelLM's loader would silently score item 0 again in its place)", file=path, record=where)
        questions, answers = rec.get("questions"), rec.get("answers")
        if not isinstance(questions, list) or not questions:
            raise InputError("'questions' must be a non-empty list", file=path, record=where)
        if not isinstance(answers, list) or len(answers) != len(questions):
            raise InputError(f"'answers' must be a list of one annotation list per question ({len(questions)}); PixelLM's assert fails otherwise", file=path, record=where)
        items = []
        for q, (text, answer) in enumerate(zip(questions, answers)):
            qw = f"{where}: question {q}"
            if not isinstance(text, str):
                raise InputError("each question must be a string", file=path, record=qw)
            if not isinstance(answer, list):
                raise InputError("each answer must be a list of annotations", file=path, record=qw)
            segs = []
            for a, ann in enumerate(answer):
                if not isinstance(ann, dict) or "segmentation" not in ann:
                    raise InputError(f"answer {a} needs a 'segmentation'", file=path, record=qw)
                segs.append(ann["segmentation"])
            items.append(MuseQuestion(text, _mask_list(segs, h, w, path, qw)))
        out.append(MuseSample(sid, h, w, items))
    return out
