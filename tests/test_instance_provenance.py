"""The instance task hashes its results file from the bytes it scored, in the
same read: the provenance's ``pred_sha256`` is the file's sha256 and the file
is not read a second time for it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from psalm_bench import results as results_mod
from psalm_bench.results import EvalResult, bytes_digest, digest_key, input_digest


def _world(tmp_path: Path) -> tuple[Path, Path]:
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(3)
    gt = {"images": [{"id": 1, "height": 12, "width": 10, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "a"}], "annotations": []}
    dets = []
    for k in range(6):
        m = np.zeros((12, 10), dtype=np.uint8)
        m[k:k + 5, 1:1 + k + 2] = 1
        rle = mask_utils.encode(np.asfortranarray(m))
        rle["counts"] = rle["counts"].decode("ascii")
        if k % 2 == 0:
            gt["annotations"].append({"id": k + 1, "image_id": 1, "category_id": 1, "segmentation": rle, "area": float(m.sum()),
                                      "bbox": [float(v) for v in mask_utils.toBbox(rle)], "iscrowd": 0})
        dets.append({"image_id": 1, "category_id": 1, "segmentation": rle, "score": round(float(rng.random()), 4)})
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(dets))
    return tmp_path / "gt.json", tmp_path / "pred.json"


def _hashed_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the provenance hashes by reading the file (``sha256_of``)."""
    seen: list[str] = []
    real = results_mod.sha256_of

    def spy(path):
        seen.append(Path(path).resolve().as_posix())
        return real(path)

    monkeypatch.setattr(results_mod, "sha256_of", spy)
    return seen


def test_the_results_file_is_hashed_in_the_read_that_scores_it(tmp_path, monkeypatch) -> None:
    from psalm_bench.evaluators.instance import evaluate_instance

    gt, pred = _world(tmp_path)
    result = evaluate_instance(gt, pred, progress=False)
    assert result.input_digests == {digest_key(pred): hashlib.sha256(pred.read_bytes()).hexdigest()}
    seen = _hashed_files(monkeypatch)
    doc = result.to_dict(gt=[gt], pred=[pred])
    assert doc["provenance"]["pred_sha256"] == hashlib.sha256(pred.read_bytes()).hexdigest()
    assert doc["provenance"]["gt_sha256"] == hashlib.sha256(gt.read_bytes()).hexdigest()
    assert seen == [gt.resolve().as_posix()]  # the ground truth is read for its hash; the results file is not


def test_the_cli_writes_the_same_provenance_as_hashing_the_files(tmp_path) -> None:
    from typer.testing import CliRunner

    from psalm_bench.cli import app

    gt, pred = _world(tmp_path)
    out = tmp_path / "result.json"
    run = CliRunner().invoke(app, ["eval", "--task", "instance", "--gt", str(gt), "--pred", str(pred), "--json", str(out)])
    assert run.exit_code == 0, run.output
    provenance = json.loads(out.read_text())["provenance"]
    assert provenance["pred_sha256"] == hashlib.sha256(pred.read_bytes()).hexdigest()
    assert provenance["gt_sha256"] == hashlib.sha256(gt.read_bytes()).hexdigest()


def test_known_digests_are_used_only_for_their_own_file(tmp_path, monkeypatch) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_bytes(b"[1]")
    b.write_bytes(b"[2]")
    known = {digest_key(a): "f" * 64}
    seen = _hashed_files(monkeypatch)
    assert input_digest(a, known) == "f" * 64
    assert input_digest(b, known) == hashlib.sha256(b"[2]").hexdigest()
    assert input_digest([a, b], known) == hashlib.sha256(("f" * 64 + hashlib.sha256(b"[2]").hexdigest()).encode()).hexdigest()
    assert seen == [b.resolve().as_posix()] * 2
    assert bytes_digest(b"[1]") == hashlib.sha256(b"[1]").hexdigest()


def test_digests_do_not_change_equality_or_the_json(tmp_path) -> None:
    plain = EvalResult(task="instance", metrics={"AP": 1.0}, n_samples=1)
    hashed = EvalResult(task="instance", metrics={"AP": 1.0}, n_samples=1, input_digests={"/x": "0" * 64})
    assert plain == hashed
    assert "input_digests" not in json.dumps(hashed.to_dict())
