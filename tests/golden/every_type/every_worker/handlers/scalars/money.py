"""Handler of scalars.money:v2.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

import decimal
import typing
import uuid

import msgspec
from taskgen.runtime import Context


async def money(
    ctx: Context,
    decimal: decimal.Decimal,
    ident: uuid.UUID = uuid.UUID("00000000-0000-0000-0000-000000000001"),
    *,
    msgspec: typing.Annotated[int, msgspec.Meta(ge=0)] = 0,
    fee: decimal.Decimal = decimal.Decimal("0.30"),
    rate: typing.Annotated[
        decimal.Decimal, msgspec.Meta(description="per unit")
    ] = decimal.Decimal("1"),
) -> decimal.Decimal:
    """Parameters named like modules: the args Struct imports those under other names."""
    raise NotImplementedError("scalars.money:v2 is not implemented yet")
