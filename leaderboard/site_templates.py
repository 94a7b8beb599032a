"""The Jinja2 environment of the site's and the failure browser's pages
(``site_assets/templates``): autoescape on, every ``{{ value }}`` written as
``html.escape`` writes it, an undefined name an error rather than an empty string.

Pages are fed plain values; the only markup in them is the templates' own and
what the one table renderer (``psalm_bench.tables``) returns as Markup.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from psalm_bench.tables import MISSING, escape

ASSETS = Path(__file__).resolve().with_name("site_assets")
TEMPLATES = ASSETS / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, finalize=escape, undefined=jinja2.StrictUndefined)
    env.globals["missing"] = MISSING  # the table model's one missing-value mark, for the pages' own text
    return env


def render(template: str, **context: Any) -> str:
    """One page from ``template`` with ``context``."""
    return environment().get_template(template).render(**context)
