"""Waiting for task outcomes without polling: one pub/sub connection shared by all waiters."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from taskgen.runtime.wire import new_task_id


class ResultWaiter:
    """Subscribes to a task's completion channel while someone awaits it.

    A waiter subscribes first and reads the stored outcome second, so an outcome published
    between the two is never missed.
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        # A private channel that keeps the connection subscribed while no task is awaited.
        self._anchor = f"{prefix}:waiter:{new_task_id()}"
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._waiters: dict[bytes, list[asyncio.Future[bytes]]] = {}
        self._confirmed: dict[bytes, asyncio.Future[None]] = {}

    async def wait(self, task_key: str, channel: str, timeout: float | None) -> bytes | None:
        """The outcome stored at ``task_key`` or published on ``channel``; None on timeout."""
        name = channel.encode()
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(name, [])
        waiters.append(future)
        try:
            async with asyncio.timeout(timeout):
                await self._subscribe(name)
                stored = await self._redis.hget(task_key, "o")
                if isinstance(stored, bytes):
                    return stored
                return await future
        except TimeoutError:
            return None
        finally:
            waiters.remove(future)
            if not waiters:
                del self._waiters[name]
                self._confirmed.pop(name, None)
                if self._pubsub is not None and self._pubsub.connection is not None:
                    await self._pubsub.unsubscribe(name)

    async def _subscribe(self, name: bytes) -> None:
        """Return once the server has confirmed the subscription to ``name``."""
        confirmed = self._confirmed.get(name)
        if confirmed is None:
            confirmed = self._confirmed[name] = asyncio.get_running_loop().create_future()
            await self._start()
            assert self._pubsub is not None
            await self._pubsub.subscribe(name)
        await confirmed

    async def close(self) -> None:
        """Stop reading and close the pub/sub connection."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            self._pubsub = None
        self._started = None

    async def _start(self) -> None:
        if self._started is None:
            started = self._started = asyncio.get_running_loop().create_future()
            pubsub = self._pubsub = self._redis.pubsub()
            await pubsub.subscribe(self._anchor)
            self._reader = asyncio.create_task(self._read(pubsub), name="taskgen-results")
            started.set_result(None)
        await self._started

    async def _read(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                kind, channel = message["type"], message["channel"]
                if kind == "message":
                    for future in self._waiters.get(channel, ()):
                        if not future.done():
                            future.set_result(message["data"])
                elif kind == "subscribe":
                    confirmed = self._confirmed.get(channel)
                    if confirmed is not None and not confirmed.done():
                        confirmed.set_result(None)
        except BaseException as exc:
            # Nobody may hang on a reader that is gone: fail every pending wait.
            self._started = None
            error = ConnectionError(f"result reader stopped: {exc!r}")
            pending: list[asyncio.Future[Any]] = [
                *self._confirmed.values(),
                *(f for w in self._waiters.values() for f in w),
            ]
            for future in pending:
                if not future.done():
                    future.set_exception(error)
            raise
