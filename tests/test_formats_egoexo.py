"""formats/egoexo.py: Ego-Exo4D correspondence ground truth and results, written and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.formats.egoexo import (
    load_egoexo_gt, load_egoexo_predictions, pair_predictions, write_egoexo_gt, write_egoexo_predictions,
)
from psalm_bench.masks import decode, encode


def _mask(h: int, w: int, r0: int, c0: int) -> dict:
    m = np.zeros((h, w), np.uint8)
    m[r0:r0 + 4, c0:c0 + 5] = 1
    return encode(m)


def _takes() -> dict:
    ego, exo = "aria01_214-1", "cam01"
    return {"take-a": {
        "masks": {"cup": {ego: {"0": _mask(16, 20, 2, 3), "30": _mask(16, 20, 5, 6)}, exo: {"0": _mask(12, 24, 1, 1)}}},
        "subsample_idx": [0, 30],
        "annotated_frames": {"cup": {ego: [0, 30], exo: [0, 30]}},
    }}


def test_ground_truth_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "gt.json"
    write_egoexo_gt(path, _takes(), version="v1", challenge="correspondence")
    gt = load_egoexo_gt(path)
    assert (gt.version, gt.challenge, list(gt.takes)) == ("v1", "correspondence", ["take-a"])
    take = gt.takes["take-a"]
    assert take.subsample_idx == [0, 30] and take.annotated["cup"]["cam01"] == frozenset({0, 30})
    assert np.array_equal(decode(dict(take.masks["cup"]["cam01"]["0"])), decode(_mask(12, 24, 1, 1)))


def test_predictions_round_trip_and_pairing(tmp_path: Path) -> None:
    write_egoexo_gt(tmp_path / "gt.json", _takes())
    gt = load_egoexo_gt(tmp_path / "gt.json")
    frames = {"0": {"pred_mask": _mask(12, 24, 1, 1), "confidence": 0.9}, "30": {"pred_mask": _mask(12, 24, 0, 0), "confidence": 0.2}}
    results = {"ego-exo": {"take-a": {"masks": {"cup": {"aria01_214-1_cam01": frames}}, "subsample_idx": [0, 30]}}}
    write_egoexo_predictions(tmp_path / "pred.json", results)
    preds = load_egoexo_predictions(tmp_path / "pred.json")
    assert list(preds) == ["ego-exo"] and preds["ego-exo"] == results["ego-exo"]
    pairing = pair_predictions(gt, preds, pred_path=tmp_path / "pred.json")
    [sample] = pairing.samples
    assert (sample.direction, sample.query_cam, sample.target_cam) == ("ego-exo", "aria01_214-1", "cam01")
    by_frame = {f.frame: f for f in sample.frames}
    assert by_frame["0"].gt is not None and by_frame["30"].gt is None  # annotated, not visible in the exo view
    assert by_frame["0"].confidence == 0.9 and by_frame["30"].pred is not None


def test_a_file_with_neither_direction_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"results": {}}')
    with pytest.raises(InputError, match="holds neither 'ego-exo' nor 'exo-ego'"):
        load_egoexo_predictions(tmp_path / "p.json")
