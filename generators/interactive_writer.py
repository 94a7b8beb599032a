"""The writer of build-interactive: one image's annotations with their prompts
serialised as the record PSALM's loader reads, the chunks handed to workers,
the resume sidecars, and a streaming reader of the written file."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import orjson

from psalm_bench.errors import InputError
from psalm_bench.formats.interactive import PROMPTS
from psalm_bench.generators.coco_reader import _is_number, instance_mask
from psalm_bench.generators.interactive_rle import _compress_many, _Skip
from psalm_bench.generators.prompt_drawers import PROMPT_KEYS, make_prompts
from psalm_bench.jsonio import JsonArray, load_json_pieces


def _ann_record(ann: dict[str, Any], height: int, width: int, seed: int, mode: str, empty: Counter) -> dict[str, Any]:
    ann_id = ann.get("id")
    if type(ann_id) is not int:
        raise _Skip("malformed")
    if "segmentation" not in ann:
        raise _Skip("malformed")
    # copied into the output as they are: a NaN or infinity would be written as null
    if "area" in ann and not _is_number(ann["area"]):
        raise _Skip("bad_area")
    bbox = ann.get("bbox", [0, 0, 0, 0])
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox) and bbox[2] >= 0 and bbox[3] >= 0):
        raise _Skip("bad_bbox")
    mask = instance_mask(ann["segmentation"], height, width)
    prompts = make_prompts(mask, height, width, seed=seed, ann_id=ann_id, mode=mode)
    out = dict(ann)
    counts = [prompts.counts(name) for name in PROMPTS]
    for name, key, c, rle in zip(PROMPTS, PROMPT_KEYS, counts, _compress_many(counts, height, width)):
        if c.size == 1:
            empty[name] += 1
        out[key] = rle
    return out


def _image_anns(image: dict[str, Any], anns: Sequence[dict[str, Any]], seed: int, mode: str) -> tuple[bytes, int, Counter, Counter]:
    """The ``anns`` of one image record, serialised: (bytes, count, skipped, empty)."""
    height, width = image["height"], image["width"]
    skipped: Counter = Counter()
    empty: Counter = Counter()
    parts = []
    for ann in anns:
        try:
            parts.append(orjson.dumps(_ann_record(ann, height, width, seed, mode, empty)))
        except _Skip as skip:
            skipped[skip.args[0]] += 1
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits
            skipped["malformed"] += 1
    return b"[" + b",".join(parts) + b"]", len(parts), skipped, empty


def _work(seed: int, mode: str, tasks: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> list[tuple[bytes, int, Counter, Counter]]:
    return [_image_anns(image, anns, seed, mode) for image, anns in tasks]


def _one_thread() -> None:
    """OpenCV's own threads only add overhead on crops this small; the pool is the parallelism."""
    cv2.setNumThreads(1)


def _sidecars(out: Path) -> tuple[Path, Path]:
    """The growing JSON and the progress file beside ``out``."""
    return out.with_name(out.name + ".partial"), out.with_name(out.name + ".progress")


def _checkpoint(progress: Path, state: dict[str, Any]) -> None:
    tmp = progress.with_name(progress.name + ".tmp")
    tmp.write_bytes(orjson.dumps(state))
    os.replace(tmp, progress)



def _record_head(image: dict[str, Any], new_img_id: int) -> bytes:
    return (b'{"image":' + orjson.dumps(str(image.get("file_name", ""))) + b',"image_info":' + orjson.dumps(image)
            + b',"new_img_id":' + str(new_img_id).encode() + b',"anns":')


def _chunks(start: int, n: int, size: int) -> Iterator[range]:
    for lo in range(start, n, size):
        yield range(lo, min(n, lo + size))



def _one_record_per_line(path: Path) -> bool:
    """Whether ``path`` has build_interactive's layout: ``[``, then one record per line."""
    with open(path, "rb") as handle:
        if handle.readline().rstrip(b"\r\n") != b"[":
            return False
        line = handle.readline().rstrip(b"\r\n")
    if line == b"]":
        return True
    try:
        return isinstance(orjson.loads(line[:-1] if line.endswith(b",") else line), dict)
    except orjson.JSONDecodeError:  # an indented file: its second line is a fragment
        return False


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """The image records of a COCO-Interactive file, one at a time: streamed line by
    line from build_interactive's layout (one record per line), and from any other
    JSON layout (PSALM's one-line file, an indented one) through
    jsonio.load_json_pieces, which parses one record at a time too."""
    path = Path(path)
    if not _one_record_per_line(path):
        data = load_json_pieces(path)
        if not isinstance(data, (list, JsonArray)):
            raise InputError("COCO-Interactive ground truth must be a JSON list of image records", file=path)
        yield from data
        return
    with open(path, "rb") as handle:
        for line in handle:
            line = line.rstrip(b"\r\n")
            if line in (b"[", b"]", b""):
                continue
            yield orjson.loads(line[:-1] if line.endswith(b",") else line)
