"""formats/semantic.py: folders of PNG label maps and the class list, written and read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psalm_bench.errors import InputError
from psalm_bench.formats.semantic import load_class_names, load_sample, samples_from_folders


def _folder(root: Path, maps: dict[str, np.ndarray]) -> Path:
    root.mkdir(parents=True)
    for stem, labels in maps.items():
        Image.fromarray(labels).save(root / f"{stem}.png")
    return root


def test_label_maps_round_trip_in_pairs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gt = {f"img{i}": rng.integers(0, 5, (9, 11)).astype(np.uint8) for i in range(3)}
    gt["img0"][0, :] = 255  # ignore label
    pred = {k: np.roll(v, 1, axis=1) for k, v in gt.items()}
    samples = samples_from_folders(_folder(tmp_path / "gt", gt), _folder(tmp_path / "pred", pred))
    assert [s.name for s in samples] == ["img0", "img1", "img2"]
    for sample in samples:
        g, p = load_sample(sample)
        assert np.array_equal(g.labels, gt[sample.name]) and np.array_equal(p.labels, pred[sample.name])
        assert g.source.endswith(f"{sample.name}.png")


def test_a_missing_prediction_and_the_class_list(tmp_path: Path) -> None:
    gt = _folder(tmp_path / "gt", {"a": np.zeros((4, 4), np.uint8), "b": np.ones((4, 4), np.uint8)})
    pred = _folder(tmp_path / "pred", {"a": np.zeros((4, 4), np.uint8)})
    with pytest.raises(InputError, match="b.png: image b: prediction PNG missing"):
        samples_from_folders(gt, pred)
    (tmp_path / "classes.json").write_text(json.dumps(["road", "sky"]))
    assert load_class_names(tmp_path / "classes.json") == ["road", "sky"]
    (tmp_path / "bad.json").write_text(json.dumps({"0": "road"}))
    with pytest.raises(InputError, match="non-empty JSON list of class names"):
        load_class_names(tmp_path / "bad.json")
