"""GCG past one process: `--workers`, `--shard K/N` + `merge` (shuffled) and `--engine ray`
give the one-process JSON byte for byte; METEOR/CIDEr are computed once, on the driver,
from the merged per-image records."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from test_shards import invoke

from psalm_bench.masks import encode


def gcg_case(root: Path, n: int = 9) -> list[str]:
    """Small GCG GT and predictions: int ids out of order (COCOeval ranks by sorted id),
    an image without a prediction line, one with an empty phrase list, varied phrase texts."""
    rng = random.Random(7)
    words = ["a red car", "the tree", "a dog", "two people", "the sky"]

    def rect() -> dict:
        m = np.zeros((10, 12), dtype=np.uint8)
        r, c = rng.randrange(7), rng.randrange(9)
        m[r:r + rng.randint(2, 4), c:c + rng.randint(2, 4)] = 1
        return encode(m)

    gts, preds = [], []
    for k in range(n):
        sid = 500 - 37 * k if k % 3 else f"img{k}"
        phrases = [{"text": rng.choice(words), "mask": rect()} for _ in range(rng.randint(1, 3))]
        gts.append({"id": sid, "height": 10, "width": 12, "caption": " and ".join(p["text"] for p in phrases), "phrases": phrases})
        if k == 4:
            continue
        guess = [] if k == 5 else [{"text": p["text"] if rng.random() < 0.7 else rng.choice(words),
                                    "mask": p["mask"] if rng.random() < 0.5 else rect()} for p in phrases]
        preds.append({"id": sid, "caption": " and ".join(p["text"] for p in guess) or "nothing", "phrases": guess})
    root.mkdir(parents=True, exist_ok=True)
    (root / "gt.json").write_text(json.dumps(gts))
    (root / "pred.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    return ["--task", "gcg", "--gt", str(root / "gt.json"), "--pred", str(root / "pred.jsonl")]


def test_gcg_shards_merged_in_any_order_and_pool_give_the_one_process_json(tmp_path: Path) -> None:
    args = gcg_case(tmp_path / "gcg") + ["--no-captions"]
    invoke("eval", *args, "--json", tmp_path / "one.json")
    one = (tmp_path / "one.json").read_bytes()
    data = json.loads(one)
    assert data["n_samples"] == 9 and data["metrics"]["AP50"] > 0 and data["metrics"]["Recall"] > 0
    paths = [tmp_path / f"s{k}.state" for k in range(1, 4)]
    for k, path in enumerate(paths, 1):
        assert f"shard {k}/3" in invoke("eval", *args, "--shard", f"{k}/3", "--state-out", path)
    random.Random(1).shuffle(paths)
    invoke("merge", *paths, "--json", tmp_path / "merged.json")
    assert (tmp_path / "merged.json").read_bytes() == one
    invoke("eval", *args, "--workers", "2", "--json", tmp_path / "pool.json")
    assert (tmp_path / "pool.json").read_bytes() == one
    # a state file holds records and no pickle; a muse shard does not merge with gcg shards
    with np.load(paths[0], allow_pickle=False) as npz:
        assert json.loads(npz["header.npy"].tobytes())["task"] == "gcg"
    muse = tmp_path / "muse.json"
    muse.write_text(json.dumps([{"id": 1, "height": 2, "width": 2, "masks": []}]))
    (tmp_path / "muse.jsonl").write_text(json.dumps({"id": 1, "masks": []}) + "\n")
    invoke("eval", "--task", "muse", "--gt", muse, "--pred", tmp_path / "muse.jsonl", "--shard", "2/3", "--state-out", tmp_path / "m.state")
    s1, s3 = sorted(p for p in paths if p.name in ("s1.state", "s3.state"))
    assert_one_line_error(run_cli("merge", s1, tmp_path / "m.state", s3), "m.state", "differs from gcg")


def test_gcg_caption_metrics_come_from_the_merged_records(tmp_path: Path) -> None:
    pytest.importorskip("pycocoevalcap")
    if shutil.which("java") is None:
        pytest.skip("java not installed")
    args = gcg_case(tmp_path / "gcg")
    invoke("eval", *args, "--json", tmp_path / "one.json")
    one = (tmp_path / "one.json").read_bytes()
    metrics = json.loads(one)["metrics"]
    assert metrics["METEOR"] > 0 and metrics["CIDEr"] > 0
    paths = [tmp_path / f"s{k}.state" for k in (1, 2)]
    for k, path in enumerate(paths, 1):
        invoke("eval", *args, "--shard", f"{k}/2", "--state-out", path)
    invoke("merge", paths[1], paths[0], "--json", tmp_path / "merged.json")
    assert (tmp_path / "merged.json").read_bytes() == one


def test_gcg_on_ray_gives_the_one_process_json(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    args = gcg_case(tmp_path / "gcg") + ["--no-captions"]
    invoke("eval", *args, "--json", tmp_path / "one.json")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
    try:
        invoke("eval", *args, "--engine", "ray", "--shards", "3", "--json", tmp_path / "ray.json")
    finally:
        if started:
            ray.shutdown()
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "one.json").read_bytes()
