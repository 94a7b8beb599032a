"""One task definition: the registry's option sets are what the runners take and what `eval` offers.

The option names of a task are written once, in psalm_bench/tasks.py; these
tests fail when an evaluate_* signature, the registry or the eval command's
flags drift apart, so a new option cannot be declared in one place only.
"""

from __future__ import annotations

import inspect

import pytest
from typer.testing import CliRunner

from psalm_bench.cli import app
from psalm_bench.errors import InputError
from psalm_bench.commands.eval import TaskName, eval_command
from psalm_bench.tasks import TASKS, Task

# eval's own flags: where the inputs come from, what to print, how to run; not a runner's options
COMMAND_ONLY = {"task", "pred", "gt", "json_out", "per_class", "world", "quiet", "engine", "address", "shards", "shard", "state_out"}


def _keywords(task: Task) -> set[str]:
    runner = task.runner()
    params = list(inspect.signature(runner).parameters.values())
    assert [p.name for p in params[:2]] == ["gt", "pred"], f"{task.name}: {runner.__name__} must take (gt, pred, ...)"
    assert not any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params), f"{task.name}: options must be named"
    return {p.name for p in params[2:]}


@pytest.mark.parametrize("name", list(TASKS))
def test_a_tasks_options_are_its_runners_keywords(name: str) -> None:
    task = TASKS[name]
    assert task.runner().__name__.startswith("evaluate_")
    assert _keywords(task) == set(task.options) | set(task.python_only)
    assert not task.options & task.python_only


def test_eval_offers_every_task_option_and_nothing_else() -> None:
    flags = set(inspect.signature(eval_command).parameters)
    options = set().union(*(t.options for t in TASKS.values())) - {"progress"}  # progress follows --quiet
    assert sorted(options - flags) == [], "a task option with no eval flag"
    assert sorted(flags - options - COMMAND_ONLY) == [], "an eval flag that no task takes"


def test_task_choices_and_the_tasks_command_follow_the_registry() -> None:
    assert [t.value for t in TaskName] == list(TASKS)
    out = CliRunner().invoke(app, ["tasks"]).output.splitlines()
    assert [line.split()[0] for line in out] == list(TASKS)


def test_an_option_the_task_does_not_take_is_one_line(tmp_path) -> None:
    run = CliRunner().invoke(app, ["eval", "--task", "vos", "--gt", str(tmp_path), "--pred", str(tmp_path), "--iou-type", "bbox"])
    assert run.exit_code != 0
    with pytest.raises(InputError, match="task vos does not take --iou-type"):
        TASKS["vos"].run(tmp_path, tmp_path, iou_type="bbox")


def test_the_worlds_ground_truth_is_resolved_in_one_place(tiny_world) -> None:
    """world_gt gives eval, predict and the API every task of the world: files that exist, a registry task to score them."""
    from psalm_bench.generators.world import load_manifest
    from psalm_bench.world_gt import world_gt

    tasks = load_manifest(tiny_world)["tasks"]
    for key, splits in tasks.items():
        for split in splits:
            found = world_gt(key, split, world=tiny_world)
            assert (found.task, found.split, found.root) == (key, split, tiny_world)
            assert found.eval_task in TASKS and found.gt.exists(), (key, split)
            assert found.images is not None and found.images.is_dir(), (key, split)
    assert world_gt("gref", world=tiny_world).split == "val"  # the default split
    with pytest.raises(InputError, match="no split 'nope'"):
        world_gt("gref", "nope", world=tiny_world)
