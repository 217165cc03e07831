"""Reading one queue: take free slots, fetch that many entries in priority order, start them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskgen.runtime.execution import Delivery, Executor
from taskgen.runtime.faults import Backoff, create_groups, describe, missing_group
from taskgen.runtime.keys import GROUP, QueueKeys
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.slots import Slots

log = logging.getLogger("taskgen.worker")

#: How long one blocking read waits for new work before it is issued again; well below
#: the worker connections' socket timeout (``faults.SOCKET_TIMEOUT``), or an idle read would
#: race it.
BLOCK_MS = 2000


class QueueReader:
    """Feeds the executor from one queue's ready streams."""

    def __init__(
        self,
        keys: QueueKeys,
        redis: Redis,
        scripts: Scripts,
        executor: Executor,
        slots: Slots,
        *,
        consumer: str,
        batch: int,
    ) -> None:
        self.keys = keys
        self._redis = redis
        self._scripts = scripts
        self._executor = executor
        self._slots = slots
        self._consumer = consumer
        self._batch = batch

    async def run(self, *, burst: bool = False) -> int:
        """Read until cancelled, or in burst mode until the queue is empty.

        Returns how many entries were started (burst mode)."""
        backoff = Backoff()
        started = 0
        while True:
            taken = await self._slots.take(self._batch)
            try:
                deliveries = await self._fetch(taken)
                if not deliveries:
                    # The blocking read holds no slot: a reader idle on an empty queue would
                    # otherwise keep one from the worker's other queues until its read ends.
                    self._slots.give(taken)
                    taken = 0
                    if burst:
                        return started
                    deliveries = await self._wait_for_work()
            except (RedisError, OSError) as exc:
                self._slots.give(taken)
                await self._recover(exc, backoff)
                continue
            except BaseException:
                self._slots.give(taken)
                raise
            backoff.reset()
            started += len(deliveries)
            await self._start(deliveries, taken)

    async def _recover(self, exc: BaseException, backoff: Backoff) -> None:
        """After a failed read: create the consumer group again if it is gone, else wait."""
        if missing_group(exc):
            try:
                created = await create_groups(self._redis, self.keys)
            except (RedisError, OSError) as again:
                exc = again
            else:
                if not created:  # another loop or worker was quicker: read again, after a pause
                    await asyncio.sleep(backoff.next())
                    return
                log.warning(
                    "the consumer group of queue %s was missing (FLUSHALL, failover to an empty "
                    "replica, or eviction?): created it again",
                    self.keys.queue,
                )
                return
        delay = backoff.next()
        log.warning(
            "reading queue %s failed, retrying in %.2fs: %s", self.keys.queue, delay, describe(exc)
        )
        await asyncio.sleep(delay)

    async def _start(self, deliveries: list[Delivery], taken: int) -> None:
        executor = self._executor
        for delivery in deliveries:
            executor.hold(delivery)
        if len(deliveries) < taken:
            self._slots.give(taken - len(deliveries))
        for i, delivery in enumerate(deliveries):
            if i >= taken:
                # What a blocking read returned (one entry per priority level, read without a
                # slot) waits, held and its lease renewed, for a slot.
                try:
                    await self._slots.take(1)
                except BaseException:
                    # Never started: they stay pending, and are handed back at stop.
                    for unstarted in deliveries[i:]:
                        executor.let_go(unstarted)
                    raise
            executor.start(delivery)

    async def _fetch(self, count: int) -> list[Delivery]:
        flat = await self._scripts.fetch(
            keys=self.keys.streams, args=[GROUP, self._consumer, count]
        )
        keys = self.keys
        return [
            Delivery(keys, flat[i], flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4])
            for i in range(0, len(flat), 5)
        ]

    async def _wait_for_work(self) -> list[Delivery]:
        """Block until an entry arrives on any level; returns at most one per level."""
        streams: dict[Any, Any] = dict.fromkeys(self.keys.streams, ">")
        reply: Any = await self._redis.xreadgroup(
            GROUP, self._consumer, streams, count=1, block=BLOCK_MS
        )
        deliveries = []
        index = {name.encode(): i for i, name in enumerate(self.keys.streams)}
        for stream, entries in reply or ():
            for entry, fields in entries:
                items = list(fields.items())
                if not items:
                    continue
                task_id, payload = items[0]
                redeliveries = _count(items[1][1]) if len(items) > 1 else 0
                deliveries.append(
                    Delivery(self.keys, index[stream], entry, task_id, payload, redeliveries)
                )
        # Highest level first, like fetch.
        deliveries.sort(key=lambda d: d.stream)
        return deliveries


def _count(raw: bytes) -> int:
    """A redelivery counter; one that is not a number (a poison entry) counts as none."""
    try:
        return int(raw)
    except ValueError:
        return 0
