"""Handler of emails.count_subscribers.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from taskgen.runtime import Context


async def count_subscribers(
    ctx: Context,
    newsletter: str,
) -> int:
    """How many people subscribe to a newsletter."""
    raise NotImplementedError("emails.count_subscribers is not implemented yet")
