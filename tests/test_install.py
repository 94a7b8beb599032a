"""The pip path: `pip install psalm-bench` (no torch) scores every task; model commands name the extra.

Optional packages are hidden from a subprocess by a ``sitecustomize`` module on
PYTHONPATH whose import hook refuses them, as if they were not installed.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, REPO, CliRun, assert_one_line_error, expected, needs_fixtures

MODEL_HINT = "pip install 'psalm-bench[model]'"

BLOCKER = '''
import sys

HIDDEN = {hidden!r}


class _Hidden:
    """Refuse the hidden top-level packages as if they were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _Hidden())
'''


def hiding(tmp_path: Path, *hidden: str) -> dict[str, str]:
    """An environment whose interpreters cannot import ``hidden``."""
    site = tmp_path / f"hide-{'-'.join(hidden)}"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER.format(hidden=set(hidden)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    return env


def cli(env: dict[str, str], *args: object, cwd: Path | None = None) -> CliRun:
    proc = subprocess.run([sys.executable, "-m", "psalm_bench", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd)
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def test_the_blocker_hides_torch(tmp_path: Path) -> None:
    env = hiding(tmp_path, "torch", "transformers")
    proc = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "No module named 'torch'" in proc.stderr


def test_every_module_outside_the_model_imports_without_torch(tmp_path: Path) -> None:
    """Only psalm_bench.model (reached from train/predict/reproduce/demo) may import torch or transformers."""
    import importlib

    names = []
    for package in ("psalm_bench", "psalm_bench.formats", "psalm_bench.generators", "psalm_bench.evaluators", "psalm_bench.leaderboard"):
        path = importlib.import_module(package).__path__
        names += [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules(path) if m.name != "__main__" and f"{package}.{m.name}" != "psalm_bench.model"]
    assert "psalm_bench.evaluators.panoptic" in names and "psalm_bench.leaderboard.site" in names and "psalm_bench.cli" in names
    code = "import importlib, sys\nfor n in sys.argv[1:]: importlib.import_module(n)\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')))"
    proc = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, env=hiding(tmp_path, "torch", "transformers"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [
    ("predict", "--task", "panoptic", "--out", "{tmp}/pred"),
    ("train", "--out", "{tmp}/run", "--steps", "1"),
    ("reproduce", "--quiet"),
    ("demo", "--quiet"),
])
def test_model_commands_without_torch_name_the_extra(tmp_path: Path, args: tuple[str, ...]) -> None:
    run = cli(hiding(tmp_path, "torch", "transformers"), *(a.format(tmp=tmp_path) for a in args))
    assert_one_line_error(run, MODEL_HINT, "torch")
    assert not (tmp_path / "pred").exists() and not (tmp_path / "run").exists()


def _fake_packages(tmp_path: Path, env: dict[str, str], **versions: str) -> dict[str, str]:
    """Stand-ins that carry only ``__version__`` (no real torch import: seconds saved per test)."""
    site = tmp_path / "fake"
    for name, version in versions.items():
        (site / name).mkdir(parents=True, exist_ok=True)
        (site / name / "__init__.py").write_text(f"__version__ = {version!r}\n")
    return dict(env, PYTHONPATH=os.pathsep.join([str(site), env.get("PYTHONPATH", "")]))


def test_model_commands_without_transformers_name_the_extra(tmp_path: Path) -> None:
    env = _fake_packages(tmp_path, hiding(tmp_path, "transformers"), torch="2.13.0")
    run = cli(env, "predict", "--task", "refcoco", "--out", tmp_path / "p.jsonl")
    assert_one_line_error(run, MODEL_HINT, "transformers")


@pytest.mark.parametrize(("torch", "transformers", "fragments"), [
    ("2.13.0+cpu", "4.31.0", ("transformers>=4.37", "found 4.31.0")),  # a LISA-era transformers: no PhiModel before 4.37
    ("2.3.1", "4.37.2", ("torch>=2.4", "found 2.3.1")),  # torch 2.3.1: NaN correspondence scores
    ("2.4.1", "5.23.0", ("torch>=2.5", "with transformers 5.23.0", "found 2.4.1")),  # transformers 5.9 imports torch.distributed.tensor.device_mesh (2.5)
])
def test_too_old_model_packages_are_one_line(tmp_path: Path, torch: str, transformers: str, fragments: tuple[str, ...]) -> None:
    env = _fake_packages(tmp_path, dict(os.environ), torch=torch, transformers=transformers)
    run = cli(env, "predict", "--task", "vos", "--out", tmp_path / "vos")
    assert_one_line_error(run, *fragments, MODEL_HINT)
    assert not (tmp_path / "vos").exists()


def _fixture_case(task: str) -> Path:
    return sorted(p.parent for p in (FIXTURES / task).glob("*/expected.json"))[0]


@needs_fixtures
@pytest.mark.parametrize("task", ["panoptic", "instance", "semantic", "refcoco", "gref", "interactive", "vos"])
def test_eval_without_torch_gives_the_official_numbers(tmp_path: Path, task: str) -> None:
    case = _fixture_case(task)
    exp = expected(case)
    args: list[object] = ["eval", "--task", task, "--gt", case / exp["gt"], "--pred", case / exp["pred"], "--json", tmp_path / "r.json", "--quiet"]
    for flag, value in exp.get("args", {}).items():
        args += [flag, case / value if flag == "--classes" else value]
    run = cli(hiding(tmp_path, "torch", "transformers"), *args)
    assert run.returncode == 0, run.stderr
    got = json.loads((tmp_path / "r.json").read_text())["metrics"]
    for name, value in exp["metrics"].items():
        assert got[name] == pytest.approx(value, abs=1e-6), name


def _rle(mask: np.ndarray) -> dict:
    from psalm_bench.masks import encode

    return encode(mask.astype(np.uint8))


def _box(h: int, w: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=np.uint8)
    m[r0:r1, c0:c1] = 1
    return m


def test_eval_without_torch_on_the_other_tasks(tmp_path: Path) -> None:
    """ov-semantic, ov-instance, muse and gcg (masks only) score with torch hidden."""
    from PIL import Image

    env = hiding(tmp_path, "torch", "transformers")
    # ov-semantic, PASCAL VOC 20 (pas20): GT person = 15 (1-based), prediction 14 (0-based).
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    gt = np.zeros((6, 8), dtype=np.uint8)
    gt[1:4, 1:4] = 15
    Image.fromarray(gt).save(tmp_path / "gt" / "2007_000001.png")
    pred = np.full((6, 8), 255, dtype=np.uint8)
    pred[1:4, 1:4] = 14
    Image.fromarray(pred).save(tmp_path / "pred" / "2007_000001.png")
    runs = {"ov-semantic": ["--benchmark", "pas20", "--gt", tmp_path / "gt", "--pred", tmp_path / "pred"]}
    # ov-instance, cityscapes: one exact detection per instance.
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"])]
    mask = _box(20, 30, 2, 8, 4, 13)
    rle = _rle(mask)
    coco = {"images": [{"id": 1, "width": 30, "height": 20, "file_name": "1.png"}], "categories": cats,
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle, "area": float(mask.sum()),
                             "bbox": [4.0, 2.0, 9.0, 6.0], "iscrowd": 0}]}
    (tmp_path / "inst.json").write_text(json.dumps(coco))
    (tmp_path / "res.json").write_text(json.dumps([{"image_id": 1, "category_id": 1, "segmentation": rle, "score": 0.9}]))
    runs["ov-instance"] = ["--benchmark", "cityscapes", "--gt", tmp_path / "inst.json", "--pred", tmp_path / "res.json"]
    # muse and gcg: one item each, predicted exactly.
    a = _rle(_box(10, 10, 0, 3, 0, 10))
    (tmp_path / "muse.json").write_text(json.dumps([{"id": "x", "height": 10, "width": 10, "question": "q", "masks": [a]}]))
    (tmp_path / "muse.jsonl").write_text(json.dumps({"id": "x", "masks": [a]}) + "\n")
    runs["muse"] = ["--gt", tmp_path / "muse.json", "--pred", tmp_path / "muse.jsonl"]
    (tmp_path / "gcg.json").write_text(json.dumps([{"id": "x", "height": 10, "width": 10, "caption": "a car", "phrases": [{"text": "a car", "mask": a}]}]))
    (tmp_path / "gcg.jsonl").write_text(json.dumps({"id": "x", "caption": "a car", "phrases": [{"text": "a car", "mask": a}]}) + "\n")
    runs["gcg"] = ["--no-captions", "--gt", tmp_path / "gcg.json", "--pred", tmp_path / "gcg.jsonl"]
    headline = {"ov-semantic": "mIoU", "ov-instance": "AP", "muse": "gIoU", "gcg": "mIoU"}
    for task, args in runs.items():
        out = tmp_path / f"{task}.result.json"
        run = cli(env, "eval", "--task", task, *args, "--json", out, "--quiet")
        assert run.returncode == 0, (task, run.stderr)
        assert json.loads(out.read_text())["metrics"][headline[task]] == pytest.approx(100.0, abs=0.01), task  # muse: the official 1e-10 smoothing


def test_parquet_export_without_pyarrow_names_the_extra(tmp_path: Path) -> None:
    from psalm_bench.leaderboard.store import ResultsStore

    db = tmp_path / "board.db"
    with ResultsStore.open(db):
        pass
    run = cli(hiding(tmp_path, "pyarrow"), "leaderboard", "export", tmp_path / "board.parquet", "--db", db)
    assert_one_line_error(run, "pyarrow", "pip install 'psalm-bench[parquet]'")
    assert not (tmp_path / "board.parquet").exists()
    assert cli(hiding(tmp_path, "pyarrow"), "leaderboard", "export", tmp_path / "board.csv", "--db", db).returncode == 0


def test_the_core_install_declares_no_model_packages() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = " ".join(meta["dependencies"])
    for heavy in ("torch", "transformers", "ray", "datasets", "pyarrow"):
        assert heavy not in core, heavy
    extras = meta["optional-dependencies"]
    model = {d.split(">")[0].split("=")[0].split("<")[0]: d for d in extras["model"]}
    # ranges, not pins: the model extra installs beside other projects' torch/transformers
    assert ">=" in model["torch"] and "<" in model["torch"].split(">=")[1]
    assert ">=" in model["transformers"] and "==" not in model["transformers"]
    assert "pyarrow" in " ".join(extras["parquet"])
    assert "psalm-bench[" in extras["all"][0]
    for extra in ("model", "gcg", "hf", "ray", "parquet"):
        assert extra in extras["all"][0], extra
    # the oldest tested ends in optional.py are the extra's lower bounds
    from psalm_bench.optional import MODEL_MINIMUM

    for name, minimum in MODEL_MINIMUM.items():
        assert model[name].startswith(f"{name}>={'.'.join(map(str, minimum))},"), model[name]


def test_the_wheel_builds_without_packaging_warnings(tmp_path: Path) -> None:
    """The package index gets a wheel with the licence, the data folders and the C extension, and no warning."""
    import zipfile

    import shutil

    # build from a copy without build/ or *.egg-info, so a cached object file cannot hide a compiler warning
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".pytest_cache"))
    out = tmp_path / "wheel"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = "import sys\nfrom setuptools import build_meta\nprint(build_meta.build_wheel(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code, str(out)], capture_output=True, text=True, cwd=source, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr
    warnings = [line for line in said.splitlines() if "warn" in line.lower()]
    assert not warnings, warnings
    with zipfile.ZipFile(out / proc.stdout.strip().splitlines()[-1]) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for needed in ("licenses/LICENSE", "psalm_bench/model/bundled/", "psalm_bench/examples/panoptic/gt/", "psalm_bench/classes/",
                   "psalm_bench/leaderboard/site_assets/", "psalm_bench/leaderboard/site_assets/templates/base.html",
                   "psalm_bench/leaderboard/published/", "psalm_bench/_native"):
        assert any(needed in n for n in names), needed
    assert "License-Expression: Apache-2.0" in metadata
    assert "Provides-Extra: model" in metadata and "Provides-Extra: all" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert requires and not [r for r in requires if "torch" in r or "transformers" in r], requires
    assert "](../" not in metadata  # the README is the index page: no links out of the repo


def test_license_is_the_apache_text() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License") and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and len(text) > 10000
