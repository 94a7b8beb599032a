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
        ([], "empty polygon"),
    ],
)
def test_malformed_segmentations(segmentation, message) -> None:
    with pytest.raises(MaskFormatError, match=message):
        to_rle(segmentation, 20, 30)
