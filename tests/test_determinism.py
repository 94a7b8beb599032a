"""Same seed, same bytes, on every CPU: the world's files, build-interactive's
output and the shipped examples equal checksums recorded in the repo
(tests/checksums). A change to any of them is a new world version (or a new
COCO-Interactive), never a silent drift: re-record with
``python tests/test_determinism.py --record`` only after bumping the version.

The recorded values were measured on an AVX-512 CPU; one test re-measures
them in a subprocess with numpy's, OpenBLAS' and OpenCV's AVX-512 kernels
switched off, as a CPU without AVX-512 runs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKSUMS = REPO / "tests" / "checksums"
EXAMPLE_GT = REPO / "psalm_bench" / "examples" / "instance" / "gt.json"
WORLD_INSTANCES = "coco/annotations/instances_val2017.json"

#: environment of a process that runs the AVX2 code paths on an AVX-512 CPU
_AVX512 = ("AVX512F AVX512CD AVX512VPOPCNTDQ AVX512VL AVX512BW AVX512DQ AVX512VNNI AVX512IFMA AVX512VBMI "
           "AVX512VBMI2 AVX512BITALG AVX512FP16 AVX512BF16 AVX512_SKX X86_V4 AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR")
NO_AVX512 = {"NPY_DISABLE_CPU_FEATURES": _AVX512, "OPENBLAS_CORETYPE": "Haswell",
             "OPENCV_CPU_DISABLE": "AVX512_SKX,AVX512_COMMON,AVX512_KNL,AVX512_KNM"}


def read_sums(name: str) -> dict[str, str]:
    lines = (CHECKSUMS / name).read_text().splitlines()
    return {path: digest for digest, path in (line.split("  ", 1) for line in lines)}


def tree_sums(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def measure(work: Path, world: Path | None) -> dict[str, dict[str, str]]:
    """Checksums of everything this file guards, written under ``work``
    (the tiny world is built there unless ``world`` is given)."""
    from psalm_bench.generators.coco_workload import write_examples
    from psalm_bench.generators.interactive import build_interactive
    from psalm_bench.generators.world import build_world

    if world is None:
        world = work / "world"
        build_world(world, seed=0, size="tiny", workers=1, progress=False)
    examples = work / "examples"
    write_examples(examples)
    interactive: dict[str, str] = {}
    for name, instances, mode in (("examples-seed3-released.json", EXAMPLE_GT, "released"),
                                  ("examples-seed3-paper.json", EXAMPLE_GT, "paper"),
                                  ("world-val-seed3-released.json", world / WORLD_INSTANCES, "released")):
        out = work / name
        build_interactive(instances, out, seed=3, mode=mode, progress=False)
        interactive[name] = hashlib.sha256(out.read_bytes()).hexdigest()
    return {"world": tree_sums(world), "examples": tree_sums(examples), "interactive": interactive}


def _diff(measured: dict[str, str], recorded: dict[str, str]) -> list[str]:
    return sorted(p for p in set(measured) | set(recorded) if measured.get(p) != recorded.get(p))


def test_world_files_equal_recorded_checksums(tiny_world: Path) -> None:
    assert not _diff(tree_sums(tiny_world), read_sums("world-tiny-seed0.sha256"))


def test_build_interactive_and_examples_equal_recorded_checksums(tmp_path: Path, tiny_world: Path) -> None:
    measured = measure(tmp_path, tiny_world)
    assert not _diff(measured["interactive"], read_sums("build-interactive.sha256"))
    assert not _diff(measured["examples"], tree_sums(REPO / "psalm_bench" / "examples"))


def test_same_bytes_without_avx512(tmp_path: Path) -> None:
    """The CPU of a fresh machine without AVX-512 (emulated: kernels off)."""
    script = "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); " \
             "from test_determinism import measure; print(json.dumps(measure(Path(sys.argv[2]), None)))"
    env = {**os.environ, **NO_AVX512}
    proc = subprocess.run([sys.executable, "-c", script, str(REPO / "tests"), str(tmp_path)], env=env, capture_output=True, text=True, check=True)
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not _diff(measured["world"], read_sums("world-tiny-seed0.sha256"))
    assert not _diff(measured["interactive"], read_sums("build-interactive.sha256"))
    assert not _diff(measured["examples"], tree_sums(REPO / "psalm_bench" / "examples"))


def test_a_changed_byte_is_caught(tmp_path: Path) -> None:
    recorded = read_sums("world-tiny-seed0.sha256")
    changed = dict(recorded, **{"world.json": "0" * 64})
    assert _diff(changed, recorded) == ["world.json"]
    assert _diff({k: v for k, v in recorded.items() if k != "README.md"}, recorded) == ["README.md"]


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        sums = measure(Path(tmp), None)
    for name, table in (("world-tiny-seed0.sha256", sums["world"]), ("build-interactive.sha256", sums["interactive"])):
        (CHECKSUMS / name).write_text("".join(f"{digest}  {path}\n" for path, digest in sorted(table.items())))
