"""A fast PNG decoder for label and id maps: zlib-ng inflate + C unfiltering.

Segmentation PNGs compress about 100:1, and the zlib that libpng, libspng
and PIL link inflates such streams slowly: it was ~95% of the time of PQ
and mIoU. zlib-ng inflates them ~25x faster; the row filters are then undone
by a few lines of C (``psalm_bench._native``, built at install). Anything unusual
(interlaced, 16-bit or sub-byte samples, a missing extension) returns None
and the caller falls back to libspng / PIL, so the pixels are always exact.
"""

from __future__ import annotations

import struct

import numpy as np
from zlib_ng import zlib_ng

try:
    from psalm_bench import _native as _filters
except ImportError:  # built without a C compiler: the caller falls back
    _filters = None

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel


def _stream(data: bytes) -> tuple[bytes, int, int, int] | None:
    """(the IDAT zlib stream, height, width, samples per pixel) of an 8-bit,
    non-interlaced PNG, not inflated; or None."""
    if data[:8] != _SIGNATURE:
        return None
    width = height = bpp = 0
    idat: list[bytes] = []
    pos, end = 8, len(data)
    while pos + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = pos + 8
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack_from(">IIBBBBB", data, body)
            if depth != 8 or interlace != 0 or colour not in _CHANNELS:
                return None
            bpp = _CHANNELS[colour]
        elif kind == b"IDAT":
            idat.append(data[body:body + length])
        elif kind == b"IEND":
            break
        pos = body + length + 4
    if not (width and height and bpp and idat):
        return None
    return b"".join(idat), height, width, bpp


def _inflate(data: bytes) -> tuple[bytes, int, int, int] | None:
    """(inflated scanlines, height, width, samples per pixel), or None."""
    stream = _stream(data)
    return None if stream is None else _inflate_stream(stream)


def _inflate_stream(stream: tuple[bytes, int, int, int]) -> tuple[bytes, int, int, int] | None:
    idat, height, width, bpp = stream
    expected = height * (width * bpp + 1)  # a filter byte per scanline
    try:
        # bounded: IDAT that inflates past the header's size is not decoded here
        raw = zlib_ng.decompressobj().decompress(idat, expected + 1)
    except zlib_ng.error:
        return None  # corrupt: let the reference decoder report it
    if len(raw) != expected:
        return None
    return raw, height, width, bpp


def decode_png_fast(data: bytes, out: np.ndarray | None = None) -> np.ndarray | None:
    """HxW (one channel; palette PNGs give their indices) or HxWxC uint8
    array, or None when this decoder does not handle the file.

    ``out``, a reusable uint8 array, receives the pixels when it has exactly
    the image's size (saving the page faults of a fresh buffer per image);
    the result is then a view of it, valid until its next use."""
    if _filters is None:
        return None
    inflated = _inflate(data)
    if inflated is None:
        return None
    raw, height, width, bpp = inflated
    shape = (height, width) if bpp == 1 else (height, width, bpp)
    try:
        if out is not None and out.dtype == np.uint8 and out.size == height * width * bpp and out.flags.c_contiguous:
            _filters.unfilter(raw, height, width, bpp, out)
            return out.reshape(shape)
        pixels = _filters.unfilter(raw, height, width, bpp)
    except ValueError:
        return None
    return np.frombuffer(pixels, dtype=np.uint8).reshape(shape)


def inflate_label_png(data: bytes) -> tuple[bytes, int, int] | None:
    """(inflated scanlines, height, width) of an 8-bit one-channel PNG (grey
    or palette: a label map), or None for any other PNG or a missing extension."""
    if _filters is None or not hasattr(_filters, "label_pair_counts"):
        return None
    inflated = _inflate(data)
    if inflated is None or inflated[3] != 1 or data[25] not in (0, 3):  # grey or palette, no alpha
        return None
    return inflated[0], inflated[1], inflated[2]


def label_pair_counts(a: bytes, b: bytes, height: int, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The (a, b) pixel pairs of two inflated label maps (from
    ``inflate_label_png``): the ascending cells ``a * 256 + b`` that occur and
    their counts (int64), with no image materialised. None when the scanlines
    do not unfilter (an unknown filter type): decode them to learn why."""
    try:
        cells, counts = _filters.label_pair_counts(a, b, height, width)
    except ValueError:
        return None
    return np.frombuffer(cells, dtype=np.int64), np.frombuffer(counts, dtype=np.int64)


#: Bytes of the scratch buffer ``label_confusion`` counts in: a 256 x 256
#: uint32 table (kept zero between images), its list of cells in use and
#: their number.
CONFUSION_SCRATCH_BYTES = (2 * 65536 + 1) * 4


#: Rows inflated and counted at a time: a panoptic frame holds its ~10 KB zlib
#: stream, never its ~900 KB of scanlines; a label map's blocks stay in cache
#: and below malloc's mmap threshold. Per 480x640 pair on the 5000-image workload
#: (loaded machine): 16 rows 1.15 ms, 96 rows 0.91, whole images 0.94.
BLOCK_ROWS = 96


def label_stream(data: bytes) -> tuple[bytes, int, int] | None:
    """(IDAT zlib stream, height, width) of an 8-bit one-channel PNG (grey or
    palette: a label map), not inflated; None for any other PNG or a missing
    extension."""
    if _filters is None or not hasattr(_filters, "label_confusion_rows"):
        return None
    stream = _stream(data)
    if stream is None or stream[3] != 1 or data[25] not in (0, 3):  # grey or palette, no alpha
        return None
    return stream[0], stream[1], stream[2]


def label_confusion(a: tuple[bytes, int, int], b: tuple[bytes, int, int], n_classes: int, ignore: int,
                    scratch: bytearray, *, block_rows: int = BLOCK_ROWS) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """One image's semantic confusion from two label maps' streams (``a`` the
    ground truth; from ``label_stream``), inflated ``block_rows`` rows at a
    time and counted from the scanlines: the ascending flat cells
    ``gt * (n + 1) + column`` of the n x (n + 1) matrix (column n: the
    prediction is ``ignore``) and their int64 counts, pixels whose ground
    truth is not a class left out; then the smallest ground-truth value and
    the smallest prediction (over scored pixels) that is neither a class nor
    ``ignore`` (the ignore label as a byte value, or -1), -1 when none.

    ``scratch`` (``CONFUSION_SCRATCH_BYTES``, zero-filled when made) is reused
    from image to image, and the blocks are ~60 KB: a fresh 512 KB table and
    two 300 KB scanline buffers per image cost more in page faults than the
    counting. None when not handled here (sizes differ, a corrupt stream, one
    longer or shorter than the header says, an unknown filter type): decode
    the maps to learn why; the table is left zero either way."""
    idat_a, height, width = a
    idat_b, height_b, width_b = b
    if (height, width) != (height_b, width_b):
        return None
    line = width + 1
    rows = bytearray(4 * width)  # each map's last rebuilt row, carried from block to block
    inflate_a, inflate_b = zlib_ng.decompressobj(), zlib_ng.decompressobj()
    count_rows, cells_of = _filters.label_confusion_rows, _filters.label_confusion_cells
    try:
        for y in range(0, height, block_rows):
            size = min(block_rows, height - y) * line
            block_a = inflate_a.decompress(idat_a, size)
            idat_a = inflate_a.unconsumed_tail
            block_b = inflate_b.decompress(idat_b, size)
            idat_b = inflate_b.unconsumed_tail
            if len(block_a) != size or len(block_b) != size:
                raise ValueError("stream shorter than the header says")
            count_rows(block_a, block_b, y, width, rows, scratch)
        if inflate_a.decompress(idat_a, 1) or inflate_b.decompress(idat_b, 1):
            raise ValueError("stream longer than the header says")
    except (zlib_ng.error, ValueError):
        cells_of(0, -1, scratch)  # the partial counts dropped
        return None
    cells, counts, bad_a, bad_b = cells_of(n_classes, ignore, scratch)
    return np.frombuffer(cells, dtype=np.int64), np.frombuffer(counts, dtype=np.int64), bad_a, bad_b


def panoptic_stream(data: bytes) -> tuple[bytes, int, int, int] | None:
    """(IDAT zlib stream, height, width, bpp) of an 8-bit RGB(A) PNG, not yet
    inflated, or None (decode it the general way)."""
    if _filters is None or not hasattr(_filters, "panoptic_pair_rows"):
        return None
    stream = _stream(data)
    if stream is None or stream[3] not in (3, 4):
        return None
    return stream


def panoptic_pair_table(a: tuple[bytes, int, int, int], b: tuple[bytes, int, int, int],
                        segments_a: np.ndarray, segments_b: np.ndarray, *, block_rows: int = BLOCK_ROWS) -> np.ndarray | None:
    """(len(segments_a) + 2) x (len(segments_b) + 2) int64 pixel counts of
    (dense index of a, dense index of b) pairs (as ``decode_panoptic_dense_fast``
    indexes: 0 unknown id, 1 void, 2 + k segment k) of two panoptic PNGs of one
    size (from ``panoptic_stream``), inflated ``block_rows`` rows at a time
    and counted from the scanlines, with no image or index map made. None when
    not handled here (a corrupt stream, a size the header does not say, an
    unknown filter type): decode them the general way to learn why."""
    idat_a, height, width, bpp_a = a
    idat_b, height_b, width_b, bpp_b = b
    if (height, width) != (height_b, width_b):
        return None
    sa = np.ascontiguousarray(segments_a, dtype=np.uint32)
    sb = np.ascontiguousarray(segments_b, dtype=np.uint32)
    counts = np.zeros((sa.size + 2, sb.size + 2), dtype=np.int64)
    rows = bytearray(2 * width * (bpp_a + bpp_b))  # the last rows, carried from block to block
    row_a, row_b = width * bpp_a + 1, width * bpp_b + 1
    inflate_a, inflate_b = zlib_ng.decompressobj(), zlib_ng.decompressobj()
    pair_rows = _filters.panoptic_pair_rows
    try:
        for y in range(0, height, block_rows):
            n = min(block_rows, height - y)
            block_a = inflate_a.decompress(idat_a, n * row_a)
            idat_a = inflate_a.unconsumed_tail
            block_b = inflate_b.decompress(idat_b, n * row_b)
            idat_b = inflate_b.unconsumed_tail
            if len(block_a) != n * row_a or len(block_b) != n * row_b:
                return None
            pair_rows(block_a, block_b, y, width, bpp_a, bpp_b, sa, sb, rows, counts)
        if inflate_a.decompress(idat_a, 1) or inflate_b.decompress(idat_b, 1):
            return None  # inflates past the header's size
    except (zlib_ng.error, ValueError):
        return None
    return counts


def dense_from_stream(stream: tuple[bytes, int, int, int], segment_ids: np.ndarray, dtype: type) -> np.ndarray | None:
    """``decode_panoptic_dense_fast`` on a stream from ``panoptic_stream``."""
    inflated = _inflate_stream(stream)
    return None if inflated is None else dense_from_inflated(inflated, segment_ids, dtype)


def dense_from_inflated(inflated: tuple[bytes, int, int, int], segment_ids: np.ndarray, dtype: type) -> np.ndarray | None:
    """``decode_panoptic_dense_fast`` on scanlines already inflated."""
    raw, height, width, bpp = inflated
    segments32 = np.ascontiguousarray(segment_ids, dtype=np.uint32)
    try:
        packed = _filters.panoptic_dense(raw, height, width, bpp, segments32, np.dtype(dtype).itemsize)
    except ValueError:
        return None
    return np.frombuffer(packed, dtype=dtype).reshape(height, width)


def decode_panoptic_dense_fast(data: bytes, segment_ids: np.ndarray, dtype: type) -> np.ndarray | None:
    """HxW dense segment indices of an 8-bit RGB(A) panoptic PNG: 0 for an id
    not in ``segment_ids``, 1 for void, 2 + k for ``segment_ids[k]``; decoded
    in one pass with no id map in between. None when not handled here."""
    if _filters is None:
        return None
    inflated = _inflate(data)
    if inflated is None or inflated[3] not in (3, 4):  # RGB or RGBA only
        return None
    return dense_from_inflated(inflated, segment_ids, dtype)
