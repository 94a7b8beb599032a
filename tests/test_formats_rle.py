"""COCO RLE (psalm_bench/masks.py): compressed counts strings decoded to runs, encoded back."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_api

from psalm_bench.masks import MaskFormatError, encode, first_bad_counts, rle_runs, to_rle


def _runs_to_mask(runs: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.repeat(np.arange(runs.size) % 2, runs).astype(np.uint8).reshape(w, h).T


@pytest.mark.parametrize("seed", range(4))
def test_runs_match_pycocotools_on_short_and_long_strings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = set()
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 200, 2))
        mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        rle = mask_api.encode(np.asfortranarray(mask))
        runs = rle_runs(rle["counts"])
        lengths.add(len(rle["counts"]) > 160)
        assert runs.dtype == np.int64 and runs.sum() == h * w
        assert np.array_equal(_runs_to_mask(runs, h, w), mask)
        assert np.array_equal(rle_runs(rle["counts"].decode("ascii")), runs)  # str counts too
        # back: uncompressed counts -> the same compressed string
        assert to_rle({"size": [h, w], "counts": runs.tolist()}, h, w)["counts"] == rle["counts"]
    assert lengths == {True, False}  # both decoders ran


def test_negative_deltas_and_large_runs() -> None:
    mask = np.zeros((1000, 1000), np.uint8)
    mask[:, 700:] = 1
    mask[0, 1] = 1
    rle = encode(mask)
    assert np.array_equal(_runs_to_mask(rle_runs(rle["counts"]), 1000, 1000), mask)
    assert rle_runs(encode(np.zeros((3, 3), np.uint8))["counts"]).tolist() == [9]


@pytest.mark.parametrize("counts,words", [(b"", "empty"), (b"0\x7f1", "alphabet"), (b"1" * 170 + b"\x01", "alphabet"),
                                          (b"P", "truncated"), (b"1" * 170 + b"P", "truncated"), ("\u00e9", "non-ASCII")])
def test_broken_strings_raise(counts, words) -> None:
    with pytest.raises(MaskFormatError, match=words):
        rle_runs(counts)


def test_the_exact_check_flags_what_decodes_to_the_wrong_size() -> None:
    rle = encode(np.ones((4, 5), np.uint8))
    assert first_bad_counts([rle]) is None
    wrong = {"size": [4, 6], "counts": rle["counts"]}
    assert first_bad_counts([rle, wrong]) == (1, "RLE counts cover 20 pixels, the mask has 24")
