"""The jinja2 environment shared by every template: strict, so a typo fails loudly."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from taskgen_codegen.contract.model import literal


@cache
def environment() -> jinja2.Environment:
    """The generator's templates, with the ``pyrepr`` filter."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("taskgen_codegen.generate", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pyrepr"] = literal
    return env


def render(template: str, **context: Any) -> str:
    """Render one template to text."""
    return environment().get_template(template).render(**context)
