"""No function in the package over 80 lines unless it says why (issue 14).

A long function is allowed when its first line carries ``# long: <reason>``
or its docstring has a line ``long: <reason>``; everything else over the
limit is listed with its file, name and length, so a split is one look away.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = ("psalm_bench", "evaluators", "generators", "leaderboard", "model")  # pyproject's package-dir map
LIMIT = 80
REASON = re.compile(r"#\s*long:\s*\S")
DOC_REASON = re.compile(r"^\s*long:\s*\S", re.IGNORECASE | re.MULTILINE)


def long_functions(source: str, limit: int = LIMIT) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length) of each function over ``limit`` lines
    (decorators included) that states no reason."""
    tree = ast.parse(source)
    lines = source.splitlines()
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = f"{prefix}{getattr(child, 'name', '')}"
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                length = child.end_lineno - start + 1
                doc = ast.get_docstring(child) or ""
                if length > limit and not REASON.search(lines[child.lineno - 1]) and not DOC_REASON.search(doc):
                    found.append((name, child.lineno, length))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _package_files() -> list[Path]:
    return sorted(p for d in PACKAGE_DIRS for p in (REPO / d).rglob("*.py"))


def test_the_package_is_where_the_walk_looks():
    files = {p.relative_to(REPO).as_posix() for p in _package_files()}
    assert {"psalm_bench/reproduce.py", "evaluators/instance.py", "generators/world.py", "leaderboard/report.py", "model/train.py"} <= files


def test_no_function_over_80_lines_without_a_reason():
    over = [f"{p.relative_to(REPO)}:{line} {name} ({length} lines)"
            for p in _package_files() for name, line, length in long_functions(p.read_text())]
    assert not over, "split these along their jobs, or say why on the def line (# long: <reason>): " + "; ".join(over)


def _function(body_lines: int, first_line: str = "def f():", doc: str = "") -> str:
    head = [first_line] + ([f'    """{doc}"""'] if doc else [])
    return "\n".join(head + ["    x = 1"] * (body_lines - len(head))) + "\n"


@pytest.mark.parametrize("source, flagged", [
    (_function(80), []),
    (_function(81), [("f", 1, 81)]),
    (_function(81, "def f():  # long: one table of cases, read top to bottom"), []),
    (_function(81, doc="Why.\n\n    long: the option declarations of one command"), []),
    (_function(81, doc="A long function, without a reason line"), [("f", 1, 81)]),
    ("class C:\n    @staticmethod\n" + "\n".join("    " + line for line in _function(80, "def g():").splitlines()) + "\n", [("C.g", 3, 81)]),
    ("def outer():\n" + "\n".join("    " + line for line in _function(81, "def inner():").splitlines()) + "\n",
     [("outer", 1, 82), ("outer.inner", 2, 81)]),
])
def test_the_check_flags_long_functions_and_accepts_a_stated_reason(source, flagged):
    assert long_functions(source) == flagged
