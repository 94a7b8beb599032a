"""mIoU's pair counts straight from two PNGs' scanlines equal counting the decoded maps.

``pngdecode.label_pair_counts`` never materialises an image; these tests write
label maps with every PNG row filter (an encoder here picks the filter per
row), with PIL and with OpenCV, and compare with numpy on the maps PIL decodes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psalm_bench.errors import InputError
from psalm_bench.evaluators.semantic import SemanticEvaluator
from psalm_bench.formats.semantic import InflatedLabelMap, LabelMap, SampleLoader, samples_from_folders
from psalm_bench.pngdecode import inflate_label_png, label_pair_counts

pytest.importorskip("psalm_bench._native")


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _filter_row(kind: int, row: np.ndarray, up: np.ndarray) -> bytes:
    out = bytearray()
    for x, v in enumerate(row.tolist()):
        a = int(row[x - 1]) if x else 0
        b = int(up[x])
        c = int(up[x - 1]) if x else 0
        pred = [0, a, b, (a + b) >> 1, _paeth(a, b, c)][kind]
        out.append((v - pred) & 255)
    return bytes([kind]) + bytes(out)


def write_png(path: Path, labels: np.ndarray, filters: list[int], colour: int = 0) -> None:
    """An 8-bit grey (0) or palette (3) PNG whose row y uses filter filters[y % len]."""
    h, w = labels.shape
    raw = b"".join(_filter_row(filters[y % len(filters)], labels[y], labels[y - 1] if y else np.zeros(w, np.uint8))
                   for y in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    extra = chunk(b"PLTE", bytes(range(256)) * 3) if colour == 3 else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _blocky(rng: np.random.Generator, h: int, w: int, values: list[int]) -> np.ndarray:
    """A label map of rectangles (long runs, as real maps) plus some noise pixels."""
    labels = np.full((h, w), values[0], np.uint8)
    for _ in range(6):
        y, x = rng.integers(0, h), rng.integers(0, w)
        labels[y:y + rng.integers(1, h + 1), x:x + rng.integers(1, w + 1)] = rng.choice(values)
    noise = rng.random((h, w)) < 0.02
    labels[noise] = rng.choice(values, size=int(noise.sum()))
    return labels


def _expected(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cells, counts = np.unique(a.astype(np.int64) * 256 + b.astype(np.int64), return_counts=True)
    return cells, counts


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (17, 13), (40, 64), (33, 129)])
@pytest.mark.parametrize("filters_a,filters_b", [([1], [1]), ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0]), ([2], [1]), ([3, 4], [4])])
def test_pair_counts_equal_numpy_on_the_decoded_maps(tmp_path: Path, shape: tuple[int, int], filters_a: list[int], filters_b: list[int]) -> None:
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    a = _blocky(rng, *shape, [0, 1, 7, 200, 255])
    b = _blocky(rng, *shape, [0, 1, 9, 128, 255])
    write_png(tmp_path / "a.png", a, filters_a)
    write_png(tmp_path / "b.png", b, filters_b, colour=3)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), a)  # the encoder here is right
    assert np.array_equal(np.asarray(Image.open(tmp_path / "b.png")), b)
    sa, h, w = inflate_label_png((tmp_path / "a.png").read_bytes())
    sb, _, _ = inflate_label_png((tmp_path / "b.png").read_bytes())
    cells, counts = label_pair_counts(sa, sb, h, w)
    want_cells, want_counts = _expected(a, b)
    assert cells.tolist() == want_cells.tolist()
    assert counts.tolist() == want_counts.tolist()


def test_pair_counts_of_pil_and_opencv_files(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(3)
    a = _blocky(rng, 120, 160, list(range(0, 40, 3)))
    b = _blocky(rng, 120, 160, list(range(0, 40, 5)) + [255])
    Image.fromarray(a).save(tmp_path / "a.png")
    cv2.imwrite(str(tmp_path / "b.png"), b)  # libpng's adaptive filters
    sa, h, w = inflate_label_png((tmp_path / "a.png").read_bytes())
    sb, _, _ = inflate_label_png((tmp_path / "b.png").read_bytes())
    cells, counts = label_pair_counts(sa, sb, h, w)
    want_cells, want_counts = _expected(a, b)
    assert cells.tolist() == want_cells.tolist() and counts.tolist() == want_counts.tolist()


def test_only_one_channel_8_bit_pngs_are_inflated(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(tmp_path / "deep.png")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "grey.png")
    assert inflate_label_png((tmp_path / "rgb.png").read_bytes()) is None
    assert inflate_label_png((tmp_path / "deep.png").read_bytes()) is None
    assert inflate_label_png((tmp_path / "grey.png").read_bytes()) is not None


def _score(samples: list, names: list[str], decoded: bool, ignore: int = 255) -> dict:
    loader = SampleLoader(ignore)
    evaluator = SemanticEvaluator(names, ignore_label=ignore)
    for sample in samples:
        gt, pred = loader(sample)
        if decoded:
            gt, pred = LabelMap(np.array(gt.labels), gt.source), LabelMap(np.array(pred.labels), pred.source)
        evaluator.update(gt, pred)
    result = evaluator.compute()
    records = [(r["image"], r["cells"].tolist(), r["counts"].tolist()) for r in evaluator.records]
    return {"metrics": result.metrics, "records": records, "confusion": evaluator.confusion.tolist()}


def _folders(tmp_path: Path, maps: list[tuple[np.ndarray, np.ndarray]], filters: list[int]) -> list:
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    for k, (a, b) in enumerate(maps):
        write_png(tmp_path / "gt" / f"{k:03d}.png", a, filters)
        Image.fromarray(b).save(tmp_path / "pred" / f"{k:03d}.png")
    return samples_from_folders(tmp_path / "gt", tmp_path / "pred")


def test_the_evaluator_scores_scanlines_as_decoded_maps(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    maps = [(_blocky(rng, 30, 45, [0, 1, 2, 3, 255]), _blocky(rng, 30, 45, [0, 1, 2, 3, 255])) for _ in range(6)]
    samples = _folders(tmp_path, maps, [1, 2, 4])
    gt, pred = SampleLoader()(samples[0])
    assert isinstance(gt, InflatedLabelMap) and isinstance(pred, InflatedLabelMap)  # the fused path is taken
    names = ["a", "b", "c", "d"]
    assert _score(samples, names, decoded=False) == _score(samples, names, decoded=True)
    assert _score(samples, names, decoded=False, ignore=-1) == _score(samples, names, decoded=True, ignore=-1)


@pytest.mark.parametrize("where,value", [("gt", 9), ("pred", 7)])
def test_out_of_range_labels_are_the_same_error(tmp_path: Path, where: str, value: int) -> None:
    a = np.zeros((8, 8), np.uint8)
    b = np.ones((8, 8), np.uint8)
    (a if where == "gt" else b)[3, 2:5] = value
    (a if where == "gt" else b)[5, 1] = value + 2
    samples = _folders(tmp_path, [(a, b)], [1])
    messages = []
    for decoded in (False, True):
        with pytest.raises(InputError) as info:
            _score(samples, ["x", "y", "z"], decoded=decoded)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert f"label {value} is not a class index (0..2)" in messages[0] and where in messages[0]


def test_an_unknown_filter_type_is_the_decoder_s_error(tmp_path: Path) -> None:
    a = np.zeros((4, 4), np.uint8)
    write_png(tmp_path / "a.png", a, [1])
    data = bytearray((tmp_path / "a.png").read_bytes())
    raw = bytearray(zlib.decompress(bytes(data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8])))
    raw[5 * 2] = 9  # row 2's filter byte
    sa, h, w = inflate_label_png((tmp_path / "a.png").read_bytes())
    assert label_pair_counts(bytes(raw), sa, h, w) is None
    write_png(tmp_path / "b.png", a, [1])
    bad = tmp_path / "bad"
    bad.mkdir()
    body = zlib.compress(bytes(raw))
    idat = struct.pack(">I", len(body)) + b"IDAT" + body + struct.pack(">I", zlib.crc32(b"IDAT" + body) & 0xFFFFFFFF)
    start = data.index(b"IDAT") - 4
    end = data.index(b"IEND") - 4
    (bad / "x.png").write_bytes(bytes(data[:start]) + idat + bytes(data[end:]))
    (tmp_path / "predbad").mkdir()
    Image.fromarray(a).save(tmp_path / "predbad" / "x.png")
    samples = samples_from_folders(bad, tmp_path / "predbad")
    evaluator = SemanticEvaluator(["x"])
    gt, pred = SampleLoader()(samples[0])
    with pytest.raises(InputError, match="x.png.*does not decode|does not decode.*x.png"):
        evaluator.update(gt, pred)



# ---------------------------------------------------------------- panoptic


def write_rgb_png(path: Path, ids: np.ndarray, filters: list[int], alpha: bool = False) -> None:
    """An 8-bit RGB (or RGBA) PNG of a panoptic id map, row y with filter filters[y % len]."""
    h, w = ids.shape
    channels = [ids & 255, (ids >> 8) & 255, (ids >> 16) & 255] + ([np.full_like(ids, 255)] if alpha else [])
    pixels = np.stack(channels, axis=-1).astype(np.uint8).reshape(h, -1)
    bpp = pixels.shape[1] // w
    raw = bytearray()
    for y in range(h):
        kind = filters[y % len(filters)]
        row, up = pixels[y].astype(int), (pixels[y - 1].astype(int) if y else np.zeros(pixels.shape[1], int))
        out = bytearray([kind])
        for x in range(pixels.shape[1]):
            a = int(row[x - bpp]) if x >= bpp else 0
            b = int(up[x])
            c = int(up[x - bpp]) if x >= bpp else 0
            pred = [0, a, b, (a + b) >> 1, _paeth(a, b, c)][kind]
            out.append((int(row[x]) - pred) & 255)
        raw += out

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6 if alpha else 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))


@pytest.mark.parametrize("shape", [(1, 1), (5, 9), (21, 34)])
@pytest.mark.parametrize("filters_a,filters_b,alpha", [([1], [1], False), ([0, 1, 2, 3, 4], [1, 2], False), ([4, 1], [3], True)])
def test_panoptic_pair_table_equals_counting_dense_maps(tmp_path: Path, shape: tuple[int, int], filters_a: list[int], filters_b: list[int], alpha: bool) -> None:
    from psalm_bench.evaluators.panoptic import _dense, _pair_counts
    from psalm_bench.pngdecode import panoptic_pair_table, panoptic_stream

    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    seg_a = np.array([5, 70000, 300, 2 ** 24 - 1], np.int64)  # ids using all three channels
    seg_b = np.array([9, 300, 123456], np.int64)
    a = _blocky(rng, *shape, [0, 1, 2, 3]).astype(np.int64)
    b = _blocky(rng, *shape, [0, 1, 2, 3]).astype(np.int64)
    ids_a = np.array([0, 5, 70000, 2 ** 24 - 1])[a]  # 0 void; 300 listed but absent
    ids_b = np.array([0, 9, 123456, 777])[b]  # 777: not in segments_info
    write_rgb_png(tmp_path / "a.png", ids_a, filters_a)
    write_rgb_png(tmp_path / "b.png", ids_b, filters_b, alpha=alpha)
    stream_a = panoptic_stream((tmp_path / "a.png").read_bytes())
    stream_b = panoptic_stream((tmp_path / "b.png").read_bytes())
    cols = seg_b.size + 2
    want = _pair_counts(_dense(ids_a, seg_a, np.uint8), _dense(ids_b, seg_b, np.uint8), cols, (seg_a.size + 2) * cols)
    for block_rows in (1, 2, 3, 16, 10_000):  # rows (and their Up/Average/Paeth history) carried across blocks
        got = panoptic_pair_table(stream_a, stream_b, seg_a, seg_b, block_rows=block_rows)
        assert got.tolist() == want.reshape(seg_a.size + 2, cols).tolist(), block_rows
        assert got.sum() == shape[0] * shape[1]
