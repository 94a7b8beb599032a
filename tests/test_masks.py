import numpy as np
import pytest
from pycocotools import mask as mask_api

from psalm_bench.masks import MaskFormatError, area, decode, encode, to_rle


def test_polygon_uncompressed_and_compressed_agree() -> None:
    polygon = [[2.0, 2.0, 12.0, 2.0, 12.0, 9.0, 2.0, 9.0]]
    from_polygon = to_rle(polygon, 20, 30)
    mask = decode(from_polygon)
    compressed = encode(mask)
    assert isinstance(compressed["counts"], str)
    assert np.array_equal(decode(to_rle(compressed, 20, 30)), mask)
    uncompressed = {"size": [20, 30], "counts": _uncompressed_counts(mask)}
    assert np.array_equal(decode(to_rle(uncompressed, 20, 30)), mask)
    assert area(from_polygon) == int(mask.sum())


def _uncompressed_counts(mask: np.ndarray) -> list[int]:
    flat = mask.flatten(order="F")
    counts, current, run = [], 0, 0
    for value in flat:
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    counts.append(run)
    return counts


def test_multiple_polygons_merge_like_pycocotools() -> None:
    polygons = [[0, 0, 5, 0, 5, 5, 0, 5], [10, 10, 15, 10, 15, 15, 10, 15]]
    ours = decode(to_rle(polygons, 20, 20))
    theirs = mask_api.decode(mask_api.merge(mask_api.frPyObjects(polygons, 20, 20)))
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize(
    "segmentation, message",
    [
        ({"size": [10, 10], "counts": "abc"}, "differs from image size"),
        ([[1, 2, 3]], "even number"),
        ({"size": [20, 30], "counts": [5, 5]}, "sum to 10"),
        ({"counts": "x"}, "polygon list or an RLE"),
        ({"size": [20, 30], "counts": "é"}, "non-ASCII"),
        ([], "empty polygon"),
    ],
)
def test_malformed_segmentations(segmentation, message) -> None:
    with pytest.raises(MaskFormatError, match=message):
        to_rle(segmentation, 20, 30)


def test_intersection_union_on_runs_equals_decoded_counts() -> None:
    from psalm_bench.masks import intersection_union

    rng = np.random.default_rng(0)
    for _ in range(20):
        a = (rng.random((31, 47)) < 0.3).astype(np.uint8)
        b = (rng.random((31, 47)) < 0.5).astype(np.uint8)
        inter, union = intersection_union(encode(a), encode(b))
        assert inter == int((a & b).sum()) and union == int((a | b).sum())
    empty = encode(np.zeros((5, 6), dtype=np.uint8))
    assert intersection_union(empty, empty) == (0, 0)


def test_jsonl_errors_name_the_line(tmp_path) -> None:
    from psalm_bench import InputError
    from psalm_bench.formats.jsonl import read_jsonl

    path = tmp_path / "p.jsonl"
    path.write_text('{"sent_id": 1}\n\n{"sent_id": 2,\n')
    reader = read_jsonl(path)
    assert next(reader) == (1, {"sent_id": 1})
    with pytest.raises(InputError, match=r"p\.jsonl: line 3: not valid JSON"):
        next(reader)
    path.write_text("[1, 2]\n")
    with pytest.raises(InputError, match="line 1: each line must be a JSON object"):
        list(read_jsonl(path))
