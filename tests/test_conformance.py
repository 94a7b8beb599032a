"""The "Official behaviour" table of docs/conformance.md, one test per row.

Each row edits the shipped examples (or builds a tiny input) the way a real
file can be off, then checks what psalm-bench does: the official numbers
where the official code scores the input, one line and exit 2 where it
crashes or scores garbage. The official numbers were measured by running the
official code (pycocotools 2.0.x COCOeval, panopticapi pq_compute) on the
very files these edits write; the commands are in docs/conformance.md. The
official code is not needed here.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from psalm_bench.cli import app
from psalm_bench.cli_guard import run_cli
from psalm_bench.pngio import write_label_map

EXAMPLES = Path(__file__).resolve().parents[1] / "psalm_bench" / "examples"


# pycocotools COCOeval segm stats x 100 of the unedited instance example (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl)
INSTANCE_METRICS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
PANOPTIC_METRICS = ["PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st"]


@dataclass
class Row:
    """One table row: an edit of the example's (gt, pred), and what must follow."""

    name: str
    task: str
    edit: Callable[[Path, Any, Any], None]  # (case folder, gt JSON, pred JSON), edited in place
    warning: str | None = None  # a fragment of the one warning line
    refusal: tuple[str, ...] = ()  # fragments of the one error line (exit 2)
    extra_args: tuple[str, ...] = ()


# ------------------------------------------------------------------ instance (pycocotools)


def _set(path: str, index: int, key: str, value: Any) -> Callable[[Path, Any, Any], None]:
    def edit(case: Path, gt: Any, pred: Any) -> None:
        target = pred[index] if path == "pred" else gt[path][index]
        if value is _DELETE:
            del target[key]
        else:
            target[key] = value

    return edit


_DELETE = object()


def _scores(case: Path, gt: Any, pred: Any) -> None:
    pred[7]["score"] = -0.5  # second of image 144 becomes its last
    pred[10]["score"] = 5.0  # above 1: only the order matters
    pred[11]["score"] = float("inf")  # written as Infinity, which json.load reads


def _unknown_categories(case: Path, gt: Any, pred: Any) -> None:
    pred[2]["category_id"] = 4242
    pred[7]["category_id"] = 4243


def _no_segmentation(case: Path, gt: Any, pred: Any) -> None:
    del pred[4]["segmentation"]
    pred[4]["bbox"] = [1, 1, 20, 20]


def _mask_size(case: Path, gt: Any, pred: Any) -> None:
    pred[4]["segmentation"]["size"] = [10, 10]


def _duplicate_annotation_id(case: Path, gt: Any, pred: Any) -> None:
    gt["annotations"][1]["id"] = gt["annotations"][0]["id"]


def _duplicate_image(case: Path, gt: Any, pred: Any) -> None:
    gt["images"].append(dict(gt["images"][0]))


def _duplicate_image_other_size(case: Path, gt: Any, pred: Any) -> None:
    gt["images"].append(dict(gt["images"][0], height=gt["images"][0]["height"] + 1))


def _duplicate_category(case: Path, gt: Any, pred: Any) -> None:
    gt["categories"].append(dict(gt["categories"][0], name="again"))


def _nan_score(case: Path, gt: Any, pred: Any) -> None:
    pred[1]["score"] = float("nan")


INSTANCE_ROWS = [
    Row("instance: detection of a category the GT lacks", "instance", _unknown_categories,
        warning="2 detection(s) of categories the ground truth lacks ignored"),
    Row("instance: negative, above-1 and infinite scores", "instance", _scores),
    Row("instance: GT annotation of an image not in 'images'", "instance", _set("annotations", 0, "image_id", 987654321),
        warning="1 annotation(s) of an image or category not listed in the file ignored"),
    Row("instance: GT annotation of a category not in 'categories'", "instance", _set("annotations", 0, "category_id", 4242),
        warning="1 annotation(s) of an image or category not listed in the file ignored"),
    Row("instance: detection of an image the GT lacks", "instance", _set("pred", 3, "image_id", 987654321),
        refusal=("pred.json", "[3]", "image_id 987654321 is not in the ground truth")),
    Row("instance: detection without a score", "instance", _set("pred", 1, "score", _DELETE), refusal=("pred.json", "[1]", "score must be a number")),
    Row("instance: NaN score", "instance", _nan_score, refusal=("pred.json", "[1]", "score must be a number, got nan")),
    Row("instance: detection without segmentation (segm)", "instance", _no_segmentation, refusal=("pred.json", "[4]", "missing 'segmentation'")),
    Row("instance: RLE of another size", "instance", _mask_size, refusal=("pred.json", "[4]", "mask size 10x10 differs")),
    Row("instance: GT annotation id listed twice", "instance", _duplicate_annotation_id, refusal=("gt.json", "annotation 1", "listed twice")),
    Row("instance: GT image listed twice identically", "instance", _duplicate_image, warning="1 image or category record(s) listed twice"),
    Row("instance: GT image listed twice with another size", "instance", _duplicate_image_other_size, refusal=("gt.json", "image 139", "listed twice with another size")),
    Row("instance: GT category id listed twice", "instance", _duplicate_category, warning="1 image or category record(s) listed twice"),
    Row("instance: GT iscrowd 2", "instance", _set("annotations", 0, "iscrowd", 2), refusal=("gt.json", "annotation 1", "iscrowd must be 0 or 1")),
    Row("instance: GT negative area", "instance", _set("annotations", 0, "area", -5.0), refusal=("gt.json", "annotation 1", "area must be a non-negative number")),
    Row("instance: GT without area", "instance", _set("annotations", 0, "area", _DELETE), refusal=("gt.json", "annotation 1", "area must be a non-negative number")),
    # pycocotools stops (KeyError 'iscrowd'); scored as iscrowd 0, the numbers pycocotools gives with it written
    Row("instance: GT without iscrowd", "instance", _set("annotations", 0, "iscrowd", _DELETE)),
]


# ------------------------------------------------------------------ panoptic (panopticapi)


def _drop_gt_segment(case: Path, gt: Any, pred: Any) -> None:
    gt["annotations"][0]["segments_info"].pop(0)  # its pixels stay in the PNG


def _absent_gt_segment(case: Path, gt: Any, pred: Any) -> None:
    segs = gt["annotations"][1]["segments_info"]
    segs.append(dict(segs[0], id=16000000, area=500, iscrowd=0))


def _extra_prediction(case: Path, gt: Any, pred: Any) -> None:
    pred["annotations"].append(dict(pred["annotations"][0], image_id=777))


def _odd_pred_lists(case: Path, gt: Any, pred: Any) -> None:
    pred["images"] = 5
    pred["categories"] = {"not": "a list"}


def _no_category_names(case: Path, gt: Any, pred: Any) -> None:
    for cat in gt["categories"]:
        del cat["name"]
    gt["images"] = "unused"


def _pred_unlisted_id(case: Path, gt: Any, pred: Any) -> None:
    pred["annotations"][1]["segments_info"].pop(0)


def _pred_absent_id(case: Path, gt: Any, pred: Any) -> None:
    segs = pred["annotations"][2]["segments_info"]
    segs.append(dict(segs[0], id=16000000))


def _pred_unknown_category(case: Path, gt: Any, pred: Any) -> None:
    pred["annotations"][2]["segments_info"][0]["category_id"] = 9999


def _pred_segment_twice(case: Path, gt: Any, pred: Any) -> None:
    segs = pred["annotations"][2]["segments_info"]
    segs.append(dict(segs[0]))


def _pred_image_twice(case: Path, gt: Any, pred: Any) -> None:
    pred["annotations"].append(dict(pred["annotations"][0]))


def _pred_segment_twice_differently(case: Path, gt: Any, pred: Any) -> None:
    segs = pred["annotations"][2]["segments_info"]
    segs.append(dict(segs[0], category_id=segs[1]["category_id"]))


def _pred_image_twice_differently(case: Path, gt: Any, pred: Any) -> None:
    pred["annotations"].append(dict(pred["annotations"][0], segments_info=pred["annotations"][0]["segments_info"][:1]))


def _no_prediction(case: Path, gt: Any, pred: Any) -> None:
    pred["annotations"].pop(0)


def _gt_no_iscrowd(case: Path, gt: Any, pred: Any) -> None:
    for seg in gt["annotations"][0]["segments_info"]:
        del seg["iscrowd"]


def _gt_no_isthing(case: Path, gt: Any, pred: Any) -> None:
    del gt["categories"][0]["isthing"]


PANOPTIC_ROWS = [
    Row("panoptic: GT PNG id that segments_info lacks", "panoptic", _drop_gt_segment, warning="a PNG segment id that segments_info lacks"),
    Row("panoptic: GT segments_info id with no pixel", "panoptic", _absent_gt_segment, warning="a segments_info id with no pixel in the PNG"),
    Row("panoptic: prediction for an image the GT lacks", "panoptic", _extra_prediction, warning="1 prediction(s) for images the ground truth lacks ignored"),
    Row("panoptic: prediction 'images'/'categories' not lists", "panoptic", _odd_pred_lists),
    Row("panoptic: GT categories without 'name', 'images' not a list", "panoptic", _no_category_names),
    Row("panoptic: prediction PNG id that segments_info lacks", "panoptic", _pred_unlisted_id, refusal=("pred", "000000000144.png", "not in segments_info")),
    Row("panoptic: prediction segments_info id with no pixel", "panoptic", _pred_absent_id, refusal=("000000000146.png", "16000000", "not present in the PNG")),
    Row("panoptic: prediction segment of a category the GT lacks", "panoptic", _pred_unknown_category, refusal=("pred.json", "category_id 9999")),
    Row("panoptic: prediction segment listed twice identically", "panoptic", _pred_segment_twice, warning="1 record(s) of the prediction listed twice identically"),
    Row("panoptic: prediction image listed twice identically", "panoptic", _pred_image_twice, warning="1 record(s) of the prediction listed twice identically"),
    Row("panoptic: prediction segment listed twice differently", "panoptic", _pred_segment_twice_differently, refusal=("pred.json", "image 146", "listed twice in segments_info with different content")),
    Row("panoptic: prediction image listed twice differently", "panoptic", _pred_image_twice_differently, refusal=("pred.json", "image 139", "listed twice in 'annotations' with different content")),
    Row("panoptic: GT image with no prediction", "panoptic", _no_prediction, warning="1 image has no prediction: counted as all false negatives"),
    Row("panoptic: GT segment without iscrowd", "panoptic", _gt_no_iscrowd, refusal=("gt.json", "image 139", "iscrowd")),
    Row("panoptic: category without isthing", "panoptic", _gt_no_isthing, refusal=("gt.json", "category 1", "isthing")),
]


# ------------------------------------------------------------------ the official numbers

# Measured by running the official code on the files each row writes (docs/conformance.md).
MEASURED: dict[str, dict[str, float]] = {
    "instance: detection of a category the GT lacks": {"AP": 47.03366336633663, "AP50": 70.37623762376238, "AP75": 47.86138613861385, "APs": 37.506750675067494, "APm": 55.02121640735502, "APl": 32.74752475247525, "AR1": 47.0, "AR10": 47.4, "AR100": 47.4, "ARs": 37.95454545454545, "ARm": 55.00000000000001, "ARl": 35.0},
    "instance: negative, above-1 and infinite scores": {"AP": 47.23168316831683, "AP50": 72.35643564356434, "AP75": 47.86138613861385, "APs": 37.506750675067494, "APm": 55.37482319660537, "APl": 32.74752475247525, "AR1": 47.199999999999996, "AR10": 47.599999999999994, "AR100": 47.599999999999994, "ARs": 37.95454545454545, "ARm": 55.35714285714286, "ARl": 35.0},
    "instance: GT annotation of an image not in 'images'": {"AP": 49.013861386138615, "AP50": 72.35643564356434, "AP75": 49.84158415841583, "APs": 37.506750675067494, "APm": 58.55728429985856, "APl": 32.74752475247525, "AR1": 49.0, "AR10": 49.4, "AR100": 49.4, "ARs": 37.95454545454545, "ARm": 58.57142857142858, "ARl": 35.0},
    "instance: GT annotation of a category not in 'categories'": {"AP": 49.013861386138615, "AP50": 72.35643564356434, "AP75": 49.84158415841583, "APs": 37.506750675067494, "APm": 58.55728429985856, "APl": 32.74752475247525, "AR1": 49.0, "AR10": 49.4, "AR100": 49.4, "ARs": 37.95454545454545, "ARm": 58.57142857142858, "ARl": 35.0},
    "instance: GT image listed twice identically": {"AP": 47.23168316831683, "AP50": 72.35643564356434, "AP75": 47.86138613861385, "APs": 37.506750675067494, "APm": 55.37482319660537, "APl": 32.74752475247525, "AR1": 47.199999999999996, "AR10": 47.599999999999994, "AR100": 47.599999999999994, "ARs": 37.95454545454545, "ARm": 55.35714285714286, "ARl": 35.0},
    "instance: GT category id listed twice": {"AP": 47.23168316831683, "AP50": 72.35643564356434, "AP75": 47.86138613861385, "APs": 37.506750675067494, "APm": 55.37482319660537, "APl": 32.74752475247525, "AR1": 47.199999999999996, "AR10": 47.599999999999994, "AR100": 47.599999999999994, "ARs": 37.95454545454545, "ARm": 55.35714285714286, "ARl": 35.0},
    "instance: GT without iscrowd": {"AP": 47.23168316831683, "AP50": 72.35643564356434, "AP75": 47.86138613861385, "APs": 37.506750675067494, "APm": 55.37482319660537, "APl": 32.74752475247525, "AR1": 47.199999999999996, "AR10": 47.599999999999994, "AR100": 47.599999999999994, "ARs": 37.95454545454545, "ARm": 55.35714285714286, "ARl": 35.0},
    "panoptic: GT PNG id that segments_info lacks": {"PQ": 48.869267762393335, "SQ": 54.24291062316975, "RQ": 57.09002535925614, "PQ_th": 48.705458149195806, "SQ_th": 58.68508060492342, "RQ_th": 56.02433281004709, "PQ_st": 49.060378977790435, "SQ_st": 49.060378977790435, "RQ_st": 58.333333333333336},
    "panoptic: GT segments_info id with no pixel": {"PQ": 49.14645852035333, "SQ": 55.213078276029705, "RQ": 57.639475908706686, "PQ_th": 48.705458149195806, "SQ_th": 58.68508060492342, "RQ_th": 56.02433281004709, "PQ_st": 49.66095895337042, "SQ_st": 51.162408892320364, "RQ_st": 59.523809523809526},
    "panoptic: prediction for an image the GT lacks": {"PQ": 49.192656980013325, "SQ": 55.213078276029705, "RQ": 57.731051000281774, "PQ_th": 48.705458149195806, "SQ_th": 58.68508060492342, "RQ_th": 56.02433281004709, "PQ_st": 49.76105561596708, "SQ_st": 51.162408892320364, "RQ_st": 59.72222222222222},
    "panoptic: prediction 'images'/'categories' not lists": {"PQ": 49.192656980013325, "SQ": 55.213078276029705, "RQ": 57.731051000281774, "PQ_th": 48.705458149195806, "SQ_th": 58.68508060492342, "RQ_th": 56.02433281004709, "PQ_st": 49.76105561596708, "SQ_st": 51.162408892320364, "RQ_st": 59.72222222222222},
    "panoptic: GT categories without 'name', 'images' not a list": {"PQ": 49.192656980013325, "SQ": 55.213078276029705, "RQ": 57.731051000281774, "PQ_th": 48.705458149195806, "SQ_th": 58.68508060492342, "RQ_th": 56.02433281004709, "PQ_st": 49.76105561596708, "SQ_st": 51.162408892320364, "RQ_st": 59.72222222222222},
    "panoptic: prediction segment listed twice identically": {"PQ": 49.192656980013325, "SQ": 55.213078276029705, "RQ": 57.731051000281774, "PQ_th": 48.705458149195806, "SQ_th": 58.68508060492342, "RQ_th": 56.02433281004709, "PQ_st": 49.76105561596708, "SQ_st": 51.162408892320364, "RQ_st": 59.72222222222222},
    "panoptic: prediction image listed twice identically": {"PQ": 49.192656980013325, "SQ": 55.213078276029705, "RQ": 57.731051000281774, "PQ_th": 48.705458149195806, "SQ_th": 58.68508060492342, "RQ_th": 56.02433281004709, "PQ_st": 49.76105561596708, "SQ_st": 51.162408892320364, "RQ_st": 59.72222222222222},
    "panoptic: GT image with no prediction": {"PQ": 37.67990350792926, "SQ": 42.368120586573205, "RQ": 44.36813186813187, "PQ_th": 34.463544631524215, "SQ_th": 43.17023349186297, "RQ_th": 39.54081632653061, "PQ_st": 41.432322197068466, "SQ_st": 41.432322197068466, "RQ_st": 50.0},
}


def build_case(row: Row, folder: Path) -> tuple[Path, Path]:
    """Write the row's edited example into ``folder``: (gt path, pred path)."""
    source = EXAMPLES / row.task
    shutil.copytree(source, folder, dirs_exist_ok=True)
    gt_path, pred_path = folder / "gt.json", folder / "pred.json"
    gt, pred = json.loads(gt_path.read_text()), json.loads(pred_path.read_text())
    row.edit(folder, gt, pred)
    gt_path.write_text(json.dumps(gt))
    pred_path.write_text(json.dumps(pred))
    return gt_path, pred_path


ROWS = INSTANCE_ROWS + PANOPTIC_ROWS


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_row(row: Row, tmp_path: Path, capsys) -> None:
    gt, pred = build_case(row, tmp_path / "case")
    out = tmp_path / "result.json"
    code = run_cli(app, ["eval", "--task", row.task, "--gt", str(gt), "--pred", str(pred), "--json", str(out), "-q", *row.extra_args])
    err = capsys.readouterr().err
    if row.refusal:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
        for fragment in row.refusal:
            assert fragment in lines[0], (fragment, lines[0])
        assert not out.exists()
        return
    assert code == 0, err
    result = json.loads(out.read_text())
    expected = MEASURED.get(row.name)
    assert expected, f"no official numbers recorded for {row.name!r}"
    for metric, value in expected.items():
        assert result["metrics"][metric] == pytest.approx(value, abs=1e-6), metric
    if row.warning:
        assert sum(row.warning in w for w in result["warnings"]) == 1, result["warnings"]
    else:
        assert result["warnings"] == [], result["warnings"]


# ------------------------------------------------------------------ semantic from panoptic (Mask2Former's converter)


def test_semantic_from_panoptic_maps_unlisted_ids_to_ignore(tmp_path: Path, capsys) -> None:
    """prepare_coco_semantic_annos_from_panoptic_annos.py starts from 255 and
    writes only the listed segments: a PNG id that segments_info lacks is
    ignored, not an error; a perfect prediction of the rest scores 100."""
    from psalm_bench.formats.semantic import read_panoptic_as_labels, samples_from_panoptic
    case = tmp_path / "case"
    shutil.copytree(EXAMPLES / "panoptic", case)
    (case / "sem").mkdir()
    _, samples = samples_from_panoptic(case / "gt.json", case / "pred")
    full = {s.name: read_panoptic_as_labels(s.gt, 255) for s in samples}
    gt = json.loads((case / "gt.json").read_text())
    dropped = gt["annotations"][0]["segments_info"].pop(0)
    (case / "gt.json").write_text(json.dumps(gt))
    _, samples = samples_from_panoptic(case / "gt.json", case / "pred")  # (the pred folder only pairs names here)
    first = Path(gt["annotations"][0]["file_name"]).stem
    labels = {s.name: read_panoptic_as_labels(s.gt, 255) for s in samples}
    from psalm_bench.pngio import read_panoptic_ids

    ids = read_panoptic_ids(case / "gt" / gt["annotations"][0]["file_name"])
    assert (labels[first][ids == dropped["id"]] == 255).all() and (ids == dropped["id"]).any()
    assert (labels[first][ids != dropped["id"]] == full[first][ids != dropped["id"]]).all()
    for name, label in full.items():
        write_label_map(case / "sem" / f"{name}.png", label)
    out = tmp_path / "r.json"
    code = run_cli(app, ["eval", "--task", "semantic", "--gt", str(case / "gt.json"), "--pred", str(case / "sem"), "--json", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    assert json.loads(out.read_text())["metrics"]["mIoU"] == pytest.approx(100.0, abs=1e-9)


# ------------------------------------------------------------------ interactive (PSALM's coco_instance_mapper)


def _interactive_case(world: Path, folder: Path, iscrowd: Any) -> tuple[Path, Path]:
    """The tiny world's COCO-Interactive val with its first instance's iscrowd
    set, and predictions equal to every instance's GT mask."""
    data = json.loads((world / "coco" / "coco_interactive_val.json").read_text())
    ann = next(a for r in data for a in r["anns"] if a.get("iscrowd", 0) == 0)
    ann["iscrowd"] = iscrowd
    folder.mkdir(parents=True)
    (folder / "gt.json").write_text(json.dumps(data))
    lines = []
    for record in data:
        for a in record["anns"]:
            for prompt in ("point", "scribble", "box", "mask"):
                if isinstance(a["segmentation"], dict):
                    lines.append(json.dumps({"image_id": a["image_id"], "ann_id": a["id"], "prompt": prompt, "segmentation": a["segmentation"]}))
    (folder / "pred.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "gt.json", folder / "pred.jsonl"


@pytest.mark.parametrize("iscrowd", [2, True, "yes"])
def test_interactive_nonzero_iscrowd_is_a_crowd_as_psalm_drops_it(tiny_world: Path, tmp_path: Path, capsys, iscrowd) -> None:
    """coco_instance_mapper keeps `obj.get("iscrowd", 0) == 0`: any other value
    is dropped like iscrowd 1, so the result equals iscrowd 1's exactly."""
    results = []
    for value in (1, iscrowd):
        gt, pred = _interactive_case(tiny_world, tmp_path / repr(value), value)
        out = tmp_path / f"{value!r}.json"
        code = run_cli(app, ["eval", "--task", "interactive", "--gt", str(gt), "--pred", str(pred), "--json", str(out), "-q", "--ignore-extra"])
        assert code == 0, capsys.readouterr().err
        results.append(json.loads(out.read_text()))
    assert results[1]["metrics"] == results[0]["metrics"]
    assert results[1]["n_samples"] == results[0]["n_samples"]


# ------------------------------------------------------------------ refcoco (REFER's refer.py, LISA's loader)


def _refer_world(folder: Path, refs: list[dict], anns: list[dict]) -> Path:
    """A REFER folder: two 20x30 images, one category, the given refs and annotations."""
    import pickle

    folder.mkdir(parents=True)
    instances = {
        "images": [{"id": i, "height": 20, "width": 30, "file_name": f"{i}.jpg"} for i in (1, 2)],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [{"image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [2, 2, 10, 8], "area": 80.0,
                         "segmentation": [[2, 2, 12, 2, 12, 10, 2, 10]], **a} for a in anns],
    }
    (folder / "instances.json").write_text(json.dumps(instances))
    (folder / "refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    return folder


def _refer_ref(ref_id: int, ann_id: int, sent_ids: list[int], image_id: int = 1) -> dict:
    return {"ref_id": ref_id, "image_id": image_id, "ann_id": ann_id, "category_id": 1, "split": "val", "sent_ids": sent_ids,
            "sentences": [{"sent_id": s, "raw": f"s{s}", "sent": f"s{s}", "tokens": []} for s in sent_ids]}


REFER_ROWS = {
    # REFER createIndex: refToAnn[ref_id] = Anns[ann_id] -> KeyError
    "ref ann_id not in instances.json": ([_refer_ref(1, 7, [1])], [{"id": 1}], ("refs(unc).p", "ref 1", "ann_id 7 is not in instances.json")),
    # LISA's refer_seg loader: refer_api.loadImgs(image_ids) -> KeyError
    "ref image_id not in instances.json": ([_refer_ref(1, 1, [1], image_id=9)], [{"id": 1}], ("refs(unc).p", "ref 1", "image_id 9 is not in instances.json")),
    # REFER keeps the last ref of an id (Refs dict), getRefIds lists both: the last is scored twice
    "ref_id listed twice": ([_refer_ref(1, 1, [1]), _refer_ref(1, 1, [2])], [{"id": 1}], ("refs(unc).p", "ref 1", "ref_id listed twice")),
    # LISA decodes the annotation's polygons in the ref image's frame: another image's mask
    "ref's ann_id belongs to another image": ([_refer_ref(1, 1, [1])], [{"id": 1, "image_id": 2}], ("refs(unc).p", "ref 1", "belongs to image 2")),
    # sentToRef keeps the last ref of a sentence; predictions are keyed by sent_id, so the pair is ambiguous
    "sent_id shared by two refs": ([_refer_ref(1, 1, [1]), _refer_ref(2, 1, [1])], [{"id": 1}], ("refs(unc).p", "ref 2", "sent_id 1 is also a sentence of ref 1")),
}


@pytest.mark.parametrize("case", list(REFER_ROWS), ids=list(REFER_ROWS))
def test_refer_row(case: str, tmp_path: Path, capsys) -> None:
    refs, anns, fragments = REFER_ROWS[case]
    folder = _refer_world(tmp_path / "refcoco", refs, anns)
    good = _refer_world(tmp_path / "good" / "refcoco", [_refer_ref(1, 1, [1])], [{"id": 1}])
    pred = tmp_path / "pred.jsonl"
    pred.write_text(json.dumps({"sent_id": 1, "segmentation": [[2, 2, 12, 2, 12, 10, 2, 10]]}) + "\n")
    assert run_cli(app, ["eval", "--task", "refcoco", "--gt", str(good), "--pred", str(pred), "-q"]) == 0  # the unbroken world scores
    capsys.readouterr()
    code = run_cli(app, ["eval", "--task", "refcoco", "--gt", str(folder), "--pred", str(pred), "-q", "--ignore-extra"])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# ------------------------------------------------------------------ semantic (detectron2 SemSegEvaluator)


def _semantic_case(folder: Path, edit: Callable[[dict[str, np.ndarray], dict[str, np.ndarray]], None]) -> tuple[Path, Path]:
    from psalm_bench.pngio import read_label_map

    source = EXAMPLES / "semantic"
    gts = {p.stem: read_label_map(p).copy() for p in sorted((source / "gt").glob("*.png"))}
    preds = {p.stem: read_label_map(p).copy() for p in sorted((source / "pred").glob("*.png"))}
    edit(gts, preds)
    for role, maps in (("gt", gts), ("pred", preds)):
        (folder / role).mkdir(parents=True)
        for name, labels in maps.items():
            write_label_map(folder / role / f"{name}.png", labels)
    return folder / "gt", folder / "pred"


def _first(maps: dict[str, np.ndarray]) -> np.ndarray:
    return maps[sorted(maps)[0]]


def _gt_label_out_of_range(gts, preds) -> None:
    _first(gts)[0, :5] = 140  # 133 classes: neither a class nor the ignore label


def _pred_ignore_label(gts, preds) -> None:
    for labels in preds.values():
        labels[:] = 255


def _pred_other_size(gts, preds) -> None:
    name = sorted(preds)[0]
    preds[name] = preds[name][:-2]


def _extra_prediction_png(gts, preds) -> None:
    preds["not_in_gt"] = _first(preds)


SEMANTIC_ROWS = {
    # process(): np.bincount((N + 1) * pred + gt) puts a GT value above N into the next prediction's row, or past the end (reshape error)
    "GT label neither a class nor the ignore label": (_gt_label_out_of_range, ("gt", "label 140 is not a class index (0..132) nor the ignore label")),
    # process(): (N + 1) * 255 + gt overruns the (N + 1)^2 matrix, reshape raises; mmseg's IoUMetric counts it towards no class
    "prediction pixel equal to the ignore label": (_pred_ignore_label, None),
    # process(): arrays of two sizes do not broadcast
    "prediction PNG of another size": (_pred_other_size, ("pred", "prediction size", "differs from ground truth")),
    # detectron2 scores the dataset's images from model outputs and never lists a prediction folder: psalm-bench's own rule
    "prediction PNG without ground truth": (_extra_prediction_png, ("not_in_gt.png", "--ignore-extra")),
}


@pytest.mark.parametrize("case", list(SEMANTIC_ROWS), ids=list(SEMANTIC_ROWS))
def test_semantic_row(case: str, tmp_path: Path, capsys) -> None:
    edit, refusal = SEMANTIC_ROWS[case]
    gt, pred = _semantic_case(tmp_path / "case", edit)
    out = tmp_path / "r.json"
    code = run_cli(app, ["eval", "--task", "semantic", "--gt", str(gt), "--pred", str(pred), "--classes", str(EXAMPLES / "semantic" / "classes.json"),
                         "--json", str(out), "-q"])
    err = capsys.readouterr().err
    if refusal:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
        for fragment in refusal:
            assert fragment in lines[0], (fragment, lines[0])
        return
    assert code == 0, err
    # ignore-label predictions are "no prediction": every GT pixel is missed and no class gains one
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["pACC"] == 0.0 and metrics["mIoU"] == 0.0 and metrics["mACC"] == 0.0


def test_interactive_missing_prompt_key_is_refused_as_psalm_stops(tiny_world: Path, tmp_path: Path, capsys) -> None:
    """coco_instance_mapper reads anno[mask_type] for every kept annotation: a missing key is a KeyError there."""
    gt, pred = _interactive_case(tiny_world, tmp_path / "case", 0)
    data = json.loads(gt.read_text())
    del data[0]["anns"][0]["scribble_visual_prompt_mask"]
    gt.write_text(json.dumps(data))
    code = run_cli(app, ["eval", "--task", "interactive", "--gt", str(gt), "--pred", str(pred), "-q"])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "missing 'scribble_visual_prompt_mask'" in lines[0], err
