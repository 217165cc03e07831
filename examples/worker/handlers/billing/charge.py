"""Handler of billing.charge: records the charge, then enqueues the receipt email."""

from __future__ import annotations

from typing import Annotated

from backend.app import Tasks
from backend.deps import ledger_session
from backend.ledger import LedgerSession
from fastapi import Depends
from shop_tasks.models import Invoice, Receipt, Recipient, Template

from taskgen.runtime import Context


async def charge(
    ctx: Context,
    invoice: Invoice,
    *,
    idempotency_key: str,
    session: Annotated[LedgerSession, Depends(ledger_session)],
    tasks: Tasks,
) -> Receipt:
    """Charge an invoice exactly once per idempotency key."""
    charge_id = await session.record_charge(idempotency_key, invoice.total.amount_cents)
    await tasks.emails.send_email(
        Recipient(f"billing+{invoice.id}@example.com"),
        Template.RECEIPT,
        variables={"charge_id": charge_id},
    )
    return Receipt(charge_id=charge_id, invoice_id=invoice.id, charged=invoice.total)
