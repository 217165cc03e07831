"""Handler of scalars.classify.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from every_client.models import AdminId, Legacy, Mode, Status
from taskgen.runtime import Context


async def classify(
    ctx: Context,
    status: Status,
    legacy: Legacy = Legacy.QUOTE,
    mode: Mode = Mode(3),
    admin: AdminId | None = None,
) -> Legacy:
    """The other Enum kinds (auto() values, a str mixin, an IntFlag), a NewType of a NewType."""
    raise NotImplementedError("scalars.classify is not implemented yet")
