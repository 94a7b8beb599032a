"""What the package index shows and what pip resolves: the README page and the dependency ranges.

The README is the project's page on the index, where a relative link or image
points nowhere; pyproject takes ranges (so psalm-bench installs beside other
projects' pins) and constraints.txt the one exact set CI and the Makefile use.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from conftest import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HTML = re.compile(r"""<(?:a|img|source)\b[^>]*\b(?:href|src)\s*=\s*["']?([^"'\s>]+)""", re.I)
ABSOLUTE = re.compile(r"^(https?://|mailto:|#)")


def link_targets(markdown: str) -> list[str]:
    """Every link and image target of a Markdown text, code blocks and code spans left out."""
    prose = CODE_SPAN.sub("", FENCE.sub("", markdown))
    return [m.group(1) for pattern in (INLINE, REFERENCE, HTML) for m in pattern.finditer(prose)]


def relative_targets(markdown: str) -> list[str]:
    return [t for t in link_targets(markdown) if not ABSOLUTE.match(t)]


@pytest.mark.parametrize("text, found", [
    ("see [the notes](docs/correspondence.md).", ["docs/correspondence.md"]),
    ("![a page](docs/browse.png)", ["docs/browse.png"]),
    ("[a [nested] name](../shared/DESIGN.md)", ["../shared/DESIGN.md"]),
    ("[x][1]\n\n[1]: docs/scale.md\n", ["docs/scale.md"]),
    ('<img src="docs/layers.svg" alt="layers">', ["docs/layers.svg"]),
    ("[paper](https://arxiv.org/abs/2403.14598), [up](#installing), `[code](not/a/link)`", []),
    ("```python\nx = d['a'](b)\n[y](z)\n```\n", []),
])
def test_the_link_finder_sees_what_the_index_would_break(text: str, found: list[str]) -> None:
    assert relative_targets(text) == found


def test_the_readme_has_no_relative_links_or_images() -> None:
    readme = (REPO / "README.md").read_text()
    assert link_targets(readme), "the finder found no link at all: is it still reading the README?"
    assert relative_targets(readme) == []


def declared() -> dict[str, list[Requirement]]:
    """pyproject's requirements by group ('' for the core), the self-referencing `all` left out."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = {"": project["dependencies"], **project["optional-dependencies"]}
    return {group: [r for r in map(Requirement, reqs) if canonicalize_name(r.name) != "psalm-bench"] for group, reqs in groups.items()}


def pinned() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version
    return pins


def test_pyproject_takes_ranges_and_leaves_exact_pins_to_constraints() -> None:
    for group, requirements in declared().items():
        for req in requirements:
            operators = {spec.operator for spec in req.specifier}
            assert operators and not operators & {"==", "==="}, f"[{group or 'core'}] {req}: a range, not a pin"
            assert ">=" in operators or "~=" in operators, f"[{group or 'core'}] {req}: no lower bound"


def test_constraints_pin_every_declared_package_inside_its_range() -> None:
    pins = pinned()
    for group, requirements in declared().items():
        for req in requirements:
            name = canonicalize_name(req.name)
            assert name in pins, f"[{group or 'core'}] {req.name} has no exact pin in constraints.txt"
            assert req.specifier.contains(pins[name], prereleases=True), f"constraints.txt {name}=={pins[name]} is outside [{group or 'core'}] {req}"
