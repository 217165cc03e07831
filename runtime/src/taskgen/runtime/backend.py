"""Where a client's tasks go and where their outcomes come from.

``Client`` holds everything a caller sees (packing calls, the registry check, handles,
``enqueue_many``'s all-or-known rule) once, over a ``Backend``. ``RedisBackend`` is the real
one: the enqueue, status and abort scripts and the ``ResultWaiter``. ``taskgen.testing``'s
``EagerClient`` is the same ``Client`` over an in-process backend that hands each packed
record to the worker's own executor.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from redis.asyncio import Redis

from taskgen.runtime.keys import GROUP, PROGRESS, QueueKeys
from taskgen.runtime.results import RECHECK, ResultWaiter
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.wire import TaskStatus


class Backend(Protocol):
    """The server side of a client: takes packed enqueue records, reports how tasks end."""

    @property
    def reply(self) -> bytes:
        """The channel the client's tasks reply on (b"" until there is one)."""
        ...

    def enqueue(self, keys: QueueKeys, records: bytes) -> Awaitable[list[int]]:
        """Queue packed records (``enqueue.lua``'s format); 1 per new task, 0 per known id."""
        ...

    def enqueue_flow(self, keys: QueueKeys, records: bytes) -> Awaitable[list[int | bytes]]:
        """Queue flow-controlled records (``flow_enqueue.lua``'s format): 1 per new task, 0 per
        known id, the holder's id per task whose unique key is taken."""
        ...

    def expect(self, keys: QueueKeys, task_id: str) -> None:
        """A task was queued with ``reply``: its outcome will come there."""
        ...

    async def wait(self, keys: QueueKeys, task_id: str, timeout: float | None) -> bytes | None:
        """The task's encoded outcome once it ends; None if ``timeout`` passes first."""
        ...

    async def status(self, keys: QueueKeys, task_id: str) -> TaskStatus:
        """Where the task is now."""
        ...

    async def progress(self, keys: QueueKeys, task_id: str) -> bytes | None:
        """The task's latest packed progress report, if any."""
        ...

    async def abort(self, keys: QueueKeys, task_id: str, outcome: bytes, ttl_ms: int) -> bool:
        """End the task with ``outcome`` unless it has ended; False if it had."""
        ...

    async def close(self) -> None:
        """Stop waiting and release what the backend holds."""
        ...


class RedisBackend:
    """A Redis server: one script call per enqueue, outcomes through one ``ResultWaiter``."""

    def __init__(
        self, redis: Redis, prefix: str, *, recheck: float = RECHECK, close_redis: bool = False
    ) -> None:
        self.redis = redis
        self._close_redis = close_redis
        self._scripts = Scripts(redis)
        self._results = ResultWaiter(redis, prefix, recheck=recheck)

    @property
    def reply(self) -> bytes:
        """The client's reply channel, once its result connection listens."""
        return self._results.reply

    def enqueue(self, keys: QueueKeys, records: bytes) -> Awaitable[list[int]]:
        """One script call for all the records (of one queue)."""
        # The script call's own awaitable, returned as it is: no coroutine frame on the hot path.
        created: Awaitable[list[int]] = self._scripts.enqueue(
            keys=[keys.delayed], args=[keys.base, records]
        )
        return created

    def enqueue_flow(self, keys: QueueKeys, records: bytes) -> Awaitable[list[int | bytes]]:
        """One script call for the flow-controlled records (of one queue)."""
        created: Awaitable[list[int | bytes]] = self._scripts.flow_enqueue(
            keys=[keys.delayed], args=[keys.base, records]
        )
        return created

    def expect(self, keys: QueueKeys, task_id: str) -> None:
        """The outcome will be published on the reply channel."""
        self._results.expect(keys.done_channel(task_id))

    async def wait(self, keys: QueueKeys, task_id: str, timeout: float | None) -> bytes | None:
        """The stored or published outcome (see ``results``)."""
        return await self._results.wait(keys.task(task_id), keys.done_channel(task_id), timeout)

    async def status(self, keys: QueueKeys, task_id: str) -> TaskStatus:
        """One script call: the task's state, or ``running`` while a worker holds it."""
        status = await self._scripts.status(keys=[keys.task(task_id)], args=[keys.base, GROUP])
        return TaskStatus(status.decode())

    async def progress(self, keys: QueueKeys, task_id: str) -> bytes | None:
        """One HGET of the task hash's progress field."""
        raw = await self.redis.hget(keys.task(task_id), PROGRESS)
        return raw if isinstance(raw, bytes) else None

    async def abort(self, keys: QueueKeys, task_id: str, outcome: bytes, ttl_ms: int) -> bool:
        """One script call: ends a queued or scheduled task, flags a running one."""
        done = await self._scripts.abort(
            keys=[keys.task(task_id), keys.delayed, keys.retrying],
            args=[keys.base, GROUP, task_id, outcome, ttl_ms],
        )
        return int(done) != 0

    async def close(self) -> None:
        """Stop waiting for results and, if asked to, close the connection pool."""
        await self._results.close()
        if self._close_redis:
            await self.redis.aclose()
