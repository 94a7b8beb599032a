import json
import shlex
from pathlib import Path

import pytest

import psalm_bench
from conftest import FIXTURES, assert_one_line_error, needs_fixtures, run_cli


def test_help_lists_commands() -> None:
    run = run_cli("--help")
    assert run.returncode == 0
    for command in ("eval", "tasks", "demo"):
        assert command in run.stdout


def test_eval_help_explains_the_options() -> None:
    run = run_cli("eval", "--help")
    assert run.returncode == 0
    for flag in ("--task", "--gt", "--pred", "--json", "--workers", "--per-class", "--iou-type", "--ignore-label", "--classes", "--num-classes", "--protocol"):
        assert flag in run.stdout


def test_version() -> None:
    run = run_cli("--version")
    assert run.returncode == 0 and psalm_bench.__version__ in run.stdout


def test_tasks_lists_the_three_image_tasks() -> None:
    run = run_cli("tasks")
    assert [line.split()[0] for line in run.stdout.strip().splitlines()][:3] == ["panoptic", "instance", "semantic"]


def test_unknown_task_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("eval", "--task", "nope", "--gt", tmp_path, "--pred", tmp_path)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr


def test_option_the_task_does_not_take(tmp_path: Path) -> None:
    run = run_cli("eval", "--task", "instance", "--gt", tmp_path / "gt.json", "--pred", tmp_path / "p.json", "--num-classes", "3")
    assert_one_line_error(run, "task instance does not take --num-classes")


def test_missing_ground_truth_file(tmp_path: Path) -> None:
    run = run_cli("eval", "--task", "instance", "--gt", tmp_path / "absent.json", "--pred", tmp_path / "p.json")
    assert_one_line_error(run, "absent.json", "file not found")


@needs_fixtures
def test_json_result_carries_provenance(tmp_path: Path) -> None:
    case = FIXTURES / "instance" / "basic"
    out = tmp_path / "nested" / "result.json"
    run = run_cli("eval", "--task", "instance", "--gt", case / "gt.json", "--pred", case / "pred.json", "--json", out, "--per-class")
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["task"] == "instance"
    assert set(result["metrics"]) == {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}
    provenance = result["provenance"]
    assert provenance["psalm_bench"] == psalm_bench.__version__
    assert len(provenance["gt_sha256"]) == 64 and len(provenance["pred_sha256"]) == 64
    assert provenance["params"]["protocol"] == "pycocotools"
    assert result["n_samples"] == 6 and isinstance(result["per_class"], dict)
    assert "AP50" in run.stdout and "class" in run.stdout and "protocol: pycocotools" in run.stdout


def test_demo_examples_scores_the_bundled_examples() -> None:
    from conftest import REPO

    run = run_cli("demo", "--examples", cwd=REPO)
    assert run.returncode == 0, run.stderr
    for fragment in ("--task panoptic", "PQ_th", "--task instance", "AR100", "--task semantic", "mIoU", "--task interactive", "scribble_cIoU"):
        assert fragment in run.stdout
    # every input path printed exists from the repo root (outputs are made by the line before)
    made = set()
    for line in (line[2:] for line in run.stdout.splitlines() if line.startswith("$ ")):
        words = shlex.split(line.split("   #")[0])
        for flag, value in zip(words, words[1:]):
            if flag in ("--gt", "--pred", "--instances", "--classes") and not any(value.startswith(m) for m in made):
                assert (REPO / value).exists(), (line, value)
            if flag == "--out":
                made.add(value)


def test_demo_examples_out_keeps_what_the_commands_write(tmp_path: Path) -> None:
    """--out: the result JSONs, the built COCO-Interactive file, the baseline predictions and tables.md;
    each printed command, run again, gives the kept result."""
    import subprocess
    import sys

    out = tmp_path / "examples"
    run = run_cli("demo", "--examples", "--out", out)
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in (out / "results").iterdir())
    assert names == sorted(["panoptic.json", "instance-segm.json", "instance-bbox.json", "semantic.json",
                            "semantic-from-panoptic.json", "interactive-prompt-as-mask.json"])
    assert (out / "coco_interactive.json").is_file() and (out / "prompt_as_mask.jsonl").is_file()
    tables = (out / "tables.md").read_text()
    assert "PQ_th" in tables and "scribble_cIoU" in tables and "--iou-type bbox" in tables
    evals = [line[2:].split("   #")[0] for line in run.stdout.splitlines() if line.startswith("$ psalm-bench eval")]
    assert len(evals) == 6
    for number, line in enumerate(evals):
        words = shlex.split(line)[1:]
        if "--json" in words:
            kept = Path(words[words.index("--json") + 1])
        else:  # the interactive baseline: its result is kept under results/
            kept = out / "results" / "interactive-prompt-as-mask.json"
            words += ["--json", str(kept)]
        again = tmp_path / f"again-{number}.json"
        words[words.index("--json") + 1] = str(again)
        proc = subprocess.run([sys.executable, "-m", "psalm_bench", *words, "-q"], capture_output=True, text=True)
        assert proc.returncode == 0, (line, proc.stderr)
        assert json.loads(again.read_text())["metrics"] == json.loads(kept.read_text())["metrics"], line
    helped = " ".join(run_cli("demo", "--help").stdout.split())
    assert "result JSONs (results/), tables.md, and the COCO-Interactive file and baseline predictions" in helped  # what it keeps, said


@needs_fixtures
def test_json_carries_per_sample_records(tmp_path: Path) -> None:
    case = FIXTURES / "semantic" / "voc21_palette"
    out = tmp_path / "r.json"
    run = run_cli("eval", "--task", "semantic", "--gt", case / "gt", "--pred", case / "pred", "--num-classes", "21", "--json", out)
    assert run.returncode == 0, run.stderr
    records = json.loads(out.read_text())["records"]
    assert len(records) == 6 and {"image", "cells", "counts"} <= set(records[0])
    case = FIXTURES / "panoptic" / "coco_davis"
    run = run_cli("eval", "--task", "panoptic", "--gt", case / "gt.json", "--pred", case / "pred.json", "--json", out)
    assert run.returncode == 0, run.stderr
    records = json.loads(out.read_text())["records"]
    assert set(records) == {"images", "segments"} and len(records["images"]["image_id"]) == 3


@needs_fixtures
def test_report_command_exit_codes_and_junit(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    case = FIXTURES / "refcoco" / "refcoco_unc_val"
    base = tmp_path / "base.json"
    run = run_cli("eval", "--task", "refcoco", "--gt", case / "gt", "--pred", case / "pred.jsonl", "--split", "val", "--json", base)
    assert run.returncode == 0, run.stderr
    same = run_cli("report", "--baseline", base, "--current", base)
    assert same.returncode == 0 and "within noise" in same.stdout
    junit = run_cli("report", "--baseline", base, "--current", base, "--format", "junit")
    assert ET.fromstring(junit.stdout).tag in ("testsuite", "testsuites")
    # the current run predicts nothing at all: a clear regression
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cur = tmp_path / "cur.json"
    run = run_cli("eval", "--task", "refcoco", "--gt", case / "gt", "--pred", empty, "--split", "val", "--json", cur)
    assert run.returncode == 0, run.stderr
    worse = run_cli("report", "--baseline", base, "--current", cur)
    assert worse.returncode == 1 and "regressed" in worse.stdout
    other = FIXTURES / "semantic" / "voc21_palette"
    sem = tmp_path / "sem.json"
    run_cli("eval", "--task", "semantic", "--gt", other / "gt", "--pred", other / "pred", "--num-classes", "21", "--json", sem)
    mixed = run_cli("report", "--baseline", base, "--current", sem)
    assert_one_line_error(mixed, "task")


@needs_fixtures
def test_leaderboard_add_list_export_and_refusals(tmp_path: Path) -> None:
    import sqlite3

    case = FIXTURES / "refcoco" / "refcoco_unc_val"
    result = tmp_path / "r.json"
    assert run_cli("eval", "--task", "refcoco", "--gt", case / "gt", "--pred", case / "pred.jsonl", "--split", "val", "--json", result).returncode == 0
    db = tmp_path / "board.db"
    added = run_cli("leaderboard", "add", result, "--model", "PSALM", "--meta", "llm=phi-1.5", "--db", db)
    assert added.returncode == 0 and "added" in added.stdout, added.stderr
    again = run_cli("leaderboard", "add", result, "--model", "PSALM", "--db", db)
    assert again.returncode == 0 and "unchanged" in again.stdout
    listed = run_cli("leaderboard", "list", "--db", db)
    assert listed.returncode == 0 and "PSALM" in listed.stdout and "cIoU" in listed.stdout
    out = tmp_path / "board.csv"
    assert run_cli("leaderboard", "export", out, "--db", db).returncode == 0 and out.read_text().count("\n") == 2
    data = json.loads(result.read_text())
    data["provenance"]["gt_sha256"] = "0" * 64
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    clash = run_cli("leaderboard", "add", other, "--model", "LISA", "--db", db)
    assert_one_line_error(clash, "other.json", "ground truth")
    data["task"] = "nope"
    other.write_text(json.dumps(data))
    assert_one_line_error(run_cli("leaderboard", "add", other, "--model", "LISA", "--db", db), "nope")
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA user_version = 99")
    assert_one_line_error(run_cli("leaderboard", "list", "--db", db), "newer")


def _leaf_commands():
    import typer

    from psalm_bench.cli import app

    def walk(command, path):
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    return list(walk(typer.main.get_command(app), []))


def test_every_option_shows_its_default_in_help() -> None:
    """Users see what an option does when it is not given: `--gt` is the world, `--workers` is 1."""
    import re

    missing = []
    commands = _leaf_commands()
    assert len(commands) >= 20
    for name, command in commands:
        ctx = command.context_class(command, info_name=name)
        for param in command.params:
            if getattr(param, "param_type_name", "") != "option" or param.required or "--help" in param.opts:
                continue
            if param.is_flag and param.default in (False, None):
                continue  # an off switch: absent means off
            record = param.get_help_record(ctx)
            if record is None or not re.search(r"\[default: [^\]]+", record[1]):
                missing.append(f"{name} {param.opts[0]}")
    assert not missing, missing


def test_help_renders_the_written_defaults() -> None:
    """The defaults written into help strings reach the terminal (a markup renderer used to eat `[...]`)."""
    run = run_cli("eval", "--help")
    text = " ".join(run.stdout.split())
    assert "[default: the embedded synthetic world's val split" in text
    assert "[default: 1]" in text and "[default: 255]" in text and "[default: segm]" in text
    run = run_cli("predict", "--help")
    assert "[default: bundled]" in " ".join(run.stdout.split())


@needs_fixtures
def test_pred_and_json_dash_are_stdin_and_stdout(tmp_path: Path) -> None:
    import subprocess
    import sys

    case = FIXTURES / "refcoco" / "refcoco_unc_val"
    exp = json.loads((case / "expected.json").read_text())
    args = [sys.executable, "-m", "psalm_bench", "eval", "-t", "refcoco", "--gt", str(case / "gt"), "--split", "val", "-q"]
    piped = subprocess.run([*args, "--pred", "-", "--json", "-"], input=(case / "pred.jsonl").read_bytes(), capture_output=True)
    assert piped.returncode == 0, piped.stderr
    doc = json.loads(piped.stdout)  # stdout is the JSON alone; the table went to stderr
    assert b"cIoU" in piped.stderr
    for name, value in exp["metrics"].items():
        assert doc["metrics"][name] == pytest.approx(value, abs=1e-6)
    run = run_cli("eval", "-t", "refcoco", "--gt", case / "gt", "--split", "val", "-q", "--pred", case / "pred.jsonl", "--json", tmp_path / "r.json")
    on_disk = json.loads((tmp_path / "r.json").read_text())
    assert doc["provenance"]["pred_sha256"] == on_disk["provenance"]["pred_sha256"]  # the digest of the bytes piped
    assert doc["metrics"] == on_disk["metrics"] and doc["records"] == on_disk["records"]
    assert doc["provenance"].get("inputs", {}).get("pred", ["-"]) == ["-"]
    assert not (tmp_path / "-").exists() and not Path("-").exists()


def test_pred_dash_refusals(tmp_path: Path) -> None:
    import subprocess
    import sys

    def piped(task: str, data: bytes, *extra: str):
        proc = subprocess.run([sys.executable, "-m", "psalm_bench", "eval", "-t", task, "--gt", str(tmp_path), "--pred", "-", *extra],
                              input=data, capture_output=True, text=False)
        from conftest import CliRun

        return CliRun(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    assert_one_line_error(piped("semantic", b"x"), "--pred -", "folder of PNGs")
    assert_one_line_error(piped("refcoco", b""), "--pred -", "standard input is empty")
    assert_one_line_error(piped("panoptic", b"{}"), "--pred -", "--pred-dir")


def test_progress_is_whole_lines_when_not_a_terminal(monkeypatch) -> None:
    import io

    from psalm_bench import progress

    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    log = io.StringIO()
    bar = progress.tqdm(total=4, desc="predict refcoco", unit="img", leave=False, file=log)
    for _ in range(4):
        bar.update(1)
    bar.close()
    lines = log.getvalue().replace("\r", "").splitlines()
    assert lines[0].startswith("predict refcoco:") and "1/4" in lines[0]
    assert "4/4" in lines[-1] and "100%" in lines[-1]
    assert all(line.startswith("predict refcoco:") for line in lines)
    stopped = io.StringIO()
    bar = progress.tqdm(total=4, desc="x", leave=False, file=stopped)
    bar.close()  # an error before the first item: nothing, so the error stays one line
    assert stopped.getvalue().strip() == ""


def test_build_interactive_prints_progress_lines_in_a_log(tmp_path: Path) -> None:
    from psalm_bench.examples_runner import EXAMPLES

    run = run_cli("build-interactive", "--instances", EXAMPLES / "instance" / "gt.json", "--out", tmp_path / "ci.json")
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert lines and lines[-1].startswith("build-interactive:") and "100%" in lines[-1], run.stderr
    quiet = run_cli("build-interactive", "--instances", EXAMPLES / "instance" / "gt.json", "--out", tmp_path / "q.json", "--quiet")
    assert quiet.returncode == 0 and quiet.stderr.strip() == ""
