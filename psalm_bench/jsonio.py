"""Reading and writing JSON with errors that name the file."""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from psalm_bench.errors import InputError
from psalm_bench.paths import output_file


# The largest JSON file read into memory: guards against /dev/zero and friends.
MAX_JSON_BYTES = 8 << 30


def read_regular_file(path: str | Path, *, what: str = "a file", limit: int | None = None) -> bytes:
    """Read a user-named file, refusing folders, devices and FIFOs before opening.

    Opening a FIFO blocks and reading /dev/zero never ends, so the file type is
    checked with stat first and the read is bounded.
    """
    import os
    import stat as stat_mod

    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    mode = st.st_mode
    if stat_mod.S_ISDIR(mode):
        raise InputError(f"is a directory, expected {what}", file=path)
    if not stat_mod.S_ISREG(mode):
        kind = "a FIFO" if stat_mod.S_ISFIFO(mode) else "a device" if (stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode)) else "a socket" if stat_mod.S_ISSOCK(mode) else "not a regular file"
        raise InputError(f"is {kind}, expected {what}", file=path)
    bound = MAX_JSON_BYTES if limit is None else limit
    if st.st_size > bound:
        raise InputError(f"is {st.st_size} bytes, more than the {bound}-byte limit for {what}", file=path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(bound + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    if len(data) > bound:
        raise InputError(f"grew past the {bound}-byte limit for {what} while being read", file=path)
    return data


def load_json(path: str | Path) -> Any:
    """Parse a JSON file; a missing, malformed or non-regular file is an InputError."""
    path = Path(path)
    return parse_json(read_regular_file(path, what="a JSON file"), path)


def parse_json(data: bytes, path: Path) -> Any:
    """The whole-document parse of load_json (``path`` names the file in errors)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        orjson_error = str(exc)
    if "depth limit" in orjson_error:
        raise InputError("not valid JSON (nested deeper than 1024 levels)", file=path)
    # Python's json module writes NaN and Infinity, which orjson refuses;
    # read them so the validators can name the record that holds one.
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})", file=path) from None
    except RecursionError:
        raise InputError("not valid JSON (nested too deep)", file=path) from None


class JsonArray:
    """The elements of one JSON array of a file, parsed one at a time as they
    are iterated, so that a loader turning each into a kept record never holds
    the whole document tree (orjson's yyjson tree plus the Python objects,
    several times the file). Any element orjson refuses (bad syntax, NaN, an
    integer over 64 bits) sends the rest of the iteration to the whole-file
    parse: its one-line error, or json's values, exactly as load_json."""

    __slots__ = ("_data", "_spans", "_path", "_key")

    def __init__(self, data: bytes, spans: bytes, path: Path, key: str | None):
        self._data = data
        self._spans = memoryview(spans).cast("q")
        self._path = path
        self._key = key  # the top-level member holding the array; None: the document is the array

    def __len__(self) -> int:
        return len(self._spans) // 2

    def __getitem__(self, k: int) -> Any:
        """Element ``k`` parsed again (a loader compares a repeated record with its first)."""
        if not 0 <= k < len(self):
            raise IndexError(k)
        try:
            return orjson.loads(memoryview(self._data)[self._spans[2 * k] : self._spans[2 * k + 1]])
        except orjson.JSONDecodeError:
            document = parse_json(self._data, self._path)
            return (document if self._key is None else document[self._key])[k]

    def __iter__(self) -> Iterator[Any]:
        view, spans, loads = memoryview(self._data), self._spans, orjson.loads
        for k in range(len(spans) // 2):
            try:
                value = loads(view[spans[2 * k] : spans[2 * k + 1]])
            except orjson.JSONDecodeError:
                document = parse_json(self._data, self._path)
                yield from (document if self._key is None else document[self._key])[k:]
                return
            yield value


def load_json_pieces(path: str | Path, arrays: tuple[str, ...] = ()) -> Any:
    """load_json for a large ground truth: a top-level array, or the members
    named in ``arrays`` of a top-level object when they are arrays, come back
    as a JsonArray (parsed element by element while iterated); everything
    else as load_json gives it. Without psalm_bench._native, or where the
    file's outer structure is not plain JSON, it is load_json."""
    path = Path(path)
    data = read_regular_file(path, what="a JSON file")
    try:
        from psalm_bench._native import json_spans
    except ImportError:
        return parse_json(data, path)
    top = json_spans(data, 0, True)
    if top is None:
        return parse_json(data, path)
    offsets = memoryview(top[1]).cast("q")
    first = 0
    while data[first] in b" \t\n\r":  # json_spans found a container, so this stops at [ or {
        first += 1
    if data[first] == 0x5B:  # [
        return JsonArray(data, top[1], path, None)
    view, members = memoryview(data), {}
    try:
        for k in range(0, len(offsets), 4):
            key = orjson.loads(view[offsets[k] : offsets[k + 1]])
            start, end = offsets[k + 2], offsets[k + 3]
            inner = json_spans(data, start, False) if key in arrays and data[start : start + 1] == b"[" else None
            members[key] = JsonArray(data, inner[1], path, key) if inner is not None else orjson.loads(view[start:end])
    except orjson.JSONDecodeError:
        return parse_json(data, path)
    return members


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite_or_null(obj: Any) -> Any:
    """JSON has no NaN: metrics that are undefined are written as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    return obj


def output_error(path: Path, exc: OSError) -> InputError:
    """One line for an output that cannot be written (read-only, missing, full disk)."""
    import errno

    reason = {errno.ENOSPC: "disk is full", errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system"}.get(exc.errno or 0, exc.strerror or str(exc))
    return InputError(f"cannot write: {reason}", file=path)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes via ``PATH.partial`` then rename; nothing is left behind on failure."""
    path = output_file(path)
    tmp = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise output_error(path, exc) from None


def dump_json(obj: Any, path: str | Path) -> None:
    """Write JSON atomically, so a crash never leaves a half-written result."""
    write_atomic(path, orjson.dumps(_finite_or_null(obj), default=_default, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


def _files_under(root: str) -> list[tuple[str, ...]]:
    """Relative paths (as parts) of what ``Path(root).rglob("*")`` yields and
    ``is_file()`` accepts: links to files count, links to folders are not
    entered, an unreadable folder is skipped."""
    found: list[tuple[str, ...]] = []
    pending: list[tuple[str, tuple[str, ...]]] = [(root, ())]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except PermissionError:
            continue
        for entry in entries:
            try:
                if entry.is_dir() and not entry.is_symlink():
                    pending.append((entry.path, prefix + (entry.name,)))
                if entry.is_file():
                    found.append(prefix + (entry.name,))
            except OSError:
                continue
    return found


def sha256_of(path: str | Path) -> str:
    """Hash of a file, or of a folder's files (sorted relative paths and contents)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir() and os.name == "posix":
        # the files rglob("*") finds, in Path order (parts compared one by one),
        # without a Path object per file: thousands of PNGs are hashed per eval
        for parts in sorted(_files_under(os.fspath(path))):
            digest.update("/".join(parts).encode())
            digest.update(b"\0")
            with open(os.path.join(path, *parts), "rb") as handle:
                digest.update(hashlib.sha256(handle.read()).digest())
    elif path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(child.relative_to(path)).encode())
            digest.update(b"\0")
            digest.update(hashlib.sha256(child.read_bytes()).digest())
    elif path.is_file():
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    else:
        return ""
    return digest.hexdigest()


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic GC off while a parsed JSON becomes records that are all
    kept: its passes over the growing heap would find nothing to free
    (COCO instances GT of 35k annotations 0.46-0.51 -> 0.35-0.36 CPU-s;
    panoptic GT + predictions of 5000 images 0.50 -> 0.28). Restored as it was,
    also when the block raises."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
