"""Handler of containers.collect.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

import typing
import uuid

from every_client.models import Color, Level, Point, Tags
from taskgen.runtime import Context


async def collect(
    ctx: Context,
    numbers: list[int],
    pair: tuple[int, str],
    rest: tuple[float, ...],
    nothing: tuple[()],
    names: set[str],
    levels: frozenset[Level],
    by_name: dict[str, list[Point]],
    by_id: dict[int, str],
    by_level: dict[Level, int],
    by_key: dict[typing.Literal["a", "b"], bool],
    by_uuid: dict[uuid.UUID, Color],
    tags: Tags,
) -> dict[str, frozenset[int]]:
    """Every collection, with every kind of dict key."""
    raise NotImplementedError("containers.collect is not implemented yet")
