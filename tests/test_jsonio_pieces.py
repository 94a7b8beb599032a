"""load_json_pieces (a large ground truth parsed one record at a time) gives
what load_json gives: the same values, the same one-line errors."""

from __future__ import annotations

import array
import random
import tracemalloc

import orjson
import pytest

from psalm_bench import jsonio
from psalm_bench.errors import InputError
from psalm_bench.jsonio import JsonArray, load_json, load_json_pieces

native = pytest.importorskip("psalm_bench._native")


def _plain(value):
    """A JsonArray anywhere in a loaded document, as the list it stands for."""
    if isinstance(value, JsonArray):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _outcome(fn, path, arrays=()):
    try:
        return "ok", _plain(fn(path, arrays) if arrays else fn(path))
    except InputError as exc:
        return "error", str(exc)


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.randint(-(2**63), 2**63 - 1)
    if kind == 1:
        return rng.uniform(-1e6, 1e6)
    if kind == 2:
        return "".join(rng.choice(['"', "\\", "]", "}", ",", ":", "[", "{", "a", "é", "\n", "\u2028", " "]) for _ in range(rng.randrange(6)))
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return ""
    if kind in (5, 6):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{i}\\\"": _random_value(rng, depth + 1) for i in range(rng.randrange(4))}


def _spaced(text: bytes, rng: random.Random) -> bytes:
    """The same JSON with blanks added around its structure (outside strings)."""
    out, in_string, escaped = bytearray(), False, False
    for byte in text:
        ch = bytes([byte])
        if in_string:
            out += ch
            if escaped:
                escaped = False
            elif ch == b"\\":
                escaped = True
            elif ch == b'"':
                in_string = False
            continue
        if ch in b",:[]{}":
            out += rng.choice([b"", b" ", b"\n", b"\t\r "])
        out += ch
        if ch == b'"':
            in_string = True
    return rng.choice([b"", b" \n"]) + bytes(out) + rng.choice([b"", b"\n", b"  \r\n"])


def test_random_documents_load_the_same(tmp_path):
    rng = random.Random(7)
    path = tmp_path / "doc.json"
    for trial in range(300):
        if trial % 2:
            doc = [_random_value(rng) for _ in range(rng.randrange(6))]
        else:
            doc = {"annotations": [_random_value(rng) for _ in range(rng.randrange(6))], "info": _random_value(rng), "images": _random_value(rng)}
        path.write_bytes(_spaced(orjson.dumps(doc), rng))
        assert _plain(load_json_pieces(path, ("annotations", "images"))) == load_json(path) == doc, trial


def test_arrays_come_back_lazy(tmp_path):
    path = tmp_path / "gt.json"
    path.write_bytes(b'{"images": [{"id": 1}, {"id": 2}], "annotations": [], "info": {"v": [1]}, "n": 3}')
    got = load_json_pieces(path, ("images", "annotations", "n"))
    assert isinstance(got["images"], JsonArray) and len(got["images"]) == 2 and list(got["images"]) == [{"id": 1}, {"id": 2}]
    assert isinstance(got["annotations"], JsonArray) and list(got["annotations"]) == []
    assert got["info"] == {"v": [1]} and got["n"] == 3  # not named, or not an array: parsed as is
    path.write_bytes(b' [ {"a": "]\\\\"}, "\\\\\\"]" ] ')
    top = load_json_pieces(path)
    assert isinstance(top, JsonArray) and list(top) == [{"a": "]\\"}, '\\"]']


@pytest.mark.parametrize(
    "text",
    [
        b"[1, 2,]",
        b"[1 2]",
        b"[1, 2] x",
        b'{"a": 1,}',
        b'{"a" 1}',
        b'{1: 2}',
        b"[1, [2, 3]",
        b'[{"a": 1]}',
        b'["unterminated]',
        b"[1, tru]",
        b"[01]",
        b'["\xff\xfe"]',  # bad UTF-8 inside an element
        b'{"\xff": 1}',  # ... in a top-level key
        b'["a\x01b"]',  # a raw control character in a string
        b"[" + b"[" * 2000 + b"]" * 2000 + b"]",  # deeper than orjson's 1024 levels
        b'{"annotations": [' + b"[" * 1030 + b"]" * 1030 + b"]}",
        b"",
        b"   ",
        b"\xef\xbb\xbf[1]",  # a BOM: json reads it, as load_json does
        b"[NaN, 1e999, -Infinity]",  # json's values, as load_json
        b'{"annotations": [1, NaN], "images": [2]}',
        b"[18446744073709551616, 1]",  # over 64 bits: json's int
        b'{"annotations": [1], "annotations": [2, 3]}',  # duplicate key: the last, as load_json
        b'{"a\\u0062": [1], "ab": 2}',  # an escaped key is the same key
    ],
)
def test_hostile_and_odd_files_end_the_same(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_bytes(text)
    expected = _outcome(lambda p: load_json(p), path)
    assert _outcome(load_json_pieces, path, ("annotations", "images")) == expected
    assert _outcome(lambda p: load_json_pieces(p), path) == expected


def test_refused_element_mid_array_falls_back_at_that_element(tmp_path):
    path = tmp_path / "gt.json"
    path.write_bytes(b'[{"id": 1}, {"id": NaN}, {"id": 3}]')
    got = load_json_pieces(path)
    assert isinstance(got, JsonArray)
    values = list(got)
    assert values[0] == {"id": 1} and values[2] == {"id": 3} and values[1]["id"] != values[1]["id"]  # NaN
    path.write_bytes(b'[{"id": 1}, {"id": 2,}, {"id": 3}]')
    got = load_json_pieces(path)
    with pytest.raises(InputError) as caught:
        list(got)
    assert str(caught.value) == _outcome(lambda p: load_json(p), path)[1]


def test_json_spans_marks_children():
    data = b' {"a" : [1, "x\\\\"] , "b\\"": {"c": "}"}, "d": -1.5e3}  '
    end, offsets = native.json_spans(data, 0, True)
    spans = array.array("q", offsets)
    pieces = [data[spans[i] : spans[i + 1]] for i in range(0, len(spans), 2)]
    assert end == len(data.rstrip())
    assert pieces == [b'"a"', b'[1, "x\\\\"]', b'"b\\""', b'{"c": "}"}', b'"d"', b"-1.5e3"]
    assert native.json_spans(b"[1] 2", 0, True) is None and native.json_spans(b"[1] 2", 0, False)[0] == 3
    assert native.json_spans(b"[1]", 5, True) is None and native.json_spans(b"1", 0, True) is None


def test_iterating_never_holds_the_whole_tree(tmp_path, monkeypatch):
    """A loader that keeps a small record per element peaks at one element's
    objects, not the document's (load_json: every element at once)."""
    path = tmp_path / "big.json"
    data = orjson.dumps([{"id": k, "poly": [float(k + j) for j in range(200)]} for k in range(2000)])
    # the file read before tracing: its bounded read reserves (untouched) pages of the limit's size
    monkeypatch.setattr(jsonio, "read_regular_file", lambda p, what: data)

    def peak(loader) -> int:
        tracemalloc.start()
        kept = [record["id"] for record in loader(path)]
        peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert kept == list(range(2000))
        return peak_bytes

    whole, pieces = peak(load_json), peak(load_json_pieces)
    assert pieces * 10 < whole, (pieces, whole)


def test_element_parsed_again_by_index(tmp_path):
    path = tmp_path / "gt.json"
    path.write_bytes(b'{"annotations": [{"image_id": 1}, {"image_id": 2, "x": NaN}]}')
    got = load_json_pieces(path, ("annotations",))["annotations"]
    assert got[0] == {"image_id": 1} and got[1]["image_id"] == 2  # the NaN one through json, as load_json
    with pytest.raises(IndexError):
        got[2]
