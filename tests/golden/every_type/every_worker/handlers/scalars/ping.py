"""Handler of scalars.ping.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from taskgen.runtime import Context


async def ping(
    ctx: Context,
) -> None:
    """No parameters at all."""
    raise NotImplementedError("scalars.ping is not implemented yet")
