"""Stopping background tasks for sure.

A library awaited inside a task may swallow one cancellation (redis-py does, in places), after
which the task carries on at its next await. Cancelling again until the task is done makes a
shutdown finish whatever the task was awaiting at the time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

#: How long a cancelled task gets to end before it is cancelled again.
PATIENCE = 0.5


async def stop_tasks(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel every task, again and again, until all of them have ended."""
    tasks = list(tasks)
    pending = [t for t in tasks if not t.done()]
    while pending:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=PATIENCE)
        pending = [t for t in pending if not t.done()]
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not warn about it
