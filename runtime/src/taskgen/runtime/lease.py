"""Leases: renew the entries this worker holds, and take over those of workers that died.

A delivered entry stays in the stream's pending list, owned by its consumer, until it is
acknowledged. Its idle time is its lease: this worker resets it every ``lease / 3`` seconds
for everything it holds, and any worker takes over entries idle longer than ``lease``.
A slow task on a live worker is therefore never taken over, and a dead worker's tasks are
redelivered about one lease after it stopped renewing them. Taken-over entries run before any
new entry (they take the next free slot first), so a backlog does not delay them.

The renewal also beats the worker's heartbeat in the queue's liveness set and stores its
heartbeat record (``heartbeat.py``), and now and then the keeper removes the consumers and
records of workers that are gone (no heartbeat, nothing pending).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from collections.abc import Callable, Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskgen.runtime.execution import Delivery, Executor
from taskgen.runtime.faults import Backoff, create_groups, describe, missing_group
from taskgen.runtime.keys import GROUP, QueueKeys
from taskgen.runtime.observe import notify_reclaimed
from taskgen.runtime.reclaim_deleted import report_deleted
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.slots import Slots

log = logging.getLogger("taskgen.worker")

#: A heartbeat lives this many leases: a worker is taken for gone once it has missed a few.
HEARTBEAT_LEASES = 3


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
        heartbeat: Callable[[], bytes] | None = None,
    ) -> None:
        self._queues = list(queues)
        #: Builds this worker's heartbeat record (see ``heartbeat.py``), sent with each renewal.
        self._heartbeat = heartbeat
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
        self.sweep_every = max(1.0, lease * HEARTBEAT_LEASES)
        #: Taken-over deliveries waiting for a slot; they get the next one before the readers.
        self._waiting: collections.deque[Delivery] = collections.deque()
        self._arrived = asyncio.Event()
        self._taking = True

    async def run(self) -> None:
        """Renew, reclaim and sweep until cancelled; start taken-over work as slots free up."""
        feeder = asyncio.create_task(self._feed(), name="taskgen-redeliveries")
        try:
            await self._upkeep()
        finally:
            feeder.cancel()

    def stop_taking(self) -> None:
        """Shutting down: take over nothing more, and leave what waits for a slot pending.

        Renewals go on, for the tasks that still run. Entries left pending are handed back
        with the rest of this worker's entries (or, if Redis is unreachable, expire)."""
        self._taking = False
        inflight = self._executor.inflight
        for delivery in self._waiting:
            held = inflight.get(delivery.keys)
            if held is not None:
                held.pop(delivery.entry, None)
        self._waiting.clear()
        if not any(inflight.values()):
            self._executor.idle.set()
        self._arrived.set()

    async def _upkeep(self) -> None:
        loop = asyncio.get_running_loop()
        next_renewal = loop.time()
        next_sweep = loop.time() + self.sweep_every * random.uniform(0.5, 1.0)
        backoff = Backoff(first=self.reclaim_every)
        failing = False
        while True:
            try:
                # After a failure, renew before reclaiming, so this worker does not take its own
                # running tasks for a dead worker's.
                if failing or loop.time() >= next_renewal:
                    next_renewal = loop.time() + self.renew_every
                    await self.renew()
                if self._taking and self._executor.completer.writing:
                    await self.reclaim()
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + self.sweep_every * random.uniform(0.5, 1.0)
                    await self.sweep()
            except RedisError as exc:
                if missing_group(exc):
                    await self._recreate_groups()
                else:
                    log.warning("lease upkeep failed, retrying: %s", describe(exc))
                failing = True
                await asyncio.sleep(backoff.next())
                continue
            except OSError as exc:
                log.warning("lease upkeep failed, retrying: %s", describe(exc))
                failing = True
                await asyncio.sleep(backoff.next())
                continue
            failing = False
            backoff.reset()
            await asyncio.sleep(self.reclaim_every)

    async def _recreate_groups(self) -> None:
        for keys in self._queues:
            if await create_groups(self._redis, keys):
                log.warning(
                    "the consumer group of queue %s was missing (FLUSHALL, failover to an empty "
                    "replica, or eviction?): created it again",
                    keys.queue,
                )

    async def renew(self) -> None:
        """Beat the heartbeat and reset the idle time of every entry this worker holds."""
        heartbeat = self._lease_ms * HEARTBEAT_LEASES
        record = self._heartbeat() if self._heartbeat is not None else b""
        for keys in self._queues:
            held = self._executor.inflight.get(keys) or {}
            args: list[bytes | str | int] = [GROUP, self._consumer, heartbeat, record]
            for delivery in list(held.values()):
                args += (delivery.stream, delivery.entry)
            lost = await self._scripts.renew(
                keys=[*keys.streams, keys.alive, keys.heartbeats], args=args
            )
            for entry in lost:
                if entry in held:
                    log.warning(
                        "lost the lease on %s in queue %s: another worker took it over "
                        "(was this worker's event loop blocked, or Redis unreachable, for "
                        "longer than the lease?)",
                        entry.decode(),
                        keys.queue,
                    )

    async def reclaim(self) -> None:
        """Take over entries whose lease has expired, as many as wait for a slot at most."""
        for keys in self._queues:
            room = self._batch - len(self._waiting)
            if room <= 0:
                return
            flat, gone = await self._scripts.reclaim(
                keys=keys.streams,
                args=[GROUP, self._consumer, self._lease_ms, room, keys.base],
            )
            if gone:
                report_deleted(keys, gone)
            held = self._executor.inflight.get(keys) or {}
            taken = 0
            for i in range(0, len(flat), 6):
                if flat[i + 1] in held:  # already running here: its renewal came late
                    continue
                delivery = Delivery(
                    keys, flat[i], flat[i + 1], flat[i + 2], flat[i + 3], int(flat[i + 4])
                )
                log.info(
                    "redelivering %s of queue %s (delivery %d)",
                    delivery.task_id.decode(),
                    keys.queue,
                    delivery.redeliveries + 1,
                )
                self._executor.hold(delivery)
                if flat[i + 5] == 1:
                    # Remembered aborts end the task at start instead of running it.
                    self._executor.abort(delivery.task_id.decode())
                self._waiting.append(delivery)
                self._arrived.set()
                taken += 1
            if taken and self._executor.observers:
                notify_reclaimed(self._executor.observers, keys.queue, taken)

    async def sweep(self) -> None:
        """Remove the consumers of workers that are gone (no heartbeat, nothing pending), and
        free concurrency slots whose holders ended without freeing them (``flow.lua``)."""
        idle = self._lease_ms * HEARTBEAT_LEASES
        for keys in self._queues:
            removed = await self._scripts.sweep(
                keys=[*keys.streams, keys.alive, keys.heartbeats, keys.delayed, keys.retrying],
                args=[GROUP, idle, keys.base],
            )
            if removed:
                log.info(
                    "removed the consumers of %d gone worker(s) from queue %s: %s",
                    len(set(removed)),
                    keys.queue,
                    ", ".join(sorted({name.decode() for name in removed})),
                )

    async def _feed(self) -> None:
        """Start taken-over deliveries, each in the next free slot, ahead of the readers."""
        while True:
            while not self._waiting:
                if not self._taking:
                    return
                self._arrived.clear()
                await self._arrived.wait()
            await self._slots.take_first()
            if not self._waiting:  # stop_taking() emptied the queue meanwhile
                self._slots.give(1)
                continue
            self._executor.start(self._waiting.popleft())
