"""The world's MUSE-style and GCG-style splits: in the peers' release layouts,
consistent with the world's own COCO / gRefCOCO files, and scored through
`eval` without --gt. The ground truth itself as the prediction scores 100."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from psalm_bench.evaluators.multi_target import evaluate_gcg, evaluate_muse
from psalm_bench.formats.gcg_official import load_glamm_gt
from psalm_bench.formats.muse_official import is_pixellm_muse
from psalm_bench.generators.world import WORLD_VERSION, load_manifest
from psalm_bench.generators.world_multi import GCG_CAPTION_GT, GCG_MASK_GT, MUSE_GT
from psalm_bench.masks import to_rle


def test_manifest_names_both_splits(tiny_world: Path) -> None:
    manifest = load_manifest(tiny_world)
    assert manifest["tasks"]["muse"]["val"]["gt"] == MUSE_GT and manifest["tasks"]["gcg"]["val"]["gt"] == GCG_MASK_GT
    counts = manifest["counts"]
    assert counts["muse_val_items"] > 0 and counts["muse_val_multi_target_questions"] > 0 and counts["gcg_val_images"] > 0
    for key in ("muse", "gcg"):
        assert (tiny_world / manifest["tasks"][key]["val"]["images"]).is_dir()


def test_muse_split_is_the_gref_val_targets(tiny_world: Path) -> None:
    muse = json.loads((tiny_world / MUSE_GT).read_text())
    assert is_pixellm_muse(muse)
    grefs = json.loads((tiny_world / "grefcoco" / "grefs(unc).json").read_text())
    targets = {(g["image_id"], g["sentences"][0]["sent"]): sorted(g["ann_id"]) for g in grefs if g["split"] == "val" and not g["no_target"]}
    images = {i["id"]: i for i in json.loads((tiny_world / "grefcoco" / "instances.json").read_text())["images"]}
    for rec in muse:
        assert (tiny_world / "coco" / "refer2017" / rec["file_name"]).is_file()
        assert rec["height"] == images[rec["id"]]["height"]
        for question, answer in zip(rec["questions"], rec["answers"]):
            assert sorted(a["id"] for a in answer) == targets[(rec["id"], question)]


def test_gcg_split_masks_are_the_coco_val_masks(tiny_world: Path) -> None:
    coco = json.loads((tiny_world / "coco/annotations/instances_val2017.json").read_text())
    anns = {a["id"]: a for a in coco["annotations"]}
    samples = load_glamm_gt(tiny_world / GCG_MASK_GT, tiny_world / GCG_CAPTION_GT)
    masks = json.loads((tiny_world / GCG_MASK_GT).read_text())["annotations"]
    assert len(masks) == sum(len(s.phrases) for s in samples)
    for m in masks:
        a = anns[m["id"]]
        assert not a["iscrowd"] and to_rle(a["segmentation"], *m["segmentation"]["size"])["counts"].decode() == m["segmentation"]["counts"]
    for s in samples:
        assert s.labels is None and all(p.text in s.caption for p in s.phrases)


def _muse_gt_as_prediction(tiny_world: Path, out: Path) -> Path:
    lines = [{"id": r["id"], "questions": [{"masks": [a["segmentation"] for a in answer]} for answer in r["answers"]]}
             for r in json.loads((tiny_world / MUSE_GT).read_text())]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return out


def _gcg_gt_as_prediction(tiny_world: Path, out: Path) -> Path:
    out.mkdir()
    masks = json.loads((tiny_world / GCG_MASK_GT).read_text())["annotations"]
    for c in json.loads((tiny_world / GCG_CAPTION_GT).read_text())["annotations"]:
        rec = {"image_id": c["image_id"], "caption": c["caption"], "phrases": c["labels"],
               "pred_masks": [m["segmentation"] for m in masks if m["image_id"] == c["image_id"]]}
        (out / f"{c['image_id']}.json").write_text(json.dumps(rec))
    return out


def test_ground_truth_as_prediction_scores_100(tiny_world: Path, tmp_path: Path) -> None:
    res = evaluate_muse(tiny_world / MUSE_GT, _muse_gt_as_prediction(tiny_world, tmp_path / "muse.jsonl"), protocol="per-image", progress=False)
    assert res.metrics == {"gIoU": pytest.approx(100.0), "cIoU": pytest.approx(100.0)}
    res = evaluate_gcg(tiny_world / GCG_MASK_GT, _gcg_gt_as_prediction(tiny_world, tmp_path / "gcg"), progress=False, captions=False,
                       text_similarity=lambda a, b: float(a == b))
    assert res.metrics["AP50"] == pytest.approx(100.0) and res.metrics["mIoU"] == pytest.approx(100.0) and res.metrics["Recall"] == pytest.approx(100.0)


def test_eval_without_gt_scores_the_world_split(tiny_world: Path, tmp_path: Path) -> None:
    pred = _muse_gt_as_prediction(tiny_world, tmp_path / "muse.jsonl")
    out = tmp_path / "r.json"
    run = subprocess.run([sys.executable, "-m", "psalm_bench", "eval", "--task", "muse", "--world", str(tiny_world), "--pred", str(pred),
                          "--protocol", "per-image", "--json", str(out), "-q"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["metrics"]["gIoU"] == pytest.approx(100.0) and result["provenance"]["params"]["world"] == f"world-v{WORLD_VERSION}-tiny-seed0"
