"""Testing helpers for code that uses taskgen.

- ``running_worker(worker)``: a worker serving in the test's own event loop, against the real
  Redis the test uses; stopped gracefully when the block ends.
- ``EagerClient(bindings())``: no Redis at all. Every enqueue runs its task at once, through
  the worker's own executor (so a payload that would not decode, a timeout, a retry or a wrong
  result type end as they would on a worker), and records what was enqueued. Give it to the
  generated client — ``ShopTasks(eager)``, or ``ShopTasksSync(SyncClient(eager))`` — and a
  backend's tests can assert on enqueued tasks and their results in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any, Self, TypeVar

import msgspec

from taskgen.runtime.binding import Binding, prepare_bindings
from taskgen.runtime.client import Client
from taskgen.runtime.eager import EagerQueue
from taskgen.runtime.handle import TaskHandle
from taskgen.runtime.injection import Injector
from taskgen.runtime.keys import DEFAULT_PREFIX
from taskgen.runtime.signing import Signing
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, TaskDef
from taskgen.runtime.worker import Worker

__all__ = ["EagerClient", "Enqueued", "running_worker"]

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")


@contextlib.asynccontextmanager
async def running_worker(worker: Worker) -> AsyncIterator[Worker]:
    """Serve with ``worker`` in this event loop for the duration of the block."""
    serving = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await serving


class Enqueued(msgspec.Struct, frozen=True):
    """One task an ``EagerClient`` was asked to enqueue."""

    task: str
    task_id: str
    args: msgspec.Struct
    options: EnqueueOptions


class EagerClient(Client):
    """A client whose tasks run in this process, through the worker's executor; for tests,
    with no Redis.

    Each enqueue runs its task before it returns, as a worker would run it (decoding, the
    argument check, the handler under its timeout, retries, the result check), so the handle's
    result is ready at once. Delays and retry backoff are not waited for. Use it as
    ``async with EagerClient(bindings()) as eager:`` so that an injector's lifespan (e.g. the
    FastAPI app's) runs around the tests; ``SyncClient(eager)`` serves blocking code."""

    def __init__(
        self,
        bindings: Iterable[Binding[Any, Any]],
        *,
        injector: Injector | None = None,
        state: Any = None,
        prefix: str = DEFAULT_PREFIX,
        signing: Signing | None = None,
    ) -> None:
        bound = prepare_bindings(bindings, injector)
        self._queue = EagerQueue(bound, state=state, signing=signing)
        super().__init__(self._queue, prefix=prefix, registry="off", signing=signing)
        self._injector = injector
        self._lifespan = contextlib.AsyncExitStack()
        #: Every task enqueued, in order.
        self.enqueued: list[Enqueued] = []

    async def __aenter__(self) -> Self:
        if self._injector is not None:
            await self._lifespan.enter_async_context(self._injector.lifespan())
        return self

    async def close(self) -> None:
        """Leave the injector's lifespan."""
        await super().close()
        await self._lifespan.aclose()

    async def enqueue(
        self, task: TaskDef[A, R], args: A, options: EnqueueOptions = NO_OPTIONS
    ) -> TaskHandle[R]:
        """Enqueue the task and run it; the handle's result is ready when this returns."""
        handle = await super().enqueue(task, args, options)
        if handle.created:
            self.enqueued.append(Enqueued(task.name, handle.id, args, options))
        await self._queue.run()
        return handle

    async def enqueue_many(self, calls: Iterable[Call[R]]) -> list[TaskHandle[R]]:
        """Enqueue the calls as ``Client.enqueue_many`` does, then run them."""
        calls = list(calls)
        handles = await super().enqueue_many(calls)
        # Handles come grouped by queue, each queue's in call order.
        by_queue: dict[str, deque[Call[R]]] = {}
        for call in calls:
            by_queue.setdefault(call.task.queue, deque()).append(call)
        for handle in handles:
            call = by_queue[handle.task.queue].popleft()
            if handle.created:
                self.enqueued.append(Enqueued(call.task.name, handle.id, call.args, call.options))
        await self._queue.run()
        return handles
