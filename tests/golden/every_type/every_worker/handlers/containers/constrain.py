"""Handler of containers.constrain.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

import datetime
import typing

import msgspec
from every_client.models import Email
from taskgen.runtime import Context


async def constrain(
    ctx: Context,
    small: typing.Annotated[int, msgspec.Meta(ge=0, le=10, multiple_of=2)],
    ratio: typing.Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)],
    code: typing.Annotated[str, msgspec.Meta(pattern="^\\d{3}$")],
    stamp: typing.Annotated[datetime.datetime, msgspec.Meta(tz=True)],
    few: typing.Annotated[
        list[typing.Annotated[int, msgspec.Meta(ge=0, le=10, multiple_of=2)]],
        msgspec.Meta(min_length=1, max_length=3),
    ],
    labels: dict[
        typing.Annotated[str, msgspec.Meta(min_length=1)],
        typing.Annotated[
            str, msgspec.Meta(pattern="^[a-z0-9-]+$", min_length=1, max_length=40)
        ],
    ],
    email: Email,
    titled: typing.Annotated[
        str, msgspec.Meta(title="Title", description="Say 'why'")
    ] = "",
) -> typing.Annotated[int, msgspec.Meta(ge=0)]:
    """msgspec.Meta constraints on values, on items and keys, and through a NewType."""
    raise NotImplementedError("containers.constrain is not implemented yet")
