"""The optional C extension (PNG unfiltering, segment-id indexing); everything else is in pyproject.toml.

Declared here rather than in pyproject's experimental ``[tool.setuptools.ext-modules]``
table, which makes setuptools warn on every build. ``optional=True``: without a
compiler the install still works, on exact pure-Python fallbacks.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("psalm_bench._native", sources=["psalm_bench/_native.c"], optional=True)])
