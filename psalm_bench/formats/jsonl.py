"""JSON Lines prediction files (referring, generalized referring, interactive): read and written here.

One JSON object per line; blank lines are skipped. Errors name the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from psalm_bench.errors import InputError
from psalm_bench.jsonio import output_error
from psalm_bench.paths import output_file


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for every non-blank line, 1-based."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a JSON Lines file", file=path) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"not valid JSON ({exc})", file=path, record=f"line {number}") from None
            if not isinstance(record, dict):
                raise InputError("each line must be a JSON object", file=path, record=f"line {number}")
            yield number, record


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any] | bytes]) -> Path:
    """One compact JSON object per line, written via ``PATH.partial`` and renamed,
    so a crash or a full disk leaves nothing half-written (one InputError)."""
    path = output_file(path)
    tmp = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            for record in records:
                handle.write((record if isinstance(record, bytes) else orjson.dumps(record)) + b"\n")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(path, exc) from None
    return path
