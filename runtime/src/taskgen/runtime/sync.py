"""The blocking client, for Django, Flask and scripts: the same surface as the async one."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Generic, Self, TypeVar

import msgspec
from redis import Redis

from taskgen.runtime.client import aborted_outcome, chunked, encode_chunk
from taskgen.runtime.errors import ResultTimeout
from taskgen.runtime.handle import unwrap
from taskgen.runtime.keys import DEFAULT_PREFIX, GROUP, QueueKeys
from taskgen.runtime.scripts import source
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, TaskDef, pack_call
from taskgen.runtime.wire import ENCODER, OUTCOME, TaskStatus, now_ms

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")


class SyncClient:
    """Enqueues tasks and waits for their outcomes, blocking; safe to share between threads."""

    def __init__(self, redis: Redis, *, prefix: str = DEFAULT_PREFIX, close_redis: bool = False):
        self.redis = redis
        self.prefix = prefix
        self._close_redis = close_redis
        self._enqueue = redis.register_script(source("enqueue"))
        self._status = redis.register_script(source("status"))
        self._abort = redis.register_script(source("abort"))

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX, **options: Any) -> Self:
        """A client with its own connection pool, closed by ``close()``."""
        return cls(Redis.from_url(url, **options), prefix=prefix, close_redis=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool, if this client opened it."""
        if self._close_redis:
            self.redis.close()

    def keys(self, queue: str) -> QueueKeys:
        """The Redis layout of ``queue``."""
        return QueueKeys(queue, self.prefix)

    def enqueue(
        self, task: TaskDef[A, R], args: A, options: EnqueueOptions = NO_OPTIONS
    ) -> SyncTaskHandle[R]:
        """Enqueue one task; one round trip to Redis."""
        keys = self.keys(task.queue)
        task_id, record = pack_call(task, args, options, now_ms())
        created = self._enqueue(keys=[keys.delayed], args=[keys.base, record])
        return SyncTaskHandle(self, task, task_id, created=created[0] == 1)

    def enqueue_many(self, calls: Iterable[Call[R]]) -> list[SyncTaskHandle[R]]:
        """Enqueue many tasks, of any queues, in one round trip."""
        now = now_ms()
        chunks = [(chunk, *encode_chunk(chunk, now)) for chunk in chunked(calls)]
        with self.redis.pipeline(transaction=False) as pipe:
            for chunk, _, records in chunks:
                keys = self.keys(chunk[0].task.queue)
                self._enqueue(keys=[keys.delayed], args=[keys.base, records], client=pipe)
            replies = pipe.execute()
        return [
            SyncTaskHandle(self, call.task, task_id, created=flag == 1)
            for (chunk, ids, _), created in zip(chunks, replies, strict=True)
            for call, task_id, flag in zip(chunk, ids, created, strict=True)
        ]

    def handle(self, task: TaskDef[Any, R], task_id: str) -> SyncTaskHandle[R]:
        """Re-attach to a task enqueued earlier, by its id."""
        return SyncTaskHandle(self, task, task_id, created=False)

    def wait_outcome(self, queue: str, task_id: str, timeout: float | None) -> bytes | None:
        """Block until the task ends (subscribed first, then the stored outcome read)."""
        keys = self.keys(queue)
        deadline = None if timeout is None else time.monotonic() + timeout
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]  # unannotated in redis-py
        with pubsub:
            pubsub.subscribe(keys.done_channel(task_id))
            stored = self.redis.hget(keys.task(task_id), "o")
            if isinstance(stored, bytes):
                return stored
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                message = pubsub.get_message(timeout=left if left is not None else 3600.0)
                if message is not None and message["type"] == "message":
                    data: bytes = message["data"]
                    return data

    def status(self, queue: str, task_id: str) -> TaskStatus:
        """Where a task is now."""
        keys = self.keys(queue)
        status = self._status(keys=[keys.task(task_id)], args=[keys.base, GROUP])
        return TaskStatus(status.decode())

    def abort(self, task: TaskDef[Any, Any], task_id: str) -> bool:
        """Abort a task; False when it had already ended or is unknown."""
        keys = self.keys(task.queue)
        done = self._abort(
            keys=[keys.task(task_id), keys.delayed],
            args=[
                keys.base,
                GROUP,
                task_id,
                ENCODER.encode(aborted_outcome()),
                round(task.result_ttl * 1000),
            ],
        )
        return int(done) != 0


class SyncTaskHandle(Generic[R]):
    """One enqueued task, followed by blocking calls."""

    __slots__ = ("_client", "created", "id", "task")

    def __init__(
        self, client: SyncClient, task: TaskDef[Any, R], task_id: str, *, created: bool = True
    ) -> None:
        self._client = client
        self.task = task
        self.id = task_id
        self.created = created

    def result(self, timeout: float | None = None) -> R:
        """The task's value once it ends; raises ``TaskError`` subclasses or ``ResultTimeout``."""
        raw = self._client.wait_outcome(self.task.queue, self.id, timeout)
        if raw is None:
            raise ResultTimeout(task_id=self.id, task=self.task.name, timeout=timeout or 0.0)
        return unwrap(self.task, self.id, OUTCOME.decode(raw))

    def status(self) -> TaskStatus:
        """Where the task is now."""
        return self._client.status(self.task.queue, self.id)

    def abort(self) -> bool:
        """Stop the task; False when it had already ended (or is unknown)."""
        return self._client.abort(self.task, self.id)

    def __repr__(self) -> str:
        return f"SyncTaskHandle({self.task.name!r}, id={self.id!r})"
