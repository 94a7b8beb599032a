"""Fast, exact PNG reading for label maps and panoptic id maps.

PNG decoding is most of the cost of PQ and mIoU, so the decoder is chosen
deliberately: ``pngdecode`` (zlib-ng inflate + C unfiltering, ~2.7x faster
than libspng on segmentation PNGs) first; for what it does not handle,
libspng (pyspng) for grayscale and RGB and PIL for palette PNGs, whose pixel
values are palette indices (the class ids of VOC- and DAVIS-style maps) that
libspng's Python binding would expand to colours.
"""

from __future__ import annotations

import io
import os
import stat
import struct
from pathlib import Path

import numpy as np
import pyspng

from psalm_bench.errors import InputError
from psalm_bench.jsonio import read_regular_file
from psalm_bench.pngdecode import decode_png_fast

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE_PALETTE = 3
MAX_PNG_BYTES = 1 << 30  # a label map PNG is far smaller; bounds a read of /dev/zero


# The most pixels a label or id map may have: 8192 x 8192, past every real
# benchmark (Cityscapes 2048x1024, DAVIS full resolution 3840x2160). A PNG
# compresses a constant map ~1000:1, so a few MB could otherwise ask for GBs.
MAX_PIXELS = 1 << 26


def png_size(data: bytes, path: str | Path) -> tuple[int, int]:
    """(height, width) from the IHDR chunk, read before any pixel is decoded."""
    if data[12:16] != b"IHDR":
        raise InputError("not a PNG file (IHDR is not the first chunk)", file=path)
    width, height = struct.unpack_from(">II", data, 16)
    if width == 0 or height == 0:
        raise InputError(f"PNG header says {width}x{height} pixels", file=path)
    return height, width


def read_png_bytes(path: str | Path, expect: tuple[int, int] | None = None) -> bytes:
    """The file's bytes once its header passes: a PNG, within MAX_PIXELS and,
    with ``expect`` (height, width), exactly that size."""
    data = _read_png_file(path)
    if data[:8] != _PNG_SIGNATURE or len(data) < 26:
        raise InputError("not a PNG file", file=path)
    height, width = png_size(data, path)
    if expect is not None and (height, width) != tuple(expect):
        raise InputError(f"prediction size {height}x{width} differs from ground truth {expect[0]}x{expect[1]}", file=path)
    if height * width > MAX_PIXELS:
        raise InputError(f"PNG header says {width}x{height} pixels, more than the {MAX_PIXELS}-pixel limit for a label map", file=path)
    return data


def _read_png_file(path: str | Path) -> bytes:
    """``read_regular_file(path, what="a PNG file", limit=MAX_PNG_BYTES)``, with its
    messages, in one open/fstat/read: PNGs are read by the thousand, and the
    stat-then-open of the general reader, with its path objects, was a third
    of loading one. O_NONBLOCK: a FIFO opens without blocking, then is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError("file not found" if os.path.lexists(path) else "PNG file not found", file=Path(path)) from None
    except OSError as exc:
        if os.path.isdir(path):
            raise InputError("is a directory, expected a PNG file", file=Path(path)) from None
        raise InputError(f"cannot read: {exc.strerror}", file=Path(path)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_PNG_BYTES:
            os.close(fd)
            fd = -1
            return read_regular_file(path, what="a PNG file", limit=MAX_PNG_BYTES)  # its refusal, in its words
        chunks = []
        left = MAX_PNG_BYTES + 1
        while left > 0:
            want = min(left, max(st.st_size + 1, 1 << 16))
            chunk = os.read(fd, want)
            chunks.append(chunk)
            left -= len(chunk)
            if len(chunk) < want:  # a regular file's short read is its end
                break
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=Path(path)) from None
    finally:
        if fd >= 0:
            os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) > MAX_PNG_BYTES:
        raise InputError(f"grew past the {MAX_PNG_BYTES}-byte limit for a PNG file while being read", file=Path(path))
    return data


def _decode(data: bytes, path: Path, out: np.ndarray | None = None) -> np.ndarray:
    fast = decode_png_fast(data, out)
    if fast is not None:
        return fast
    color_type = data[25]
    try:
        if color_type == _COLOR_TYPE_PALETTE:
            from PIL import Image  # here, not at import: ~15 ms of start-up that the fast path never needs

            return np.asarray(Image.open(io.BytesIO(data)))
        return pyspng.load(data)
    except Exception as exc:  # decoders raise assorted types on corrupt data
        raise InputError(f"PNG does not decode ({exc})", file=path) from None


def read_label_map(path: str | Path, out: np.ndarray | None = None, expect: tuple[int, int] | None = None) -> np.ndarray:
    """HxW uint8/uint16 class-index map; palette PNGs give their indices.

    ``out``: a reusable uint8 buffer (see ``decode_png_fast``); the map may
    then be a view of it, valid until the buffer's next use. ``expect``:
    the (height, width) the header must give before decoding."""
    path = Path(path)
    return label_map_from_png(read_png_bytes(path, expect), path, out)


def label_map_from_png(data: bytes, path: Path, out: np.ndarray | None = None) -> np.ndarray:
    """``read_label_map`` on a PNG's bytes already read (and checked by ``read_png_bytes``)."""
    image = _decode(data, path, out)
    if image.ndim == 3:
        if image.shape[2] in (2, 4):  # grey+alpha or RGBA: alpha carries no label
            image = image[..., : image.shape[2] - 1]
        if image.shape[2] == 1:
            image = image[..., 0]
        elif np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]):
            image = image[..., 0]  # grey stored as RGB
        else:
            raise InputError("label map must be single-channel or palette PNG, got colour RGB", file=path)
    return image


def read_panoptic_ids(path: str | Path, expect: tuple[int, int] | None = None) -> np.ndarray:
    """HxW uint32 segment ids of a COCO panoptic PNG: R + 256 G + 256^2 B."""
    path = Path(path)
    data = read_png_bytes(path, expect)
    image = _decode(data, path)
    if image.ndim != 3 or image.shape[2] < 3:
        raise InputError("panoptic PNG must be RGB", file=path)
    if image.dtype != np.uint8:
        raise InputError("panoptic PNG must have 8-bit channels", file=path)
    # Lay the pixels out as little-endian RGB0 words: one copy, no shifts.
    rgb0 = np.zeros(image.shape[:2] + (4,), dtype=np.uint8)
    rgb0[..., :3] = image[..., :3]
    return rgb0.view(np.dtype("<u4"))[..., 0].astype(np.uint32, copy=False)


def write_label_map(path: str | Path, labels: np.ndarray) -> None:
    """An 8-bit one-channel label PNG (semantic predictions; 255 = ignore)."""
    from PIL import Image

    Image.fromarray(labels.astype(np.uint8)).save(path, optimize=False)


def write_panoptic_ids(path: str | Path, ids: np.ndarray) -> None:
    ids = ids.astype(np.uint32)
    rgb = np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], axis=-1).astype(np.uint8)
    from PIL import Image

    Image.fromarray(rgb).save(path, optimize=False)
