"""Per-pixel counting: a C fast path (``psalm_bench._native``) and an exact
numpy fallback for installs built without a compiler."""

from __future__ import annotations

import numpy as np

try:
    from psalm_bench import _native
except ImportError:
    _native = None

_NATIVE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32))


def joint_histogram(a: np.ndarray, b: np.ndarray, n_b: int, n_cells: int, out: np.ndarray | None = None) -> np.ndarray:
    """Counts of ``a * n_b + b`` over all pixels, ``n_cells`` long (int64, or
    uint64 when written into ``out``, a reusable uint64 array of n_cells).

    Every ``a * n_b + b`` must be below ``n_cells``."""
    if _native is not None and a.dtype in _NATIVE_DTYPES and b.dtype in _NATIVE_DTYPES:
        a = np.ascontiguousarray(a)
        b = np.ascontiguousarray(b)
        if out is not None:
            _native.joint_histogram(a, b, a.dtype.itemsize, b.dtype.itemsize, n_b, n_cells, out)
            return out
        counts = _native.joint_histogram(a, b, a.dtype.itemsize, b.dtype.itemsize, n_b, n_cells)
        return np.frombuffer(counts, dtype=np.uint64).astype(np.int64)
    joint = a.astype(np.int64) * n_b + b.astype(np.int64)
    return np.bincount(joint.ravel(), minlength=n_cells)
