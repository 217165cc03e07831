"""The blocking client, for Django, Flask and scripts: the same surface as the async one."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Generic, Self, TypeVar

import msgspec
from redis import Redis
from redis.client import PubSub
from redis.exceptions import RedisError

from taskgen.runtime.batch import encode_calls, incomplete, was_created
from taskgen.runtime.client import aborted_outcome
from taskgen.runtime.connection import WAITING_POOL_SIZE, sync_redis
from taskgen.runtime.errors import ResultTimeout
from taskgen.runtime.handle import unwrap
from taskgen.runtime.keys import DEFAULT_PREFIX, GROUP, QueueKeys
from taskgen.runtime.progress import Progress, decode_progress
from taskgen.runtime.results import RECHECK, RECHECK_MAX, RECONNECT
from taskgen.runtime.scripts import source
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, TaskDef, pack_call
from taskgen.runtime.wire import ENCODER, OUTCOME, TaskStatus, now_ms

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")

log = logging.getLogger("taskgen.client")


class SyncClient:
    """Enqueues tasks and waits for their outcomes, blocking; safe to share between threads.

    ``recheck``: seconds after which a waiter reads its task's stored outcome again, in case
    the message that should have woken it was lost. ``waiting``: where waiting threads take
    their pub/sub connections (default: ``redis``)."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        close_redis: bool = False,
        recheck: float = RECHECK,
        waiting: Redis | None = None,
    ):
        self.redis = redis
        self.prefix = prefix
        self._close_redis = close_redis
        self._recheck = recheck
        self._waiting = waiting or redis
        self._enqueue = redis.register_script(source("enqueue"))
        self._status = redis.register_script(source("status"))
        self._abort = redis.register_script(source("abort"))

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, recheck: float = RECHECK, **options: Any
    ) -> Self:
        """A client with its own connection pools (one for calls, one for waiting threads),
        closed by ``close()``; ``options`` override the defaults (``runtime.connection``)."""
        return cls(
            sync_redis(url, **options),
            prefix=prefix,
            close_redis=True,
            recheck=recheck,
            waiting=sync_redis(url, **{"max_connections": WAITING_POOL_SIZE, **options}),
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool, if this client opened it."""
        if self._close_redis:
            self.redis.close()
            if self._waiting is not self.redis:
                self._waiting.close()

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
        ours = created[0] == 1 or options.task_id is None  # see batch.was_created
        return SyncTaskHandle(self, task, task_id, created=ours)

    def enqueue_many(self, calls: Iterable[Call[R]]) -> list[SyncTaskHandle[R]]:
        """Enqueue many tasks, of any queues, in order: all are encoded first (one that cannot
        be raises ``EnqueueFailed`` before anything is sent), then one script call per 1,000
        tasks of a queue. If sending fails midway, ``EnqueueFailed.handles`` holds what went."""
        chunks = encode_calls(calls, now_ms())
        handles: list[SyncTaskHandle[R]] = []
        for chunk in chunks:
            keys = self.keys(chunk.queue)
            try:
                created = self._enqueue(keys=[keys.delayed], args=[keys.base, chunk.records])
            except (RedisError, OSError) as exc:
                total = sum(len(c.ids) for c in chunks)
                raise incomplete(handles, chunk, total, exc) from exc
            handles += [
                SyncTaskHandle(self, call.task, task_id, created=was_created(call, flag))
                for call, task_id, flag in zip(chunk.calls, chunk.ids, created, strict=True)
            ]
        return handles

    def handle(self, task: TaskDef[Any, R], task_id: str) -> SyncTaskHandle[R]:
        """Re-attach to a task enqueued earlier, by its id."""
        return SyncTaskHandle(self, task, task_id, created=False)

    def wait_outcome(self, queue: str, task_id: str, timeout: float | None) -> bytes | None:
        """Block until the task ends; None if ``timeout`` passes first.

        The stored outcome is the truth, the published one a hint: it is read after
        subscribing, after every reconnection, and again at growing intervals."""
        keys = self.keys(queue)
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = RECONNECT[0]
        while True:
            try:
                return self._wait_once(keys.task(task_id), keys.done_channel(task_id), deadline)
            except (RedisError, OSError) as exc:
                log.warning("waiting for task %s failed, reconnecting: %r", task_id, exc)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            time.sleep(pause if left is None else min(pause, left))
            pause = min(pause * 2, RECONNECT[1])

    def _wait_once(self, task_key: str, channel: str, deadline: float | None) -> bytes | None:
        """Wait on one pub/sub connection; raises if it fails."""
        pubsub: PubSub = self._waiting.pubsub()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        with pubsub:
            pubsub.subscribe(channel)
            gap = self._recheck
            # The stored outcome is read once the subscription is confirmed (an outcome
            # published before it is stored by then), then at growing intervals.
            read_at = time.monotonic() + gap
            while True:
                now = time.monotonic()
                if now >= read_at:
                    stored = self.redis.hget(task_key, "o")
                    if isinstance(stored, bytes):
                        return stored
                    read_at, gap = now + gap, min(gap * 2, RECHECK_MAX)
                if deadline is not None and now >= deadline:
                    return None
                until = read_at if deadline is None else min(read_at, deadline)
                message = pubsub.get_message(timeout=max(until - now, 0.0))
                if message is None:
                    continue
                if message["type"] == "message":
                    data: bytes = message["data"]
                    return data
                if message["type"] == "subscribe":
                    # The first confirmation, or redis-py reconnected by itself: whatever was
                    # published before is not coming, and is stored.
                    read_at = time.monotonic()

    def status(self, queue: str, task_id: str) -> TaskStatus:
        """Where a task is now."""
        keys = self.keys(queue)
        status = self._status(keys=[keys.task(task_id)], args=[keys.base, GROUP])
        return TaskStatus(status.decode())

    def progress(self, queue: str, task_id: str) -> Progress | None:
        """A task's latest progress report; None before its first (or once its result expired)."""
        raw = self.redis.hget(self.keys(queue).task(task_id), "g")
        return decode_progress(raw)

    def abort(self, task: TaskDef[Any, Any], task_id: str) -> bool:
        """Abort a task; False when it had already ended or is unknown."""
        keys = self.keys(task.queue)
        done = self._abort(
            keys=[keys.task(task_id), keys.delayed, keys.retrying],
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

    def progress(self) -> Progress | None:
        """The latest progress the task's handler reported (``ctx.progress``), or None."""
        return self._client.progress(self.task.queue, self.id)

    def abort(self) -> bool:
        """Stop the task; False when it had already ended (or is unknown)."""
        return self._client.abort(self.task, self.id)

    def __repr__(self) -> str:
        return f"SyncTaskHandle({self.task.name!r}, id={self.id!r})"
