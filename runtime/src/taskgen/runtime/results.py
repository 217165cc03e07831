"""Waiting for task outcomes: the stored outcome is the truth, pub/sub only a hint.

A task's outcome is written to its state hash before it is published, in one script call. So a
waiter that reads the stored outcome after it started listening cannot miss an outcome; a
message can still be lost (a reconnect, a server restart, ``CLIENT KILL``), so no waiter ever
depends on one: after every (re)connection all waiters read the stored outcome again, and a
waiter that has waited ``recheck`` seconds reads it again, then at growing intervals up to
``RECHECK_MAX``. Those re-reads are batched in one pipeline and cost nothing while outcomes
arrive as they should.

One pub/sub connection serves every waiter. Its private channel is offered as the reply channel
of the tasks the client enqueues: their workers publish the outcome there too, so awaiting such
a task needs no command at all. Replies that arrive before anyone awaits them (even before the
enqueue call has returned) are kept, a bounded number; anything not kept falls back to the
stored outcome. A task enqueued elsewhere (a re-attached handle) is awaited by one pipelined
read of its stored outcome and, if it has not ended, a subscription to its own channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from taskgen.runtime.stopping import stop_tasks
from taskgen.runtime.wire import new_task_id

log = logging.getLogger("taskgen.client")

#: Tasks enqueued with a reply channel whose outcome has not arrived, and replies nobody has
#: awaited yet, kept at most this many each (the oldest are forgotten, and fall back to reading
#: the stored outcome).
KEPT = 10_000
#: Seconds a waiter waits before it reads the stored outcome again (the interval then doubles).
RECHECK = 1.0
RECHECK_MAX = 5.0
#: Seconds the pub/sub connection may stay silent before it is pinged; silent for as long
#: again after the ping, it is taken for dead and opened anew.
IDLE = 5.0
#: Seconds between attempts to reconnect, growing up to the second figure.
RECONNECT = (0.05, 2.0)


class ResultWaiter:
    """Resolves waiters' futures from published or stored outcomes."""

    def __init__(self, redis: Redis, prefix: str, *, recheck: float = RECHECK) -> None:
        self._redis = redis
        self._recheck = recheck
        # A private channel keeps the connection subscribed while no task is awaited.
        self._anchor = f"{prefix}:waiter:{new_task_id()}".encode()
        self._tasks: list[asyncio.Task[None]] = []
        self._waiters: dict[bytes, list[asyncio.Future[bytes]]] = {}
        self._task_keys: dict[bytes, str] = {}
        #: When each awaited channel's stored outcome is read again, and the interval so far.
        self._due: dict[bytes, tuple[float, float]] = {}
        self._subscribe: set[bytes] = set()
        self._unsubscribe: set[bytes] = set()
        self._check: set[bytes] = set()
        self._peek: set[bytes] = set()
        #: Channels subscribed to (or about to be), so only those are ever unsubscribed.
        self._subscribed: set[bytes] = set()
        self._wake = asyncio.Event()
        self._listening = asyncio.Event()
        #: The private channel, once subscribed: what enqueues put in their envelopes.
        self.reply = b""
        self._expected: OrderedDict[bytes, None] = OrderedDict()
        self._unclaimed: OrderedDict[bytes, bytes] = OrderedDict()

    def expect(self, channel: str) -> None:
        """A task was enqueued with this waiter's reply channel; its outcome will come here."""
        name = channel.encode()
        if name in self._unclaimed:  # the reply beat the enqueue call's return
            return
        self._expected[name] = None
        if len(self._expected) > KEPT:
            self._expected.popitem(last=False)

    async def wait(self, task_key: str, channel: str, timeout: float | None) -> bytes | None:
        """The outcome stored at ``task_key`` or published on ``channel``; None on timeout."""
        self._start()
        name = channel.encode()
        unclaimed = self._unclaimed.pop(name, None)
        if unclaimed is not None:
            return unclaimed
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        waiters = self._waiters.get(name)
        if waiters is None:
            self._waiters[name] = [future]
            self._task_keys[name] = task_key
            self._due[name] = (loop.time() + self._recheck, self._recheck)
            if name in self._unsubscribe:  # still subscribed: only the stored outcome is due
                self._unsubscribe.discard(name)
                self._subscribed.add(name)
                self._check.add(name)
            elif name not in self._expected:  # expected: the reply comes on the private channel
                self._peek.add(name)
            self._wake.set()
        else:
            waiters.append(future)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return None
        finally:
            self._forget(name, future)

    def _forget(self, name: bytes, future: asyncio.Future[bytes]) -> None:
        waiters = self._waiters.get(name)
        if waiters is None:
            return
        waiters.remove(future)
        if waiters:
            return
        del self._waiters[name]
        del self._task_keys[name]
        del self._due[name]
        self._expected.pop(name, None)
        self._check.discard(name)
        self._peek.discard(name)
        self._subscribe.discard(name)
        if name in self._subscribed:
            self._subscribed.discard(name)
            self._unsubscribe.add(name)
            self._wake.set()

    async def close(self) -> None:
        """Stop, failing whoever still waits, and close the pub/sub connection."""
        await stop_tasks(self._tasks)
        self._tasks = []
        for waiters in self._waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(
                        ConnectionError("the client was closed while waiting for a result")
                    )

    def _start(self) -> None:
        if self._tasks and not any(t.done() for t in self._tasks):
            return
        for task in self._tasks:
            task.cancel()
        self._tasks = [
            asyncio.create_task(self._connect(), name="taskgen-results"),
            asyncio.create_task(self._read_again(), name="taskgen-results-recheck"),
        ]

    # -- the pub/sub connection ------------------------------------------------------------

    async def _connect(self) -> None:
        """Listen on a pub/sub connection; whenever it fails, open another (never giving up:
        the waiters' own timeouts bound how long they wait)."""
        pause = RECONNECT[0]
        while True:
            pubsub = self._redis.pubsub()
            try:
                await self._listen(pubsub)
            except Exception as exc:  # whatever broke, the waiters must not be left alone
                if self._listening.is_set():
                    pause = RECONNECT[0]
                log.warning("the result connection failed, reconnecting: %r", exc)
            finally:
                self._listening.clear()
                await _close_quietly(pubsub)
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT[1])

    async def _listen(self, pubsub: PubSub) -> None:
        """Subscribe anew, then send what the waiters need and read what arrives, until one of
        the two fails."""
        self._subscribed.clear()
        self._subscribe.clear()
        self._unsubscribe.clear()
        await pubsub.subscribe(self._anchor)
        sides = [asyncio.create_task(self._send(pubsub)), asyncio.create_task(self._read(pubsub))]
        try:
            done, _ = await asyncio.wait(sides, return_when=asyncio.FIRST_COMPLETED)
            for side in done:
                side.result()
        finally:
            await stop_tasks(sides)

    def _resync(self) -> None:
        """The private channel is (again) subscribed: replies published while it was not are
        lost, so every waiter reads its stored outcome again."""
        self._listening.set()
        self.reply = self._anchor
        self._expected.clear()
        self._peek |= set(self._waiters)
        self._wake.set()

    async def _send(self, pubsub: PubSub) -> None:
        await self._listening.wait()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._peek:
                channels, self._peek = self._peek, set()
                await self._read_stored(channels, then_subscribe=True)
            if self._unsubscribe:
                channels, self._unsubscribe = self._unsubscribe, set()
                await pubsub.unsubscribe(*channels)
            if self._subscribe:
                channels, self._subscribe = self._subscribe, set()
                await pubsub.subscribe(*channels)
            if self._check:
                channels, self._check = self._check, set()
                await self._read_stored(channels)

    async def _read(self, pubsub: PubSub) -> None:
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=IDLE)
            if message is None:
                if pinged:
                    raise ConnectionError(f"no answer to PING within {IDLE:g} s")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            kind, channel = message["type"], message.get("channel")
            if kind == "message" and channel == self._anchor:
                self._reply(message["data"])
            elif kind == "message":
                self._resolve(channel, message["data"])
            elif kind == "subscribe" and channel == self._anchor:
                # Also after redis-py reconnected by itself and subscribed again.
                self._resync()
            elif kind == "subscribe" and channel in self._waiters:
                self._check.add(channel)
                self._wake.set()

    def _reply(self, data: bytes) -> None:
        """A reply: the task's channel name, length-prefixed, then its outcome."""
        size = int.from_bytes(data[:4], "big")
        channel, outcome = data[4 : 4 + size], data[4 + size :]
        if channel in self._waiters:
            self._resolve(channel, outcome)
            return
        # Kept even when not expected (yet): the enqueue call that expects it may not have
        # returned, and a reply dropped then would leave its waiter to the re-read.
        self._expected.pop(channel, None)
        self._unclaimed[channel] = outcome
        if len(self._unclaimed) > KEPT:
            self._unclaimed.popitem(last=False)

    # -- the stored outcomes ---------------------------------------------------------------

    async def _read_stored(self, wanted: set[bytes], *, then_subscribe: bool = False) -> None:
        """One pipelined read of stored outcomes; with ``then_subscribe``, channels whose task
        has not ended yet, and whose outcome will not come as a reply, are subscribed to."""
        channels = [c for c in wanted if c in self._task_keys]
        if not channels:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.hget(self._task_keys[channel], "o")
            stored: list[Any] = await pipe.execute()
        for channel, outcome in zip(channels, stored, strict=True):
            if outcome is not None:
                self._resolve(channel, outcome)
            elif (
                then_subscribe
                and channel in self._waiters
                and channel not in self._expected
                and channel not in self._subscribed
            ):
                self._subscribe.add(channel)
                self._subscribed.add(channel)
                self._wake.set()

    async def _read_again(self) -> None:
        """Every ``recheck`` seconds, read the stored outcome of the waiters that are due."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._recheck)
            now = loop.time()
            due = [c for c, (when, _) in self._due.items() if when <= now]
            if not due:
                continue
            for channel in due:
                gap = min(self._due[channel][1] * 2, RECHECK_MAX)
                self._due[channel] = (now + gap, gap)
            try:
                await self._read_stored(set(due))
            except (RedisError, OSError) as exc:
                log.warning("re-reading %d stored outcome(s) failed: %r", len(due), exc)

    def _resolve(self, channel: bytes, outcome: bytes) -> None:
        for future in self._waiters.get(channel, ()):
            if not future.done():
                future.set_result(outcome)


async def _close_quietly(pubsub: PubSub) -> None:
    """Close a pub/sub connection that may already be broken."""
    try:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
    except (RedisError, OSError) as exc:
        log.debug("closing the result connection failed: %r", exc)
