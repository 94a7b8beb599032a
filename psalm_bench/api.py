"""The Python API, under the CLI's names, for notebooks and training loops.

``pred`` is a path, as on the CLI, or the predictions themselves: a list of
records (the dicts a results JSON or a JSON Lines file holds; a mask may be a
2-D numpy array instead of an RLE) or, for the PNG tasks, a mapping of file
stem (vos: sequence) to label arrays. ``gt=None`` scores on the embedded
world (``world=`` a `psalm-bench synth` folder; for correspondence, a takes
folder), as `psalm-bench eval` without --gt does, and the result is stamped
as the world's (``params.world``), so a leaderboard keeps it off the real boards.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from psalm_bench.errors import InputError
from psalm_bench.results import EvalResult
from psalm_bench.tasks import get_task

# Keys whose value is a mask in a prediction record (COCO results, JSONL lines, MUSE/GCG items).
_MASK_KEYS = ("segmentation", "mask", "pred_mask")
_MASK_LISTS = ("masks",)


def evaluate(task: str, gt: str | Path | None = None, pred: Any = None, **options: Any) -> EvalResult:
    """Score ``pred`` against ``gt`` on ``task``; options are the CLI's flags
    with underscores (``iou_type="bbox"``, ``num_classes=21``, ``workers=4``).

    In-memory predictions are written once to a temporary file or folder in
    the task's own format and scored by the same code as files are, so the
    numbers are the CLI's; bad input is the same one-line :class:`InputError`.
    """
    if pred is None:
        raise InputError(f"evaluate({task!r}): pred is required (a path, or the predictions themselves)")
    name = task
    stamp: tuple[Path, str] | None = None  # (world root, task key): the result says it is the world's
    if gt is None:  # the world's, resolved as `eval` without --gt does (psalm_bench/world_gt.py)
        from psalm_bench.world_gt import world_gt

        found = world_gt(task, options.get("split"), world=options.pop("world", None), progress=bool(options.get("progress", False)))
        name, gt, stamp = found.eval_task, found.gt, (found.root, found.task)
        options = {**found.options, **{k: v for k, v in options.items() if v is not None}}
    spec = get_task(name)
    if isinstance(pred, (str, Path)):
        result = spec.run(gt, pred, **options)
    else:
        with tempfile.TemporaryDirectory(prefix="psalm-bench-pred-") as tmp:
            written = write_predictions(name, pred, Path(tmp))
            try:
                result = spec.run(gt, written, **options)
            except InputError as exc:
                raise in_memory_error(exc, written) from None
    if stamp is not None:
        from psalm_bench.world_gt import stamp_world

        stamp_world(result, *stamp)
    return result


IN_MEMORY = "pred (in memory)"


def in_memory_error(exc: InputError, written: Path) -> InputError:
    """The error a file reader raised on the temporary copy of in-memory
    predictions, told in the caller's terms: the copy is gone when it is read,
    so its path becomes ``pred (in memory)`` (a PNG under it: the dict key it
    came from), and a JSON Lines ``line N`` becomes ``pred[N-1]``, the list index."""
    import re

    def told(text: str | None) -> str | None:
        if text is None:
            return None
        text = re.sub(re.escape(str(written)) + r"/([^:\s]+)\.png", lambda m: f"{IN_MEMORY}[{m.group(1)!r}]", text)
        return text.replace(str(written), IN_MEMORY)

    record = exc.record
    if written.suffix == ".jsonl" and record and (m := re.match(r"line (\d+)\b", record)):
        record = f"pred[{int(m.group(1)) - 1}]{record[m.end():]}"
    return InputError(told(exc.problem) or "", file=told(exc.file), record=told(record))


def write_predictions(task: str, pred: Any, folder: Path) -> Path:
    """In-memory predictions -> the file or folder `eval` reads for ``task``."""
    import numpy as np

    from psalm_bench.jsonio import dump_json

    if task in ("semantic", "ov-semantic", "vos"):
        if not isinstance(pred, dict):
            raise InputError(f"{task} predictions in memory are a dict of {'sequence -> (T, H, W) array' if task == 'vos' else 'file stem -> (H, W) label array'}, not {type(pred).__name__}")
        out = folder / "pred"
        out.mkdir()
        for key, value in pred.items():
            if task == "vos":
                frames = np.asarray(value)
                if frames.ndim != 3:
                    raise InputError(f"vos prediction {key!r} must be a (frames, height, width) array, got shape {frames.shape}")
                (out / str(key)).mkdir()
                for number, labels in enumerate(frames):
                    _write_labels(out / str(key) / f"{number:05d}.png", labels, f"{key}[{number}]")
            else:
                _write_labels(out / f"{key}.png", np.asarray(value), str(key))
        return out
    if task == "panoptic":
        raise InputError("panoptic predictions are a JSON plus a PNG folder: pass their path (pred=..., pred_dir=...)")
    if isinstance(pred, dict) and task not in ("instance", "ov-instance"):
        out = folder / "pred.json"  # a task whose predictions are one JSON document
        dump_json(pred, out)
        return out
    if not isinstance(pred, (list, tuple)):
        raise InputError(f"{task} predictions in memory are a list of records (dicts), not {type(pred).__name__}")
    records = [_encode_masks(record, number) for number, record in enumerate(pred)]
    if task in ("instance", "ov-instance"):
        # Python's json: a score of inf (or NaN) is written as Infinity (NaN), as
        # json.dump of a results list writes it for pycocotools; the file reader
        # then treats it as it treats the file (inf ranked first, NaN refused).
        import json

        from psalm_bench.jsonio import _default, write_atomic

        out = folder / "pred.json"
        write_atomic(out, json.dumps(records, default=_default, separators=(",", ":")).encode())
        return out
    import orjson

    from psalm_bench.jsonio import _default

    out = folder / "pred.jsonl"
    with open(out, "wb") as handle:
        for record in records:
            handle.write(orjson.dumps(record, default=_default) + b"\n")
    return out


def _write_labels(path: Path, labels: Any, name: str) -> None:
    import numpy as np
    from PIL import Image

    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer) or (labels.size and (labels.min() < 0 or labels.max() > 65535)):
        raise InputError(f"prediction {name!r} must be a 2-D array of integer labels in 0..65535, got {labels.dtype} of shape {labels.shape}")
    image = Image.fromarray(labels.astype(np.uint8 if labels.max(initial=0) <= 255 else np.uint16))
    image.save(path, optimize=False)


def _encode_masks(record: Any, number: int) -> Any:
    """A record with 2-D mask arrays turned into the compressed RLE the formats hold."""
    import numpy as np

    if not isinstance(record, dict):
        raise InputError(f"prediction {number} must be a dict, not {type(record).__name__}")

    def rle(value: Any, where: str) -> Any:
        if not isinstance(value, np.ndarray):
            return value
        if value.ndim != 2:
            raise InputError(f"prediction {number}: {where} must be a 2-D mask, got shape {value.shape}")
        from psalm_bench.masks import encode

        encoded = encode(np.asarray(value, dtype=bool).astype(np.uint8))
        counts = encoded["counts"]
        return {"size": [int(s) for s in encoded["size"]], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}

    out = dict(record)
    for key in _MASK_KEYS:
        if key in out:
            out[key] = rle(out[key], key)
    for key in _MASK_LISTS:
        if isinstance(out.get(key), (list, tuple)):
            out[key] = [rle(m, f"{key}[{i}]") for i, m in enumerate(out[key])]
    if isinstance(out.get("phrases"), list):  # gcg: each phrase holds a mask
        out["phrases"] = [_encode_masks(p, number) if isinstance(p, dict) else p for p in out["phrases"]]
    return out


def evaluate_panoptic(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("panoptic", gt, pred, **options)


def evaluate_instance(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("instance", gt, pred, **options)


def evaluate_semantic(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("semantic", gt, pred, **options)


def evaluate_refcoco(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("refcoco", gt, pred, **options)


def evaluate_gref(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("gref", gt, pred, **options)


def evaluate_interactive(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("interactive", gt, pred, **options)


def evaluate_vos(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("vos", gt, pred, **options)


def evaluate_ov_semantic(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("ov-semantic", gt, pred, **options)


def evaluate_ov_instance(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("ov-instance", gt, pred, **options)


def evaluate_muse(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("muse", gt, pred, **options)


def evaluate_gcg(gt: str | Path, pred: str | Path, **options: Any) -> EvalResult:
    return evaluate("gcg", gt, pred, **options)
