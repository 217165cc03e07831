"""Handler of containers.choose_one.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

import typing

from every_client.models import Circle, EnvelopeV1, EnvelopeV2, Method, Square, UserId
from taskgen.runtime import Context


async def choose_one(
    ctx: Context,
    maybe: int | None,
    either: str | int,
    method: Method | None,
    choice: typing.Literal["x", "y"] | None,
    numeric: typing.Literal[1, 2] | str,
    shape: Circle | Square,
    envelope: EnvelopeV1 | EnvelopeV2,
    shape_or_none: Circle | Square | None = None,
    sequence_or_map: list[int] | dict[str, int] | None = None,
    user: UserId | None = None,
) -> Circle | Square | None:
    """Unions: optional, mixed scalars, literals, and tagged Structs."""
    raise NotImplementedError("containers.choose_one is not implemented yet")
