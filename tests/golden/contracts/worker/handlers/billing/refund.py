"""Handler of billing.refund.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from shop_tasks.models import Money
from taskgen.runtime import Context


async def refund(
    ctx: Context,
    charge_id: str,
    amount: Money | None = None,
    *,
    reason: str = "requested",
) -> bool:
    """Refund a charge, in full when no amount is given; True when the refund went through."""
    raise NotImplementedError("billing.refund is not implemented yet")
