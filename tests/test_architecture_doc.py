"""docs/architecture.md and its picture name what the tree holds.

The walk of `psalm-bench eval --task gref` names files and functions a
newcomer will open; a rename or a move that leaves the page behind sends them
to something that no longer exists. These tests read the page's code spans
and the SVG's module boxes and check them against the sources and against
pyproject.toml's layers.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
SVG = REPO / "docs" / "architecture.svg"
PACKAGE_DIRS = ("psalm_bench", "evaluators", "generators", "model", "leaderboard")
# The page's code spans that are words of the CLI, the data or the prose, not code to look up.
NOT_CODE = {"eval", "gref", "val", "split", "protocol", "progress", "workers", "ignore_extra", "merge", "reproduce", "main"}


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def defined_names() -> set[str]:
    """Every function, class, method and module-level name defined in the package's sources."""
    names: set[str] = set()
    for folder in PACKAGE_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            names.add(path.parent.name if path.name == "__init__.py" else path.stem)  # modules and packages
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Assign):
                    names.update(t.id for t in node.targets if isinstance(t, ast.Name))
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
    return names


def path_exists(span: str) -> bool:
    """A span naming a file or folder: under the repository, or under psalm_bench/ as the page abbreviates."""
    rel = span.rstrip("/")
    return any((base / rel).exists() for base in (REPO, REPO / "psalm_bench"))


def looks_like_path(span: str) -> bool:
    return " " not in span and (span.endswith((".py", ".md", ".toml", ".svg")) or (span.endswith("/") and len(span) > 1))


def code_name(span: str) -> str | None:
    """The name a span of code points at: `a.b.c(...)` -> c; None for anything else (flags, commands, paths)."""
    match = re.fullmatch(r"([A-Za-z_][\w.]*)(\(.*\))?", span)
    if match is None or looks_like_path(span):
        return None
    return match.group(1).split(".")[-1]


def test_the_span_readers_tell_paths_and_names_apart() -> None:
    assert looks_like_path("psalm_bench/world_gt.py") and looks_like_path("formats/") and not looks_like_path("a | b")
    assert code_name("jsonio.dump_json") == "dump_json" and code_name('get_task("gref")') == "get_task"
    assert code_name("--pred -") is None and code_name("psalm_bench/tasks.py") is None
    assert path_exists("formats/refer.py") and path_exists("generators/world.py") and not path_exists("formats/gone.py")
    assert "world_gt" in defined_names() and "GrefEvaluator" in defined_names() and "no_such_function" not in defined_names()


def test_every_file_the_page_names_exists() -> None:
    spans = code_spans(DOC.read_text())
    paths = [s for s in spans if looks_like_path(s)]
    assert len(paths) >= 30, paths
    missing = [s for s in paths if not path_exists(s)]
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_every_function_the_page_names_is_defined() -> None:
    names = defined_names()
    spans = code_spans(DOC.read_text())
    cited = {code_name(s) for s in spans} - {None} - NOT_CODE
    assert {"world_gt", "run_sharded", "referring_metrics", "stamp_world", "dump_json"} <= cited
    missing = sorted(n for n in cited if n not in names)
    assert not missing, f"docs/architecture.md names code that is not defined anywhere in the package: {missing}"


def test_the_picture_shows_every_module_the_layers_name() -> None:
    """Each psalm_bench module or subpackage of pyproject's layer contract has a box in the SVG."""
    contract = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    modules = {m.strip() for layer in contract["layers"] for m in re.split(r"[:|]", layer)}
    boxes = set(re.findall(r'class="mod">([^<]+)<', SVG.read_text()))
    shown = " ".join(boxes)
    missing = []
    for module in sorted(modules):
        name = module.removeprefix("psalm_bench.")
        if name == "__main__":
            continue  # `python -m psalm_bench`: the same entry as the console script
        if name in ("leaderboard", "model", "evaluators", "generators", "formats", "commands"):
            if f"{name}/" not in shown:
                missing.append(module)
        elif f"{name}.py" not in shown:
            missing.append(module)
    assert not missing, f"docs/architecture.svg has no box for {missing}"
