"""evaluate() on in-memory predictions: a reader's error on the temporary copy is
told in the caller's terms (the copy is gone), still one line, still InputError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psalm_bench import InputError, evaluate
from psalm_bench.api import IN_MEMORY, in_memory_error


def _raised(task: str, world: Path, pred) -> str:
    with pytest.raises(InputError) as info:
        evaluate(task, gt=None, world=world, pred=pred, progress=False)
    text = str(info.value)
    assert "\n" not in text and "psalm-bench-pred-" not in text, text  # no path to a folder that is gone
    return text


def test_a_jsonl_record_is_named_by_its_list_index(tiny_world):
    text = _raised("refcoco", tiny_world, [{"sent_id": 10**9, "segmentation": np.zeros((4, 4), bool)}])
    assert text.startswith(f"{IN_MEMORY}: pred[0] (sent_id 1000000000): sent_id is not in the ground truth")
    assert _raised("refcoco", tiny_world, [{"x": 1}]).startswith(f"{IN_MEMORY}: pred[0]: 'sent_id' must be an integer")


def test_a_label_map_is_named_by_its_key(tiny_world):
    text = _raised("semantic", tiny_world, {"nope": np.zeros((4, 4), np.uint8)})
    assert text.startswith(f"{IN_MEMORY}['") and "prediction PNG missing" in text


def test_a_coco_results_list_says_in_memory(tiny_world):
    assert _raised("instance", tiny_world, [{"image_id": 1}]).startswith(f"{IN_MEMORY}: ")


def test_the_rewrite_leaves_other_files_alone(tmp_path):
    written = tmp_path / "pred.jsonl"
    exc = InputError(f"differs from {written}", file=tmp_path / "gt.json", record="line 3, sent 7")
    told = in_memory_error(exc, written)
    assert (told.file, told.record, told.problem) == (str(tmp_path / "gt.json"), "pred[2], sent 7", f"differs from {IN_MEMORY}")
    folder = tmp_path / "pred"
    told = in_memory_error(InputError("bad", file=folder / "000042.png", record="image 42"), folder)
    assert (told.file, told.record) == (f"{IN_MEMORY}['000042']", "image 42")
