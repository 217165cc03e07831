"""Handler of catalog.address.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from every_client.models import Address, NamedContact
from taskgen.runtime import Context


async def address(
    ctx: Context,
    contact: NamedContact,
    home: Address | None = None,
) -> list[Address]:
    """TypedDicts, total and partial."""
    raise NotImplementedError("catalog.address is not implemented yet")
