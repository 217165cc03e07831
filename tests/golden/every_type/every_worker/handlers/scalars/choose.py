"""Handler of scalars.choose.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

import typing

from every_client.models import Color, Level, Permission
from taskgen.runtime import Context


async def choose(
    ctx: Context,
    colour: Color = Color.RED,
    level: Level = Level.HIGH,
    access: Permission = Permission(5),
    size: typing.Literal["s", "m", "l"] = "m",
    answer: typing.Literal[42, True, None] = None,
) -> typing.Literal["yes", "no"] | None:
    """Enums, flags and literals, with their defaults."""
    raise NotImplementedError("scalars.choose is not implemented yet")
