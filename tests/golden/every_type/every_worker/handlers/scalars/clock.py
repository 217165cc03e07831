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
    span: datetime.timedelta = datetime.timedelta(days=1, seconds=30),
    since: datetime.date = datetime.date(2000, 1, 1),
) -> datetime.datetime:
    """Dates and times."""
    raise NotImplementedError("scalars.clock is not implemented yet")
