"""Leases: renew the entries this worker holds, and take over those of workers that died.

A delivered entry stays in the stream's pending list, owned by its consumer, until it is
acknowledged. Its idle time is its lease: this worker resets it every ``lease / 3`` seconds
for everything it holds, and any worker takes over entries idle longer than ``lease``.
A slow task on a live worker is therefore never taken over, and a dead worker's tasks are
redelivered about one lease after it stopped renewing them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskgen.runtime.execution import Delivery, Executor
from taskgen.runtime.keys import GROUP, QueueKeys
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.slots import Slots

log = logging.getLogger("taskgen.worker")


class LeaseKeeper:
    """Renews this worker's leases and reclaims expired ones, on a timer."""

    def __init__(
        self,
        queues: Iterable[QueueKeys],
        redis: Redis,
        scripts: Scripts,
        executor: Executor,
        slots: Slots,
        *,
        consumer: str,
        lease: float,
        batch: int,
    ) -> None:
        self._queues = list(queues)
        self._redis = redis
        self._scripts = scripts
        self._executor = executor
        self._slots = slots
        self._consumer = consumer
        self._lease_ms = max(1, round(lease * 1000))
        self._batch = batch
        self.renew_every = lease / 3
        # Scanning often keeps a dead worker's tasks waiting little beyond their lease.
        self.reclaim_every = max(0.05, lease / 10)

    async def run(self) -> None:
        """Renew and reclaim until cancelled."""
        loop = asyncio.get_running_loop()
        next_renewal = loop.time() + self.renew_every
        while True:
            await asyncio.sleep(self.reclaim_every)
            try:
                if loop.time() >= next_renewal:
                    next_renewal = loop.time() + self.renew_every
                    await self.renew()
                await self.reclaim()
            except (RedisError, OSError) as exc:
                log.warning("lease upkeep failed, retrying: %r", exc)

    async def renew(self) -> None:
        """Reset the idle time of every entry this worker holds."""
        for keys in self._queues:
            held = self._executor.inflight.get(keys)
            if not held:
                continue
            args: list[bytes | str | int] = [GROUP, self._consumer]
            for delivery in list(held.values()):
                args += (delivery.stream, delivery.entry)
            lost = await self._scripts.renew(keys=keys.streams, args=args)
            for entry in lost:
                if entry in held:
                    log.warning(
                        "lost the lease on %s in queue %s: another worker took it over "
                        "(was this worker's event loop blocked for longer than the lease?)",
                        entry.decode(),
                        keys.queue,
                    )

    async def reclaim(self) -> None:
        """Take over entries whose lease has expired, as many as there are free slots."""
        for keys in self._queues:
            taken = self._slots.take_now(self._batch)
            if not taken:
                return
            try:
                flat = await self._scripts.reclaim(
                    keys=keys.streams,
                    args=[GROUP, self._consumer, self._lease_ms, taken, keys.base],
                )
            except BaseException:
                self._slots.give(taken)
                raise
            deliveries = [
                (
                    Delivery(
                        keys, flat[i], flat[i + 1], flat[i + 2], flat[i + 3], int(flat[i + 4])
                    ),
                    flat[i + 5] == 1,
                )
                for i in range(0, len(flat), 6)
            ]
            self._slots.give(taken - len(deliveries))
            for delivery, aborted in deliveries:
                log.info(
                    "redelivering %s of queue %s (delivery %d)",
                    delivery.task_id.decode(),
                    keys.queue,
                    delivery.redeliveries + 1,
                )
                self._executor.hold(delivery)
                if aborted:
                    # Remembered aborts end the task at start instead of running it.
                    self._executor.abort(delivery.task_id.decode())
                self._executor.start(delivery)
