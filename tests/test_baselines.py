"""The non-learned baselines: the prompt-as-mask conversions and their scores, the first-frame VOS
baseline, and the MUSE/GCG whole-image ones read through the formats eval reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from psalm_bench import masks
from psalm_bench.generators.baselines import PROMPTS, baseline_mask, point_disk, scribble_hull, write_prompt_baseline
from psalm_bench.generators.interactive import build_interactive
from psalm_bench.tasks import get_task

EXAMPLES = Path(__file__).resolve().parents[1] / "psalm_bench" / "examples"


def test_point_disk_is_a_radius_10_disk():
    prompt = np.zeros((64, 64), bool)
    prompt[30, 20] = True
    disk = point_disk(prompt)
    rows, cols = np.nonzero(disk)
    assert disk[30, 20] and disk[30, 30] and disk[20, 20] and not disk[30, 31] and not disk[19, 20]
    assert np.all((rows - 30) ** 2 + (cols - 20) ** 2 <= 10 ** 2 + 10)  # cv2's disk: within half a pixel
    assert abs(disk.sum() - np.pi * 100) < 0.1 * np.pi * 100


def test_scribble_hull_is_convex_and_covers_the_scribble():
    prompt = np.zeros((40, 40), bool)
    prompt[5, 5] = prompt[5, 30] = prompt[30, 5] = prompt[20, 20] = True
    hull = scribble_hull(prompt)
    assert hull[prompt].all()
    assert hull[10, 10] and not hull[30, 30]
    assert not scribble_hull(np.zeros((8, 8), bool)).any()


def test_box_and_mask_prompts_pass_through():
    rle = masks.encode(np.eye(8, dtype=np.uint8))
    assert baseline_mask("box", rle) is rle and baseline_mask("mask", rle) is rle


def test_baseline_file_scores_every_prompt(tmp_path):
    built = tmp_path / "interactive.json"
    build_interactive(EXAMPLES / "instance" / "gt.json", built, seed=0, progress=False)
    pred = write_prompt_baseline(built, tmp_path / "baseline.jsonl")
    lines = [json.loads(line) for line in pred.read_text().splitlines()]
    n_anns = sum(len(r["anns"]) for r in json.loads(built.read_text()))
    assert len(lines) == 4 * n_anns and {l["prompt"] for l in lines} == set(PROMPTS)
    result = get_task("interactive").run(built, pred, progress=False)
    m = result.metrics
    # a filled box covers its object better than a disk around one point
    assert 0 < m["point_mIoU"] < m["box_mIoU"] < 100
    assert 0 < m["scribble_mIoU"] < 100 and 0 < m["mask_mIoU"] < 100


def test_first_frame_baseline_scores_its_first_frames_perfectly(tmp_path):
    from PIL import Image

    from psalm_bench.generators.baselines import write_first_frame_baseline

    root = tmp_path / "davis"
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("seq\n")
    ann = root / "Annotations" / "480p" / "seq"
    ann.mkdir(parents=True)
    for t in range(5):  # one square moving right by 4 px per frame
        frame = np.zeros((48, 64), np.uint8)
        frame[10:30, 5 + 4 * t:25 + 4 * t] = 1
        Image.fromarray(frame, mode="L").convert("P").save(ann / f"{t:05d}.png")
    pred = write_first_frame_baseline(root, tmp_path / "pred")
    assert sorted(p.name for p in (pred / "seq").iterdir()) == [f"{t:05d}.png" for t in range(5)]
    m = get_task("vos").run(root, pred).metrics
    assert 0 < m["J"] < 100  # the object moved away from where the copy holds it


# ---------------------------------------------------------------- MUSE and GCG whole-image baselines

H, W = 6, 10


def _whole(h: int = H, w: int = W) -> dict:
    rle = masks.encode(np.ones((h, w), np.uint8))
    return {"size": [h, w], "counts": rle["counts"].decode() if isinstance(rle["counts"], bytes) else rle["counts"]}


def test_muse_whole_image_baseline_reads_both_layouts(tmp_path):
    """PixelLM's release records and psalm-bench's own give one whole-image mask per question."""
    from psalm_bench.generators.baselines import write_muse_whole_image_baseline

    pixellm = [{"id": 3, "file_name": "a.jpg", "height": H, "width": W, "ann_list": [{}], "questions": ["q0", "q1"], "answers": [[], []]}]
    (tmp_path / "muse.json").write_text(json.dumps(pixellm))
    lines = [json.loads(x) for x in write_muse_whole_image_baseline(tmp_path / "muse.json", tmp_path / "m.jsonl").read_text().splitlines()]
    assert lines == [{"id": 3, "questions": [{"masks": [_whole()]}, {"masks": [_whole()]}]}]
    own = [{"id": "b", "height": 4, "width": 5, "questions": [{"question": "q", "masks": []}]}]
    (tmp_path / "own.json").write_text(json.dumps(own))
    lines = [json.loads(x) for x in write_muse_whole_image_baseline(tmp_path / "own.json", tmp_path / "o.jsonl").read_text().splitlines()]
    assert lines == [{"id": "b", "questions": [{"masks": [_whole(4, 5)]}]}]


def _glamm_pair(folder: Path) -> tuple[Path, Path]:
    images = [{"id": "000000000007", "file_name": "000000000007.jpg", "height": H, "width": W},
              {"id": "000000000009", "file_name": "000000000009.jpg", "height": 4, "width": 5}]
    mask = {"images": images, "annotations": [{"id": 1, "image_id": "000000000007", "category_id": 1, "segmentation": _whole()}]}
    caption = {"images": images[::-1], "annotations": [{"image_id": i["id"], "caption": "a thing", "labels": ["a thing"] if i["height"] == H else []}
                                                       for i in images]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "val_gcg_coco_mask_gt.json").write_text(json.dumps(mask))
    (folder / "val_gcg_coco_caption_gt.json").write_text(json.dumps(caption))
    return folder / "val_gcg_coco_mask_gt.json", folder / "val_gcg_coco_caption_gt.json"


def test_gcg_whole_image_baseline_reads_what_eval_reads(tmp_path):
    """GLaMM's caption file (its mask file beside it), their folder, or psalm-bench's GCG file."""
    from psalm_bench.generators.baselines import write_gcg_whole_image_baseline

    _, caption = _glamm_pair(tmp_path / "glamm")
    for source, split in ((caption, None), (tmp_path / "glamm", "val")):
        out = write_gcg_whole_image_baseline(source, tmp_path / f"g-{split}", split=split)
        assert sorted(p.name for p in out.iterdir()) == ["000000000007.json", "000000000009.json"]
        assert json.loads((out / "000000000009.json").read_text()) == {
            "image_id": "000000000009", "caption": "A picture of an object.", "phrases": ["an object"], "pred_masks": [_whole(4, 5)]}
    own = [{"id": "x", "height": H, "width": W, "caption": "c", "phrases": []}]
    (tmp_path / "gcg.json").write_text(json.dumps(own))
    rec = json.loads((write_gcg_whole_image_baseline(tmp_path / "gcg.json", tmp_path / "own") / "x.json").read_text())
    assert rec == {"image_id": "x", "caption": "A picture of an object.", "phrases": ["an object"], "pred_masks": [_whole()]}


@pytest.mark.parametrize("which", ["muse", "gcg"])
def test_whole_image_baselines_refuse_a_bad_file_in_one_line(tmp_path, which):
    """A record without its size is the format's one-line InputError (it was a KeyError traceback)."""
    from psalm_bench.errors import InputError
    from psalm_bench.generators.baselines import write_gcg_whole_image_baseline, write_muse_whole_image_baseline

    if which == "muse":
        (tmp_path / "muse.json").write_text(json.dumps([{"id": 3, "ann_list": [{}], "questions": ["q"], "answers": [[]]}]))
        with pytest.raises(InputError, match=r"muse\.json.*'height' must be a positive integer"):
            write_muse_whole_image_baseline(tmp_path / "muse.json", tmp_path / "m.jsonl")
    else:
        mask, caption = _glamm_pair(tmp_path / "glamm")
        doc = json.loads(mask.read_text())
        del doc["images"][1]["height"]
        mask.write_text(json.dumps(doc))
        with pytest.raises(InputError, match=r"'height' must be a positive integer"):
            write_gcg_whole_image_baseline(caption, tmp_path / "g")
    assert not (tmp_path / "m.jsonl").exists() and not (tmp_path / "g").exists()


def test_prompt_baseline_reads_any_json_layout_of_coco_interactive(tmp_path):
    """The file as eval reads it: PSALM's one-line JSON or an indented one gives the same lines as
    build-interactive's line-per-record file (both were a traceback); a null prompt is an empty mask."""
    from psalm_bench.errors import InputError

    built = tmp_path / "interactive.json"
    build_interactive(EXAMPLES / "instance" / "gt.json", built, seed=0, progress=False)
    reference = write_prompt_baseline(built, tmp_path / "ref.jsonl").read_bytes()
    records = json.loads(built.read_text())
    for name, text in (("one-line", json.dumps(records)), ("indented", json.dumps(records, indent=2))):
        (tmp_path / f"{name}.json").write_text(text)
        assert write_prompt_baseline(tmp_path / f"{name}.json", tmp_path / f"{name}.jsonl").read_bytes() == reference, name
    records[0]["anns"][0]["point_visual_prompt_mask"] = None
    (tmp_path / "null.json").write_text(json.dumps(records))
    lines = [json.loads(x) for x in write_prompt_baseline(tmp_path / "null.json", tmp_path / "null.jsonl").read_text().splitlines()]
    ann = records[0]["anns"][0]["id"]
    [line] = [x for x in lines if x["ann_id"] == ann and x["prompt"] == "point"]
    assert not masks.decode(masks.to_rle(line["segmentation"], *line["segmentation"]["size"])).any()
    del records[0]["anns"][0]["box_visual_prompt_mask"]
    (tmp_path / "bad.json").write_text(json.dumps(records))
    with pytest.raises(InputError, match="missing 'box_visual_prompt_mask'"):
        write_prompt_baseline(tmp_path / "bad.json", tmp_path / "bad.jsonl")
