"""Standard streams: silencing what native code (a Rust engine, a Java tokenizer) prints
straight to fd 2, and `-` as standard input (--pred) or output (--json)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Redirect file descriptor 2 to /dev/null for the block; our own errors
    name the record, the tools' raw prints would only bury them. Where fd 2
    cannot be duplicated (an embedded interpreter), the block runs as is."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# `-` names standard input (--pred) or standard output (--json), as in most Unix tools.
STDIO = "-"

# Predictions that are a folder of PNGs cannot come through a pipe.
FOLDER_PREDICTIONS = {"semantic", "vos", "ov-semantic"}
# Predictions that are one JSON document; the others are JSON Lines.
JSON_PREDICTIONS = {"instance", "ov-instance", "panoptic"}


def is_stdio(path: object) -> bool:
    return path is not None and str(path) == STDIO


@contextlib.contextmanager
def spooled_stdin(task: str, *, stream=None, limit: int | None = None) -> Iterator[Path]:
    """Standard input copied to a temporary file for the block.

    Evaluators read predictions by path (and hash them for the result's
    provenance), so a pipe is spooled once; the digest is that of the bytes read.
    """
    import shutil
    import tempfile

    from psalm_bench.errors import InputError
    from psalm_bench.jsonio import MAX_JSON_BYTES

    if task in FOLDER_PREDICTIONS:
        raise InputError(f"--pred -: {task} predictions are a folder of PNGs, which standard input cannot carry; name the folder")
    bound = MAX_JSON_BYTES if limit is None else limit
    source = stream if stream is not None else sys.stdin.buffer
    name = "stdin.json" if task in JSON_PREDICTIONS else "stdin.jsonl"
    with tempfile.TemporaryDirectory(prefix="psalm-bench-stdin-") as tmp:
        path = Path(tmp) / name
        with open(path, "wb") as out:
            shutil.copyfileobj(_bounded(source, bound + 1), out)
        size = path.stat().st_size
        if size == 0:
            raise InputError("standard input is empty", file="--pred -")
        if size > bound:
            raise InputError(f"more than the {bound}-byte limit for predictions", file="--pred -")
        yield path


class _bounded:
    """A reader that stops after ``limit`` bytes (a pipe from /dev/zero must end)."""

    def __init__(self, stream, limit: int):
        self.stream, self.left = stream, limit

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.stream.read(n)
        self.left -= len(data)
        return data


def write_json_stdout(obj: object) -> None:
    """The bytes ``--json FILE`` writes, and a newline, on standard output."""
    import orjson

    from psalm_bench.jsonio import _default, _finite_or_null

    data = orjson.dumps(_finite_or_null(obj), default=_default, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    sys.stdout.flush()
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.buffer.flush()
