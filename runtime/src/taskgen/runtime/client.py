"""The asyncio client: enqueue tasks in one round trip and await their outcomes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Self, TypeVar

import msgspec
from redis.asyncio import Redis

from taskgen.runtime.handle import TaskHandle
from taskgen.runtime.keys import DEFAULT_PREFIX, GROUP, QueueKeys
from taskgen.runtime.results import ResultWaiter
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, TaskDef, pack_call
from taskgen.runtime.wire import ENCODER, ErrorInfo, Outcome, TaskStatus, new_task_ids, now_ms

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")


#: Most tasks sent in one script call, so one call never holds Redis for long.
ENQUEUE_CHUNK = 1000


class Client:
    """Enqueues tasks and awaits their outcomes; one per process, shared by all callers."""

    def __init__(self, redis: Redis, *, prefix: str = DEFAULT_PREFIX, close_redis: bool = False):
        self.redis = redis
        self.prefix = prefix
        self._close_redis = close_redis
        self._keys: dict[str, QueueKeys] = {}
        self._scripts = Scripts(redis)
        self._results = ResultWaiter(redis, prefix)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX, **options: Any) -> Self:
        """A client with its own connection pool, closed by ``close()``."""
        return cls(Redis.from_url(url, **options), prefix=prefix, close_redis=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop waiting for results and, if this client opened it, close the connection pool."""
        await self._results.close()
        if self._close_redis:
            await self.redis.aclose()

    def keys(self, queue: str) -> QueueKeys:
        """The Redis layout of ``queue``."""
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys(queue, self.prefix)
        return keys

    # -- enqueueing ------------------------------------------------------------------------

    async def enqueue(
        self, task: TaskDef[A, R], args: A, options: EnqueueOptions = NO_OPTIONS
    ) -> TaskHandle[R]:
        """Enqueue one task; one round trip to Redis."""
        keys = self.keys(task.queue)
        reply = self._results.reply
        task_id, record = pack_call(task, args, options, now_ms(), reply=reply)
        created = await self._scripts.enqueue(keys=[keys.delayed], args=[keys.base, record])
        if reply and created[0] == 1:
            self._results.expect(keys.done_channel(task_id))
        return TaskHandle(self, task, task_id, created=created[0] == 1)

    async def enqueue_many(self, calls: Iterable[Call[R]]) -> list[TaskHandle[R]]:
        """Enqueue many tasks, of any queues: one script call per 1,000 tasks of a queue, each
        sent while the next is encoded (so Redis and Python work at the same time), in order."""
        now = now_ms()
        handles: list[TaskHandle[R]] = []
        sending: asyncio.Future[list[int]] | None = None
        sent: tuple[list[Call[R]], list[str]] = ([], [])
        reply = self._results.reply
        for chunk in chunked(calls):
            ids, records = encode_chunk(chunk, now, reply)
            if sending is not None:
                handles += self._handles(*sent, await sending)
            keys = self.keys(chunk[0].task.queue)
            sending = asyncio.ensure_future(
                self._scripts.enqueue(keys=[keys.delayed], args=[keys.base, records])
            )
            sent = (chunk, ids)
            await asyncio.sleep(0)  # lets the call go out before the next chunk is encoded
        if sending is not None:
            handles += self._handles(*sent, await sending)
        return handles

    def _handles(
        self, chunk: list[Call[R]], ids: list[str], created: list[int]
    ) -> list[TaskHandle[R]]:
        if self._results.reply:
            for call, task_id, flag in zip(chunk, ids, created, strict=True):
                if flag == 1:
                    self._results.expect(self.keys(call.task.queue).done_channel(task_id))
        return [
            TaskHandle(self, call.task, task_id, created=flag == 1)
            for call, task_id, flag in zip(chunk, ids, created, strict=True)
        ]

    def handle(self, task: TaskDef[Any, R], task_id: str) -> TaskHandle[R]:
        """Re-attach to a task enqueued earlier, by its id."""
        return TaskHandle(self, task, task_id, created=False)

    # -- following a task ------------------------------------------------------------------

    async def wait_outcome(self, queue: str, task_id: str, timeout: float | None) -> bytes | None:
        """The encoded outcome of a task once it ends; None if ``timeout`` passes first."""
        keys = self.keys(queue)
        return await self._results.wait(keys.task(task_id), keys.done_channel(task_id), timeout)

    async def status(self, queue: str, task_id: str) -> TaskStatus:
        """Where a task is now."""
        keys = self.keys(queue)
        status = await self._scripts.status(keys=[keys.task(task_id)], args=[keys.base, GROUP])
        return TaskStatus(status.decode())

    async def abort(self, task: TaskDef[Any, Any], task_id: str) -> bool:
        """Abort a task; False when it had already ended or is unknown."""
        keys = self.keys(task.queue)
        outcome = aborted_outcome()
        done = await self._scripts.abort(
            keys=[keys.task(task_id), keys.delayed],
            args=[
                keys.base,
                GROUP,
                task_id,
                ENCODER.encode(outcome),
                round(task.result_ttl * 1000),
            ],
        )
        return int(done) != 0


def aborted_outcome() -> Outcome:
    """The outcome a client records for a task it aborted before any worker ran it."""
    return Outcome(
        TaskStatus.ABORTED,
        error=ErrorInfo("Aborted", "aborted by a client before it ran"),
        finished_at=now_ms(),
        attempts=0,
        deliveries=0,
    )


def chunked(calls: Iterable[Call[R]]) -> list[list[Call[R]]]:
    """Calls grouped by queue, in chunks of at most ``ENQUEUE_CHUNK``, in their order."""
    by_queue: dict[str, list[Call[R]]] = {}
    for call in calls:
        by_queue.setdefault(call.task.queue, []).append(call)
    return [
        batch[i : i + ENQUEUE_CHUNK]
        for batch in by_queue.values()
        for i in range(0, len(batch), ENQUEUE_CHUNK)
    ]


def encode_chunk(chunk: list[Call[Any]], now: int, reply: bytes = b"") -> tuple[list[str], bytes]:
    """The chunk's task ids, and its calls packed for one enqueue script call."""
    fresh = iter(new_task_ids(len(chunk)))
    ids: list[str] = []
    records: list[bytes] = []
    for call in chunk:
        task_id, record = pack_call(
            call.task, call.args, call.options, now, call.options.task_id or next(fresh), reply
        )
        ids.append(task_id)
        records.append(record)
    return ids, b"".join(records)
