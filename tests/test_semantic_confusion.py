"""``pngdecode.label_confusion``: one image's confusion cells from two PNGs' scanlines.

It inflates both streams a block of rows at a time, counts in a caller's
reused table (no fresh 512 KB table, no 300 KB scanline buffers per image),
maps pairs to the evaluator's n x (n + 1) cells and finds the out-of-range
labels itself; these tests hold it to numpy on the decoded maps, for every
row filter (rows that need the row above across block boundaries), widths
around the 16-pixel SIMD step, several class counts and ignore labels, and
check the table is left zero for the next image.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from psalm_bench.pngdecode import CONFUSION_SCRATCH_BYTES, label_confusion, label_stream

pytest.importorskip("psalm_bench._native")


def _filtered(labels: np.ndarray, filters: list[int]) -> bytes:
    """PNG scanlines of an 8-bit map, row y with filter filters[y % len]."""
    h, w = labels.shape
    img = labels.astype(np.int64)
    out = bytearray()
    for y in range(h):
        kind = filters[y % len(filters)]
        row = img[y]
        left = np.concatenate([[0], row[:-1]])
        up = img[y - 1] if y else np.zeros(w, np.int64)
        up_left = np.concatenate([[0], up[:-1]])
        if kind == 4:
            p = left + up - up_left
            pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - up_left)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
        else:
            pred = [np.zeros(w, np.int64), left, up, (left + up) >> 1][kind]
        out.append(kind)
        out += ((row - pred) & 255).astype(np.uint8).tobytes()
    return bytes(out)


def _png(labels: np.ndarray, filters: list[int], raw: bytes | None = None) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    h, w = labels.shape
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw if raw is not None else _filtered(labels, filters))) + chunk(b"IEND", b"")


def _map(rng: np.random.Generator, h: int, w: int, values: list[int]) -> np.ndarray:
    labels = np.full((h, w), values[0], np.uint8)
    for _ in range(5):
        y, x = rng.integers(0, h), rng.integers(0, w)
        labels[y:y + rng.integers(1, h + 1), x:x + rng.integers(1, w + 1)] = rng.choice(values)
    noise = rng.random((h, w)) < 0.05
    labels[noise] = rng.choice(values, size=int(noise.sum()))
    return labels


def _expected(a: np.ndarray, b: np.ndarray, n: int, ignore: int) -> tuple[list[int], list[int], int, int]:
    """What the evaluator's numpy path computes: cells, counts, first bad GT, first bad prediction."""
    a, b = a.astype(np.int64).ravel(), b.astype(np.int64).ravel()
    bad_gt = a[(a >= n) & (a != ignore)]
    scored = a < n
    bad_pred = b[scored & (b >= n) & (b != ignore)]
    cells, counts = np.unique(a[scored] * (n + 1) + np.minimum(b[scored], n), return_counts=True)
    return cells.tolist(), counts.tolist(), int(bad_gt.min()) if bad_gt.size else -1, int(bad_pred.min()) if bad_pred.size else -1


def _zero(scratch: bytearray) -> bool:
    """The count table and the number of cells in use are zero (ready for the next image)."""
    return not any(scratch[:65536 * 4]) and not any(scratch[2 * 65536 * 4:])


def _run(a: np.ndarray, b: np.ndarray, fa: list[int], fb: list[int], n: int, ignore: int, scratch: bytearray,
         block_rows: int = 96) -> tuple[list[int], list[int], int, int]:
    got = label_confusion(label_stream(_png(a, fa)), label_stream(_png(b, fb)), n, ignore, scratch, block_rows=block_rows)
    assert got is not None and _zero(scratch)
    cells, counts, bad_gt, bad_pred = got
    assert cells.dtype == np.int64 and counts.dtype == np.int64
    return cells.tolist(), counts.tolist(), bad_gt, bad_pred


@pytest.mark.parametrize("shape", [(1, 1), (2, 16), (3, 31), (9, 17), (12, 48), (7, 129)])
@pytest.mark.parametrize("fa,fb", [([1], [1]), ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0]), ([1], [2, 1]), ([1, 1, 1, 2], [1, 1, 4])])
@pytest.mark.parametrize("block_rows", [1, 2, 96])
def test_cells_counts_and_bad_labels_equal_numpy(shape: tuple[int, int], fa: list[int], fb: list[int], block_rows: int) -> None:
    rng = np.random.default_rng(shape[0] * 997 + shape[1])
    scratch = bytearray(CONFUSION_SCRATCH_BYTES)
    for n, ignore, values in [(4, 255, [0, 1, 2, 3, 255]), (3, 255, [0, 1, 2, 5, 255]), (200, -1, [0, 9, 150, 199, 201, 255]),
                              (300, 255, [0, 7, 255]), (1, 255, [0, 0, 4, 255])]:
        a, b = _map(rng, *shape, values), _map(rng, *shape, values)
        got, want = _run(a, b, fa, fb, n, ignore, scratch, block_rows), _expected(a, b, n, ignore)
        assert got[2:] == want[2:]
        if want[2:] == (-1, -1):  # with a bad label the file is refused and the cells do not matter
            assert got == want


def test_a_long_run_of_images_reuses_one_table() -> None:
    rng = np.random.default_rng(5)
    scratch = bytearray(CONFUSION_SCRATCH_BYTES)
    for _ in range(30):
        a, b = _map(rng, 20, 70, [0, 1, 2, 255]), _map(rng, 20, 70, [0, 1, 2, 255])
        assert _run(a, b, [1], [1], 3, 255, scratch) == _expected(a, b, 3, 255)


def test_bad_prediction_under_ignored_ground_truth_is_not_reported() -> None:
    a = np.full((4, 20), 255, np.uint8)
    a[0, :5] = 1
    b = np.full((4, 20), 9, np.uint8)  # 9 is no class, but only where the GT is ignored ...
    b[0, :5] = 0
    scratch = bytearray(CONFUSION_SCRATCH_BYTES)
    assert _run(a, b, [1], [1], 3, 255, scratch) == ([1 * 4 + 0], [5], -1, -1)
    b[0, 2] = 7  # ... until a scored pixel has it
    assert _run(a, b, [1], [1], 3, 255, scratch)[2:] == (-1, 7)


@pytest.mark.parametrize("damage", ["filter", "short", "long", "corrupt", "size"])
def test_what_it_does_not_handle_falls_back_with_the_table_zero(damage: str) -> None:
    a = np.zeros((6, 20), np.uint8)
    a[:, 5:9] = 2
    good = label_stream(_png(a, [1]))
    raw = bytearray(_filtered(a, [1, 2]))
    if damage == "filter":
        raw[4 * 21] = 9  # row 4's filter byte
    elif damage == "short":
        raw = raw[:-21]
    elif damage == "long":
        raw += raw[-21:]
    bad = label_stream(_png(a, [1], bytes(raw)))
    if damage == "corrupt":
        bad = (good[0][:-6] + b"\xff" * 6, 6, 20)
    elif damage == "size":
        bad = label_stream(_png(np.zeros((5, 20), np.uint8), [1]))
    scratch = bytearray(CONFUSION_SCRATCH_BYTES)
    assert label_confusion(good, bad, 3, 255, scratch, block_rows=2) is None and _zero(scratch)
    assert label_confusion(good, good, 3, 255, scratch, block_rows=2)[0].tolist() == [0, 2 * 4 + 2]


def test_a_short_scratch_is_refused() -> None:
    good = label_stream(_png(np.zeros((4, 4), np.uint8), [1]))
    with pytest.raises(ValueError):
        label_confusion(good, good, 2, 255, bytearray(1000))
