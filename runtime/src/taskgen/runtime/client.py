"""The asyncio client: enqueue tasks in one round trip and await their outcomes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskgen.runtime.batch import Chunk, encode_calls, incomplete, was_created
from taskgen.runtime.connection import async_redis
from taskgen.runtime.handle import TaskHandle
from taskgen.runtime.keys import DEFAULT_PREFIX, GROUP, QueueKeys
from taskgen.runtime.progress import Progress, decode_progress
from taskgen.runtime.registry import MODES, Mode
from taskgen.runtime.registry_cache import RegistryCache
from taskgen.runtime.results import RECHECK, ResultWaiter
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, TaskDef, pack_call
from taskgen.runtime.wire import ENCODER, ErrorInfo, Outcome, TaskStatus, now_ms

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")


class Client:
    """Enqueues tasks and awaits their outcomes; one per process, shared by all callers.

    ``recheck``: seconds after which a waiter reads its task's stored outcome again, in case
    the message that should have woken it was lost.
    ``registry`` says what to do with a task no live worker can decode, or whose queue no
    worker serves (see ``registry_cache``): ``warn`` (the default) refuses the first and warns
    of the second, ``strict`` refuses both, ``off`` consults nothing."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        close_redis: bool = False,
        recheck: float = RECHECK,
        registry: Mode = "warn",
    ):
        self.redis = redis
        self.prefix = prefix
        self._close_redis = close_redis
        self._keys: dict[str, QueueKeys] = {}
        self._scripts = Scripts(redis)
        self._results = ResultWaiter(redis, prefix, recheck=recheck)
        self._registry = _registry(redis, prefix, registry)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        recheck: float = RECHECK,
        registry: Mode = "warn",
        **options: Any,
    ) -> Self:
        """A client with its own connection pool, closed by ``close()``; ``options`` override
        the pool's defaults (see ``taskgen.runtime.connection``)."""
        return cls(
            async_redis(url, **options),
            prefix=prefix,
            close_redis=True,
            recheck=recheck,
            registry=registry,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop waiting for results and, if this client opened it, close the connection pool."""
        await self._results.close()
        if self._registry is not None:
            await self._registry.close()
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
        if self._registry is not None and not self._registry.admits(task):
            await self._registry.check(task)
        keys = self.keys(task.queue)
        reply = self._results.reply
        task_id, record = pack_call(task, args, options, now_ms(), reply=reply)
        created = await self._scripts.enqueue(keys=[keys.delayed], args=[keys.base, record])
        ours = created[0] == 1 or options.task_id is None  # see batch.was_created
        if reply and ours:
            self._results.expect(keys.done_channel(task_id))
        return TaskHandle(self, task, task_id, created=ours)

    async def enqueue_many(self, calls: Iterable[Call[R]]) -> list[TaskHandle[R]]:
        """Enqueue many tasks, of any queues, in order: all are encoded first (one that cannot
        be raises ``EnqueueFailed`` before anything is sent), then one script call per 1,000
        tasks of a queue. If sending fails midway, ``EnqueueFailed.handles`` holds what went."""
        calls = list(calls)
        if self._registry is not None:
            await _consult(self._registry, calls)
        reply = self._results.reply
        chunks = encode_calls(calls, now_ms(), reply)
        handles: list[TaskHandle[R]] = []
        for chunk in chunks:
            keys = self.keys(chunk.queue)
            try:
                created = await self._scripts.enqueue(
                    keys=[keys.delayed], args=[keys.base, chunk.records]
                )
            except (RedisError, OSError) as exc:
                total = sum(len(c.ids) for c in chunks)
                raise incomplete(handles, chunk, total, exc) from exc
            handles += self._handles(chunk, created, reply)
        return handles

    def _handles(self, chunk: Chunk, created: list[int], reply: bytes) -> list[TaskHandle[R]]:
        handles: list[TaskHandle[R]] = []
        keys = self.keys(chunk.queue)
        for call, task_id, flag in zip(chunk.calls, chunk.ids, created, strict=True):
            ours = was_created(call, flag)
            if reply and ours:
                self._results.expect(keys.done_channel(task_id))
            handles.append(TaskHandle(self, call.task, task_id, created=ours))
        return handles

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

    async def progress(self, queue: str, task_id: str) -> Progress | None:
        """A task's latest progress report; None before its first (or once its result expired)."""
        raw = await self.redis.hget(self.keys(queue).task(task_id), "g")
        return decode_progress(raw)

    async def abort(self, task: TaskDef[Any, Any], task_id: str) -> bool:
        """Abort a task; False when it had already ended or is unknown."""
        keys = self.keys(task.queue)
        outcome = aborted_outcome()
        done = await self._scripts.abort(
            keys=[keys.task(task_id), keys.delayed, keys.retrying],
            args=[
                keys.base,
                GROUP,
                task_id,
                ENCODER.encode(outcome),
                round(task.result_ttl * 1000),
            ],
        )
        return int(done) != 0


def _registry(redis: Redis, prefix: str, mode: Mode) -> RegistryCache | None:
    if mode not in MODES:
        raise ValueError(f"registry={mode!r}: use one of {', '.join(MODES)}")
    return None if mode == "off" else RegistryCache(redis, prefix, mode)


async def _consult(registry: RegistryCache, calls: list[Call[Any]]) -> None:
    """Every distinct task of a batch past the registry before any of it is queued."""
    for task in dict.fromkeys(call.task for call in calls):
        if not registry.admits(task):
            await registry.check(task)


def aborted_outcome() -> Outcome:
    """The outcome a client records for a task it aborted before any worker ran it."""
    return Outcome(
        TaskStatus.ABORTED,
        error=ErrorInfo("Aborted", "aborted by a client before it ran"),
        finished_at=now_ms(),
        attempts=0,
        deliveries=0,
    )
