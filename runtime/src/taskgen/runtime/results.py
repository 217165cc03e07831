"""Waiting for task outcomes without polling: one pub/sub connection shared by all waiters.

A waiter registers a future for its task's completion channel. In the background, one
sender batches what the waiters need: first one pipelined read of new waiters' stored outcomes
(a short task has often finished by the time its caller awaits it, and then no subscription is
needed at all); SUBSCRIBE for the channels still waiting, then, once the server has confirmed
a subscription, another pipelined read of the stored outcomes (an outcome published before the
subscription would otherwise be missed); and UNSUBSCRIBE for channels nobody awaits any
more. One reader resolves the futures as outcomes are published. However many tasks are
awaited at once, this costs two connections and a handful of round trips.

Once it runs, the waiter also offers its private channel as the reply channel of the tasks its
client enqueues: their workers publish the outcome there as well, so awaiting such a task needs
no command at all. Replies for tasks nobody awaits yet are kept (a bounded number) until they
are; anything not kept falls back to the stored outcome.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from taskgen.runtime.stopping import stop_tasks
from taskgen.runtime.wire import new_task_id

#: Tasks enqueued with a reply channel whose outcome has not arrived, and replies nobody has
#: awaited yet, kept at most this many each (the oldest are forgotten, and fall back to reading
#: the stored outcome).
KEPT = 10_000


class ResultWaiter:
    """Resolves waiters' futures from published or stored outcomes."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        # A private channel keeps the connection subscribed while no task is awaited.
        self._anchor = f"{prefix}:waiter:{new_task_id()}".encode()
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._waiters: dict[bytes, list[asyncio.Future[bytes]]] = {}
        self._task_keys: dict[bytes, str] = {}
        self._subscribe: set[bytes] = set()
        self._unsubscribe: set[bytes] = set()
        self._check: set[bytes] = set()
        self._peek: set[bytes] = set()
        #: Channels subscribed to (or about to be), so only those are ever unsubscribed.
        self._subscribed: set[bytes] = set()
        self._wake = asyncio.Event()
        #: The private channel, once subscribed: what enqueues put in their envelopes.
        self.reply = b""
        self._expected: OrderedDict[bytes, None] = OrderedDict()
        self._unclaimed: OrderedDict[bytes, bytes] = OrderedDict()

    def expect(self, channel: str) -> None:
        """A task was enqueued with this waiter's reply channel; its outcome will come here."""
        self._expected[channel.encode()] = None
        if len(self._expected) > KEPT:
            self._expected.popitem(last=False)

    async def wait(self, task_key: str, channel: str, timeout: float | None) -> bytes | None:
        """The outcome stored at ``task_key`` or published on ``channel``; None on timeout."""
        self._start()
        name = channel.encode()
        unclaimed = self._unclaimed.pop(name, None)
        if unclaimed is not None:
            return unclaimed
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.get(name)
        if waiters is None:
            self._waiters[name] = [future]
            self._task_keys[name] = task_key
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
        self._fail(ConnectionError("the client was closed while waiting for a result"))
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            self._pubsub = None

    def _start(self) -> None:
        if self._tasks and not any(t.done() for t in self._tasks):
            return
        for task in self._tasks:
            task.cancel()
        self._pubsub = pubsub = self._redis.pubsub()
        # Replies published while no connection listened are lost: read what is stored instead.
        self.reply = b""
        self._peek |= {c for c in self._waiters if c in self._expected}
        self._expected.clear()
        # Everything awaited so far must be subscribed again on the new connection.
        self._subscribe |= set(self._waiters) - self._peek
        self._subscribed = set(self._subscribe)
        self._unsubscribe.clear()
        self._wake.set()
        connected = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._send(pubsub, connected), name="taskgen-results-send"),
            asyncio.create_task(self._read(pubsub, connected), name="taskgen-results-read"),
        ]

    async def _send(self, pubsub: PubSub, connected: asyncio.Event) -> None:
        try:
            await connected.wait()
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
        except BaseException as exc:
            self._fail(ConnectionError(f"waiting for results failed: {exc!r}"))
            raise

    async def _read_stored(self, wanted: set[bytes], *, then_subscribe: bool = False) -> None:
        """One pipelined read of stored outcomes; with ``then_subscribe``, channels whose task
        has not ended yet are queued for a subscription."""
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
            elif then_subscribe and channel in self._waiters:
                self._subscribe.add(channel)
                self._subscribed.add(channel)

    async def _read(self, pubsub: PubSub, connected: asyncio.Event) -> None:
        try:
            await pubsub.subscribe(self._anchor)
            connected.set()
            self.reply = self._anchor
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                kind, channel = message["type"], message["channel"]
                if kind == "message" and channel == self._anchor:
                    self._reply(message["data"])
                elif kind == "message":
                    self._resolve(channel, message["data"])
                elif kind == "subscribe" and channel in self._waiters:
                    self._check.add(channel)
                    self._wake.set()
        except BaseException as exc:
            self._fail(ConnectionError(f"the result connection failed: {exc!r}"))
            raise

    def _reply(self, data: bytes) -> None:
        """A reply: the task's channel name, length-prefixed, then its outcome."""
        size = int.from_bytes(data[:4], "big")
        channel, outcome = data[4 : 4 + size], data[4 + size :]
        if channel in self._waiters:
            self._resolve(channel, outcome)
        elif channel in self._expected:
            del self._expected[channel]
            self._unclaimed[channel] = outcome
            if len(self._unclaimed) > KEPT:
                self._unclaimed.popitem(last=False)

    def _resolve(self, channel: bytes, outcome: bytes) -> None:
        for future in self._waiters.get(channel, ()):
            if not future.done():
                future.set_result(outcome)

    def _fail(self, error: Exception) -> None:
        """Nobody may hang on a connection that is gone."""
        for waiters in self._waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(error)
