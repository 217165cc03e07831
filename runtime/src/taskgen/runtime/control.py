"""The control channel of each queue: wake-ups for the scheduler, abort requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.exceptions import ConnectionError, RedisError

from taskgen.runtime.execution import Executor
from taskgen.runtime.faults import SOCKET_TIMEOUT, Backoff, describe
from taskgen.runtime.scheduler import Scheduler

log = logging.getLogger("taskgen.worker")

ABORT_PREFIX = b"abort:"

#: The task-hash field abort.lua sets on a task a worker has taken (see keys.TASK_FIELDS).
ABORT_FIELD = "a"

#: After this many quiet seconds the listener pings, to find out whether the server still
#: answers (a black-holed connection never fails by itself).
QUIET = 30.0


class ControlListener:
    """Subscribes to every served queue's control channel and acts on what arrives.

    Messages are hints: after a lost connection it subscribes again (with backoff), wakes
    every scheduler and reads the abort flag of every task running here, in case a wake-up or
    an abort was published meanwhile (the request is stored in the task's hash; a task picked
    up later drops it at start). A channel quiet for ``quiet`` seconds is pinged, and one
    whose ping gets no answer within ``answer_within`` seconds is taken for lost."""

    def __init__(
        self,
        redis: Redis,
        schedulers: Mapping[str, Scheduler],
        executor: Executor,
        *,
        quiet: float = QUIET,
        answer_within: float = SOCKET_TIMEOUT,
    ) -> None:
        self._redis = redis
        self._schedulers = {s.keys.control.encode(): s for s in schedulers.values()}
        self._executor = executor
        self._quiet = quiet
        self._answer_within = answer_within

    async def run(self) -> None:
        """Listen until cancelled, subscribing again after every lost connection."""
        backoff = Backoff()
        while True:
            try:
                await self._listen(backoff)
            except (RedisError, OSError) as exc:
                delay = backoff.next()
                log.warning(
                    "the control channel was lost, subscribing again in %.2fs: %s",
                    delay,
                    describe(exc),
                )
                await asyncio.sleep(delay)

    async def _listen(self, backoff: Backoff) -> None:
        # Subscribe confirmations are kept: redis-py subscribes again by itself after a lost
        # connection, and the confirmation of the first channel is how the listener hears of it.
        pubsub = self._redis.pubsub()
        first = next(iter(self._schedulers))
        try:
            await pubsub.subscribe(*self._schedulers)
            backoff.reset()
            loop = asyncio.get_running_loop()
            heard = loop.time()
            pinged: float | None = None
            while True:
                wait = self._quiet if pinged is None else self._answer_within
                message = await pubsub.get_message(timeout=wait)
                now = loop.time()
                if message is not None:
                    heard, pinged = now, None
                    if message["type"] == "message":
                        self._handle(message["channel"], message["data"])
                    elif message["type"] == "subscribe" and message["channel"] == first:
                        await self._caught_up()
                elif pinged is not None and now - pinged >= self._answer_within:
                    raise ConnectionError(f"no answer to a PING within {self._answer_within:g}s")
                elif pinged is None and now - heard >= self._quiet:
                    await pubsub.ping()
                    pinged = now
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py

    async def _caught_up(self) -> None:
        """(Re)subscribed: act on what may have been published while nobody listened."""
        for scheduler in self._schedulers.values():
            scheduler.wake.set()
        await self._missed_aborts()

    async def _missed_aborts(self) -> None:
        """Cancel the tasks running here whose abort was asked for while nobody listened:
        one pipelined read of their flags, only when something runs."""
        running = [
            (keys, delivery.task_id)
            for keys, deliveries in self._executor.inflight.items()
            for delivery in deliveries.values()
        ]
        if not running:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, task_id in running:
                pipe.hget(keys.task(task_id.decode()), ABORT_FIELD)
            flags = await pipe.execute()
        for (_, task_id), flag in zip(running, flags, strict=True):
            if flag:
                self._executor.abort(task_id.decode())

    def _handle(self, channel: bytes, data: bytes) -> None:
        if data == b"wake":
            scheduler = self._schedulers.get(channel)
            if scheduler is not None:
                scheduler.wake.set()
        elif data.startswith(ABORT_PREFIX):
            self._executor.abort(data[len(ABORT_PREFIX) :].decode())
        else:
            log.debug("ignoring control message %r on %r", data, channel)
