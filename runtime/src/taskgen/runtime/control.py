"""The control channel of each queue: wake-ups for the scheduler, abort requests."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from redis.asyncio import Redis

from taskgen.runtime.execution import Executor
from taskgen.runtime.scheduler import Scheduler

log = logging.getLogger("taskgen.worker")

ABORT_PREFIX = b"abort:"


class ControlListener:
    """Subscribes to every served queue's control channel and acts on what arrives."""

    def __init__(
        self, redis: Redis, schedulers: Mapping[str, Scheduler], executor: Executor
    ) -> None:
        self._redis = redis
        self._schedulers = {s.keys.control.encode(): s for s in schedulers.values()}
        self._executor = executor

    async def run(self) -> None:
        """Listen until cancelled; redis-py resubscribes after a reconnect."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*self._schedulers)
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None or message["type"] != "message":
                    continue
                self._handle(message["channel"], message["data"])
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py

    def _handle(self, channel: bytes, data: bytes) -> None:
        if data == b"wake":
            scheduler = self._schedulers.get(channel)
            if scheduler is not None:
                scheduler.wake.set()
        elif data.startswith(ABORT_PREFIX):
            self._executor.abort(data[len(ABORT_PREFIX) :].decode())
        else:
            log.debug("ignoring control message %r on %r", data, channel)
