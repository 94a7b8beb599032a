"""COCO-Interactive builder: prompts, output format, determinism, resume, bad input."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_api
from scipy.ndimage import gaussian_filter

from psalm_bench.errors import InputError
from psalm_bench.generators import interactive as gi
from psalm_bench.generators.coco_workload import write_workload

REPO = Path(__file__).resolve().parents[1]
H, W = 120, 160


# ------------------------------------------------------------------ fixtures


def _rle(mask: np.ndarray) -> dict:
    rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def _disk(cy: float, cx: float, r: float, h: int = H, w: int = W) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)


def _ann(ann_id: int, image_id: int, segmentation, iscrowd: int = 0) -> dict:
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "segmentation": segmentation,
            "area": 1.0, "bbox": [0.0, 0.0, 1.0, 1.0], "iscrowd": iscrowd}


def _small_world() -> dict:
    """Four images of 120 x 160: good annotations of every kind, and bad ones."""
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "height": H, "width": W, "license": 1} for i in (11, 12, 13, 14)]
    two = _disk(30, 40, 12) | _disk(90, 120, 15)
    two[5:7, 150] = 1                        # a 2-px third component: no prompt of its own (released)
    specks = np.zeros((H, W), np.uint8)
    specks[50:52, 50:52] = 1                 # only components of <= 5 px
    specks[70:72, 20:22] = 1
    crowd = (_disk(60, 80, 25) ^ _disk(60, 80, 12)).astype(np.uint8)
    crowd_rle = mask_api.encode(np.asfortranarray(crowd))
    uncompressed = {"size": [H, W], "counts": _counts_list(crowd)}
    anns = [
        _ann(1, 11, [[20.5, 10.2, 70.3, 14.8, 60.1, 50.7, 25.4, 44.9]]),                  # polygon
        _ann(2, 11, [[0.0, 80.0, 30.0, 80.0, 30.0, 119.9, 0.0, 119.9], [100, 100, 110, 100, 105, 110]]),  # border + 2 polygons
        _ann(3, 11, _rle(two)),                                                            # compressed RLE
        _ann(4, 11, uncompressed, iscrowd=1),                                              # uncompressed RLE
        _ann(5, 12, _rle(_disk(60, 80, 40))),
        _ann(6, 12, _rle(specks)),
        _ann(7, 12, [[150.0, 0.0, 159.9, 0.0, 159.9, 119.9, 150.0, 119.9]]),              # a thin strip at the right border
        # bad ones
        _ann(20, 12, [[10, 10, 20, 20]]),                                                   # polygon of 2 points
        _ann(21, 12, {"size": [H + 1, W], "counts": crowd_rle["counts"].decode()}),         # RLE of another size
        _ann(22, 12, [[10, 10, 20, 20, 30, 30]]),                                           # zero area
        _ann(23, 99, [[10, 10, 20, 10, 20, 20]]),                                           # unknown image
        _ann(5, 12, [[10, 10, 20, 10, 20, 20]]),                                            # duplicate id
        {"id": 24, "image_id": 12, "category_id": 1},                                       # no segmentation
        _ann(25, 14, {"size": [H, W], "counts": [10, 5]}),                                  # counts do not cover the image
        _ann(26, 12, [[10, 10, 1e9, 10, 20, 20]]),                                          # a vertex far away
        _ann(27, 12, [[10, 10, float("nan"), 10, 20, 20]]),                                 # NaN
        "not an annotation",
    ]
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "thing"}]}


def _counts_list(mask: np.ndarray) -> list[int]:
    flat = mask.flatten(order="F")
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flat, [0]))))
    bounds = np.concatenate(([0], edges, [flat.size]))
    counts = np.diff(bounds).tolist()
    return counts if counts[-1] else counts[:-1]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("small") / "instances.json"
    path.write_text(json.dumps(_small_world()))
    return path


@pytest.fixture(scope="module")
def workload(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("workload")
    paths = write_workload(root, n_images=8, n_panoptic=0, seed=5, height=H, width=W, gt_per_image=5,
                           dets_per_image=1, progress=False)
    return paths.instances_gt


def _instances(path: Path):
    data = json.loads(path.read_text())
    images = {img["id"]: img for img in data["images"]}
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or ann.get("image_id") not in images or "segmentation" not in ann:
            continue
        img = images[ann["image_id"]]
        try:
            crop = gi.instance_mask(ann["segmentation"], img["height"], img["width"])
        except gi._Skip:
            continue
        yield ann, img["height"], img["width"], crop


def _decode(rle: dict) -> np.ndarray:
    return mask_api.decode({"size": rle["size"], "counts": rle["counts"].encode()})


# ----------------------------------------------------------------- decoding


def test_masks_decode_and_encode_like_pycocotools(small, workload):
    from psalm_bench.masks import to_rle

    n = 0
    for path in (small, workload):
        for ann, h, w, crop in _instances(path):
            expected = mask_api.decode(to_rle(ann["segmentation"], h, w))
            assert np.array_equal(crop.full(h, w), expected)
            assert gi.encode_crop(crop, h, w)["counts"] == mask_api.encode(np.asfortranarray(expected))["counts"].decode()
            n += 1
    assert n > 20


def test_bresenham_is_skimage_line():
    draw = pytest.importorskip("skimage.draw")
    rng = np.random.default_rng(0)
    for r0, c0, r1, c1 in rng.integers(-3, 40, (500, 4)).tolist():
        ours, theirs = gi.bresenham(r0, c0, r1, c1), draw.line(r0, c0, r1, c1)
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])


# ----------------------------------------------------------------- prompts


@pytest.mark.parametrize("mode", gi.MODES)
def test_point_inside_object_and_disk(workload, small, mode):
    for path in (workload, small):
        for ann, h, w, crop in _instances(path):
            p = gi.make_prompts(crop, h, w, seed=3, ann_id=ann["id"], mode=mode)
            full = crop.full(h, w)
            stored = p.point.full(h, w)
            expected = np.zeros((h, w), np.uint8)
            for comp, point in zip(p.components, p.points):
                if point is None:
                    assert mode == "released"
                    continue
                assert full[point.row, point.col] == 1
                r0, c0, r1, c1 = comp.bbox
                assert point.radius == min(r1 - r0, c1 - c0) / 2
                dist = math.hypot(point.row - comp.centroid[0], point.col - comp.centroid[1])
                if point.tries:  # a sampled point (paper mode falls back to the nearest object pixel)
                    assert dist <= point.radius + math.sqrt(2)
                if mode == "released":
                    assert r0 <= point.row < r1 and c0 <= point.col < c1
                    expected[point.row, point.col] = 1
                else:
                    cv2.circle(expected, (point.col, point.row), gi.POINT_DISK, 1, -1)
            assert np.array_equal(stored, expected)


@pytest.mark.parametrize("mode", gi.MODES)
def test_box_scale_in_range(workload, mode):
    for ann, h, w, crop in _instances(workload):
        p = gi.make_prompts(crop, h, w, seed=3, ann_id=ann["id"], mode=mode)
        expected = np.zeros((h, w), np.uint8)
        for comp, box in zip(p.components, p.boxes):
            assert 0.9 <= box.scale <= 1.1
            r0, c0, r1, c1 = box.true_box
            assert box.true_box == comp.bbox
            dh, dw = (r1 - r0) * (box.scale - 1), (c1 - c0) * (box.scale - 1)
            assert box.box == (max(0, int(r0 - dh / 2)), max(0, int(c0 - dw / 2)), min(h, int(r1 + dh / 2)), min(w, int(c1 + dw / 2)))
            expected[box.box[0]:box.box[2], box.box[1]:box.box[3]] = 1
        assert np.array_equal(p.box.full(h, w), expected)
        assert np.array_equal(_decode(p.rle("box")), expected)


@pytest.mark.parametrize("mode", gi.MODES)
def test_scribble_parameters_in_range(workload, small, mode):
    seen = 0
    for path in (workload, small):
        for ann, h, w, crop in _instances(path):
            p = gi.make_prompts(crop, h, w, seed=11, ann_id=ann["id"], mode=mode)
            expected = np.zeros((h, w), np.uint8)
            for comp, s in zip(p.components, p.scribbles):
                if s is None:
                    continue
                seen += 1
                assert 0.5 <= s.h_factor <= 1.2 and 0.5 <= s.w_factor <= 1.2
                assert 10 <= s.amplitude <= 20 and 0.2 <= s.frequency <= 1 and 0 <= s.phase <= 2 * np.pi
                assert s.iou == gi.box_iou(s.box, comp.bbox)
                assert s.iou >= 0.5 if mode == "released" else s.iou > 0.5
                (cr, cc), (r0, c0, r1, c1) = comp.centroid, comp.bbox
                nh, nw = (r1 - r0) * s.h_factor, (c1 - c0) * s.w_factor
                assert s.box == (max(int(cr - nh / 2), 0), max(int(cc - nw / 2), 0), min(int(cr + nh / 2), h), min(int(cc + nw / 2), w))
                corners = {(s.box[0], s.box[1]), (s.box[0], s.box[3]), (s.box[2], s.box[1]), (s.box[2], s.box[3])}
                assert s.start in corners and s.end == (s.box[0] + s.box[2] - s.start[0], s.box[1] + s.box[3] - s.start[1])
                rows, cols = gi.scribble_curve(s)
                if mode == "released":
                    expected[np.clip(rows, 0, h - 1).astype(np.int32), np.clip(cols, 0, w - 1).astype(np.int32)] = 1
                else:  # the curve is drawn 5 px wide: every curve point inside the image is covered
                    ri, ci = np.rint(rows).astype(int), np.rint(cols).astype(int)
                    inside = (ri >= 0) & (ri < h) & (ci >= 0) & (ci < w)
                    assert p.scribble.full(h, w)[ri[inside], ci[inside]].all()
            if mode == "released":
                assert np.array_equal(p.scribble.full(h, w), expected)
    assert seen > 20


@pytest.mark.parametrize("mode", gi.MODES)
def test_mask_prompt_is_thresholded_gaussian(workload, small, mode):
    for path in (workload, small):
        for ann, h, w, crop in _instances(path):
            p = gi.make_prompts(crop, h, w, seed=0, ann_id=ann["id"], mode=mode)
            blurred = gaussian_filter(crop.full(h, w).astype(float), sigma=2)
            threshold = blurred.mean() if mode == "released" else 0.5
            assert p.mask_threshold == pytest.approx(threshold, rel=1e-12)
            assert np.array_equal(p.mask.full(h, w), (blurred > threshold).astype(np.uint8))
            assert np.array_equal(_decode(p.rle("mask")), (blurred > threshold).astype(np.uint8))


def test_mask_prompt_on_an_image_smaller_than_the_kernel():
    m = np.zeros((9, 12), np.uint8)
    m[2:6, 3:10] = 1
    crop = gi.Crop(0, 0, m)
    for mode in gi.MODES:
        p = gi.make_prompts(crop, 9, 12, seed=0, ann_id=1, mode=mode)
        blurred = gaussian_filter(m.astype(float), sigma=2)
        threshold = blurred.mean() if mode == "released" else 0.5
        assert np.array_equal(p.mask.full(9, 12), (blurred > threshold).astype(np.uint8))


def test_components_released_and_paper(small):
    data = json.loads(small.read_text())
    by_id = {a["id"]: a for a in data["annotations"] if isinstance(a, dict) and a.get("image_id") == 11}
    crop = gi.instance_mask(by_id[3]["segmentation"], H, W)
    released = gi.make_prompts(crop, H, W, seed=0, ann_id=3)
    assert [c.index for c in released.components] == [0, 1]           # the 2-px part gets no prompt
    assert released.components[0].bbox[0] < released.components[1].bbox[0]  # raster order
    assert released.point.area == 2 and released.scribble.area > 0
    paper = gi.make_prompts(crop, H, W, seed=0, ann_id=3, mode="paper")
    assert len(paper.components) == 1 and paper.components[0].area == crop.area
    specks = gi.instance_mask(_small_world()["annotations"][5]["segmentation"], H, W)
    empty = gi.make_prompts(specks, H, W, seed=0, ann_id=6)
    assert empty.components == () and empty.is_empty("point") and empty.is_empty("box") and empty.is_empty("scribble")
    assert not empty.is_empty("mask")


def test_same_prompts_as_the_reference_implementation(workload, small):
    pytest.importorskip("skimage")
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from reference_interactive import reference_prompts
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    n = 0
    for path in (workload, small):
        for ann, h, w, crop in _instances(path):
            ours = gi.make_prompts(crop, h, w, seed=9, ann_id=ann["id"])
            theirs = reference_prompts(crop.full(h, w), 9, ann["id"])
            for name in gi.PROMPTS:
                assert np.array_equal(_decode(ours.rle(name)), theirs[name]), (ann["id"], name)
            n += 1
    assert n > 20


def test_prompts_depend_on_seed_and_annotation_only(workload):
    ann, h, w, crop = next((a, h, w, c) for a, h, w, c in _instances(workload)
                           if c.area > 100 and c.x0 > 2 and c.y0 > 2 and c.x0 + c.m.shape[1] < w - 2 and c.y0 + c.m.shape[0] < h - 2)
    a = gi.make_prompts(crop, h, w, seed=1, ann_id=ann["id"])
    looser = gi.Crop(crop.x0 - 2, crop.y0 - 1, np.pad(crop.m, ((1, 2), (2, 1))))  # the same mask in a larger crop
    b = gi.make_prompts(looser, h, w, seed=1, ann_id=ann["id"])
    c = gi.make_prompts(crop, h, w, seed=2, ann_id=ann["id"])
    assert all(a.rle(p) == b.rle(p) for p in gi.PROMPTS)
    assert (a.points, a.boxes, a.scribbles) == (b.points, b.boxes, b.scribbles)
    assert (a.boxes, a.scribbles) != (c.boxes, c.scribbles)


# ------------------------------------------------------------------ building


def test_output_matches_formats_md(small, tmp_path):
    out = tmp_path / "coco_interactive.json"
    summary = gi.build_interactive(small, out, progress=False)
    records = json.loads(out.read_text())
    source = json.loads(small.read_text())
    images = {img["id"]: img for img in source["images"]}
    assert [r["new_img_id"] for r in records] == list(range(len(records)))
    assert [r["image_info"]["id"] for r in records] == [11, 12]  # 13 has no annotation, 14 only a bad one
    for record in records:
        assert set(record) == {"image", "image_info", "new_img_id", "anns"}
        assert record["image_info"] == images[record["image_info"]["id"]]
        assert record["image"] == record["image_info"]["file_name"]
        for ann in record["anns"]:
            original = next(a for a in source["annotations"] if isinstance(a, dict) and a.get("id") == ann["id"])
            assert {k: ann[k] for k in original} == original
            assert list(ann)[-4:] == list(gi.PROMPT_KEYS)
            for key in gi.PROMPT_KEYS:
                assert isinstance(ann[key]["counts"], str) and ann[key]["size"] == [H, W]
                assert _decode(ann[key]).shape == (H, W)
    assert [a["id"] for r in records for a in r["anns"]] == [1, 2, 3, 4, 5, 6, 7]
    assert summary.images == 2 and summary.instances == 7
    assert summary.empty_prompts["point"] == summary.empty_prompts["box"] == 1  # ann 6: only specks


def test_bad_annotations_are_skipped_and_counted(small, tmp_path):
    summary = gi.build_interactive(small, tmp_path / "out.json", progress=False)
    assert summary.skipped == {"unknown_image": 1, "bad_polygon": 3, "rle_size_mismatch": 1, "bad_rle": 1,
                               "zero_area": 1, "duplicate_id": 1, "malformed": 2, "bad_area": 0, "bad_bbox": 0}
    assert summary.images_without_instances == 2  # 13: no annotation; 14: its only annotation is bad
    assert any("skipped 10 annotations" in line for line in summary.lines())


@pytest.mark.parametrize("content, problem", [
    (b"{not json", "not valid JSON"),
    (b'{"annotations": []}', "missing 'images'"),
    (b'{"images": []}', "missing 'annotations'"),
    (b"[]", "expected a COCO instances object"),
    (b'{"images": [{"id": 1}], "annotations": []}', "height must be an integer"),
])
def test_bad_input_is_an_input_error(tmp_path, content, problem):
    path = tmp_path / "instances.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=problem) as info:
        gi.build_interactive(path, tmp_path / "out.json", progress=False)
    assert str(path) in str(info.value)
    assert not (tmp_path / "out.json").exists()


def test_same_bytes_for_any_worker_count(workload, tmp_path):
    one = gi.build_interactive(workload, tmp_path / "one.json", seed=4, workers=1, progress=False)
    two = gi.build_interactive(workload, tmp_path / "two.json", seed=4, workers=2, progress=False)
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    assert (one.images, one.instances, one.skipped) == (two.images, two.instances, two.skipped)
    gi.build_interactive(workload, tmp_path / "seed5.json", seed=5, progress=False)
    assert (tmp_path / "seed5.json").read_bytes() != (tmp_path / "one.json").read_bytes()


def test_resume_after_an_interruption_gives_the_same_bytes(workload, small, tmp_path, monkeypatch):
    for source in (workload, small):
        full = tmp_path / f"full_{source.stem}.json"
        expected = gi.build_interactive(source, full, seed=2, progress=False)
        out = tmp_path / f"resumed_{source.stem}.json"
        calls = {"n": 0}
        real = gi._checkpoint

        def interrupt(progress, state, real=real, calls=calls):
            real(progress, state)
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt

        monkeypatch.setattr(gi, "_checkpoint", interrupt)
        with pytest.raises(KeyboardInterrupt):
            gi.build_interactive(source, out, seed=2, progress=False)
        monkeypatch.setattr(gi, "_checkpoint", real)
        partial, progress = gi._sidecars(out)
        assert partial.exists() and progress.exists() and not out.exists()
        with open(partial, "ab") as handle:  # a record cut short after the last checkpoint
            handle.write(b',\n{"image": "half a rec')
        resumed = gi.build_interactive(source, out, seed=2, resume=True, progress=False,
                                       workers=2 if source == workload else 1)
        assert resumed.resumed_at > 0
        assert out.read_bytes() == full.read_bytes()
        assert (resumed.images, resumed.instances, resumed.skipped, resumed.empty_prompts) == \
            (expected.images, expected.instances, expected.skipped, expected.empty_prompts)
        assert not partial.exists() and not progress.exists()


def test_resume_with_other_options_is_refused(workload, tmp_path, monkeypatch):
    out = tmp_path / "out.json"
    real = gi._checkpoint

    def interrupt(progress, state):
        real(progress, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(gi, "_checkpoint", interrupt)
    with pytest.raises(KeyboardInterrupt):
        gi.build_interactive(workload, out, seed=2, progress=False)
    monkeypatch.undo()
    with pytest.raises(InputError, match="another input, seed or mode"):
        gi.build_interactive(workload, out, seed=3, resume=True, progress=False)
    gi.build_interactive(workload, out, seed=3, progress=False)  # without --resume: starts over
    assert json.loads(out.read_text())


def test_paper_mode_differs_from_released(workload, tmp_path):
    gi.build_interactive(workload, tmp_path / "released.json", progress=False)
    gi.build_interactive(workload, tmp_path / "paper.json", mode="paper", progress=False)
    released = json.loads((tmp_path / "released.json").read_text())
    paper = json.loads((tmp_path / "paper.json").read_text())
    r_ann, p_ann = released[0]["anns"][0], paper[0]["anns"][0]
    assert _decode(p_ann["point_visual_prompt_mask"]).sum() > _decode(r_ann["point_visual_prompt_mask"]).sum()
    assert _decode(p_ann["mask_visual_prompt_mask"]).sum() < _decode(r_ann["mask_visual_prompt_mask"]).sum()


def test_hugging_face_format(workload, tmp_path):
    datasets = pytest.importorskip("datasets")
    gi.build_interactive(workload, tmp_path / "ref.json", seed=1, progress=False)
    out = tmp_path / "hf"
    summary = gi.build_interactive(workload, out, seed=1, format="hf", progress=False)
    ds = datasets.load_from_disk(str(out))
    records = json.loads((tmp_path / "ref.json").read_text())
    assert len(ds) == len(records) == summary.images
    for record, row in zip(records, ds):
        assert row["image"] == record["image"] and row["new_img_id"] == record["new_img_id"]
        assert json.loads(row["image_info"]) == record["image_info"]
        for ann, hf_ann in zip(record["anns"], row["anns"]):
            assert hf_ann["id"] == ann["id"] and json.loads(hf_ann["segmentation"]) == ann["segmentation"]
            assert all(hf_ann[k] == ann[k] for k in gi.PROMPT_KEYS)
    card = (out / "README.md").read_text()
    assert "COCO-Interactive" in card and "seed: 1" in card
    gi.build_interactive(workload, out, seed=1, format="hf", progress=False)  # overwrites its own folder
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a datasets folder"):
        gi.build_interactive(workload, tmp_path / "other", format="hf", progress=False)


def test_previews(small, tmp_path):
    source = tmp_path / "instances.json"
    source.write_text(small.read_text())
    image = np.full((H, W, 3), (40, 120, 200), np.uint8)
    cv2.imwrite(str(tmp_path / "000000000011.jpg"), image)  # image 12 has no file: grey canvas
    summary = gi.build_interactive(source, tmp_path / "out.json", preview=5, progress=False)
    assert [p.name for p in summary.previews] == ["000000_000000000011.png", "000001_000000000012.png"]
    assert summary.previews[0].parent == tmp_path / "out_preview"
    sheets = [cv2.imread(str(p)) for p in summary.previews]
    assert all(s is not None and s.shape[0] > 2 * H and s.shape[1] > 2 * W for s in sheets)
    assert sheets[0].mean() != sheets[1].mean()  # the image shows through on the first one


def test_built_file_is_scored_by_the_interactive_evaluator(tmp_path):
    """The builder's output is the evaluator's ground truth: predicting each
    instance's own mask scores 100, its mask prompt somewhat less."""
    import json

    from psalm_bench import evaluate
    from psalm_bench.generators.interactive import build_interactive
    from psalm_bench.masks import to_rle

    instances = Path(__file__).resolve().parents[1] / "psalm_bench" / "examples" / "instance" / "gt.json"
    out = tmp_path / "interactive.json"
    build_interactive(instances, out, seed=3, progress=False)
    records = json.loads(out.read_text())
    lines = []
    for record in records:
        info = record["image_info"]
        for ann in record["anns"]:
            exact = to_rle(ann["segmentation"], info["height"], info["width"])
            exact = {"size": exact["size"], "counts": exact["counts"].decode()}
            lines.append({"image_id": info["id"], "ann_id": ann["id"], "prompt": "box", "segmentation": exact})
            lines.append({"image_id": info["id"], "ann_id": ann["id"], "prompt": "mask", "segmentation": ann["mask_visual_prompt_mask"]})
    pred = tmp_path / "pred.jsonl"
    pred.write_text("\n".join(json.dumps(line) for line in lines))
    result = evaluate("interactive", out, pred, progress=False)
    assert result.metrics["box_mIoU"] == 100.0 and result.metrics["box_cIoU"] == 100.0
    assert 0 < result.metrics["mask_mIoU"] < 100.0


def test_iter_records_reads_any_json_layout(tmp_path):
    """build-interactive's line-per-record file streams line by line; PSALM's one-line
    file and an indented one (which predict --task interactive met as a traceback) give
    the same records; a file that is no list of records is one InputError."""
    examples = Path(__file__).resolve().parents[1] / "psalm_bench" / "examples" / "instance" / "gt.json"
    built = tmp_path / "ci.json"
    gi.build_interactive(examples, built, seed=0, progress=False)
    streamed = list(gi.iter_records(built))
    assert len(streamed) == 8 and streamed == json.loads(built.read_text())
    for name, text in (("one-line", json.dumps(streamed)), ("indented", json.dumps(streamed, indent=2)),
                       ("crlf", built.read_text().replace("\n", "\r\n"))):
        (tmp_path / f"{name}.json").write_bytes(text.encode())
        assert list(gi.iter_records(tmp_path / f"{name}.json")) == streamed, name
    (tmp_path / "object.json").write_text(json.dumps({"images": streamed}))
    with pytest.raises(InputError, match="must be a JSON list of image records"):
        list(gi.iter_records(tmp_path / "object.json"))
