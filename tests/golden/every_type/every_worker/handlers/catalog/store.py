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
    patch: Patch | None = None,
    *,
    defaults: Defaults = Defaults(
        text='say "hi"',
        raw=b"\x00'\"",
        whole=-7,
        fraction=-0.25,
        empty=None,
        pair=(1, "a"),
        single=(Level.HIGH,),
        levels=frozenset({Level.HIGH, Level.LOW}),
        ident=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        all_colours=frozenset(),
    ),
    settings: Settings | None = None,
) -> Item:
    """Structs with options, inherited fields and defaults."""
    raise NotImplementedError("catalog.store is not implemented yet")
