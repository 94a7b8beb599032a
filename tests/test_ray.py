"""`eval --engine ray` on a real local Ray cluster (2 CPUs on 127.0.0.1): the one-process JSON, byte for byte."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import assert_one_line_error, needs_fixtures, run_cli
from test_shards import SHARDED_TASKS, case_args, invoke

ray = pytest.importorskip("ray")
pytestmark = needs_fixtures

from psalm_bench.api import evaluate  # noqa: E402
from psalm_bench.jsonio import dump_json  # noqa: E402
from psalm_bench.ray_engine import RayEngine  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the killer loader below travels by value
    yield
    ray.shutdown()


@pytest.mark.parametrize("task", SHARDED_TASKS)
def test_ray_gives_the_one_process_json(task: str, tmp_path: Path) -> None:
    args = case_args(task, tmp_path)
    invoke("eval", *args, "--json", tmp_path / "one.json")
    invoke("eval", *args, "--engine", "ray", "--shards", "3", "--json", tmp_path / "ray.json")
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "one.json").read_bytes()


@dataclasses.dataclass
class KillableLoad:
    """Wraps a loader; the first worker to reach ``target`` records its pid and waits to be killed."""

    load: Any
    target: str
    victim: str

    def __call__(self, sample: Any) -> Any:
        if repr(sample) == self.target:
            try:
                fd = os.open(self.victim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass  # the retry: score normally
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                time.sleep(120)  # killed here, mid-shard, with one sample already in its state
        return self.load(sample)


@dataclasses.dataclass
class KillableRay(RayEngine):
    victim: str = ""

    def run(self, evaluator, samples, load, **kwargs):
        return super().run(evaluator, samples, KillableLoad(load, repr(samples[1]), self.victim), **kwargs)


def test_a_killed_worker_is_retried_without_double_counting(tmp_path: Path) -> None:
    args = case_args("refcoco", tmp_path)
    gt, pred = args[args.index("--gt") + 1], args[args.index("--pred") + 1]
    options = {"dataset": "refcoco", "split": "val", "progress": False}
    one = evaluate("refcoco", gt, pred, workers=1, **options)
    victim = tmp_path / "victim.pid"
    killed: list[int] = []

    def kill_when_waiting() -> None:
        deadline = time.time() + 120
        while time.time() < deadline:
            if victim.exists() and victim.read_text():
                pid = int(victim.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_waiting)
    killer.start()
    result = evaluate("refcoco", gt, pred, workers=KillableRay(shards=2, victim=str(victim)), **options)
    killer.join()
    assert killed, "no worker reached the kill point"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    dump_json(one.to_dict(), tmp_path / "one.json")
    dump_json(result.to_dict(), tmp_path / "ray.json")
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "one.json").read_bytes()
    assert result.n_samples == one.n_samples


def test_an_address_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    args = case_args("interactive", tmp_path)
    started = time.time()
    run = run_cli("eval", *args, "--engine", "ray", "--address", "127.0.0.1:9", "-q")
    assert_one_line_error(run, "--address 127.0.0.1:9", "no Ray cluster answers there")
    assert time.time() - started < 60


def test_ray_options_without_ray_engine_are_refused(tmp_path: Path) -> None:
    args = case_args("interactive", tmp_path)
    assert_one_line_error(run_cli("eval", *args, "--shards", "4"), "--address and --shards need --engine ray")
    assert_one_line_error(run_cli("eval", *args, "--engine", "ray", "--workers", "2"), "with --engine ray use --shards")


def test_build_interactive_on_ray_is_byte_identical(tmp_path: Path) -> None:
    from psalm_bench.generators.coco_workload import main as make_workload

    make_workload([str(tmp_path / "w"), "--n-images", "24", "--n-panoptic", "0", "--dets-per-image", "1", "--height", "96", "--width", "128", "--no-progress"])
    instances = tmp_path / "w" / "instances_gt.json"
    invoke("build-interactive", "--instances", instances, "--out", tmp_path / "one.json")
    invoke("build-interactive", "--instances", instances, "--out", tmp_path / "ray.json", "--engine", "ray")
    one = (tmp_path / "one.json").read_bytes()
    assert len(json.loads(one)) > 10
    assert (tmp_path / "ray.json").read_bytes() == one


def test_synth_on_ray_writes_the_same_files(tmp_path: Path) -> None:
    invoke("synth", "--out", tmp_path / "one", "--size", "tiny", "--workers", "1")
    invoke("synth", "--out", tmp_path / "ray", "--size", "tiny", "--engine", "ray")
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    ray_files = sorted(p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray").rglob("*") if p.is_file())
    assert one == ray_files and len(one) > 20
    differ = [str(p) for p in one if (tmp_path / "one" / p).read_bytes() != (tmp_path / "ray" / p).read_bytes()]
    assert not differ, differ[:5]


def test_predict_on_ray_actors_writes_the_same_files(tiny_world: Path, tmp_path: Path) -> None:
    """Two actors; one is SIGKILLed inside a forward pass, restarted (the model loaded
    again) and its batch retried: the prediction files are still those of one process."""
    from psalm_bench.generators.world import load_manifest

    entry = load_manifest(tiny_world)["tasks"]["panoptic"]["val"]
    base = ["predict", "--task", "panoptic", "--gt", tiny_world / entry["gt"], "--images", tiny_world / entry["images"], "--batch-size", "4"]
    invoke(*base, "--out", tmp_path / "one")
    killed: list[int] = []
    stop = threading.Event()

    def kill_one_forward() -> None:
        while not stop.is_set() and not killed:
            pid = _own_ray_worker("_PredictActor.forward")
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one_forward)
    killer.start()
    try:
        invoke(*base, "--out", tmp_path / "ray", "--engine", "ray")
    finally:
        stop.set()
        killer.join()
    assert killed, "no actor was caught in a forward pass"
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert len(one) > 10
    assert one == sorted(p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray").rglob("*") if p.is_file())
    differ = [str(p) for p in one if (tmp_path / "one" / p).read_bytes() != (tmp_path / "ray" / p).read_bytes()]
    assert not differ, differ[:5]


def test_gpus_per_worker_beyond_the_cluster_is_one_line(tiny_world: Path, tmp_path: Path) -> None:
    """The 2-CPU test cluster has no GPU: asking for one per actor stops before any actor starts."""
    from typer.testing import CliRunner

    from psalm_bench.cli import app
    from psalm_bench.errors import InputError
    from psalm_bench.generators.world import load_manifest

    entry = load_manifest(tiny_world)["tasks"]["panoptic"]["val"]
    args = ["predict", "--task", "panoptic", "--gt", tiny_world / entry["gt"], "--images", tiny_world / entry["images"],
            "--out", tmp_path / "p", "--engine", "ray", "--gpus-per-worker", "1", "-q"]
    with pytest.raises(InputError, match=r"--gpus-per-worker 1.0: the cluster has 0 GPUs"):
        CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir())


def test_eval_on_the_world_with_ray_is_stamped_as_one_process(tiny_world: Path, tmp_path: Path) -> None:
    args = ["eval", "--task", "ov-semantic", "--world", tiny_world, "--pred", tiny_world / "ov" / "semantic"]
    invoke(*args, "--json", tmp_path / "one.json")
    invoke(*args, "--engine", "ray", "--shards", "2", "--json", tmp_path / "ray.json")
    assert json.loads((tmp_path / "ray.json").read_bytes())["provenance"]["params"]["world"].startswith("world-v")
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "one.json").read_bytes()


def test_the_driver_shows_progress_over_the_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One tqdm on the driver, advanced as each Ray task's state comes back: a line in a log at the end."""
    args = case_args("refcoco", tmp_path)
    gt, pred = args[args.index("--gt") + 1], args[args.index("--pred") + 1]
    result = evaluate("refcoco", gt, pred, dataset="refcoco", split="val", workers=RayEngine(shards=3), progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if "(ray)" in line]
    assert lines, "no progress line from the driver"
    assert f"{result.n_samples}/{result.n_samples}" in lines[-1]


def _dies_once(marker: str, value: int) -> int:
    """The first call for ``value`` kills its own worker process (as an OOM kill would)."""
    try:
        fd = os.open(f"{marker}.{value}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return value * value
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
    return -1  # never reached


def test_the_generators_executor_retries_a_killed_worker(tmp_path: Path) -> None:
    """build-interactive and synth submit through RayExecutor: a killed call is re-run, each result once, in order."""
    from psalm_bench.ray_engine import RayExecutor

    executor = RayExecutor()
    futures = [executor.submit(_dies_once, str(tmp_path / "m"), v) for v in range(4)]
    assert [f.result(timeout=120) for f in futures] == [0, 1, 4, 9]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"m.{v}" for v in range(4)]  # every call died once


def _own_ray_worker(title: str) -> int | None:
    """The pid of a worker of this test's local cluster (its parent, the raylet, is our child) running ``title``."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            grandparent = int((Path("/proc") / str(parent) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if title in cmdline and grandparent == me:
            return int(entry.name)
    return None
