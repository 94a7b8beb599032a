"""Time psalm-bench against the tools a user would otherwise run, on the same files.

Every tool runs as its own subprocess (a small wrapper in ``benchmarks/tools``,
or the ``psalm-bench`` console script), so each is measured the same way:
wall time around the process, CPU time (user + system) and peak RSS from
``os.wait4``, which include the process's reaped children (pool workers).
``ru_maxrss`` is the largest single process of the tree; the runner also
samples the summed RSS of the whole tree from /proc every 20 ms.

Tasks: the COCO ones (instance, panoptic, semantic: files written by
``make_workload.py``) and refcoco, gref, interactive, vos (the subfolders
``refcoco/``, ``gref/``, ``interactive/``, ``davis/`` that
``task_workloads.py`` writes, also ``make_workload.py --images N``). A task
whose files are absent is left out. After the full table, a table of ratios
against each task's goal peer (hotcoco; the per-sample loop; davis2017's
procedure), with the peers' versions.

    python benchmarks/run.py --data bench-data --workers 1 --json bench-results/results.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TOOLS = HERE / "tools"
TASKS = ("instance", "panoptic", "semantic", "refcoco", "gref", "interactive", "vos")
VERSIONED = ("psalm-bench", "pycocotools", "faster-coco-eval", "hotcoco", "panopticapi-lite",
             "numpy", "pillow", "opencv-python-headless", "orjson")
HEADLINE = {"instance": "AP", "panoptic": "PQ", "semantic": "mIoU", "refcoco": "cIoU", "gref": "gIoU",
            "interactive": "point_mIoU", "vos": "J&F"}
# task -> (peer tool, goal, direction): "max" psalm-bench CPU <= goal x the peer's; "min" peer >= goal x psalm-bench
GOALS = {"instance": ("hotcoco", 1.0, "max"), "panoptic": ("hotcoco", 0.6, "max"), "semantic": ("hotcoco", 0.6, "max"),
         "refcoco": ("per-sentence loop", 5.0, "min"), "gref": ("per-sentence loop", 5.0, "min"),
         "interactive": ("per-sample loop", 5.0, "min"), "vos": ("davis2017 procedure", 10.0, "min")}
PEER_VERSIONS = {"hotcoco": ("hotcoco",), "pycocotools": ("pycocotools",), "faster-coco-eval": ("faster-coco-eval",),
                 "panopticapi": ("panopticapi-lite",), "numpy bincount": ("numpy", "pillow"),
                 "per-sentence loop": ("pycocotools", "numpy"), "per-sample loop": ("pycocotools", "numpy"),
                 "davis2017 procedure": ("numpy", "pillow", "opencv-python-headless")}


@dataclass
class Tool:
    """One command to time and how to read its metrics."""

    task: str
    name: str
    cmd: list[str]
    reference: bool = False  # the official / baseline numbers the others are checked against
    json_out: Path | None = None  # psalm-bench writes its metrics to a file
    metrics_key: str = "metrics"  # key of the wrapper's JSON that holds the compared metrics
    compare_with: str = "metrics"  # key of the reference's JSON to compare against
    note: str = ""


@dataclass
class Measurement:
    """One timed run (or the median of ``--repeat`` runs) of one tool."""

    task: str
    tool: str
    ok: bool
    cpu_s: float = 0.0
    user_s: float = 0.0
    sys_s: float = 0.0
    wall_s: float = 0.0
    maxrss_mb: float = 0.0  # largest single process (ru_maxrss)
    tree_rss_mb: float = 0.0  # sampled sum over the process tree
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    max_abs_diff: float | None = None
    compared_with: str = ""
    note: str = ""
    error: str = ""


# ------------------------------------------------------------------ process tree RSS


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rfind(b")") + 2 :].split()[1])


class _RssSampler(threading.Thread):
    """Polls the summed RSS of a process tree until stopped; keeps the peak.

    Each pid's parent is read once, when the pid first appears, so a sample
    costs a /proc listing plus one read per process of the tree, not a read
    of every process on the machine.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._tree = {pid}
        self._outside: set[int] = set()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop_event = threading.Event()

    def _sample(self) -> int:
        alive = {int(n) for n in os.listdir("/proc") if n.isdigit()}
        self._outside &= alive
        new = {p: _ppid(p) for p in alive - self._tree - self._outside}
        grew = True
        while grew:  # a child may be listed before its parent joins the tree
            grew = False
            for p, pp in list(new.items()):
                if pp in self._tree:
                    self._tree.add(p)
                    del new[p]
                    grew = True
        self._outside |= set(new)
        total = 0
        for p in list(self._tree):
            try:
                with open(f"/proc/{p}/statm", "rb") as f:
                    total += int(f.read().split()[1]) * self._page
            except OSError:
                if p != self.pid:
                    self._tree.discard(p)
        return total

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


# ------------------------------------------------------------------ measuring


def _measure_once(tool: Tool, env: dict[str, str]) -> Measurement:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(tool.cmd, stdout=out, stderr=err, env=env)
        sampler = _RssSampler(proc.pid)
        sampler.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    m = Measurement(tool.task, tool.name, ok=proc.returncode == 0, cpu_s=ru.ru_utime + ru.ru_stime,
                    user_s=ru.ru_utime, sys_s=ru.ru_stime, wall_s=wall, maxrss_mb=ru.ru_maxrss / 1024,
                    tree_rss_mb=sampler.peak / 2**20, note=tool.note)
    if not m.ok:
        m.error = f"exit {proc.returncode}: " + (stderr.strip().splitlines() or [""])[-1][:300]
        return m
    try:
        if tool.json_out is not None:
            data = json.loads(tool.json_out.read_text())
        else:
            data = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError, OSError) as e:
        m.ok, m.error = False, f"no metrics: {e}"
        return m
    m.metrics = data.get(tool.metrics_key) or {}
    m.extra = {k: v for k, v in data.items() if k not in ("metrics", "tool", "per_class", tool.metrics_key)}
    return m


def measure_once(tool: Tool, env: dict[str, str]) -> Measurement:
    """One timed run; a psalm-bench task without ``--workers`` is retried without it."""
    m = _measure_once(tool, env)
    if not m.ok and tool.json_out is not None and "--workers" in tool.cmd and "--workers" in m.error:
        i = tool.cmd.index("--workers")
        tool.cmd = tool.cmd[:i] + tool.cmd[i + 2 :]
        tool.note = (tool.note + "; " if tool.note else "") + "no --workers option"
        m = _measure_once(tool, env)
    return m


def summarise(runs: list[Measurement]) -> Measurement:
    """The run with the median wall time (all wall times kept in ``extra``)."""
    good = sorted((r for r in runs if r.ok), key=lambda r: r.wall_s)
    if not good:
        return runs[-1]
    best = good[(len(good) - 1) // 2]
    if len(runs) > 1:
        best.extra["wall_runs_s"] = [round(r.wall_s, 3) for r in runs]
        best.extra["cpu_runs_s"] = [round(r.cpu_s, 3) for r in runs]
    return best


def max_abs_diff(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Largest |a - b| over the metric names both report (nulls must agree)."""
    diffs = []
    for k in a.keys() & b.keys():
        x, y = a[k], b[k]
        if x is None or y is None:
            if x is not y:
                return float("inf")
            continue
        diffs.append(abs(float(x) - float(y)))
    return max(diffs) if diffs else None


# ------------------------------------------------------------------ the comparisons


def _psalm(psalm: str, task: str, args: list[str], workers: int, tmp: Path, name: str = "psalm-bench",
           note: str = "") -> Tool:
    slug = "".join(c if c.isalnum() else "_" for c in name)
    out = tmp / f"{task}_{slug}.json"
    cmd = [psalm, "eval", "--task", task, *args, "--workers", str(workers), "--json", str(out)]
    return Tool(task, name, cmd, json_out=out, note=note)


# task -> (wrapper of the loop a user would otherwise run, GT, predictions), relative to --data
LOOP_TASKS = {
    "refcoco": ("run_refcoco_loop.py", "refcoco", "refcoco/pred.jsonl"),
    "gref": ("run_gref_loop.py", "gref", "gref/pred.jsonl"),
    "interactive": ("run_interactive_loop.py", "interactive/gt.json", "interactive/pred.jsonl"),
    "vos": ("run_davis_procedure.py", "davis", "davis/pred"),
}


def tools_for(task: str, data: Path, workers: int, py: str, psalm: str | None, tmp: Path) -> list[Tool]:
    """The commands compared for one task, reference first."""
    w = str(workers)
    if task == "instance":
        gt, pred = str(data / "instances_gt.json"), str(data / "instances_pred.json")
        tools = [
            Tool(task, "pycocotools", [py, str(TOOLS / "run_pycocotools.py"), gt, pred], reference=True,
                 note="1 process"),
            Tool(task, "faster-coco-eval", [py, str(TOOLS / "run_faster_coco_eval.py"), gt, pred, "--workers", w],
                 note=f"rle_iou_max_workers={w}"),
            Tool(task, "hotcoco", [py, str(TOOLS / "run_hotcoco_instance.py"), gt, pred],
                 note=f"RAYON_NUM_THREADS={w}"),
        ]
        if psalm:
            tools.append(_psalm(psalm, task, ["--gt", gt, "--pred", pred], workers, tmp))
        return tools
    if task == "panoptic":
        gt, pred = str(data / "panoptic_gt.json"), str(data / "panoptic_pred.json")
        tools = [
            Tool(task, "panopticapi", [py, str(TOOLS / "run_panopticapi.py"), gt, pred, "--workers", w],
                 reference=True, note=f"pq_compute, {w} pool process(es)"),
            Tool(task, "hotcoco", [py, str(TOOLS / "run_hotcoco_panoptic.py"), gt, pred],
                 note=f"RAYON_NUM_THREADS={w}"),
        ]
        if psalm:
            tools.append(_psalm(psalm, task, ["--gt", gt, "--pred", pred], workers, tmp))
        return tools
    if task in LOOP_TASKS:
        wrapper, gt, pred = LOOP_TASKS[task]
        tools = [Tool(task, GOALS[task][0], [py, str(TOOLS / wrapper), str(data / gt), str(data / pred)], reference=True,
                      note="1 process")]
        if psalm:
            tools.append(_psalm(psalm, task, ["--gt", str(data / gt), "--pred", str(data / pred)], workers, tmp))
        return tools
    gt, pred, classes = str(data / "semantic_gt"), str(data / "semantic_pred"), str(data / "semantic_classes.json")
    tools = [
        Tool(task, "numpy bincount", [py, str(TOOLS / "run_numpy_miou.py"), gt, pred, classes],
             reference=True, note="PIL + np.bincount, 1 process; detectron2 protocol"),
        Tool(task, "hotcoco", [py, str(TOOLS / "run_hotcoco_semantic.py"), gt, pred, classes],
             compare_with="metrics_mmseg", note=f"mmseg protocol; RAYON_NUM_THREADS={w}"),
    ]
    if psalm:
        args = ["--gt", gt, "--pred", pred, "--classes", classes]
        tools.append(_psalm(psalm, task, args, workers, tmp, note="detectron2 protocol (default)"))
        mm = _psalm(psalm, task, [*args, "--protocol", "mmseg"], workers, tmp, name="psalm-bench --protocol mmseg",
                    note="mmseg protocol")
        mm.compare_with = "metrics_mmseg"
        tools.append(mm)
    return tools


def _warm_page_cache(paths: list[Path]) -> None:
    """Read the inputs once so that no tool pays for the first disk read."""
    for p in paths:
        files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
        for f in files:
            with open(f, "rb") as fh:
                while fh.read(1 << 22):
                    pass


def _task_inputs(task: str, data: Path) -> list[Path]:
    if task == "instance":
        return [data / "instances_gt.json", data / "instances_pred.json"]
    if task == "panoptic":
        return [data / "panoptic_gt.json", data / "panoptic_pred.json", data / "panoptic_gt", data / "panoptic_pred"]
    if task in LOOP_TASKS:
        return [data / LOOP_TASKS[task][1], data / LOOP_TASKS[task][2]]
    return [data / "semantic_gt", data / "semantic_pred", data / "semantic_classes.json"]


def _find_psalm(explicit: str | None) -> str | None:
    """The psalm-bench console script next to this interpreter, if it runs."""
    cand = explicit or str(Path(sys.executable).with_name("psalm-bench"))
    if not Path(cand).exists() and shutil.which(cand) is None:
        return None
    try:
        ok = subprocess.run([cand, "--help"], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return cand if ok else None


def _versions() -> dict[str, str]:
    out = {}
    for dist in VERSIONED:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _repo_state() -> str:
    """The psalm-bench commit measured (``+dirty`` when the tree has changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def _machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_before": os.getloadavg(), "commit": _repo_state()}


# ------------------------------------------------------------------ report


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def print_table(results: list[Measurement]) -> None:
    head = (f"{'task':9} {'tool':31} {'CPU s':>8} {'wall s':>8} {'RSS MB':>7} {'tree MB':>8} "
            f"{'CPU x':>6} {'wall x':>6}  {'max|diff|':>9}  note")
    print(head)
    print("-" * len(head))
    for task in TASKS:
        rows = [r for r in results if r.task == task]
        if not rows:
            continue
        psalm = next((r for r in rows if r.tool == "psalm-bench" and r.ok), None)
        for r in rows:
            if not r.ok:
                print(f"{task:9} {r.tool:31} FAILED  {r.error}")
                continue
            cpu_x = psalm.cpu_s and r.cpu_s / psalm.cpu_s if psalm else None
            wall_x = psalm.wall_s and r.wall_s / psalm.wall_s if psalm else None
            diff = "ref" if r.compared_with == "" and r.max_abs_diff is None else _fmt(r.max_abs_diff, ".1e")
            print(f"{task:9} {r.tool:31} {r.cpu_s:8.2f} {r.wall_s:8.2f} {r.maxrss_mb:7.0f} {r.tree_rss_mb:8.0f} "
                  f"{_fmt(cpu_x, '.2f'):>6} {_fmt(wall_x, '.2f'):>6}  {diff:>9}  {r.note}")
        headline = HEADLINE[task]
        vals = ", ".join(f"{r.tool}={r.metrics.get(headline):.4f}" for r in rows
                         if r.ok and isinstance(r.metrics.get(headline), (int, float)))
        print(f"{'':9} {headline}: {vals}")
    print("CPU x / wall x: the tool's time divided by psalm-bench's (above 1: psalm-bench is faster).")
    print("max|diff|: largest absolute difference, in percent points, from the reference tool's metrics "
          "under the same protocol.")


def goal_rows(results: list[Measurement], versions: dict[str, str]) -> list[dict[str, Any]]:
    """Per task: psalm-bench's and the goal peer's whole-command CPU and peak RSS, their ratio, the goal."""
    rows = []
    for task, (peer_name, goal, direction) in GOALS.items():
        psalm = next((r for r in results if r.task == task and r.tool == "psalm-bench" and r.ok), None)
        peer = next((r for r in results if r.task == task and r.tool == peer_name and r.ok), None)
        if psalm is None or peer is None or not psalm.cpu_s:
            continue
        ratio = psalm.cpu_s / peer.cpu_s if direction == "max" else peer.cpu_s / psalm.cpu_s
        met = ratio <= goal if direction == "max" else ratio >= goal
        rows.append({"task": task, "peer": peer_name,
                     "peer_version": " ".join(f"{d} {versions.get(d, '?')}" for d in PEER_VERSIONS.get(peer_name, ())),
                     "psalm_cpu_s": psalm.cpu_s, "peer_cpu_s": peer.cpu_s, "ratio": ratio,
                     "ratio_is": "psalm-bench / peer" if direction == "max" else "peer / psalm-bench",
                     "goal": f"{'<=' if direction == 'max' else '>='} {goal:g}", "met": met,
                     "psalm_rss_mb": psalm.maxrss_mb, "peer_rss_mb": peer.maxrss_mb,
                     "psalm_wall_s": psalm.wall_s, "peer_wall_s": peer.wall_s})
    return rows


def print_goals(rows: list[dict[str, Any]]) -> None:
    """The ratio table: whole commands as a user types them, start-up included."""
    head = (f"{'task':12} {'peer':62} {'psalm CPU s':>11} {'peer CPU s':>10} {'ratio':>6} {'is':19} {'goal':>6} "
            f"{'met':>4} {'RSS MB psalm/peer':>18}")
    print("\n" + head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['task']:12} {(r['peer'] + ' (' + r['peer_version'] + ')'):62} {r['psalm_cpu_s']:11.2f} "
              f"{r['peer_cpu_s']:10.2f} {r['ratio']:6.2f} {r['ratio_is']:19} {r['goal']:>6} "
              f"{'yes' if r['met'] else 'NO':>4} {r['psalm_rss_mb']:8.0f} / {r['peer_rss_mb']:<8.0f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("bench-data"))
    ap.add_argument("--only", choices=TASKS, action="append", help="task(s) to run; default all")
    ap.add_argument("--workers", type=int, default=1, help="processes/threads given to every tool")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the median wall-time run is reported")
    ap.add_argument("--json", type=Path, help="write all measurements here")
    ap.add_argument("--psalm-bench", dest="psalm", help="path of the psalm-bench script (default: next to python)")
    ap.add_argument("--skip", action="append", default=[], help="tool name to leave out (repeatable)")
    args = ap.parse_args(argv)
    tasks = [t for t in (args.only or list(TASKS)) if all(p.exists() for p in _task_inputs(t, args.data))]
    if not tasks:
        ap.error(f"{args.data} has no workload; run benchmarks/make_workload.py first")
    psalm = _find_psalm(args.psalm)
    if psalm is None:
        print("psalm-bench CLI not found or not working: timing the other tools only", file=sys.stderr)
    env = dict(os.environ)
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.workers)  # same thread budget for every tool
    machine = _machine()
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for task in tasks:
            _warm_page_cache(_task_inputs(task, args.data))
            tools = [t for t in tools_for(task, args.data, args.workers, sys.executable, psalm, Path(tmpdir))
                     if t.name not in args.skip]
            # Repeats go round-robin over the tools, so that a burst of
            # background load does not land on one tool's runs only.
            runs: dict[str, list[Measurement]] = {t.name: [] for t in tools}
            for rep in range(args.repeat):
                for tool in tools:
                    m = measure_once(tool, env)
                    runs[tool.name].append(m)
                    print(f"[{task} {rep + 1}/{args.repeat}] {tool.name}: cpu {m.cpu_s:.2f}s wall {m.wall_s:.2f}s "
                          f"{'ok' if m.ok else m.error}", file=sys.stderr, flush=True)
            ref: Measurement | None = None
            ref_data: dict[str, Any] = {}
            for tool in tools:
                m = summarise(runs[tool.name])
                m.note = tool.note
                if tool.reference and m.ok:
                    ref = m
                    ref_data = {"metrics": m.metrics, **m.extra}
                elif ref is not None and m.ok:
                    m.compared_with = f"{ref.tool}:{tool.compare_with}"
                    m.max_abs_diff = max_abs_diff(m.metrics, ref_data.get(tool.compare_with) or {})
                results.append(m)
    print(f"\nworkload: {args.data}   workers: {args.workers}   machine: {machine['cpus']} CPUs "
          f"({machine['cpu_model']}), load before {tuple(round(x, 2) for x in machine['loadavg_before'])}, "
          f"commit {machine['commit']}\n")
    print_table(results)
    versions = _versions()
    goals = goal_rows(results, versions)
    print_goals(goals)
    machine["loadavg_after"] = os.getloadavg()
    print(f"load average before {tuple(round(x, 2) for x in machine['loadavg_before'])}, "
          f"after {tuple(round(x, 2) for x in machine['loadavg_after'])}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"data": str(args.data), "workers": args.workers, "repeat": args.repeat,
                                         "machine": machine, "versions": versions, "goals": goals,
                                         "results": [asdict(r) for r in results]}, indent=1))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
