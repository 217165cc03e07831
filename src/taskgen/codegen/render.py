"""The jinja2 environment shared by every template: strict, so a typo fails loudly."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from taskgen.codegen import layout
from taskgen.contract.model import literal


@cache
def environment() -> jinja2.Environment:
    """Templates from ``taskgen/codegen/templates``; ``layout`` and ``pyrepr`` available."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("taskgen.codegen", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.globals["layout"] = layout
    env.filters["pyrepr"] = literal
    return env


def render(template: str, **context: Any) -> str:
    """Render one template to text."""
    return environment().get_template(template).render(**context)
