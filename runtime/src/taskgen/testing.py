"""Testing helpers for code that uses taskgen.

- ``running_worker(worker)``: a worker serving in the test's own event loop, against the real
  Redis the test uses; stopped gracefully when the block ends.
- ``EagerClient(bindings())``: no Redis at all. Every enqueue runs its handler at once, inline,
  after a round trip through the wire format (so a payload that would not decode fails here
  too), and records what was enqueued. Give it to the generated client — ``ShopTasks(eager)``
  — and a backend's tests can assert on enqueued tasks and their results in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any, Self, TypeVar

import msgspec

from taskgen.runtime.binding import Binding, prepare_bindings
from taskgen.runtime.client import Client
from taskgen.runtime.context import Context
from taskgen.runtime.failures import MAX_RESULT_BYTES, encode_result, error_info
from taskgen.runtime.handle import TaskHandle
from taskgen.runtime.injection import NO_EXTRAS, Injector
from taskgen.runtime.keys import DEFAULT_PREFIX
from taskgen.runtime.progress import Progress, ProgressSink, checked
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, TaskDef, encode_call
from taskgen.runtime.wire import (
    ENCODER,
    ENVELOPE,
    ErrorInfo,
    Outcome,
    TaskStatus,
    now_ms,
)
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
    """A client that runs every task inline, at once; for tests, with no Redis.

    Delays, priorities and expiry are recorded but not waited for; each task gets one attempt.
    Use it as ``async with EagerClient(bindings()) as eager:`` so that an injector's lifespan
    (e.g. the FastAPI app's) runs around the tests."""

    def __init__(
        self,
        bindings: Iterable[Binding[Any, Any]],
        *,
        injector: Injector | None = None,
        state: Any = None,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self.prefix = prefix
        self._keys = {}
        self._bindings = prepare_bindings(bindings, injector)
        self._injector = injector
        self._state = state
        self._lifespan = contextlib.AsyncExitStack()
        self._outcomes: dict[str, bytes] = {}
        self._progress = _KeptProgress()
        #: Every task enqueued, in order.
        self.enqueued: list[Enqueued] = []

    async def __aenter__(self) -> Self:
        if self._injector is not None:
            await self._lifespan.enter_async_context(self._injector.lifespan())
        return self

    async def close(self) -> None:
        """Leave the injector's lifespan."""
        await self._lifespan.aclose()

    async def enqueue(
        self, task: TaskDef[A, R], args: A, options: EnqueueOptions = NO_OPTIONS
    ) -> TaskHandle[R]:
        """Run the task now; the handle's result is ready when this returns."""
        task_id, _, _, envelope = encode_call(task, args, options, now_ms())
        if task_id in self._outcomes:
            return TaskHandle(self, task, task_id, created=False)
        self.enqueued.append(Enqueued(task.name, task_id, args, options))
        self._outcomes[task_id] = ENCODER.encode(await self._run(task, envelope))
        return TaskHandle(self, task, task_id)

    async def enqueue_many(self, calls: Iterable[Call[R]]) -> list[TaskHandle[R]]:
        """Run each call in turn."""
        return [await self.enqueue(c.task, c.args, c.options) for c in calls]

    async def wait_outcome(self, queue: str, task_id: str, timeout: float | None) -> bytes | None:
        """The outcome, which an eager run has always produced already."""
        return self._outcomes.get(task_id)

    async def status(self, queue: str, task_id: str) -> TaskStatus:
        """How the task ended (eager tasks have always ended)."""
        outcome = self._outcomes.get(task_id)
        return (
            msgspec.msgpack.decode(outcome, type=Outcome).status if outcome else TaskStatus.UNKNOWN
        )

    async def progress(self, queue: str, task_id: str) -> Progress | None:
        """The last progress the task's handler reported while it ran inline."""
        return self._progress.latest.get(task_id)

    async def abort(self, task: TaskDef[Any, Any], task_id: str) -> bool:
        """Too late: eager tasks have always ended."""
        return False

    async def _run(self, task: TaskDef[Any, Any], envelope: bytes) -> Outcome:
        """Decode the envelope as a worker would, and run its handler."""
        sent = ENVELOPE.decode(envelope)
        binding = self._bindings.get(task.name)
        if binding is None:
            reason = f"no handler for task {task.name!r} among {sorted(self._bindings)}"
            return Outcome(TaskStatus.REJECTED, error=ErrorInfo("Rejected", reason))
        try:
            decoded = binding.task.args_decoder.decode(sent.args)
        except msgspec.ValidationError as exc:
            reason = f"task {task.name}: the payload does not fit the worker's contract: {exc}"
            return Outcome(TaskStatus.REJECTED, error=ErrorInfo("Rejected", reason))
        context = Context(
            task_id=sent.id,
            task=task.name,
            queue=task.queue,
            attempt=1,
            delivery=1,
            enqueued_at=now_ms(),
            state=self._state,
            reporter=self._progress,
        )
        try:
            async with contextlib.AsyncExitStack() as cleanups:
                extras = NO_EXTRAS
                if binding.resolver is not None:
                    extras = await binding.resolver(context, cleanups)
                if binding.is_async:
                    value = await binding.call(context, decoded, extras)
                else:
                    value = await asyncio.to_thread(binding.call, context, decoded, extras)
        except asyncio.CancelledError:
            raise  # inline, the caller's own cancellation cannot be told apart from the handler's
        except BaseException as exc:  # as in a worker: whatever the handler raises fails the task
            return Outcome(TaskStatus.FAILED, error=error_info(exc), finished_at=now_ms())
        # The worker's own check of the result against the contract's result type.
        encoded = encode_result(binding, value, MAX_RESULT_BYTES)
        if isinstance(encoded, ErrorInfo):
            return Outcome(TaskStatus.FAILED, error=encoded, finished_at=now_ms())
        return Outcome(TaskStatus.DONE, msgspec.Raw(encoded), finished_at=now_ms())


class _KeptProgress(ProgressSink):
    """Keeps the latest progress of each eager task, as a worker would store it."""

    def __init__(self) -> None:
        self.latest: dict[str, Progress] = {}

    def report(self, queue: str, task_id: str, value: float, message: str) -> None:
        """Keep the report."""
        self.latest[task_id] = checked(value, message)
