"""What reproduce asks the world for, answered by psalm_bench/world_gt.py alone:
every task's splits, ground truth, images and headline metric, the takes that go
with the world, and its held-out categories."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from psalm_bench.errors import InputError
from psalm_bench.generators.world import load_manifest
from psalm_bench.world_gt import novel_categories, takes_beside, world_gt, world_splits

REPRODUCE = Path(__file__).resolve().parents[1] / "psalm_bench" / "reproduce.py"


def test_splits_come_in_the_manifests_order_and_each_resolves(tiny_world):
    manifest = load_manifest(tiny_world)
    assert world_splits("refcoco", world=tiny_world) == list(manifest["tasks"]["refcoco"]) == ["val", "testA", "testB"]
    assert world_splits("no-such-task", world=tiny_world) == []
    for key, splits in manifest["tasks"].items():
        for split, entry in splits.items():
            found = world_gt(key, split, world=tiny_world)
            assert (found.task, found.split, found.eval_task, found.metric) == (key, split, entry["task"], entry["metric"])
            assert found.gt == tiny_world / entry["gt"] and found.gt.exists()
            assert found.images is None or found.images.is_dir()


def test_the_takes_are_built_beside_the_world_with_its_seed_and_size(tiny_world):
    found = takes_beside(tiny_world)
    manifest = load_manifest(tiny_world)
    assert found.root.parent == tiny_world.parent and found.gt.is_file() and found.images.is_dir()
    assert (found.task, found.split, found.eval_task, found.metric) == ("correspondence", "val", "correspondence", "EgoExo_IoU")
    assert f"seed{manifest['seed']}" in found.root.name or str(manifest["seed"]) in found.root.name
    assert takes_beside(tiny_world).root == found.root  # built once


def test_novel_categories_are_the_manifests(tiny_world):
    assert novel_categories(tiny_world) == load_manifest(tiny_world)["categories"]["novel"] != []


def test_a_folder_that_is_not_a_world_is_one_line(tmp_path):
    with pytest.raises(InputError, match="no world.json"):
        world_splits("refcoco", world=tmp_path)


def test_reproduce_reads_the_world_only_through_world_gt():
    """No manifest walking of its own: no load_manifest, no task_inputs, no ``manifest[...]``."""
    tree = ast.parse(REPRODUCE.read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not ({"load_manifest", "task_inputs", "manifest", "world_job"} & (names | imported))
