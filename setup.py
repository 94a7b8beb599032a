"""The optional C extension (PNG unfiltering, segment-id indexing); everything else is in pyproject.toml.

Declared here rather than in pyproject's experimental ``[tool.setuptools.ext-modules]``
table, which makes setuptools warn on every build. ``optional=True``: without a
compiler the install still works, on exact pure-Python fallbacks. The sources
are one file per group of kernels in csrc/ (module.c: the method table).
"""

from pathlib import Path

from setuptools import Extension, setup

CSRC = Path("csrc")
SOURCES = sorted(str(p) for p in CSRC.glob("*.c"))

setup(ext_modules=[Extension("psalm_bench._native", sources=SOURCES, depends=[str(CSRC / "native.h")], optional=True)])
