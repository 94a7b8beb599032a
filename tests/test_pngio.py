"""The fast PNG path must give exactly the pixels the reference decoders give."""

import io
from pathlib import Path

import numpy as np
import pyspng
import pytest
from PIL import Image

from psalm_bench import InputError
from psalm_bench.pngdecode import decode_png_fast
from psalm_bench.pngio import read_label_map, read_panoptic_ids

from conftest import FIXTURES, REPO



def _reference(data: bytes) -> np.ndarray:
    if data[25] in (3, 4):  # palette (indices) and grey+alpha, which libspng refuses
        return np.asarray(Image.open(io.BytesIO(data)))
    image = pyspng.load(data)
    return image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image


def _pngs() -> list[Path]:
    found = sorted(FIXTURES.glob("**/*.png")) + sorted((REPO / "psalm_bench" / "examples").glob("**/*.png"))
    return found[:400]


def test_fast_decoder_is_built() -> None:
    from psalm_bench import pngdecode

    assert pngdecode._filters is not None, "the C unfilter extension was not built"


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA"])
@pytest.mark.parametrize("optimize", [False, True])
def test_every_filter_and_colour_type(mode: str, optimize: bool) -> None:
    """Noise plus flat regions makes the encoder pick every filter type."""
    rng = np.random.default_rng(7)
    base = np.zeros((61, 83, 4), dtype=np.uint8)
    base[10:40, 5:60] = rng.integers(0, 255, 4)
    base[30:, 40:] = rng.integers(0, 255, (31, 43, 4))
    base[::7, ::5] = 200
    image = Image.fromarray(base[..., :4], "RGBA").convert(mode) if mode != "P" else Image.fromarray(base[..., 0] % 40, "L").convert("P")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=optimize)
    data = buffer.getvalue()
    fast = decode_png_fast(data)
    assert fast is not None
    np.testing.assert_array_equal(fast, _reference(data))


def test_real_pngs_decode_identically() -> None:
    pngs = _pngs()
    assert pngs, "no PNGs to compare"
    for png in pngs:
        data = png.read_bytes()
        fast = decode_png_fast(data)
        assert fast is not None, png
        np.testing.assert_array_equal(fast, _reference(data), err_msg=str(png))


def test_unsupported_pngs_fall_back_exactly(tmp_path: Path) -> None:
    sixteen = (np.arange(12 * 9, dtype=np.uint16).reshape(12, 9) * 300)
    path = tmp_path / "deep.png"
    Image.fromarray(sixteen).save(path)
    assert decode_png_fast(path.read_bytes()) is None
    np.testing.assert_array_equal(read_label_map(path), sixteen)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_panoptic_ids_from_rgb(tmp_path: Path, mode: str) -> None:
    ids = np.array([[0, 1, 256], [65536, 0xABCDEF, 0xFFFFFF]], dtype=np.uint32)
    rgb = np.stack([ids & 255, (ids >> 8) & 255, ids >> 16], axis=-1).astype(np.uint8)
    png = tmp_path / "ids.png"
    Image.fromarray(rgb).convert(mode).save(png)
    np.testing.assert_array_equal(read_panoptic_ids(png), ids)


def test_corrupt_png_is_an_input_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((20, 20), dtype=np.uint8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[45:60] = b"\x00" * 15  # inside the compressed stream
    path = tmp_path / "broken.png"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="broken.png"):
        read_label_map(path)


def test_panoptic_ids_equal_the_reference_rgb_packing() -> None:
    pngs = [p for p in _pngs() if p.read_bytes()[25] in (2, 6)]
    assert pngs
    for png in pngs:
        rgb = pyspng.load(png.read_bytes())[..., :3].astype(np.uint32)
        expected_ids = rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16)
        np.testing.assert_array_equal(read_panoptic_ids(png), expected_ids, err_msg=str(png))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_dense_indices_straight_from_scanlines(seed: int, mode: str) -> None:
    """Flat regions, edges and noise: the encoder mixes Sub, Up, Average and
    Paeth rows; the fused decoder must agree with ids -> indices."""
    from psalm_bench.evaluators.panoptic import _dense
    from psalm_bench.pngdecode import decode_panoptic_dense_fast

    rng = np.random.default_rng(seed)
    ids = np.zeros((57, 71), dtype=np.uint32)
    segment_ids = rng.choice(np.arange(1, 1 << 24), size=12, replace=False).astype(np.uint32)
    for k, segment in enumerate(segment_ids):
        y, x = rng.integers(0, 50, 2)
        ids[y:y + rng.integers(3, 30), x:x + rng.integers(3, 40)] = segment
    ids[40:50, 10:60] = rng.choice(segment_ids, size=(10, 50))  # noise rows
    ids[5, 5] = 4242  # an id that segments_info lacks
    rgb = np.stack([ids & 255, (ids >> 8) & 255, ids >> 16], axis=-1).astype(np.uint8)
    for optimize in (False, True):
        buffer = io.BytesIO()
        Image.fromarray(rgb).convert(mode).save(buffer, format="PNG", optimize=optimize)
        for dtype in (np.uint8, np.uint16, np.uint32):
            fused = decode_panoptic_dense_fast(buffer.getvalue(), segment_ids, dtype)
            np.testing.assert_array_equal(fused, _dense(ids, segment_ids, dtype))


@pytest.mark.parametrize("dtypes", [(np.uint8, np.uint8), (np.uint8, np.uint16), (np.uint16, np.uint8), (np.uint16, np.uint16), (np.uint32, np.uint8)])
def test_joint_histogram_matches_bincount(dtypes) -> None:
    from psalm_bench.pixelops import joint_histogram

    rng = np.random.default_rng(3)
    a = np.repeat(rng.integers(0, 7, 300), rng.integers(1, 9, 300)).astype(dtypes[0])
    b = np.repeat(rng.integers(0, 5, a.size // 3 + 1), 3)[: a.size].astype(dtypes[1])
    expected_counts = np.bincount(a.astype(np.int64) * 5 + b, minlength=40)
    np.testing.assert_array_equal(joint_histogram(a, b, 5, 40), expected_counts)
    np.testing.assert_array_equal(joint_histogram(a[:0], b[:0], 5, 40), np.zeros(40, dtype=np.int64))
