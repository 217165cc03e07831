"""Handler of billing.charge.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from shop_tasks.models import Invoice, Receipt
from taskgen.runtime import Context


async def charge(
    ctx: Context,
    invoice: Invoice,
    *,
    idempotency_key: str,
) -> Receipt:
    """Charge an invoice exactly once per idempotency key."""
    raise NotImplementedError("billing.charge is not implemented yet")
