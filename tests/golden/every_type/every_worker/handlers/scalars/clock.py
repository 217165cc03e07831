"""Handler of scalars.clock.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

import datetime

from taskgen.runtime import Context


async def clock(
    ctx: Context,
    when: datetime.datetime,
    day: datetime.date,
    at: datetime.time,
    span: datetime.timedelta,
    since: datetime.date,
) -> datetime.datetime:
    """Dates and times."""
    raise NotImplementedError("scalars.clock is not implemented yet")
