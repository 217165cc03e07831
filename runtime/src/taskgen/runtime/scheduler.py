"""Promoting delayed and retrying tasks to their ready streams when they fall due."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from taskgen.runtime.faults import describe
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.scripts import Scripts

log = logging.getLogger("taskgen.worker")

#: Most tasks moved by one script call.
PROMOTE_BATCH = 1000
#: Longest sleep between checks, in case a wake-up message was missed during a reconnect.
MAX_SLEEP = 5.0


class Scheduler:
    """Sleeps until the queue's next delayed task is due, or until woken by a sooner one."""

    def __init__(self, keys: QueueKeys, scripts: Scripts) -> None:
        self.keys = keys
        self._scripts = scripts
        self.wake = asyncio.Event()

    async def run(self) -> None:
        """Promote due tasks until cancelled."""
        while True:
            self.wake.clear()
            try:
                moved, wait_ms = await self._scripts.promote(
                    keys=[self.keys.delayed, self.keys.retrying],
                    args=[self.keys.base, PROMOTE_BATCH],
                )
            except (RedisError, OSError) as exc:
                log.warning(
                    "promoting delayed tasks of %s failed: %s", self.keys.queue, describe(exc)
                )
                moved, wait_ms = 0, 1000
            if moved >= PROMOTE_BATCH:
                continue
            sleep = MAX_SLEEP if wait_ms < 0 else min(MAX_SLEEP, wait_ms / 1000)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(sleep):
                    await self.wake.wait()
