"""refcoco and gref: fixtures, protocols, workers, bad input, safe pickles."""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_api

from psalm_bench import InputError, evaluate
from psalm_bench.evaluators.referring import GrefEvaluator, RefcocoEvaluator, ReferringGT, ReferringPred
from psalm_bench.formats.refer import first_bad_counts, load_plain_pickle

from conftest import FIXTURES, assert_one_line_error, expected, fixture_cases, fixture_options, needs_fixtures, run_cli

REFCOCO_CASE = FIXTURES / "refcoco" / "refcoco_unc_val"
REFCOCOG_CASE = FIXTURES / "refcoco" / "refcocog_umd_test"
GREF_CASE = FIXTURES / "gref" / "grefcoco_val"


def _run(case: Path, **options):
    exp = expected(case)
    merged = {**fixture_options(case), "progress": False, **options}
    return evaluate(exp["task"], case / exp["gt"], case / exp["pred"], **merged)


def _rle(mask: np.ndarray) -> dict:
    rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _box(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((h, w), dtype=np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def _write_jsonl(path: Path, lines: list) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def _copy_case(case: Path, tmp_path: Path) -> Path:
    dest = tmp_path / case.name
    shutil.copytree(case, dest)
    return dest


# ---------------------------------------------------------------------------
# Fixtures: the official numbers


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("refcoco") + fixture_cases("gref"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_matches_reference(case: Path) -> None:
    result = _run(case)
    for name, value in expected(case)["metrics"].items():
        assert result.metrics[name] is not None and math.isclose(result.metrics[name], value, abs_tol=1e-6), (name, result.metrics[name], value)
    assert result.params["protocol"] == ("rela" if expected(case)["task"] == "gref" else "lisa")
    assert result.breakdown_name is None and result.breakdown is None


@needs_fixtures
@pytest.mark.parametrize("case", fixture_cases("refcoco") + fixture_cases("gref"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_two_workers_give_identical_numbers_and_records(case: Path) -> None:
    one = _run(case, workers=1)
    two = _run(case, workers=2)
    assert one.metrics == two.metrics
    assert [r.to_dict() for r in one.records] == [r.to_dict() for r in two.records]
    assert one.warnings == two.warnings


@needs_fixtures
def test_cli_writes_json_with_metrics_records_and_protocol(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    run = run_cli("eval", "--task", "gref", "--gt", GREF_CASE / "gt", "--pred", GREF_CASE / "pred.jsonl", "--json", out)
    assert run.returncode == 0, run.stderr
    assert "protocol: rela" in run.stdout
    data = json.loads(out.read_text())
    for name, value in expected(GREF_CASE)["metrics"].items():
        assert math.isclose(data["metrics"][name], value, abs_tol=1e-6)
    assert data["provenance"]["params"]["protocol"] == "rela"
    assert any("no prediction line" in w for w in data["warnings"])


@needs_fixtures
def test_records_recompute_the_metrics() -> None:
    result = _run(REFCOCO_CASE)
    records = result.records
    assert len(records) == result.n_samples == 24
    assert len({r.sent_id for r in records}) == 24
    c_iou = 100 * sum(r.I for r in records) / sum(r.U for r in records)
    assert math.isclose(c_iou, result.metrics["cIoU"], abs_tol=1e-9)
    assert math.isclose(100 * np.mean([r.IoU for r in records]), result.metrics["gIoU"], abs_tol=1e-9)
    assert set(records[0].to_dict()) == {"sent_id", "ref_id", "I", "U", "IoU"}
    gref = _run(GREF_CASE)
    assert {"gt_no_target", "pred_no_target"} <= set(gref.records[0].to_dict())


@needs_fixtures
def test_missing_prediction_is_an_empty_mask_with_a_warning() -> None:
    result = _run(REFCOCO_CASE)
    assert any(w.startswith("1 of 24 sentences have no prediction line") for w in result.warnings), result.warnings
    missing = [r for r in result.records if r.sent_id == 23]
    assert missing and missing[0].I == 0 and missing[0].IoU == 0.0 and missing[0].U > 0


# ---------------------------------------------------------------------------
# Layouts: pickle or JSON refs, dataset folder or its parent


@needs_fixtures
def test_refs_as_json_and_parent_folder_layout(tmp_path: Path) -> None:
    want = _run(REFCOCO_CASE).metrics
    parent = tmp_path / "refer_data"
    folder = parent / "refcoco"
    folder.mkdir(parents=True)
    shutil.copy(REFCOCO_CASE / "gt" / "instances.json", folder)
    refs = load_plain_pickle(REFCOCO_CASE / "gt" / "refs(unc).p")
    (folder / "refs(unc).json").write_text(json.dumps(refs))
    for gt in (folder, parent, folder / "refs(unc).json"):
        got = evaluate("refcoco", gt, REFCOCO_CASE / "pred.jsonl", split="val", progress=False)
        assert got.metrics == want
    with pytest.raises(InputError, match="refcoco folder but --dataset is refcoco\\+"):
        evaluate("refcoco", folder, REFCOCO_CASE / "pred.jsonl", dataset="refcoco+", progress=False)


@needs_fixtures
def test_protocol0_python2_pickle_is_read_as_text() -> None:
    refs = load_plain_pickle(REFCOCOG_CASE / "gt" / "refs(umd).p")
    assert isinstance(refs[0]["split"], str) and isinstance(refs[0]["sentences"][0]["raw"], str)
    assert all(isinstance(k, str) for k in refs[0])


def test_python2_str_with_non_ascii_bytes(tmp_path: Path) -> None:
    # protocol 0 as Python 2 writes a str: STRING opcode with escaped raw bytes
    path = tmp_path / "refs(unc).p"
    path.write_bytes(b"(lp0\n(dp1\nS'raw'\np2\nS'caf\\xc3\\xa9'\np3\nsS'x'\nI1\nsa.")
    assert load_plain_pickle(path) == [{"raw": "café", "x": 1}]  # UTF-8 bytes
    path.write_bytes(b"(lp0\n(dp1\nS'raw'\np2\nS'\\xe9t\\xe9'\np3\nsa.")
    assert load_plain_pickle(path) == [{"raw": "été"}]  # not UTF-8: Latin-1


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _hostile_refcoco(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "hostile"
    folder.mkdir()
    marker = tmp_path / "pwned"
    (folder / "refs(unc).p").write_bytes(pickle.dumps([{"ref_id": 1, "payload": _RunsCode(marker)}], protocol=2))
    (folder / "instances.json").write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "x"}]}))
    return folder, marker


def test_hostile_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    folder, marker = _hostile_refcoco(tmp_path)
    with pytest.raises(InputError, match="refused.*system"):
        load_plain_pickle(folder / "refs(unc).p")
    pred = _write_jsonl(tmp_path / "pred.jsonl", [])
    out = tmp_path / "out.json"
    run = run_cli("eval", "--task", "refcoco", "--gt", folder, "--pred", pred, "--json", out)
    assert_one_line_error(run, "refs(unc).p", "refused")
    assert not marker.exists()
    assert not out.exists()


def test_pickled_class_instances_are_refused_too(tmp_path: Path) -> None:
    from collections import OrderedDict

    path = tmp_path / "refs(unc).p"
    path.write_bytes(pickle.dumps([OrderedDict(a=1)], protocol=0))
    with pytest.raises(InputError, match="refused"):
        load_plain_pickle(path)
    path.write_bytes(b"\x80\x02]q\x00(K\x01")  # truncated
    with pytest.raises(InputError, match="not a readable pickle"):
        load_plain_pickle(path)


# ---------------------------------------------------------------------------
# A small hand-made REFER world


def _make_world(tmp_path: Path, refs: list[dict], anns: list[dict], *, gref: bool = False, size=(20, 30)) -> Path:
    folder = tmp_path / ("grefcoco" if gref else "refcoco")
    folder.mkdir(exist_ok=True)
    h, w = size
    instances = {
        "images": [{"id": 1, "height": h, "width": w, "file_name": "a.jpg"}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [{"image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 1, 1], **a} for a in anns],
    }
    (folder / "instances.json").write_text(json.dumps(instances))
    if gref:
        (folder / "grefs(unc).json").write_text(json.dumps(refs))
    else:
        (folder / "refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    return folder


def _ref(ref_id: int, ann_id, sent_ids: list[int], split: str = "val") -> dict:
    return {"ref_id": ref_id, "image_id": 1, "ann_id": ann_id, "split": split, "sent_ids": sent_ids,
            "sentences": [{"sent_id": s, "raw": f"s{s}", "sent": f"s{s}", "tokens": []} for s in sent_ids]}


def _polygon_ann(ann_id: int, box=(2, 2, 12, 10)) -> dict:
    x0, y0, x1, y1 = box
    return {"id": ann_id, "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]], "area": float((x1 - x0) * (y1 - y0))}


def _crowd_ann(ann_id: int, mask: np.ndarray) -> dict:
    counts = [int(c) for c in _uncompressed_counts(mask)]
    return {"id": ann_id, "segmentation": {"size": list(mask.shape), "counts": counts}, "area": float(mask.sum()), "iscrowd": 1}


def _uncompressed_counts(mask: np.ndarray) -> list[int]:
    flat = mask.ravel(order="F")
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel == value:
            run += 1
        else:
            counts.append(run)
            value, run = pixel, 1
    counts.append(run)
    return counts


def test_crowd_only_target_and_empty_prediction_lisa_vs_mmdet(tmp_path: Path) -> None:
    """A ref whose only annotation is a crowd region has an empty target; an
    empty prediction then has U = 0: IoU 1 under lisa, 0 under mmdet."""
    h, w = 20, 30
    crowd = _box(h, w, 5, 15, 5, 20)
    folder = _make_world(tmp_path, [_ref(1, 1, [1]), _ref(2, 2, [2])], [_polygon_ann(1), _crowd_ann(2, crowd)])
    pred = _write_jsonl(tmp_path / "pred.jsonl", [
        {"sent_id": 1, "segmentation": _rle(_box(h, w, 2, 10, 2, 12))},
        {"sent_id": 2, "segmentation": _rle(np.zeros((h, w), np.uint8))},
    ])
    lisa = evaluate("refcoco", folder, pred, progress=False)
    mmdet = evaluate("refcoco", folder, pred, protocol="mmdet", progress=False)
    assert [r.IoU for r in lisa.records] == [1.0, 1.0]
    assert [r.IoU for r in mmdet.records] == [1.0, 0.0]
    assert lisa.metrics["gIoU"] == 100.0 and mmdet.metrics["gIoU"] == 50.0
    assert lisa.metrics["cIoU"] == mmdet.metrics["cIoU"] == 100.0
    assert any("empty target mask" in w for w in lisa.warnings)
    assert mmdet.params["protocol"] == "mmdet"


def test_crowd_never_belongs_to_the_target(tmp_path: Path) -> None:
    h, w = 20, 30
    crowd = _box(h, w, 10, 20, 0, 30)
    refs = [{**_ref(1, [1, 2], [1])}]
    folder = _make_world(tmp_path, refs, [_polygon_ann(1, (0, 0, 10, 10)), _crowd_ann(2, crowd)], gref=True)
    both = np.maximum(_box(h, w, 0, 10, 0, 10), crowd)
    pred = _write_jsonl(tmp_path / "pred.jsonl", [{"sent_id": 1, "segmentation": _rle(both)}])
    result = evaluate("gref", folder, pred, progress=False)
    record = result.records[0]
    assert (record.I, record.U) == (100, int(both.sum()))


@needs_fixtures
def test_refcoco_psalm_protocol_is_per_ref() -> None:
    lisa = _run(REFCOCO_CASE)
    psalm = _run(REFCOCO_CASE, protocol="psalm")
    assert psalm.params["protocol"] == "psalm" and psalm.params["samples"] == "per ref"
    assert psalm.n_samples == 11 < lisa.n_samples == 24
    assert abs(psalm.metrics["cIoU"] - lisa.metrics["cIoU"]) > 1.0
    refs = load_plain_pickle(REFCOCO_CASE / "gt" / "refs(unc).p")
    firsts = {r["sent_ids"][0] for r in refs if r["split"] == "val"}
    assert {r.sent_id for r in psalm.records} == firsts
    assert any("not used" in w for w in psalm.warnings)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' decode under numpy 2
def test_psalm_protocol_rasterises_with_cv2_and_epsilon(tmp_path: Path) -> None:
    """A perfect (pycocotools-decoded) prediction of a slanted polygon scores
    IoU 1 under lisa; PSALM's cv2 fill differs on the boundary and divides
    by U + 1e-5."""
    h, w = 40, 40
    ann = {"id": 1, "segmentation": [[3.6, 2.2, 30.7, 8.9, 25.1, 33.8, 5.5, 28.4]], "area": 500.0}
    folder = _make_world(tmp_path, [_ref(1, 1, [1])], [ann], size=(h, w))
    exact = mask_api.decode(mask_api.merge(mask_api.frPyObjects(ann["segmentation"], h, w)))
    pred = _write_jsonl(tmp_path / "pred.jsonl", [{"sent_id": 1, "segmentation": _rle(exact)}])
    lisa = evaluate("refcoco", folder, pred, progress=False)
    psalm = evaluate("refcoco", folder, pred, protocol="psalm", progress=False)
    assert lisa.records[0].IoU == 1.0
    r = psalm.records[0]
    assert r.IoU == pytest.approx(r.I / (r.U + 1e-5), rel=1e-15) and r.IoU < 0.99


@needs_fixtures
def test_gref_gsva_keeps_the_mask_of_a_rejected_target() -> None:
    rela = _run(GREF_CASE)
    gsva = _run(GREF_CASE, protocol="gsva")
    assert gsva.metrics["gIoU"] > rela.metrics["gIoU"] + 1.0
    assert gsva.metrics["N-acc"] == rela.metrics["N-acc"] and gsva.metrics["T-acc"] == rela.metrics["T-acc"]
    changed = [(a, b) for a, b in zip(rela.records, gsva.records) if a.I != b.I]
    assert changed and all(not a.gt_no_target and a.pred_no_target and a.I == 0 < b.I for a, b in changed)


@needs_fixtures
def test_gref_psalm_ignores_no_target_and_has_no_accuracies() -> None:
    rela = _run(GREF_CASE)
    psalm = _run(GREF_CASE, protocol="psalm")
    assert psalm.metrics["N-acc"] is None and psalm.metrics["T-acc"] is None
    assert abs(psalm.metrics["cIoU"] - rela.metrics["cIoU"]) > 1.0
    assert psalm.params["samples"] == "per ref"


def test_gref_rules_one_sample_each() -> None:
    h, w = 10, 10
    target = mask_api.encode(np.asfortranarray(_box(h, w, 0, 5, 0, 5)))
    empty = mask_api.encode(np.asfortranarray(np.zeros((h, w), np.uint8)))
    blob = _box(h, w, 0, 5, 0, 10)  # covers the target and 25 more pixels
    cases = [
        # (gt no-target, pred mask, pred flag) -> (I, U, IoU, TP/FN/FP/TN)
        (True, None, None, (0, 0, 1.0)),
        (True, blob, True, (0, 0, 1.0)),
        (True, blob, None, (0, 50, 0.0)),
        (True, np.zeros((h, w)), False, (0, 0, 0.0)),
        (False, blob, True, (0, 50, 0.0)),
        (False, None, None, (0, 25, 0.0)),
        (False, np.zeros((h, w)), False, (0, 25, 0.0)),
        (False, blob, None, (25, 50, 0.5)),
    ]
    rela, gsva = GrefEvaluator("rela"), GrefEvaluator("gsva")
    for i, (gt_nt, mask, flag, want) in enumerate(cases):
        gt = ReferringGT(i, i, empty if gt_nt else target, gt_nt)
        rela.update(gt, ReferringPred(mask, flag))
        gsva.update(gt, ReferringPred(mask, flag))
        got = rela.records[-1]
        assert (got.I, got.U, got.IoU) == want, i
    # gsva differs only on the rejected target sample (index 4): its mask keeps I = 25
    assert (gsva.records[4].I, gsva.records[4].IoU) == (25, 0.5)
    metrics = rela.compute().metrics
    assert metrics["N-acc"] == pytest.approx(50.0)  # TP 2, FN 2
    assert metrics["T-acc"] == pytest.approx(100 * 2 / 4)  # TN 2 (incl. not-rejected empty), FP 2
    assert metrics["cIoU"] == pytest.approx(100 * 25 / 200)


def test_evaluators_merge_and_accept_arrays() -> None:
    gt = ReferringGT(1, 1, mask_api.encode(np.asfortranarray(_box(8, 8, 0, 4, 0, 4))))
    a, b = RefcocoEvaluator(), RefcocoEvaluator()
    a.update(gt, ReferringPred(_box(8, 8, 0, 4, 0, 2)))
    b.update(gt, ReferringPred(_box(8, 8, 0, 4, 0, 4)))
    merged = a.merge(b).compute()
    assert merged.n_samples == 2
    assert merged.metrics["gIoU"] == pytest.approx(75.0) and merged.metrics["Pr@0.5"] == 100.0 and merged.metrics["Pr@0.9"] == 50.0
    assert RefcocoEvaluator().compute().metrics["cIoU"] is None
    with pytest.raises(InputError, match="unknown protocol 'rela' for refcoco"):
        RefcocoEvaluator("rela")


def test_pr_at_k_counts_iou_equal_to_k(tmp_path: Path) -> None:
    h, w = 10, 10
    folder = _make_world(tmp_path, [_ref(1, 1, [1]), _ref(2, 2, [2])], [_polygon_ann(1, (0, 0, 10, 10)), _polygon_ann(2, (0, 0, 10, 10))], size=(h, w))
    pred = _write_jsonl(tmp_path / "pred.jsonl", [
        {"sent_id": 1, "segmentation": _rle(_box(h, w, 0, 5, 0, 10))},  # IoU exactly 0.5
        {"sent_id": 2, "segmentation": _rle(_box(h, w, 0, 7, 0, 10))},  # IoU exactly 0.7
    ])
    result = evaluate("refcoco", folder, pred, progress=False)
    assert [r.IoU for r in result.records] == [0.5, 0.7]
    assert (result.metrics["Pr@0.5"], result.metrics["Pr@0.6"], result.metrics["Pr@0.7"], result.metrics["Pr@0.8"]) == (100.0, 50.0, 50.0, 0.0)


def test_unknown_protocol_split_and_dataset(tmp_path: Path) -> None:
    folder = _make_world(tmp_path, [_ref(1, 1, [1])], [_polygon_ann(1)])
    pred = _write_jsonl(tmp_path / "pred.jsonl", [])
    with pytest.raises(InputError, match="lisa, mmdet, psalm"):
        evaluate("refcoco", folder, pred, protocol="rela", progress=False)
    with pytest.raises(InputError, match="no refs in split 'testA'.*val"):
        evaluate("refcoco", folder, pred, split="testA", progress=False)
    with pytest.raises(InputError, match="unknown --dataset"):
        evaluate("refcoco", folder, pred, dataset="refclef", progress=False)
    with pytest.raises(InputError, match=r"no refs\(google\)"):
        evaluate("refcoco", folder, pred, split_by="google", progress=False)


# ---------------------------------------------------------------------------
# Bad input, through the CLI: one line naming file and record, exit 2, no JSON


def _cli_bad(tmp_path: Path, task: str, gt: Path, pred: Path, *fragments: str, extra: tuple = ()) -> None:
    out = tmp_path / "out.json"
    run = run_cli("eval", "--task", task, "--gt", gt, "--pred", pred, "--json", out, *extra)
    assert_one_line_error(run, *fragments)
    assert not out.exists()


@needs_fixtures
def test_bad_prediction_lines(tmp_path: Path) -> None:
    case = _copy_case(REFCOCO_CASE, tmp_path)
    lines = (case / "pred.jsonl").read_text().splitlines()
    gt = case / "gt"
    variants = {
        "malformed": (lines[:3] + ['{"sent_id": 5, "segmentation": '] + lines[3:], ("bad.jsonl", "line 4", "not valid JSON")),
        "duplicate": (lines + [lines[0]], ("bad.jsonl", f"line {len(lines) + 1}", "given twice", "line 1")),
        "not_in_split": (lines + [json.dumps({"sent_id": 4, "segmentation": json.loads(lines[0])["segmentation"]})], ("bad.jsonl", "sent_id 4", "split 'train', not 'val'", "--ignore-extra")),
        "unknown": (lines + [json.dumps({"sent_id": 999, "segmentation": json.loads(lines[0])["segmentation"]})], ("bad.jsonl", "sent_id 999", "not in the ground truth")),
        "no_sent_id": (lines + ['{"segmentation": {}}'], ("bad.jsonl", f"line {len(lines) + 1}", "'sent_id' must be an integer")),
    }
    for name, (content, fragments) in variants.items():
        pred = _write_jsonl(tmp_path / "bad.jsonl", content)
        _cli_bad(tmp_path, "refcoco", gt, pred, *fragments)


@needs_fixtures
def test_extra_sentence_skipped_with_ignore_extra(tmp_path: Path) -> None:
    lines = (REFCOCO_CASE / "pred.jsonl").read_text().splitlines()
    pred = _write_jsonl(tmp_path / "pred.jsonl", lines + [json.dumps({"sent_id": 4, "segmentation": json.loads(lines[0])["segmentation"]})])
    result = evaluate("refcoco", REFCOCO_CASE / "gt", pred, split="val", ignore_extra=True, progress=False)
    assert result.metrics == _run(REFCOCO_CASE).metrics
    assert any("1 prediction line(s) for sentences not in the evaluated split skipped" in w for w in result.warnings)


@needs_fixtures
def test_bad_masks(tmp_path: Path) -> None:
    lines = [json.loads(l) for l in (REFCOCO_CASE / "pred.jsonl").read_text().splitlines()]
    first = lines[0]
    sid = first["sent_id"]
    h, w = first["segmentation"]["size"]
    wrong_size = [{**first, "segmentation": _rle(np.zeros((h + 1, w), np.uint8))}] + lines[1:]
    pred = _write_jsonl(tmp_path / "size.jsonl", wrong_size)
    _cli_bad(tmp_path, "refcoco", REFCOCO_CASE / "gt", pred, "size.jsonl", f"line 1 (sent_id {sid})", f"mask size {h + 1}x{w} differs from image size {h}x{w}")
    corrupt = lines[:2] + [{**lines[2], "segmentation": {"size": lines[2]["segmentation"]["size"], "counts": "0a"}}] + lines[3:]
    pred = _write_jsonl(tmp_path / "corrupt.jsonl", corrupt)
    _cli_bad(tmp_path, "refcoco", REFCOCO_CASE / "gt", pred, "corrupt.jsonl", f"line 3 (sent_id {lines[2]['sent_id']})", "RLE counts")
    short = lines[:1] + [{**lines[1], "segmentation": {"size": lines[1]["segmentation"]["size"], "counts": "04"}}]
    pred = _write_jsonl(tmp_path / "short.jsonl", short)
    _cli_bad(tmp_path, "refcoco", REFCOCO_CASE / "gt", pred, "short.jsonl", "line 2", "RLE counts cover 4 pixels")
    non_ascii = lines[:1] + [{**lines[1], "segmentation": {"size": lines[1]["segmentation"]["size"], "counts": "0é"}}]
    pred = _write_jsonl(tmp_path / "ascii.jsonl", non_ascii)
    _cli_bad(tmp_path, "refcoco", REFCOCO_CASE / "gt", pred, "ascii.jsonl", "line 2", "outside the COCO alphabet")
    h1, w1 = lines[1]["segmentation"]["size"]
    uncompressed_too_long = lines[:1] + [{**lines[1], "segmentation": {"size": [h1, w1], "counts": [h1 * w1 + 1]}}]
    pred = _write_jsonl(tmp_path / "unc.jsonl", uncompressed_too_long)
    _cli_bad(tmp_path, "refcoco", REFCOCO_CASE / "gt", pred, "unc.jsonl", "line 2", "RLE counts sum to")


@needs_fixtures
def test_bad_gref_lines(tmp_path: Path) -> None:
    lines = [json.loads(l) for l in (GREF_CASE / "pred.jsonl").read_text().splitlines()]
    bad_flag = [{**lines[0], "no_target": "yes"}] + lines[1:]
    pred = _write_jsonl(tmp_path / "flag.jsonl", bad_flag)
    _cli_bad(tmp_path, "gref", GREF_CASE / "gt", pred, "flag.jsonl", "line 1", "'no_target' must be true or false")
    no_mask = [{"sent_id": lines[0]["sent_id"]}] + lines[1:]
    pred = _write_jsonl(tmp_path / "nomask.jsonl", no_mask)
    _cli_bad(tmp_path, "gref", GREF_CASE / "gt", pred, "nomask.jsonl", "line 1", "missing 'segmentation'")
    # a line that says no_target without a mask is fine
    ok = [{"sent_id": lines[0]["sent_id"], "no_target": True}] + lines[1:]
    result = evaluate("gref", GREF_CASE / "gt", _write_jsonl(tmp_path / "ok.jsonl", ok), progress=False)
    assert result.records


@needs_fixtures
def test_missing_files(tmp_path: Path) -> None:
    _cli_bad(tmp_path, "refcoco", REFCOCO_CASE / "gt", tmp_path / "nope.jsonl", "nope.jsonl", "file not found")
    _cli_bad(tmp_path, "refcoco", tmp_path / "nowhere", REFCOCO_CASE / "pred.jsonl", "nowhere", "not found")
    case = _copy_case(REFCOCO_CASE, tmp_path)
    (case / "gt" / "instances.json").unlink()
    _cli_bad(tmp_path, "refcoco", case / "gt", case / "pred.jsonl", "instances.json", "file not found")
    (case / "gt" / "refs(unc).p").unlink()
    _cli_bad(tmp_path, "refcoco", case / "gt", case / "pred.jsonl", "refs(unc).p or refs(unc).json")
    _cli_bad(tmp_path, "gref", case / "gt", case / "pred.jsonl", "grefs(unc).json")


def test_bad_refs_records(tmp_path: Path) -> None:
    pred = _write_jsonl(tmp_path / "pred.jsonl", [])
    folder = _make_world(tmp_path, [_ref(1, 1, [1]), _ref(2, 1, [1])], [_polygon_ann(1)])
    _cli_bad(tmp_path, "refcoco", folder, pred, "refs(unc).p", "ref 2", "sent_id 1 is also a sentence of ref 1")
    folder = _make_world(tmp_path, [_ref(1, 7, [1])], [_polygon_ann(1)])
    _cli_bad(tmp_path, "refcoco", folder, pred, "refs(unc).p", "ref 1", "ann_id 7 is not in instances.json")
    folder = _make_world(tmp_path, [_ref(1, [-1, 1], [1])], [_polygon_ann(1)], gref=True)
    _cli_bad(tmp_path, "gref", folder.parent, pred, "grefs(unc).json", "ref 1", "mixes -1")
    folder = _make_world(tmp_path, [_ref(1, 1, [1])], [{"id": 1, "segmentation": {"size": [20, 30], "counts": "0a"}, "area": 1.0}])
    _cli_bad(tmp_path, "refcoco", folder, pred, "instances.json", "annotation 1", "RLE counts")


def test_first_bad_counts_agrees_with_pycocotools_on_valid_masks() -> None:
    rng = np.random.default_rng(3)
    rles = []
    for i in range(200):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        if i % 9 == 0:
            mask[:] = i % 2
        rles.append(mask_api.encode(np.asfortranarray(mask)))
    assert first_bad_counts(rles) is None
    shifted = rles[:7] + [{"size": [rles[7]["size"][0] + 1, rles[7]["size"][1]], "counts": rles[7]["counts"]}]
    index, problem = first_bad_counts(shifted)
    assert index == 7 and "cover" in problem
    for counts in (b"", b"0a", b"0 ", b"0ooooooo4", b"0" * 30):
        assert first_bad_counts(rles[:3] + [{"size": [4, 4], "counts": counts}])[0] == 3, counts
