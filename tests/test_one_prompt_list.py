"""COCO-Interactive's prompt types are spelled once: psalm_bench/specs.py's PROMPTS.

A second literal list of them drifts (a new prompt type, another order) without
any test noticing, so the package's modules take ``specs.PROMPTS`` (directly or
as formats.interactive re-exports it) instead of writing the four names again.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROMPT_NAMES = {"point", "scribble", "box", "mask"}
HOME = "psalm_bench/specs.py"
# Copies the model's engineers have yet to replace by specs.PROMPTS (issue 14's audit lists them);
# a copy anywhere else fails.
NOT_YET: set[str] = set()


def prompt_literals(source: str) -> list[int]:
    """Lines of the tuple, list or set literals (and set/dict-key displays) holding all four prompt names."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        names = {item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)}
        if PROMPT_NAMES <= names:
            lines.append(node.lineno)
    return lines


def test_the_finder_sees_a_copy_and_not_a_use() -> None:
    assert prompt_literals('KINDS = ("point", "scribble", "box", "mask")\n') == [1]
    assert prompt_literals('order = [p for p in ["mask", "box", "scribble", "point", "text"] if p]\n') == [1]
    assert prompt_literals('WEIGHTS = {"point": 1, "scribble": 2, "box": 3, "mask": 4}\n') == [1]
    assert prompt_literals("from psalm_bench.specs import PROMPTS\norder = [p for p in PROMPTS]\n") == []
    assert prompt_literals('SOME = ("point", "box")\n') == []


def test_prompt_types_are_spelled_only_in_specs() -> None:
    found = {}
    for folder in ("psalm_bench", "evaluators", "generators", "leaderboard", "model"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            lines = prompt_literals(path.read_text())
            if lines:
                found[rel] = lines
    assert HOME in found, "specs.PROMPTS itself should be found"
    extra = {rel: lines for rel, lines in found.items() if rel != HOME and rel not in NOT_YET}
    assert not extra, f"the prompt types written out again (use psalm_bench.specs.PROMPTS): {extra}"
