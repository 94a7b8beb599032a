"""The failure browser: which samples it picks, what it draws, and when it refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, run_cli
from psalm_bench.errors import InputError
from psalm_bench.examples_runner import EXAMPLES
from psalm_bench.leaderboard.browse import browse
from psalm_bench.masks import encode
from psalm_bench.tasks import get_task

XSS_SENTENCE = '<script>alert("x")</script> the & thing'


@pytest.fixture(scope="module")
def interactive(tmp_path_factory) -> dict[str, Path]:
    """COCO-Interactive from the example instances, scored with the prompt-as-mask baseline,
    and a second model that gets every box prompt of the first 3 instances exactly right."""
    from psalm_bench.generators.baselines import write_prompt_baseline
    from psalm_bench.generators.interactive import build_interactive

    work = tmp_path_factory.mktemp("browse-interactive")
    gt = work / "coco_interactive.json"
    build_interactive(EXAMPLES / "instance" / "gt.json", gt, seed=0, progress=False)
    pred = write_prompt_baseline(gt, work / "baseline.jsonl")
    masks = {a["id"]: a["segmentation"] for image in json.loads(gt.read_text()) for a in image["anns"]}
    lines = [json.loads(line) for line in pred.read_text().splitlines()]
    fixed = sorted({line["ann_id"] for line in lines if line["prompt"] == "box"})[:3]
    better_lines = [dict(line, segmentation=masks[line["ann_id"]]) if line["prompt"] == "box" and line["ann_id"] in fixed else line for line in lines]
    better = work / "better.jsonl"
    better.write_text("".join(json.dumps(line) + "\n" for line in better_lines))
    task = get_task("interactive")
    result, better_result = work / "result.json", work / "better.json"
    task.run(gt, pred, progress=False).write_json(result, gt, pred)
    task.run(gt, better, progress=False).write_json(better_result, gt, better)
    return {"gt": gt, "pred": pred, "result": result, "better": better, "better_result": better_result, "fixed": fixed}


def _pages(out: Path) -> list[str]:
    return [p.read_text() for p in sorted((out / "s").glob("*.html"))]


def _metric(page: str, name: str) -> float:
    return float(re.search(rf'<th scope="row" class="left">{re.escape(name)}</th><td class="right"[^>]*>([-0-9.e]+)</td>', page).group(1))


def _segment_rows(page: str) -> list[list[str]]:
    """The matched-segment table's body rows (cell texts), as the one table renderer writes them."""
    body = page.split('<table class="segs">', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r'<td class="left">([^<]*)</td>', row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_worst_k_are_the_lowest_iou_records_each_drawn_once(interactive, tmp_path):
    out = tmp_path / "b"
    report = browse(interactive["result"], interactive["gt"], interactive["pred"], out, worst=6)
    records = json.loads(interactive["result"].read_text())["records"]
    ious = sorted(records["IoU"])
    assert report.shown == 6 and report.n_samples == len(ious)
    shown = [_metric(p, "IoU") for p in _pages(out)]
    assert shown == pytest.approx(ious[:6], abs=1e-4)
    pngs = sorted(p.name for p in (out / "img").glob("*.png"))
    assert pngs == sorted([f"{i:04d}.png" for i in range(6)] + [f"{i:04d}-t.png" for i in range(6)])
    full = np.asarray(Image.open(out / "img" / "0000.png"))
    thumb = np.asarray(Image.open(out / "img" / "0000-t.png"))
    assert full.ndim == 3 and max(thumb.shape[:2]) <= 200 < max(full.shape[:2])
    index = (out / "index.html").read_text()
    assert index.count('class="card"') == 6 and "Content-Security-Policy" in index
    first = _pages(out)[0]
    assert 'rel="next" href="0001.html"' in first and 'rel="prev"' not in first


def test_prompt_filter_and_the_prompt_is_drawn_in_its_colour(interactive, tmp_path):
    out = tmp_path / "b"
    browse(interactive["result"], interactive["gt"], interactive["pred"], out, worst=4, filters={"prompt": "point"})
    pages = _pages(out)
    assert len(pages) == 4 and all("point prompt" in p and " point</h1>" in p for p in pages)
    pixels = np.asarray(Image.open(out / "img" / "0000.png")).reshape(-1, 3)
    assert (pixels == (255, 210, 0)).all(axis=1).sum() > 20  # the point disk
    with pytest.raises(InputError, match="--sequence does not apply"):
        browse(interactive["result"], interactive["gt"], interactive["pred"], tmp_path / "c", filters={"sequence": "x"})


def test_baseline_shows_the_most_regressed_first(interactive, tmp_path):
    out = tmp_path / "b"
    # The baseline prediction file got the box prompts of three instances right; the result did not.
    browse(interactive["result"], interactive["gt"], interactive["pred"], out, worst=3, baseline=interactive["better_result"])
    pages = _pages(out)
    titles = sorted(re.search(r"<h1>#\d of 3: ann (\d+) box</h1>", p).group(1) for p in pages)
    assert titles == sorted(str(a) for a in interactive["fixed"])
    deltas = [_metric(p, "IoU change vs baseline") for p in pages]
    assert all(d < 0 for d in deltas) and deltas == sorted(deltas)
    assert all(abs(_metric(p, "IoU") - 1 - d) < 1e-3 for p, d in zip(pages, deltas))


def test_same_inputs_same_bytes(interactive, tmp_path):
    for name in ("a", "b"):
        browse(interactive["result"], interactive["gt"], interactive["pred"], tmp_path / name, worst=3)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_changed_or_moved_inputs_stop_with_one_line(interactive, tmp_path):
    changed = tmp_path / "pred.jsonl"
    changed.write_text(interactive["pred"].read_text().replace('"point"', '"point" ', 1))
    run = run_cli("browse", interactive["result"], "--gt", interactive["gt"], "--pred", changed, "--out", tmp_path / "o")
    assert_one_line_error(run, "result.json", "prediction", "changed since it was scored")
    run = run_cli("browse", interactive["result"], "--gt", tmp_path / "gone.json", "--pred", interactive["pred"], "--out", tmp_path / "o")
    assert_one_line_error(run, "is not there (moved?)")
    run = run_cli("browse", interactive["result"], "--gt", interactive["gt"], "--pred", interactive["pred"], "--out", tmp_path / "o", "-k", "2")
    assert run.returncode == 0, run.stderr
    assert "2 of" in run.stdout and (tmp_path / "o" / "s" / "0001.html").is_file()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    run = run_cli("browse", interactive["result"], "--gt", interactive["gt"], "--pred", interactive["pred"], "--out", tmp_path / "busy")
    assert_one_line_error(run, "not an earlier browse")


def _gref_world(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Three sentences: one no-target (hostile text) predicted non-empty, one perfect, one half right."""
    h, w = 20, 30
    folder = tmp_path / "grefcoco"
    folder.mkdir()
    box = np.zeros((h, w), np.uint8)
    box[4:12, 5:15] = 1
    rle = dict(encode(box))
    instances = {"images": [{"id": 1, "height": h, "width": w, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "thing"}],
                 "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [5, 4, 10, 8], "area": 80.0, "segmentation": rle}]}
    (folder / "instances.json").write_text(json.dumps(instances))
    Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(folder / "a.jpg")
    sents = {1: XSS_SENTENCE, 2: "the box", 3: "the box again"}
    refs = [{"ref_id": 1, "image_id": 1, "ann_id": [-1], "split": "val", "sent_ids": [1], "sentences": [{"sent_id": 1, "sent": sents[1], "raw": sents[1]}]},
            {"ref_id": 2, "image_id": 1, "ann_id": [7], "split": "val", "sent_ids": [2, 3], "sentences": [{"sent_id": s, "sent": sents[s], "raw": sents[s]} for s in (2, 3)]}]
    (folder / "grefs(unc).json").write_text(json.dumps(refs))
    half = box.copy()
    half[:, 10:] = 0
    half_rle = dict(encode(half))
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(line) + "\n" for line in [
        {"sent_id": 1, "segmentation": rle}, {"sent_id": 2, "segmentation": rle}, {"sent_id": 3, "segmentation": half_rle}]))
    result = tmp_path / "gref.json"
    get_task("gref").run(folder, pred, progress=False).write_json(result, folder, pred)
    return folder, pred, result


def test_gref_no_target_is_said_and_sentences_are_escaped(tmp_path):
    gt, pred, result = _gref_world(tmp_path)
    out = tmp_path / "b"
    browse(result, gt, pred, out, worst=3)
    pages = _pages(out)
    assert [_metric(p, "IoU") for p in pages] == pytest.approx([0.0, 0.5, 1.0])
    assert "GROUND TRUTH: NO TARGET" in pages[0] and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; the &amp; thing" in pages[0]
    assert "<script>alert" not in pages[0] and "NO TARGET" not in pages[1]
    assert "not found" not in pages[0]  # the image beside the GT was used
    picture = np.asarray(Image.open(out / "img" / "0001.png")).reshape(-1, 3)
    assert (picture == (200, 200, 200)).all(axis=1).any()  # drawn on the real image, not the grey stand-in
    browse(result, gt, pred, tmp_path / "none", worst=5, filters={"target": "none"})
    assert len(_pages(tmp_path / "none")) == 1


def test_semantic_picks_the_image_with_the_lowest_own_miou(tmp_path):
    gt, pred = EXAMPLES / "semantic" / "gt", EXAMPLES / "semantic" / "pred"
    result = tmp_path / "sem.json"
    get_task("semantic").run(gt, pred, progress=False, classes=EXAMPLES / "semantic" / "classes.json").write_json(result, gt, pred)
    measured = {}
    for png in sorted(gt.glob("*.png")):  # an independent per-image mIoU, straight from the PNGs
        g, p = np.asarray(Image.open(png)).astype(int), np.asarray(Image.open(pred / png.name)).astype(int)
        valid = g != 255
        ious = [((g == c) & (p == c) & valid).sum() / ((g == c) | ((p == c) & valid)).sum()
                for c in set(np.unique(g[valid])) | set(np.unique(p[valid]))]
        measured[png.stem] = float(np.mean(ious))
    out = tmp_path / "b"
    browse(result, gt, pred, out, worst=2)
    pages = _pages(out)
    worst = sorted(measured.items(), key=lambda kv: kv[1])[:2]
    assert [re.search(r"of 2: (\w+)</h1>", p).group(1) for p in pages] == [k for k, _ in worst]
    assert [_metric(p, "image mIoU") for p in pages] == pytest.approx([v for _, v in worst], abs=1e-4)
    full = np.asarray(Image.open(out / "img" / "0000.png"))
    assert full.shape[1] == 3 * np.asarray(Image.open(gt / f"{worst[0][0]}.png")).shape[1] + 8  # GT | prediction | errors


def test_result_without_records_is_refused(tmp_path):
    result = tmp_path / "r.json"
    result.write_text(json.dumps({"task": "interactive", "metrics": {}, "provenance": {}}))
    with pytest.raises(InputError, match="no per-sample 'records'"):
        browse(result, tmp_path, tmp_path, tmp_path / "o")



def _official_image_matches(gt_png: Path, pred_png: Path, gt_ann: dict, pred_ann: dict) -> tuple[list[tuple[int, int, float]], int, int]:
    """panopticapi's pq_compute_single_core rules for one image, straight from the PNGs:
    (matched (gt id, pred id, IoU), FP, FN)."""
    def ids(path: Path) -> np.ndarray:
        rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
        return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]

    g, p = ids(gt_png), ids(pred_png)
    gt_segs = {s["id"]: s for s in gt_ann["segments_info"]}
    pred_segs = {s["id"]: s for s in pred_ann["segments_info"]}
    inter: dict[tuple[int, int], int] = {}
    for a, b in zip(g.ravel().tolist(), p.ravel().tolist()):
        inter[(a, b)] = inter.get((a, b), 0) + 1
    gt_area = {s: int((g == s).sum()) for s in gt_segs}
    pred_area = {s: int((p == s).sum()) for s in pred_segs}
    matched = []
    for (a, b), n in inter.items():
        if a not in gt_segs or b not in pred_segs or gt_segs[a].get("iscrowd") or gt_segs[a]["category_id"] != pred_segs[b]["category_id"]:
            continue
        iou = n / (pred_area[b] + gt_area[a] - n - inter.get((0, b), 0))
        if iou > 0.5:
            matched.append((a, b, iou))
    fn = sum(1 for a, s in gt_segs.items() if not s.get("iscrowd") and a not in {m[0] for m in matched})
    crowd = {s["category_id"]: a for a, s in gt_segs.items() if s.get("iscrowd")}
    fp = 0
    for b, s in pred_segs.items():
        if b in {m[1] for m in matched} or not pred_area[b]:
            continue
        covered = inter.get((0, b), 0) + inter.get((crowd.get(s["category_id"], -1), b), 0)
        fp += covered / pred_area[b] <= 0.5
    return matched, fp, fn


def test_panoptic_picks_the_lowest_image_pq_and_lists_each_segment(tmp_path):
    gt, pred = EXAMPLES / "panoptic" / "gt.json", EXAMPLES / "panoptic" / "pred.json"
    result = tmp_path / "pan.json"
    get_task("panoptic").run(gt, pred, progress=False).write_json(result, [gt, gt.with_suffix("")], [pred, pred.with_suffix("")])
    gt_json, pred_json = json.loads(gt.read_text()), json.loads(pred.read_text())
    pred_anns = {a["image_id"]: a for a in pred_json["annotations"]}
    names = {c["id"]: c["name"] for c in gt_json["categories"]}
    official = {}
    for ann in gt_json["annotations"]:
        pa = pred_anns[ann["image_id"]]
        matched, fp, fn = _official_image_matches(gt.with_suffix("") / ann["file_name"], pred.with_suffix("") / pa["file_name"], ann, pa)
        official[ann["image_id"]] = (sum(m[2] for m in matched) / (len(matched) + fp / 2 + fn / 2), matched, fp, fn, ann)
    out = tmp_path / "b"
    report = browse(result, gt, pred, out, worst=3)
    assert report.n_samples == len(official) == 8
    worst = sorted(official.items(), key=lambda kv: (kv[1][0], str(kv[0])))[:3]
    pages = _pages(out)
    assert [int(re.search(r"of 3: image (\d+)</h1>", p).group(1)) for p in pages] == [k for k, _ in worst]
    for page, (image_id, (pq, matched, fp, fn, ann)) in zip(pages, worst):
        assert _metric(page, "image PQ") == pytest.approx(pq, abs=1e-4)
        assert (_metric(page, "TP"), _metric(page, "FP"), _metric(page, "FN")) == (len(matched), fp, fn)
        rows = _segment_rows(page)
        drawn = [tuple(r[1:]) for r in rows if r[0] == "matched"]
        segs = {s["id"]: s for s in ann["segments_info"]}
        assert sorted((int(a), int(b), i, n) for n, i, a, b in drawn) == sorted(
            (a, b, f"{iou:.3f}", names[segs[a]["category_id"]]) for a, b, iou in matched)
        assert sum(r[0] == "missed (FN)" for r in rows) == fn
        assert "matches drawn" not in page  # the drawing agrees with the result's TP count
    h, w = next((i["height"], i["width"]) for i in gt_json["images"] if i["id"] == worst[0][0])
    picture = np.asarray(Image.open(out / "img" / "0000.png"))
    assert picture.shape == (h, 2 * w + 4, 3)  # ground truth | prediction
    left, right = picture[:, :w].reshape(-1, 3), picture[:, w + 4:].reshape(-1, 3)
    if worst[0][1][3]:
        assert (left == (40, 120, 255)).all(axis=1).any() and not (right == (40, 120, 255)).all(axis=1).any()  # missed GT outlined on the left only


def _davis_png(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [200] * (3 * 253))
    image.save(path)


def _davis_world(root: Path, n_frames: int = 10) -> tuple[Path, Path]:
    """Sequence 'calm' predicted exactly; in 'storm' object 1 is shifted by 2 px and object 2
    is lost on frames 4-6 (one frame also marked void): storm object 2 is the worst."""
    gt_root, pred_root = root / "davis", root / "pred"
    (gt_root / "ImageSets" / "2017").mkdir(parents=True)
    (gt_root / "ImageSets" / "2017" / "val.txt").write_text("calm\nstorm\n")
    for seq in ("calm", "storm"):
        for t in range(n_frames):
            gt = np.zeros((36, 48), np.uint8)
            gt[4:14, 3 + t:15 + t] = 1
            gt[20:32, 20:34] = 2
            pred = gt.copy()
            if seq == "storm":
                pred = np.where(gt == 1, 0, gt)
                pred[4:14, 5 + t:17 + t] = 1
                if 4 <= t <= 6:
                    pred[pred == 2] = 0
                if t == 5:
                    gt[30:32, 20:34] = 255
            _davis_png(gt_root / "Annotations" / "480p" / seq / f"{t:05d}.png", gt)
            _davis_png(pred_root / seq / f"{t:05d}.png", pred)
    frame = np.zeros((36, 48, 3), np.uint8)
    frame[..., 2] = 180
    (gt_root / "JPEGImages" / "480p" / "storm").mkdir(parents=True)
    for t in range(n_frames):
        Image.fromarray(frame).save(gt_root / "JPEGImages" / "480p" / "storm" / f"{t:05d}.jpg", quality=100)
    return gt_root, pred_root


def test_vos_picks_the_worst_object_with_its_worst_frame_and_a_strip(tmp_path):
    gt_root, pred_root = _davis_world(tmp_path)
    result = tmp_path / "vos.json"
    evaluated = get_task("vos").run(gt_root, pred_root, progress=False)
    evaluated.write_json(result, gt_root, pred_root)
    per_sequence = json.loads(result.read_text())["per_sequence"]
    out = tmp_path / "b"
    report = browse(result, gt_root, pred_root, out, worst=2)
    assert report.n_samples == 4  # two objects in each of two sequences
    pages = _pages(out)
    assert [re.search(r"of 2: (\w+ object \d)</h1>", p).group(1) for p in pages] == ["storm object 2", "storm object 1"]
    for page, key in zip(pages, ("storm_2", "storm_1")):
        assert _metric(page, "J&amp;F") == pytest.approx(per_sequence[key]["J&F"] / 100, abs=1e-4)
    j = []  # J per scored frame (first and last excluded), void left out of the union
    for t in range(1, 9):
        g = np.asarray(Image.open(gt_root / "Annotations" / "480p" / "storm" / f"{t:05d}.png"))
        p = np.asarray(Image.open(pred_root / "storm" / f"{t:05d}.png"))
        union = ((g == 2) | (p == 2)) & (g != 255)
        j.append(((g == 2) & (p == 2)).sum() / union.sum())
    assert _metric(pages[0], "J") == pytest.approx(float(np.mean(j)), abs=1e-4)
    assert '<th scope="row" class="left">worst frame</th><td class="right">00004 (J 0.000)</td>' in pages[0]
    strip = np.asarray(Image.open(out / "img" / "0000-strip.png"))
    assert strip.shape[0] == 120 and strip.shape[1] == 8 * 160 + 7 * 2  # 8 scored frames, 48x36 each scaled to height 120
    full = np.asarray(Image.open(out / "img" / "0000.png")).reshape(-1, 3)
    assert (full == (0, 200, 90)).all(axis=1).any() and not (full == (230, 40, 200)).all(axis=1).any()  # object 2 lost: GT only
    assert (np.abs(full.astype(int) - (0, 0, 180)).max(axis=1) <= 3).sum() > full.shape[0] // 2  # drawn on the sequence's own frame
    assert "not found" not in pages[0]
    browse(result, gt_root, pred_root, tmp_path / "calm", worst=5, filters={"sequence": "calm"})
    assert [_metric(p, "J&amp;F") for p in _pages(tmp_path / "calm")] == [1.0, 1.0]


def test_inputs_default_to_the_files_the_provenance_names(tmp_path):
    gt_root, pred_root = _davis_world(tmp_path)
    result = tmp_path / "vos.json"
    run = run_cli("eval", "--task", "vos", "--gt", gt_root, "--pred", pred_root, "--json", result)
    assert run.returncode == 0, run.stderr
    assert json.loads(result.read_text())["provenance"]["inputs"] == {"gt": [gt_root.resolve().as_posix()], "pred": [pred_root.resolve().as_posix()]}
    run = run_cli("browse", result, "--out", tmp_path / "o", "-k", "1", "--sequence", "calm")
    assert run.returncode == 0, run.stderr
    assert "1 of 2 vos samples" in run.stdout and "calm object" in (tmp_path / "o" / "s" / "0000.html").read_text()
    old = json.loads(result.read_text())
    del old["provenance"]["inputs"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert_one_line_error(run_cli("browse", tmp_path / "old.json", "--out", tmp_path / "p"), "old.json", "provenance names no gt file", "pass --gt")
    (pred_root / "calm" / "00003.png").unlink()
    assert_one_line_error(run_cli("browse", result, "--out", tmp_path / "p"), "vos.json", "prediction", "changed since it was scored")


def test_compose_segments_draws_what_one_layer_per_segment_draws():
    from psalm_bench.leaderboard.browse_draw import Layer, compose, compose_segments

    rng = np.random.default_rng(3)
    ids = np.kron(rng.integers(0, 6, (12, 16)), np.ones((10, 10), np.int64))  # 120x160 blocks of 6 segment ids
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    styles = {1: ((230, 25, 75), 0.45), 2: ((40, 120, 255), 0.6), 4: ((255, 40, 40), 0.6), 5: ((60, 180, 75), 0.45)}
    layers = [Layer(ids == k, colour, alpha=alpha) for k, (colour, alpha) in styles.items()]
    assert np.array_equal(compose_segments(image, ids, styles), compose(image, layers))


def test_panoptic_scored_with_png_folders_elsewhere_browses_from_its_provenance(tmp_path):
    """eval --gt-dir/--pred-dir may name any PNG folders: browse takes them from the provenance
    (it looked only beside each JSON and refused), or from its own --gt-dir/--pred-dir."""
    import shutil

    (tmp_path / "json").mkdir()
    gt, pred = tmp_path / "json" / "gt.json", tmp_path / "json" / "pred.json"
    shutil.copy(EXAMPLES / "panoptic" / "gt.json", gt)
    shutil.copy(EXAMPLES / "panoptic" / "pred.json", pred)
    gt_dir, pred_dir = tmp_path / "pngs" / "truth", tmp_path / "pngs" / "guess"
    shutil.copytree(EXAMPLES / "panoptic" / "gt", gt_dir)
    shutil.copytree(EXAMPLES / "panoptic" / "pred", pred_dir)
    result = tmp_path / "r.json"
    run = run_cli("eval", "--task", "panoptic", "--gt", gt, "--pred", pred, "--gt-dir", gt_dir, "--pred-dir", pred_dir, "--json", result, "-q")
    assert run.returncode == 0, run.stderr
    report = browse(result, None, None, tmp_path / "b", worst=3)
    assert report.shown == 3 and (tmp_path / "b" / "plots" / "confusion.png").is_file()
    # a JSON given by hand leaves its PNG folder to the default, which is not there: one line naming the flag
    run = run_cli("browse", result, "--gt", gt, "--out", tmp_path / "c", "-q")
    assert_one_line_error(run, str(gt.with_suffix("")), "--gt-dir")
    run = run_cli("browse", result, "--gt", gt, "--gt-dir", gt_dir, "--out", tmp_path / "c", "-k", "3", "-q")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "c" / "img").iterdir()) == sorted(p.name for p in (tmp_path / "b" / "img").iterdir())
