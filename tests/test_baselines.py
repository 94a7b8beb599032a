"""The prompt-as-mask baselines: each conversion, and scoring through the evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

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
