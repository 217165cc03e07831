"""Handler of scalars.echo.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from taskgen.runtime import Context


async def echo(
    ctx: Context,
    flag: bool,
    count: int,
    /,
    ratio: float,
    text: str,
    *,
    blob: bytes,
    buffer: bytearray,
    nothing: None = None,
) -> str:
    """Builtin scalars, positional-only, positional and keyword-only."""
    raise NotImplementedError("scalars.echo is not implemented yet")
