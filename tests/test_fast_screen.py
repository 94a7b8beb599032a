"""The instance results screen: the one-pass C check of every counts string
(`_native.rle_scan_check`) gives the verdicts of the regex + first_bad_counts
path it replaces, on good files and on every kind of bad string."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from pycocotools import mask as mask_api

from psalm_bench.formats.coco import _counts_strings_exact, _scan_ids_and_sizes

native = pytest.importorskip("psalm_bench._native")


def _results(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        mask = (rng.random((h, w)) < rng.uniform(0.05, 0.95)).astype(np.uint8)
        counts = mask_api.encode(np.asfortranarray(mask))["counts"].decode("ascii")
        out.append({"image_id": k, "category_id": 1, "segmentation": {"size": [h, w], "counts": counts}, "score": 0.5})
    return out


def _verdicts(text: str, n: int) -> tuple[bool, bool]:
    data = text.encode()
    scanned = _scan_ids_and_sizes(data)
    if scanned is None:
        return False, False
    sizes = scanned[1]
    return (_counts_strings_exact(data, sizes, n, use_native=True),
            _counts_strings_exact(data, sizes, n, use_native=False))


def test_good_files_pass_both_ways_and_hold_escapes() -> None:
    records = _results(300, 0)
    text = json.dumps(records)
    assert "\\\\" in text  # backslash is in the RLE alphabet: JSON escapes it
    assert _verdicts(text, 300) == (True, True)
    assert _verdicts(json.dumps(records, indent=2), 300) == (True, True)


@pytest.mark.parametrize("bad", ["", "0", "0@", "00000000", "0;\\\\", "abc\u00e9", "1ooooooo0", "0\"x"])
def test_one_bad_string_fails_both_ways(bad: str) -> None:
    records = _results(20, 1)
    records[7]["segmentation"]["counts"] = bad
    assert _verdicts(json.dumps(records), 20) == (False, False)


def test_list_counts_wrong_sizes_and_other_escapes_go_to_the_full_validator() -> None:
    records = _results(20, 2)
    listed = json.loads(json.dumps(records))
    listed[3]["segmentation"]["counts"] = [1, 2, 3]
    assert _verdicts(json.dumps(listed), 20) == (False, False)
    resized = json.loads(json.dumps(records))
    h, w = resized[5]["segmentation"]["size"]
    resized[5]["segmentation"]["size"] = [h + 1, w]
    assert _verdicts(json.dumps(resized), 20) == (False, False)
    text = json.dumps(records)
    first = text.index('"counts": "') + len('"counts": "')
    assert _verdicts(text[:first] + "\\u0030" + text[first + 1:], 20)[0] is False  # an escape COCO never writes
    assert _verdicts(text, 19) == (False, False)  # a count that does not match the engine's


def test_random_corruptions_agree() -> None:
    """Flip, drop or insert characters of counts strings: both paths agree on each file."""
    rnd = random.Random(3)
    alphabet = [chr(c) for c in range(40, 120)] + ["\\\\"]
    disagreements, bad_seen = [], 0
    for trial in range(150):
        records = _results(6, 100 + trial)
        k = rnd.randrange(6)
        counts = records[k]["segmentation"]["counts"]
        i = rnd.randrange(len(counts) + 1)
        op = rnd.choice(["flip", "drop", "insert"])
        if op == "flip" and counts:
            i = min(i, len(counts) - 1)
            counts = counts[:i] + rnd.choice(alphabet) + counts[i + 1:]
        elif op == "drop" and counts:
            counts = counts[:i] + counts[i + 1:]
        else:
            counts = counts[:i] + rnd.choice(alphabet) + counts[i:]
        records[k]["segmentation"]["counts"] = counts
        got = _verdicts(json.dumps(records), 6)
        bad_seen += not got[1]
        if got[0] != got[1]:
            disagreements.append((trial, op, counts, got))
    assert disagreements == []
    assert bad_seen > 50  # the corruptions do make bad files


def test_scan_reports_the_first_bad_index_and_code() -> None:
    records = _results(5, 4)
    records[2]["segmentation"]["counts"] = "0"  # pixels > 0 but the runs sum to 0
    sizes = np.array([r["segmentation"]["size"] for r in records], np.int64)
    n, index, code, _ = native.rle_scan_check(json.dumps(records).encode(), sizes.tobytes())
    assert (n, index, code) == (5, 2, 6)
    assert native.rle_scan_check(b'{"counts": [1, 2]}', sizes.tobytes())[0] == -1
    assert native.rle_scan_check(json.dumps(records).encode(), sizes[:4].tobytes())[0] == -1  # more strings than sizes


def test_run_sweep_intersection_union_equals_pycocotools() -> None:
    """masks.intersection_union's C sweep vs pycocotools merge + area, on random
    masks (empty, full, thin, noisy) and on strings with escapes and 2-char runs."""
    from psalm_bench.masks import intersection_union

    rng = np.random.default_rng(5)
    checked = 0
    for trial in range(300):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        masks = []
        for _ in range(2):
            kind = rng.integers(5)
            if kind == 0:
                m = np.zeros((h, w), np.uint8)
            elif kind == 1:
                m = np.ones((h, w), np.uint8)
            else:
                m = (rng.random((h, w)) < rng.uniform(0.01, 0.99)).astype(np.uint8)
            masks.append(mask_api.encode(np.asfortranarray(m)))
        a, b = masks
        fast = intersection_union(a, b)
        slow = intersection_union(a, b, use_native=False)
        assert fast == slow, (trial, fast, slow)
        as_str = {"size": a["size"], "counts": a["counts"].decode("ascii")}
        assert intersection_union(as_str, b) == slow
        checked += 1
    assert checked == 300
    big = np.zeros((480, 640), np.uint8)
    big[10:400, 20:600] = 1  # runs longer than 2**15: multi-group numbers
    other = np.roll(big, 17, axis=1)
    a, b = (mask_api.encode(np.asfortranarray(m)) for m in (big, other))
    assert intersection_union(a, b) == intersection_union(a, b, use_native=False)
    assert native.rle_inter_union(a["counts"], b"0") is None  # different pixel totals: pycocotools decides
