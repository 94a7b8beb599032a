"""formats/jsonl.py: JSON Lines prediction files, written and read back."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from psalm_bench.errors import InputError
from psalm_bench.formats.jsonl import read_jsonl, write_jsonl


def test_round_trip_dicts_and_preencoded_lines(tmp_path: Path) -> None:
    records = [{"sent_id": 1, "segmentation": {"size": [2, 2], "counts": "04"}}, {"sent_id": 2, "no_target": True}]
    path = write_jsonl(tmp_path / "deep" / "p.jsonl", [records[0], b'{"sent_id":2,"no_target":true}'])
    assert path.read_bytes() == b'{"sent_id":1,"segmentation":{"size":[2,2],"counts":"04"}}\n{"sent_id":2,"no_target":true}\n'
    assert list(read_jsonl(path)) == [(1, records[0]), (2, records[1])]
    assert list(read_jsonl(write_jsonl(tmp_path / "empty.jsonl", []))) == []


def test_reader_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"a": 1}\n\n[1]\n')
    with pytest.raises(InputError, match="line 3") as info:
        list(read_jsonl(path))
    assert "each line must be a JSON object" in str(info.value)
    path.write_bytes(b'{"a": 1}\n{bad\n')
    with pytest.raises(InputError, match="line 2: not valid JSON"):
        list(read_jsonl(path))


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def lines():
        yield {"a": 1}
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(InputError, match="x.jsonl: cannot write: disk is full"):
        write_jsonl(tmp_path / "x.jsonl", lines())
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        write_jsonl(tmp_path / "d", [])
