"""FastAPI dependencies of the backend. The worker's handlers use these very functions."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from backend.ledger import Ledger, LedgerSession


class Settings:
    """Configuration read once from the environment."""

    def __init__(self) -> None:
        self.redis_url = os.environ.get("TASKGEN_REDIS_URL", "redis://localhost:6379/0")
        self.result_wait = float(os.environ.get("SHOP_RESULT_WAIT", "5"))
        self.currency = os.environ.get("SHOP_CURRENCY", "EUR")


@lru_cache
def get_settings() -> Settings:
    """Cached: one Settings per process."""
    return Settings()


def get_ledger(request: Request) -> Ledger:
    """The pool the app's lifespan opened, from app.state."""
    ledger: Ledger = request.app.state.ledger
    return ledger


async def ledger_session(
    ledger: Annotated[Ledger, Depends(get_ledger)],
) -> AsyncIterator[LedgerSession]:
    """A session per request (or per task), closed after it, also when it fails."""
    session = ledger.session()
    try:
        yield session
    finally:
        await session.close()
