"""Every path that scores the embedded world stamps the result as `eval` does
(``params.world``, the world's task name), so `leaderboard add` ranks it on the
world's board and never beside the real benchmark's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import assert_one_line_error, run_cli
from test_shards import invoke

from psalm_bench.api import evaluate
from psalm_bench.generators.embedded import world_job
from psalm_bench.leaderboard.store import ResultsStore


def _world_name(world: Path) -> str:
    manifest = json.loads((world / "world.json").read_text())
    return f"world-v{manifest['version']}-{manifest['size']}-seed{manifest['seed']}"


def _boards(db: Path, *results: Path) -> set[tuple[str, str, str]]:
    added = run_cli("leaderboard", "add", *results, "--model", "m", "--db", db)
    assert added.returncode == 0, added.stderr
    with ResultsStore.open(db) as store:
        return {(r.task, r.benchmark, r.version) for r in store.list()}


def test_api_on_the_world_is_stamped_and_lands_on_the_world_board(tiny_world: Path, tmp_path: Path) -> None:
    name = _world_name(tiny_world)
    sem = evaluate("semantic", None, tiny_world / "coco" / "semantic_val2017", world=tiny_world, progress=False)
    ov = evaluate("ov-semantic", None, tiny_world / "ov" / "semantic", world=tiny_world, progress=False)
    assert (sem.task, sem.params["world"]) == ("semantic", name)
    assert (ov.task, ov.params["world"], ov.params["benchmark"]) == ("ov-semantic", name, "ov")
    assert ov.metrics["mIoU"] == 100.0
    # the same numbers and stamp as the CLI's `eval` on the world
    cli = tmp_path / "cli.json"
    invoke("eval", "--task", "ov-semantic", "--world", tiny_world, "--pred", tiny_world / "ov" / "semantic", "--json", cli)
    doc = json.loads(cli.read_text())
    assert (doc["task"], doc["metrics"], doc["provenance"]["params"]) == (ov.task, ov.metrics, ov.params)
    # the world's files named as gt: a result on that GT, unstamped, as on the CLI
    job = world_job(tiny_world, "semantic")
    plain = evaluate("semantic", job.gt, tiny_world / "coco" / "semantic_val2017", **job.options, progress=False)
    assert "world" not in plain.params and plain.metrics == sem.metrics
    paths = []
    for label, result, key, pred in (("sem", sem, "semantic", "coco/semantic_val2017"), ("ov", ov, "ov-semantic", "ov/semantic")):
        paths.append(tmp_path / f"{label}.json")
        result.write_json(paths[-1], gt=world_job(tiny_world, key).gt, pred=tiny_world / pred)
    assert _boards(tmp_path / "lb.db", *paths) == {("semantic", "default", name), ("ov-semantic", "ov", name)}


def test_world_shards_merge_stamped_as_one_process(tiny_world: Path, tmp_path: Path) -> None:
    args = ["--task", "ov-semantic", "--world", tiny_world, "--pred", tiny_world / "ov" / "semantic"]
    invoke("eval", *args, "--json", tmp_path / "one.json")
    paths = [tmp_path / f"s{k}.state" for k in (1, 2, 3)]
    for k, path in enumerate(paths, 1):
        invoke("eval", *args, "--shard", f"{k}/3", "--state-out", path)
    invoke("merge", paths[2], paths[0], paths[1], "--json", tmp_path / "merged.json")
    merged = json.loads((tmp_path / "merged.json").read_bytes())
    assert merged["task"] == "ov-semantic" and merged["provenance"]["params"]["world"] == _world_name(tiny_world)
    assert (tmp_path / "merged.json").read_bytes() == (tmp_path / "one.json").read_bytes()
    assert _boards(tmp_path / "lb.db", tmp_path / "merged.json") == {("ov-semantic", "ov", _world_name(tiny_world))}


def test_world_and_real_shards_do_not_merge(tiny_world: Path, tmp_path: Path) -> None:
    """The same files scored once as the world and once as a real GT are different runs."""
    job = world_job(tiny_world, "semantic")
    pred = tiny_world / "coco" / "semantic_val2017"
    world_args = ["--task", "semantic", "--world", tiny_world, "--pred", pred]
    real_args = ["--task", "semantic", "--gt", job.gt, "--pred", pred]
    for flag, value in job.options.items():
        real_args += [f"--{flag.replace('_', '-')}", value]
    invoke("eval", *world_args, "--shard", "1/2", "--state-out", tmp_path / "w1.state")
    invoke("eval", *real_args, "--shard", "2/2", "--state-out", tmp_path / "r2.state")
    assert_one_line_error(run_cli("merge", tmp_path / "w1.state", tmp_path / "r2.state"), "r2.state", "world")


def test_correspondence_world_is_stamped_by_the_api_and_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from psalm_bench.generators import world_egoexo
    from psalm_bench.generators.baselines import write_copy_baseline
    from psalm_bench.generators.world_egoexo import GT_NAME, ensure_egoexo

    takes = ensure_egoexo(tmp_path / "cache", size="tiny", progress=False)
    pred = write_copy_baseline(takes / GT_NAME, tmp_path / "copy.json")
    manifest = json.loads((takes / "egoexo.json").read_text())
    name = f"egoexo-v{manifest['version']}-tiny-seed{manifest['seed']}"
    result = evaluate("correspondence", None, pred, world=takes, progress=False)
    assert (result.task, result.params["world"]) == ("correspondence", name)
    monkeypatch.setattr(world_egoexo, "ensure_egoexo", lambda *a, **k: takes)  # the CLI's embedded takes, here
    invoke("eval", "--task", "correspondence", "--pred", pred, "--json", tmp_path / "cli.json")
    doc = json.loads((tmp_path / "cli.json").read_text())
    assert doc["provenance"]["params"]["world"] == name and doc["metrics"] == result.metrics
    for k in (1, 2):
        invoke("eval", "--task", "correspondence", "--pred", pred, "--shard", f"{k}/2", "--state-out", tmp_path / f"c{k}.state")
    invoke("merge", tmp_path / "c2.state", tmp_path / "c1.state", "--json", tmp_path / "merged.json")
    assert (tmp_path / "merged.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    result.write_json(tmp_path / "api.json", gt=takes / GT_NAME, pred=pred)
    assert _boards(tmp_path / "lb.db", tmp_path / "api.json") == {("correspondence", "default", name)}
    assert _boards(tmp_path / "lb2.db", tmp_path / "merged.json") == {("correspondence", "default", name)}
