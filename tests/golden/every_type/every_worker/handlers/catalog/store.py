"""Handler of catalog.store.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

import uuid

from every_client.models import Audit, Defaults, Item, Level, Patch, Settings
from taskgen.runtime import Context


async def store(
    ctx: Context,
    item: Item,
    audit: Audit,
    patch: Patch | None,
    *,
    defaults: Defaults,
    settings: Settings | None,
) -> Item:
    """Structs with options, inherited fields and defaults."""
    raise NotImplementedError("catalog.store is not implemented yet")
