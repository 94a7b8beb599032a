"""The embedded benchmark world: determinism, formats, exact masks, held-out
categories, unique referring sentences, and that every task of the manifest
scores its own ground truth, turned into a perfect prediction, at 100."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_api
from pycocotools.coco import COCO

from psalm_bench.errors import InputError
from psalm_bench.formats.coco import load_instances
from psalm_bench.formats.davis import load_davis, object_ids, read_frame
from psalm_bench.formats.interactive import load_interactive_gt
from psalm_bench.formats.panoptic import load_panoptic_gt
from psalm_bench.formats.refer import load_grefer, load_refer
from psalm_bench.formats.semantic import load_class_names
from psalm_bench.generators import world as w
from psalm_bench.pngio import read_label_map, read_panoptic_ids
from psalm_bench.tasks import get_task

INSTANCE_FILES = ("coco/annotations/instances_train2017.json", "coco/annotations/instances_val2017.json", "ov/instances.json",
                  "refcoco/instances.json", "grefcoco/instances.json")
PANOPTIC_SETS = (  # (panoptic json, semantic folder, classes, instances json)
    ("coco/annotations/panoptic_train2017.json", "coco/semantic_train2017", "coco/semantic_classes.json", "coco/annotations/instances_train2017.json"),
    ("coco/annotations/panoptic_val2017.json", "coco/semantic_val2017", "coco/semantic_classes.json", "coco/annotations/instances_val2017.json"),
    ("ov/panoptic.json", "ov/semantic", "ov/classes.json", "ov/instances.json"),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> w.WorldSummary:
    return w.build_world(tmp_path_factory.mktemp("world") / "w", seed=3, size="tiny", workers=1, progress=False)


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_tiny_build_is_fast_and_complete(world):
    assert world.seconds < 20
    manifest = w.load_manifest(world.root)
    assert manifest["version"] == w.WORLD_VERSION and manifest["seed"] == 3 and manifest["size"] == "tiny"
    assert set(manifest["tasks"]) >= {"panoptic", "instance", "semantic", "refcoco", "gref", "interactive", "vos", "ov-semantic", "ov-instance"}
    assert set(manifest["tasks"]["refcoco"]) == set(manifest["tasks"]["gref"]) == {"val", "testA", "testB"}
    for splits in manifest["tasks"].values():
        for entry in splits.values():
            assert (world.root / entry["gt"]).exists() and (world.root / entry["images"]).is_dir()
    for path in manifest["train"].values():
        assert (world.root / path).exists()
    assert (world.root / "README.md").read_text().count(w.WORLD_VERSION) >= 1
    assert not list(world.root.parent.glob(".*partial"))
    assert world.counts["coco_train_crowd"] > 0 and world.counts["ov_val_novel_annotations"] > 0


def test_same_seed_same_bytes_whatever_the_workers(world, tmp_path):
    old = tmp_path / "w2"
    old.mkdir()
    (old / "world.json").write_bytes((world.root / "world.json").read_bytes())  # an older world, replaced
    (old / "coco").mkdir()
    (old / "coco" / "stale.txt").write_text("from an older build")
    again = w.build_world(old, seed=3, size="tiny", workers=2, progress=False)
    assert _digests(again.root) == _digests(world.root)
    assert again.counts == world.counts
    assert not list(tmp_path.glob(".w2*"))
    (old / "my-predictions.jsonl").write_text("{}")
    with pytest.raises(InputError, match="my-predictions.jsonl"):
        w.build_world(old, seed=3, size="tiny", progress=False)


def test_manifest_errors_and_refusals(world, tmp_path):
    with pytest.raises(InputError, match="no world.json"):
        w.load_manifest(tmp_path)
    (tmp_path / "world.json").write_text(json.dumps({"name": "other"}))
    with pytest.raises(InputError, match="not a psalm-bench world"):
        w.load_manifest(tmp_path)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        w.build_world(busy, size="tiny", progress=False)
    with pytest.raises(InputError, match="size"):
        w.build_world(tmp_path / "x", size="huge", progress=False)
    with pytest.raises(InputError, match="split"):
        w.generate_scene(0, "test", 0)


def test_every_file_loads_with_psalm_bench_and_pycocotools(world):
    root = world.root
    for rel in INSTANCE_FILES:
        gt = load_instances(root / rel)
        assert gt.annotations and gt.images
        coco = COCO(str(root / rel))
        assert len(coco.getAnnIds()) == len(gt.annotations)
    for panoptic, semantic, classes, _ in PANOPTIC_SETS:
        assert load_panoptic_gt(root / panoptic).images
        assert load_class_names(root / classes)
    refer = load_refer(root / "refcoco", "refcoco")
    assert set(refer.splits()) == {"train", "val", "testA", "testB"}
    for split in ("val", "testA", "testB"):
        assert refer.split_refs(split)
    gref = load_grefer(root / "grefcoco")
    assert set(gref.splits()) == {"val", "testA", "testB"}
    refs = [r for s in gref.splits() for r in gref.split_refs(s)]
    assert any(r.no_target for r in refs) and any(len(r.ann_ids) > 1 for r in refs)
    assert load_interactive_gt(root / "coco/coco_interactive_val.json").n_instances() == world.counts["interactive_val_instances"]
    sequences = load_davis(root / "davis", "val")
    assert len(sequences) == 2
    for seq in sequences:
        first = object_ids(read_frame(seq.frames[0], "gt", seq.name))
        assert first and all(set(object_ids(read_frame(f, "gt", seq.name))) <= set(first) for f in seq.frames)
        jpgs = sorted((root / "davis/JPEGImages/480p" / seq.name).glob("*.jpg"))
        assert [p.stem for p in jpgs] == seq.frame_names


def test_masks_agree_across_instances_panoptic_and_semantic(world):
    root = world.root
    for panoptic, semantic, classes, instances in PANOPTIC_SETS:
        data = json.loads((root / panoptic).read_text())
        names = load_class_names(root / classes)
        cat_names = {c["id"]: c["name"] for c in data["categories"]}
        coco = COCO(str(root / instances))
        png_dir = root / panoptic[:-5]
        for ann in data["annotations"]:
            ids = read_panoptic_ids(png_dir / ann["file_name"])
            labels = read_label_map(root / semantic / ann["file_name"])
            segments = ann["segments_info"]
            assert set(np.unique(ids).tolist()) - {0} == {s["id"] for s in segments}
            for seg in segments:
                m = ids == seg["id"]
                assert seg["area"] == int(m.sum())
                ys, xs = np.nonzero(m)
                assert seg["bbox"] == [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
                assert (labels[m] == names.index(cat_names[seg["category_id"]])).all()
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[ann["image_id"]]))
            for a, seg in zip(anns, segments):  # things come first, in the same order
                assert a["category_id"] == seg["category_id"] and a["iscrowd"] == seg["iscrowd"]
                m = coco.annToMask(a).astype(bool)
                assert np.array_equal(m, ids == seg["id"])
                assert a["area"] == float(m.sum())
                assert a["bbox"] == mask_api.toBbox(coco.annToRLE(a)).tolist()
                kind = "crowd" if a["iscrowd"] else ("rle" if isinstance(a["segmentation"], dict) else "polygon")
                assert isinstance(a["segmentation"]["counts"], list) if kind == "crowd" else True


def test_held_out_categories_only_in_the_ov_set(world):
    root = world.root
    novel = {c.id for c in w.CATEGORIES.novel}
    novel_names = {c.name for c in w.CATEGORIES.novel} | {c.plural for c in w.CATEGORIES.novel}
    n_known = len(w.CATEGORIES.known)
    for rel in INSTANCE_FILES[:2] + INSTANCE_FILES[3:] + ("coco/annotations/panoptic_train2017.json", "coco/annotations/panoptic_val2017.json"):
        data = json.loads((root / rel).read_text())
        assert not novel & {c["id"] for c in data["categories"]}, rel
    for rel in INSTANCE_FILES[:2] + INSTANCE_FILES[3:]:
        assert not novel & {a["category_id"] for a in json.loads((root / rel).read_text())["annotations"]}, rel
    for folder in ("coco/semantic_train2017", "coco/semantic_val2017"):
        for png in (root / folder).glob("*.png"):
            labels = read_label_map(png)
            assert labels[labels != 255].max() < n_known
    assert json.loads((root / "coco/semantic_classes.json").read_text()) == [c.name for c in w.CATEGORIES.known]
    refs_text = json.dumps(pickle.loads((root / "refcoco/refs(unc).p").read_bytes()))
    for text in ((root / "grefcoco/grefs(unc).json").read_text(), (root / "coco/coco_interactive_train.json").read_text(), refs_text):
        assert not any(f'"{n}' in text or f" {n}" in text for n in novel_names)
    ov = json.loads((root / "ov/instances.json").read_text())
    per_image: dict[int, set[bool]] = {}
    for a in ov["annotations"]:
        per_image.setdefault(a["image_id"], set()).add(a["category_id"] in novel)
    assert any(True in kinds for kinds in per_image.values())
    ov_labels = np.concatenate([read_label_map(p).ravel() for p in (root / "ov/semantic").glob("*.png")])
    assert (ov_labels[ov_labels != 255] >= 0).all() and len(json.loads((root / "ov/classes.json").read_text())) == len(w.CATEGORIES.all)
    known_in_ov = {c.id for c in w.CATEGORIES.known}
    assert any(known_in_ov & {a["category_id"] for a in ov["annotations"] if a["image_id"] == i} for i in per_image)


def test_referring_sentences_are_unique_and_in_the_vocabulary(world):
    vocab = set(w.world_vocabulary())
    assert w.world_vocabulary() == sorted(vocab) and all(word == word.lower() for word in vocab)
    assert {c.name for c in w.CATEGORIES.all} <= vocab
    refer = load_refer(world.root / "refcoco", "refcoco")
    gref = load_grefer(world.root / "grefcoco")
    anns = refer.annotations_by_id()
    groups = {c.id: c.group for c in w.CATEGORIES.things}
    for data in (refer, gref):
        raw = {r["ref_id"]: r for r in (json.loads((world.root / "grefcoco/grefs(unc).json").read_text()) if data is gref else pickle.loads((world.root / "refcoco/refs(unc).p").read_bytes()))}
        owner: dict[tuple[int, str], int] = {}
        for ref in data.refs:
            for sentence in raw[ref.ref_id]["sentences"]:
                assert set(sentence["sent"].split()) <= vocab, sentence
                key = (ref.image_id, sentence["sent"])
                assert owner.setdefault(key, ref.ref_id) == ref.ref_id, key  # one sentence, one referent
            for ann_id in ref.ann_ids:
                assert not data.annotations_by_id()[ann_id]["iscrowd"]
            if data is refer and ref.split in ("testA", "testB"):
                assert groups[anns[ref.ann_ids[0]]["category_id"]] == ("curved" if ref.split == "testA" else "angular")


def test_in_memory_generation(world):
    scene = w.generate_scene(3, "train", 5)
    again = w.generate_scene(3, "train", 5, size="full")
    assert np.array_equal(scene.image, again.image) and scene.image.dtype == np.uint8 and scene.image.ndim == 3
    written = np.asarray(Image.open(world.root / "coco/train2017" / scene.file_name))
    assert written.shape == scene.image.shape  # the files hold the in-memory scenes (up to JPEG loss)
    assert np.abs(written.astype(int) - scene.image).mean() < 4
    assert 1 <= len([t for t in scene.things if not t.iscrowd]) <= 8 and scene.stuff
    for t in scene.things:
        assert t.mask.shape == scene.image.shape[:2] and t.mask.dtype == bool and t.mask.any()
        assert set(t.attributes) == {"shape", "colour", "size", "texture", "horizontal", "vertical"}
    labels = scene.label_map([c.name for c in w.CATEGORIES.known])
    assert (labels != 255).all()
    for e in w.referring_expressions(scene, np.random.default_rng(0)):
        assert not scene.things[e.target].iscrowd
    sentences = [g.sentence for g in w.generalized_expressions(scene, np.random.default_rng(0))]
    assert len(sentences) == len(set(sentences))
    video = w.generate_video(3, 0, 4)
    assert video.frames.shape[0] == video.labels.shape[0] == 4 and set(np.unique(video.labels[0])) == {0, *range(1, len(video.objects) + 1)}


def _rle_json(rle: dict) -> dict:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.decode() if isinstance(counts, bytes) else counts}


def _perfect_prediction(root: Path, name: str, entry: dict, tmp: Path) -> Path:
    """The ground truth of a manifest entry written as a prediction file."""
    task, gt = entry["task"], root / entry["gt"]
    if task in ("panoptic", "semantic"):
        return gt  # same JSON and PNG folder / same label maps
    if task == "vos":
        return gt / "Annotations" / "480p"
    pred = tmp / f"{name}-{entry['options'].get('split', 'val')}.json"
    if task == "instance":
        coco = COCO(str(gt))
        rows = []
        for a in coco.dataset["annotations"]:
            if not a["iscrowd"]:
                rle = coco.annToRLE(a)
                rows.append({"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0, "segmentation": _rle_json(rle)})
        pred.write_text(json.dumps(rows))
        return pred
    if task == "gcg":  # GLaMM infer.py's folder, one {image_id}.json per image
        folder = tmp / name
        folder.mkdir()
        masks = json.loads(gt.read_text())["annotations"]
        for c in json.loads(gt.with_name(gt.name.replace("_mask_gt", "_caption_gt")).read_text())["annotations"]:
            (folder / f"{c['image_id']}.json").write_text(json.dumps({"caption": c["caption"], "phrases": c["labels"],
                                                                       "pred_masks": [m["segmentation"] for m in masks if m["image_id"] == c["image_id"]]}))
        return folder
    lines = []
    if task == "muse":  # PixelLM's records: each question's answer annotations
        lines = [{"id": r["id"], "questions": [{"masks": [a["segmentation"] for a in answer]} for answer in r["answers"]]} for r in json.loads(gt.read_text())]
    if task in ("refcoco", "gref"):
        data = load_refer(gt, "refcoco") if task == "refcoco" else load_grefer(gt)
        refs = data.split_refs(entry["options"]["split"])
        targets = data.target_masks(refs)
        for ref in refs:
            for sent_id in ref.sent_ids:
                if ref.no_target:
                    lines.append({"sent_id": sent_id, "no_target": True})
                else:
                    lines.append({"sent_id": sent_id, "segmentation": _rle_json(targets[ref.ref_id])})
    elif task == "interactive":
        for record in json.loads(gt.read_text()):
            info = record["image_info"]
            coco = COCO()
            for a in record["anns"]:
                coco.imgs[info["id"]] = info
                rle = _rle_json(coco.annToRLE(a))
                for prompt in ("point", "scribble", "box", "mask"):
                    lines.append({"image_id": info["id"], "ann_id": a["id"], "prompt": prompt, "segmentation": rle})
    pred = pred.with_suffix(".jsonl")
    pred.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return pred


def test_every_manifest_task_scores_its_own_truth_at_100(world, tmp_path):
    manifest = w.load_manifest(world.root)
    scored = []
    for name, splits in manifest["tasks"].items():
        for split, entry in splits.items():
            gt, options = w.task_inputs(world.root, entry)
            pred = _perfect_prediction(world.root, name, entry, tmp_path)
            result = get_task(entry["task"]).run(gt, pred, **options, progress=False)
            assert result.metrics[entry["metric"]] == pytest.approx(100.0), (name, split, result.metrics)
            scored.append((name, split))
    assert len(scored) == sum(len(s) for s in manifest["tasks"].values()) >= 13


def _parse_plain(sentence: str) -> dict[str, str]:
    """Attributes named by a sentence without qualifier, read independently of
    the generator: 'the [size] [colour] [texture] noun [with ...]'."""
    sizes = {"small": "small", "little": "small", "medium": "medium", "large": "large", "big": "large"}
    textures = {"plain": "solid", "solid": "solid", "striped": "striped", "dotted": "dotted", "spotted": "dotted",
                "stripes": "striped", "dots": "dotted", "pattern": "solid"}
    nouns = {c.name for c in w.CATEGORIES.things}
    found: dict[str, str] = {}
    for word in sentence.split()[1:]:
        if word in sizes:
            found["size"] = sizes[word]
        elif word in w.COLOURS:
            found["colour"] = word
        elif word in textures:
            found["texture"] = textures[word]
        elif word in nouns:
            found["category"] = word
    return found


def test_plain_sentences_name_exactly_one_object():
    checked = 0
    for index in range(30):
        scene = w.generate_scene(11, "refval", index)
        for e in w.referring_expressions(scene, np.random.default_rng(index)):
            if e.kind not in ("category", "attribute"):
                continue
            wanted = _parse_plain(e.sentence)
            fits = [k for k, t in enumerate(scene.things) if all(getattr(t, key) == value for key, value in wanted.items())]
            assert fits == [e.target], (e, wanted)
            checked += 1
    assert checked > 50
