"""Handler of catalog.schedule.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from every_client.models import Job, Options, Range, Version
from taskgen.runtime import Context


async def schedule(
    ctx: Context,
    job: Job,
    options: Options,
    version: Version = Version(major=1, minor=2),
    window: Range = Range(low=0, high=10),
) -> tuple[Version, Range]:
    """Dataclasses and NamedTuples."""
    raise NotImplementedError("catalog.schedule is not implemented yet")
