"""A stand-in for the shop's database pool: what the API and the worker share as code."""

from __future__ import annotations

import asyncio
import hashlib


class Ledger:
    """Charges and subscriptions, kept in memory; one per process, opened by the lifespan."""

    def __init__(self) -> None:
        self._charges: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self.open_sessions = 0

    def session(self) -> LedgerSession:
        """A unit of work; closed by whoever opened it."""
        self.open_sessions += 1
        return LedgerSession(self)

    @staticmethod
    def charge_id(idempotency_key: str) -> str:
        """The same key always names the same charge: retries never charge twice."""
        return "ch_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]

    def subscribers(self, newsletter: str) -> int:
        """How many people read a newsletter (a deterministic stand-in for a query)."""
        return sum(newsletter.encode()) % 1000


class LedgerSession:
    """One unit of work against the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.closed = False

    async def record_charge(self, idempotency_key: str, amount_cents: int) -> str:
        """Record a charge once per key; return its id."""
        charge_id = Ledger.charge_id(idempotency_key)
        async with self.ledger._lock:
            self.ledger._charges.setdefault(charge_id, amount_cents)
        return charge_id

    async def refund(self, charge_id: str, amount_cents: int | None) -> bool:
        """Refund up to what was charged; unknown charges fail loudly."""
        if not charge_id.startswith("ch_"):
            raise LookupError(f"no charge {charge_id!r}")
        charged = self.ledger._charges.get(charge_id)
        return amount_cents is None or charged is None or amount_cents <= charged

    async def close(self) -> None:
        self.closed = True
        self.ledger.open_sessions -= 1
