"""pair_predictions level by level: each level's one-line error names its record,
--ignore-extra skips what the ground truth lacks, and missing frames are counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psalm_bench.errors import InputError
from psalm_bench.formats.egoexo import egoexo_gt_from_dict, pair_predictions
from psalm_bench.masks import encode

EGO, EXO, EXO2 = "aria01_214-1", "cam01", "cam02"
PRED = Path("pred.json")


def _mask(r0: int) -> dict:
    m = np.zeros((12, 16), np.uint8)
    m[r0:r0 + 3, 2:6] = 1
    return encode(m)


def _gt():
    masks = {"cup": {EGO: {"0": _mask(1), "30": _mask(2), "60": _mask(3)}, EXO: {"0": _mask(4)}, EXO2: {"30": _mask(5)}}}
    annotated = {"cup": {EGO: [0, 30, 60], EXO: [0, 30], EXO2: [30]}}
    return egoexo_gt_from_dict({"annotations": {"t1": {"masks": masks, "annotated_frames": annotated, "subsample_idx": [0, 30, 60]}}})


def _frame(confidence: float = 0.5) -> dict:
    return {"pred_mask": _mask(1), "confidence": confidence}


def _preds(pairs: dict, take: str = "t1", obj: str = "cup", **extra) -> dict:
    return {"ego-exo": {take: {"masks": {obj: pairs}, "subsample_idx": [0], **extra}}}


def test_frames_pair_by_the_target_cameras_annotation_and_missing_ones_count():
    preds = _preds({f"{EGO}_{EXO}": {"0": _frame(0.9)}})
    pairing = pair_predictions(_gt(), preds, pred_path=PRED)
    by_pair = {s.pair: s for s in pairing.samples}
    assert sorted(by_pair) == [f"{EGO}_{EXO}", f"{EGO}_{EXO2}"]
    assert [f.frame for f in by_pair[f"{EGO}_{EXO}"].frames] == ["0", "30"]  # 60 is not annotated in cam01
    assert [f.frame for f in by_pair[f"{EGO}_{EXO2}"].frames] == ["30"]
    assert by_pair[f"{EGO}_{EXO}"].frames[0].confidence == 0.9 and by_pair[f"{EGO}_{EXO}"].frames[1].pred is None
    assert pairing.missing == {"ego-exo": 2}
    assert pairing.first_missing["ego-exo"] == f"ego-exo, take t1, object cup, pair {EGO}_{EXO}, frame 30"
    assert pairing.no_subsample == []


def test_the_exo_ego_direction_swaps_query_and_target():
    preds = {"exo-ego": {"t1": {"masks": {"cup": {f"{EXO}_{EGO}": {"0": _frame()}}}}}}
    pairing = pair_predictions(_gt(), preds, pred_path=PRED)
    samples = {s.pair: s for s in pairing.samples}
    assert set(samples) == {f"{EXO}_{EGO}", f"{EXO2}_{EGO}"} and samples[f"{EXO}_{EGO}"].frames[0].gt is not None
    assert pairing.no_subsample == ["exo-ego"]


@pytest.mark.parametrize("preds, message, record", [
    (_preds({}, take="t9"), "prediction for take 't9', which the ground truth does not have", "ego-exo"),
    (_preds({}, obj="plate"), "prediction for object 'plate', which the ground truth does not have", "take t1"),
    (_preds({f"{EXO}_{EGO}": {}}), f"prediction for view pair '{EXO}_{EGO}', which the ground truth's cameras do not form "
                                   f"\\(expected {EGO}_{EXO} or {EGO}_{EXO2}\\)", "object cup"),
    ({"ego-exo": {"t1": {"subsample_idx": []}}}, "no 'masks'", "take t1"),
    (_preds({f"{EGO}_{EXO}": {"0": {"pred_mask": _mask(1)}}}), "no 'confidence'", "frame 0"),
    (_preds({f"{EGO}_{EXO}": {"0": _frame(float("nan"))}}), "'confidence' must be a finite number", "frame 0"),
    (_preds({f"{EGO}_{EXO}": {"0": {"pred_mask": {"size": [12, 16], "counts": "!!"}, "confidence": 1}}}), "outside the COCO alphabet", "frame 0"),
])
def test_each_level_names_its_record(preds, message, record):
    with pytest.raises(InputError, match=message) as info:
        pair_predictions(_gt(), preds, pred_path=PRED)
    assert record in str(info.value) and "pred.json" in str(info.value) and "\n" not in str(info.value)


def test_ignore_extra_skips_what_the_ground_truth_lacks():
    preds = {"ego-exo": {"t9": {}, "t1": {"masks": {"plate": {}, "cup": {f"{EXO}_{EGO}": {}, f"{EGO}_{EXO}": {"0": _frame()}}}}}}
    pairing = pair_predictions(_gt(), preds, pred_path=PRED, ignore_extra=True)
    assert len(pairing.samples) == 2 and pairing.missing == {"ego-exo": 2}


def test_strict_stops_at_the_first_missing_frame_and_an_absent_direction_is_one_line():
    with pytest.raises(InputError, match="prediction missing \\(--strict\\)"):
        pair_predictions(_gt(), _preds({f"{EGO}_{EXO}": {"0": _frame()}}), pred_path=PRED, strict=True)
    with pytest.raises(InputError, match="holds no 'exo-ego' results"):
        pair_predictions(_gt(), _preds({}), directions=["exo-ego"], pred_path=PRED)
