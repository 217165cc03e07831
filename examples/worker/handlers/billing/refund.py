"""Handler of billing.refund."""

from __future__ import annotations

from typing import Annotated

from backend.deps import ledger_session
from backend.ledger import LedgerSession
from fastapi import Depends
from shop_tasks.models import Money

from taskgen.runtime import Context


async def refund(
    ctx: Context,
    charge_id: str,
    amount: Money | None,
    *,
    reason: str,
    session: Annotated[LedgerSession, Depends(ledger_session)],
) -> bool:
    """Refund a charge; an unknown charge fails the task (and the request: 502)."""
    return await session.refund(charge_id, amount.amount_cents if amount else None)
