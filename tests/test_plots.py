"""Plots of a result (leaderboard/plots.py): the numbers they draw equal the result's own,
the curves kept in instance results equal pycocotools', and the PNG bytes are reproducible."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FIXTURES, needs_fixtures
from psalm_bench import evaluate
from psalm_bench.errors import InputError
from psalm_bench.leaderboard.plots import confusion_data, frame_j_data, histogram_data, pr_data, write_plots

INSTANCE = FIXTURES / "instance" / "basic"


def _result(tmp: Path, task: str, gt: Path, pred: Path, **options) -> tuple[dict, Path]:
    path = tmp / f"{task}.json"
    evaluate(task, gt, pred, progress=False, **options).write_json(path, gt, pred)
    return json.loads(path.read_text()), path


@pytest.fixture(scope="module")
def instance(tmp_path_factory) -> tuple[dict, Path]:
    return _result(tmp_path_factory.mktemp("plots-instance"), "instance", INSTANCE / "gt.json", INSTANCE / "pred.json")


@needs_fixtures
def test_instance_curves_are_pycocotools_precision_rounded(instance):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(INSTANCE / "gt.json"))
        engine = COCOeval(gt, gt.loadRes(str(INSTANCE / "pred.json")), "segm")
        engine.evaluate()
        engine.accumulate()
    official = engine.eval["precision"][:, :, :, 0, -1]  # T x R x K, area all, maxDets 100
    data = pr_data(*instance)
    assert data.ids == list(engine.params.catIds)
    expected = np.where(official < 0, np.nan, np.round(official, 4))
    np.testing.assert_array_equal(data.precision, expected)


@needs_fixtures
def test_pr_curve_means_are_the_results_ap(instance):
    result, path = instance
    data = pr_data(result, path)
    aps = data.threshold_ap()
    # curves are kept to 4 decimals: their means are within 0.5e-4 (0.005 points) of the exact AP
    assert aps[0] == pytest.approx(result["metrics"]["AP50"], abs=0.005)
    assert aps[5] == pytest.approx(result["metrics"]["AP75"], abs=0.005)
    assert float(np.mean(aps)) == pytest.approx(result["metrics"]["AP"], abs=0.005)
    for name, ap in zip(data.names, data.class_ap()):
        row = result["per_class"].get(name)
        assert (row is None or row["AP"] is None) == bool(np.isnan(ap))
        if row is not None and row["AP"] is not None:
            assert ap == pytest.approx(row["AP"], abs=0.005)
    stored = result["curves"]["classes"][0]["precision"]
    assert all(float(curve.split()[-1].partition("*")[0]) != 0 for curve in stored if curve)  # cut after the last non-zero value


def test_curve_strings_round_trip():
    from psalm_bench.evaluators.instance import format_curve, parse_curve

    values = np.array([1.0] * 67 + [0.7143] * 12 + [0.4286] + [0.0] * 21)
    assert format_curve(values) == "1*67 0.7143*12 0.4286"
    np.testing.assert_array_equal(parse_curve(format_curve(values), 101), values)
    assert format_curve(np.zeros(101)) == "" and parse_curve("", 3).tolist() == [0, 0, 0]
    assert format_curve(np.array([0.5, 0.0, 0.25])) == "0.5 0 0.25"
    with pytest.raises(ValueError):
        parse_curve("1*102", 101)


@needs_fixtures
def test_instance_plots_same_bytes_and_the_curve_is_where_it_is_drawn(instance, tmp_path):
    result, path = instance
    first = write_plots(result, path, tmp_path / "a")
    second = write_plots(copy.deepcopy(result), path, tmp_path / "b")
    assert [p.name for p in first] == ["pr-iou.png", "pr-classes.png"] == [p.name for p in second]
    for plot in first:
        assert (tmp_path / "a" / plot.name).read_bytes() == (tmp_path / "b" / plot.name).read_bytes()
    pixels = np.asarray(Image.open(tmp_path / "a" / "pr-iou.png").convert("RGB"))
    data = pr_data(result, path)
    curve = data.threshold_curves()[0]
    # the IoU 0.50 curve (drawn last, in the ramp's first colour) at recall 0.25, inside the axes box (70..470, 40..400)
    x, y = 70 + 0.25 * 400, 400 - curve[25] * 360
    patch = pixels[round(y) - 1:round(y) + 2, round(x) - 1:round(x) + 2].reshape(-1, 3)
    assert ((patch == (0, 90, 180)).all(axis=1)).any()
    # a result whose curves were made 0 draws no blue there
    flat = copy.deepcopy(result)
    for entry in flat["curves"]["classes"]:
        if entry["precision"] is not None:
            entry["precision"] = ["" for _ in entry["precision"]]
    write_plots(flat, path, tmp_path / "c")
    pixels = np.asarray(Image.open(tmp_path / "c" / "pr-iou.png").convert("RGB"))
    patch = pixels[round(y) - 1:round(y) + 2, round(x) - 1:round(x) + 2].reshape(-1, 3)
    assert not ((patch == (0, 90, 180)).all(axis=1)).any()


def test_a_result_without_curves_says_so_in_one_line(tmp_path):
    result = {"task": "instance", "metrics": {}}
    with pytest.raises(InputError, match="no precision-recall 'curves'"):
        write_plots(result, tmp_path / "r.json", tmp_path / "out")
    assert write_plots({"task": "refcoco"}, tmp_path / "r.json", tmp_path / "out") == []


@needs_fixtures
def test_semantic_confusion_gives_the_per_class_iou(tmp_path):
    case = FIXTURES / "semantic" / "coco133"
    result, path = _result(tmp_path, "semantic", case / "gt", case / "pred", classes=case / "classes.json")
    matrix, names = confusion_data(result, path)
    assert names == list(result["per_class"])
    n = len(names)
    inter = np.diag(matrix[:, :n]).astype(float)
    # union over the shown classes: a predicted pixel of an unshown class is impossible (every class on either side is shown)
    union = matrix.sum(axis=1) + matrix[:, :n].sum(axis=0) - inter
    for k, name in enumerate(names):
        iou = result["per_class"][name]["IoU"]
        if iou is not None:
            assert inter[k] / union[k] * 100 == pytest.approx(iou, abs=1e-9)
        assert matrix[k].sum() == result["per_class"][name]["pixels"]
    plots = write_plots(result, path, tmp_path / "p")
    assert [p.name for p in plots] == ["confusion.png"] and "Largest confusions" in plots[0].caption
    again = write_plots(result, path, tmp_path / "q")
    assert (tmp_path / "p" / "confusion.png").read_bytes() == (tmp_path / "q" / "confusion.png").read_bytes() != b""
    assert again == plots


@needs_fixtures
def test_vos_frame_curves_average_to_each_objects_j(tmp_path):
    case = FIXTURES / "vos" / "davis_val"
    result, path = _result(tmp_path, "vos", case / "gt", case / "pred", split="val")
    data = frame_j_data(result, path)
    checked = 0
    for seq, objects in data.items():
        for obj, frames in objects.items():
            assert np.mean([j for _, j in frames]) * 100 == pytest.approx(result["per_sequence"][f"{seq}_{obj}"]["J"], abs=1e-9)
            checked += 1
    assert checked == result["n_samples"]
    plots = write_plots(result, path, tmp_path / "p")
    assert [p.name for p in plots] == ["j-frames.png"]
    image = Image.open(tmp_path / "p" / "j-frames.png")
    assert image.size[0] == 20 + 4 * 280 and not image.info.get("dpi")


def test_interactive_histograms_count_every_record(tmp_path):
    ious = {"point": [0.0, 0.04, 0.05, 0.5, 1.0, 1.0], "box": [0.97, 0.951, 0.2]}
    records = {"prompt": [p for p, v in ious.items() for _ in v], "IoU": [x for v in ious.values() for x in v]}
    result = {"task": "interactive", "records": records, "per_prompt": {"point": {"mIoU": 43.2}, "box": {"mIoU": 70.7}}}
    hist = histogram_data(result, tmp_path / "r.json")
    assert list(hist) == ["point", "box"]
    assert hist["point"].tolist() == [2, 1] + [0] * 8 + [1] + [0] * 8 + [2]
    assert hist["box"].tolist() == [0] * 4 + [1] + [0] * 14 + [2]
    plots = write_plots(result, tmp_path / "r.json", tmp_path / "p")
    pixels = np.asarray(Image.open(tmp_path / "p" / plots[0].name).convert("RGB"))
    assert pixels.shape[1] == 20 + 2 * 280
    # the point panel's first bar (2 of 2 instances: full height) in the first series colour
    assert ((pixels[:, 70:82] == (0, 114, 178)).all(axis=2)).sum() > 50
    from psalm_bench.results import EvalResult

    as_api = EvalResult("interactive", {}, 9, records={"prompt": records["prompt"], "IoU": np.array(records["IoU"])}, breakdown_name="per_prompt",
                        breakdown=result["per_prompt"])
    again = write_plots(as_api, tmp_path / "r.json", tmp_path / "q")  # an EvalResult, numpy columns and all
    assert again == plots and (tmp_path / "q" / plots[0].name).read_bytes() == (tmp_path / "p" / plots[0].name).read_bytes()
    with pytest.raises(InputError, match="lacks prompt or IoU"):
        histogram_data({"records": [{"prompt": "point"}]}, tmp_path / "r.json")




@needs_fixtures
def test_browse_shows_the_plots_below_the_gallery(tmp_path):
    from psalm_bench.leaderboard.browse import browse

    case = FIXTURES / "vos" / "davis_val"
    result, path = _result(tmp_path, "vos", case / "gt", case / "pred", split="val")
    browse(path, None, None, tmp_path / "b", worst=2)
    index = (tmp_path / "b" / "index.html").read_text()
    assert '<section class="plots">' in index and 'href="plots/j-frames.png"' in index
    assert (tmp_path / "b" / "plots" / "j-frames.png").read_bytes() == (write_plots(result, path, tmp_path / "p") and (tmp_path / "p" / "j-frames.png").read_bytes())


@needs_fixtures
def test_browse_without_what_a_plot_needs_still_draws_the_gallery(tmp_path):
    from psalm_bench.leaderboard.browse import browse

    result, path = _result(tmp_path, "instance", INSTANCE / "gt.json", INSTANCE / "pred.json", records=True)
    del result["curves"]
    path.write_text(json.dumps(result))
    browse(path, INSTANCE / "gt.json", INSTANCE / "pred.json", tmp_path / "b", worst=2)
    index = (tmp_path / "b" / "index.html").read_text()
    assert index.count('class="card"') == 2 and "No plots: " in index and "no precision-recall" in index


def test_panoptic_segment_confusion_diagonal_is_pq_true_positives(tmp_path):
    from psalm_bench.examples_runner import EXAMPLES
    from psalm_bench.leaderboard.plots import panoptic_confusion_data
    from psalm_bench.tasks import get_task

    gt, pred = EXAMPLES / "panoptic" / "gt.json", EXAMPLES / "panoptic" / "pred.json"
    result = get_task("panoptic").run(gt, pred, progress=False).to_dict()
    counts, names, _ = panoptic_confusion_data(gt, pred)
    n = len(names)
    checked = 0
    for k, name in enumerate(names):
        row = result["per_class"].get(name)
        if row is None:
            assert not counts[k].any() and not counts[:, k].any()
            continue
        assert counts[k, k] == row["TP"]
        assert counts[k].sum() == row["TP"] + row["FN"]  # every GT segment (not crowd): matched, confused or missed
        assert counts[:, k].sum() == row["TP"] + row["FP"]  # every prediction not ignored
        checked += 1
    assert checked == len(result["per_class"]) > 10
    assert counts[:n, :n].sum() > np.trace(counts[:n, :n])  # the example holds class confusions
    assert write_plots(result, tmp_path / "r.json", tmp_path / "none") == []  # without the files: no confusion
    first = write_plots(result, tmp_path / "r.json", tmp_path / "a", (gt, pred))
    write_plots(result, tmp_path / "r.json", tmp_path / "b", (gt, pred))
    assert [p.name for p in first] == ["confusion.png"] and "PQ's true positives" in first[0].caption
    assert (tmp_path / "a" / "confusion.png").read_bytes() == (tmp_path / "b" / "confusion.png").read_bytes()


def test_browse_panoptic_draws_the_segment_confusion_up_to_its_image_limit(tmp_path, monkeypatch):
    from psalm_bench.examples_runner import EXAMPLES
    from psalm_bench.leaderboard import browse as browse_module
    from psalm_bench.tasks import get_task

    gt, pred = EXAMPLES / "panoptic" / "gt.json", EXAMPLES / "panoptic" / "pred.json"
    path = tmp_path / "pan.json"
    get_task("panoptic").run(gt, pred, progress=False).write_json(path, [gt, gt.with_suffix("")], [pred, pred.with_suffix("")])
    browse_module.browse(path, gt, pred, tmp_path / "b", worst=2)
    assert 'src="plots/confusion.png"' in (tmp_path / "b" / "index.html").read_text()
    monkeypatch.setattr(browse_module, "CONFUSION_MAX_IMAGES", 3)
    browse_module.browse(path, gt, pred, tmp_path / "c", worst=2)
    index = (tmp_path / "c" / "index.html").read_text()
    assert "No segment confusion matrix: it reads all 8 images again" in index and not (tmp_path / "c" / "plots" / "confusion.png").exists()
