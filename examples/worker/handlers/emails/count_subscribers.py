"""Handler of emails.count_subscribers: a plain function, run in the worker's thread pool."""

from __future__ import annotations

from typing import Annotated

from backend.deps import get_ledger
from backend.ledger import Ledger
from fastapi import Depends

from taskgen.runtime import Context


def count_subscribers(
    ctx: Context, newsletter: str, ledger: Annotated[Ledger, Depends(get_ledger)]
) -> int:
    """How many people subscribe to a newsletter."""
    return ledger.subscribers(newsletter)
