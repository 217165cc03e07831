"""The blocking client, for Django, Flask and scripts: the async client, driven from threads.

A ``SyncClient`` holds one async ``Client`` and runs each call of it on a private event-loop
thread (``loop_thread``), so every guarantee of the async client (the stored outcome re-read,
reconnections, bounded retries, ``EnqueueFailed``, the registry, the reply channel) holds for
blocking callers without a second implementation. Any number of threads may share one.
"""

from __future__ import annotations

import weakref
from collections.abc import Coroutine, Iterable
from typing import Any, Generic, Self, TypeVar

import msgspec

from taskgen.runtime.client import Client
from taskgen.runtime.errors import EnqueueFailed
from taskgen.runtime.handle import HandleBase, TaskHandle
from taskgen.runtime.keys import DEFAULT_PREFIX, QueueKeys
from taskgen.runtime.loop_thread import LoopClosed, LoopThread
from taskgen.runtime.progress import Progress
from taskgen.runtime.registry import Mode
from taskgen.runtime.results import RECHECK
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, TaskDef
from taskgen.runtime.wire import TaskStatus

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")
T = TypeVar("T")


class SyncClient:
    """Enqueues tasks and waits for their outcomes, blocking; safe to share between threads.

    ``client``: the async client it drives, on an event loop of its own (started at the first
    call, stopped by ``close()``); give it one that no other event loop uses. Blocking calls
    made inside a running event loop work, and block that loop while they wait."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._loop = LoopThread(f"taskgen-sync-client-{id(self):x}")
        # A client dropped unclosed still ends its thread (its connections go with the loop).
        weakref.finalize(self, self._loop.stop, wait=False)

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
        """A client with its own connection pool, closed by ``close()``; the arguments are
        ``Client.from_url``'s."""
        return cls(
            Client.from_url(url, prefix=prefix, recheck=recheck, registry=registry, **options)
        )

    @property
    def prefix(self) -> str:
        """The first part of every key."""
        return self.client.prefix

    def __enter__(self) -> Self:
        self._loop.run(self.client.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the async client (its pool, if it opened it) and end the loop's thread."""
        try:
            self._loop.run(self.client.close())
        except LoopClosed:
            return
        finally:
            self._loop.stop()

    def keys(self, queue: str) -> QueueKeys:
        """The Redis layout of ``queue``."""
        return self.client.keys(queue)

    def enqueue(
        self, task: TaskDef[A, R], args: A, options: EnqueueOptions = NO_OPTIONS
    ) -> SyncTaskHandle[R]:
        """Enqueue one task; one round trip to Redis."""
        return SyncTaskHandle(self, self._loop.run(self.client.enqueue(task, args, options)))

    def enqueue_many(self, calls: Iterable[Call[R]]) -> list[SyncTaskHandle[R]]:
        """``Client.enqueue_many``: all encoded first, then one script call per 1,000 tasks of
        a queue; ``EnqueueFailed.handles`` holds blocking handles of what went."""
        try:
            handles = self._loop.run(self.client.enqueue_many(list(calls)))
        except EnqueueFailed as failed:
            failed.handles = [SyncTaskHandle(self, h) for h in failed.handles]
            raise
        return [SyncTaskHandle(self, handle) for handle in handles]

    def handle(self, task: TaskDef[Any, R], task_id: str) -> SyncTaskHandle[R]:
        """Re-attach to a task enqueued earlier, by its id."""
        return SyncTaskHandle(self, self.client.handle(task, task_id))

    def wait_outcome(self, queue: str, task_id: str, timeout: float | None) -> bytes | None:
        """The encoded outcome of a task once it ends; None if ``timeout`` passes first."""
        return self._loop.run(self.client.wait_outcome(queue, task_id, timeout))

    def status(self, queue: str, task_id: str) -> TaskStatus:
        """Where a task is now."""
        return self._loop.run(self.client.status(queue, task_id))

    def progress(self, queue: str, task_id: str) -> Progress | None:
        """A task's latest progress report; None before its first (or once its result expired)."""
        return self._loop.run(self.client.progress(queue, task_id))

    def abort(self, task: TaskDef[Any, Any], task_id: str) -> bool:
        """Abort a task; False when it had already ended or is unknown."""
        return self._loop.run(self.client.abort(task, task_id))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of the async client on its loop and block until it ends."""
        return self._loop.run(coroutine)


class SyncHandleBase(Generic[R]):
    """What every blocking handle does: wait for the result, ask the status, abort."""

    __slots__ = ("_client", "_handle", "created", "id", "task")

    def __init__(self, client: SyncClient, handle: HandleBase[R]) -> None:
        self._client = client
        self._handle = handle
        self.task = handle.task
        self.id = handle.id
        #: False when the enqueue found an existing task with this id (deduplicated).
        self.created = handle.created

    def result(self, timeout: float | None = None) -> R:
        """The task's value once it ends; raises ``TaskError`` subclasses or ``ResultTimeout``."""
        return self._client.run(self._handle.result(timeout))

    def status(self) -> TaskStatus:
        """Where the task is now."""
        return self._client.run(self._handle.status())

    def abort(self) -> bool:
        """Stop the task; False when it had already ended (or is unknown)."""
        return self._client.run(self._handle.abort())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task.name!r}, id={self.id!r})"


class SyncTaskHandle(SyncHandleBase[R]):
    """One enqueued task, followed by blocking calls; keep ``id`` to re-attach later with
    ``<task>.handle(id)``."""

    __slots__ = ("handle",)

    def __init__(self, client: SyncClient, handle: TaskHandle[R]) -> None:
        super().__init__(client, handle)
        #: The async handle whose calls this one runs.
        self.handle = handle

    def progress(self) -> Progress | None:
        """The latest progress the task's handler reported (``ctx.progress``), or None."""
        return self._client.run(self.handle.progress())
