"""formats/davis.py: DAVIS-2017 folders, frames written as the benchmark ships them and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psalm_bench.errors import InputError
from psalm_bench.formats.davis import davis_palette, load_davis, pair_predictions, read_frame, scored_objects, write_frame


def _davis(root: Path, frames: int = 4) -> list[np.ndarray]:
    labels = []
    for t in range(frames):
        ids = np.zeros((12, 16), np.uint8)
        ids[2:6, 1 + t:5 + t] = 1
        ids[7:11, 9:14] = 3 if t else 0  # id 3 enters after the first frame
        ids[0, 0] = 255  # void
        labels.append(ids)
        folder = root / "Annotations" / "480p" / "seq-a"
        folder.mkdir(parents=True, exist_ok=True)
        write_frame(folder / f"{t:05d}.png", ids)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("seq-a\n")
    return labels


def test_frames_round_trip_as_indexed_pngs(tmp_path: Path) -> None:
    labels = _davis(tmp_path)
    [seq] = load_davis(tmp_path, "val")
    assert seq.name == "seq-a" and seq.frame_names == ["00000", "00001", "00002", "00003"]
    image = Image.open(seq.frames[1])
    assert image.mode == "P" and image.getpalette()[:12] == davis_palette()[:12]  # black, then DAVIS red, green
    for path, ids in zip(seq.frames, labels):
        assert np.array_equal(read_frame(path, "ground-truth", seq.name), ids)
    assert scored_objects(labels[0]) == [1]  # davis2017-evaluation: 1..max id of the first frame


def test_predictions_pair_on_the_scored_frames(tmp_path: Path) -> None:
    _davis(tmp_path / "gt")
    pred = tmp_path / "pred" / "seq-a"
    pred.mkdir(parents=True)
    for t in (1, 3):
        write_frame(pred / f"{t:05d}.png", np.ones((12, 16), np.uint8))
    [seq] = load_davis(tmp_path / "gt", "val")
    [sample] = pair_predictions([seq], tmp_path / "pred")
    assert (sample.first, sample.stop) == (1, 3)  # first and last frames are not scored
    assert sample.pred_frames[1] == pred / "00001.png" and sample.pred_frames[2] is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no folder for this sequence"):
        pair_predictions([seq], tmp_path / "empty")
