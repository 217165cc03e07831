"""A typed handle on one enqueued task: await its result, ask its status, abort it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from taskgen.runtime.errors import (
    ResultMismatch,
    ResultTimeout,
    TaskAborted,
    TaskExpired,
    TaskFailed,
    TaskRejected,
    TaskTimedOut,
)
from taskgen.runtime.progress import Progress
from taskgen.runtime.taskdef import TaskDef
from taskgen.runtime.wire import Outcome, TaskStatus

if TYPE_CHECKING:
    from taskgen.runtime.client import Client

R = TypeVar("R")


class HandleBase(Generic[R]):
    """What every handle does: await the result, ask the status, abort."""

    __slots__ = ("_client", "created", "id", "task")

    def __init__(
        self, client: Client, task: TaskDef[Any, R], task_id: str, *, created: bool = True
    ) -> None:
        self._client = client
        self.task = task
        self.id = task_id
        #: False when the enqueue found an existing task with this id (deduplicated).
        self.created = created

    async def result(self, timeout: float | None = None) -> R:
        """The task's value once it ends; raises ``TaskError`` subclasses or ``ResultTimeout``."""
        raw = await self._client.wait_outcome(self.task.queue, self.id, timeout)
        if raw is None:
            raise ResultTimeout(task_id=self.id, task=self.task.name, timeout=timeout or 0.0)
        return unwrap(self.task, self.id, self._client.outcome(self.task.queue, self.id, raw))

    async def status(self) -> TaskStatus:
        """Where the task is now: queued, scheduled, running, or how it ended."""
        return await self._client.status(self.task.queue, self.id)

    async def abort(self) -> bool:
        """Stop the task: a queued or scheduled one never runs, a running one is cancelled.

        Returns False when the task had already ended (or is unknown)."""
        return await self._client.abort(self.task, self.id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task.name!r}, id={self.id!r})"


class TaskHandle(HandleBase[R]):
    """One enqueued task; keep ``id`` to re-attach later with ``<task>.handle(id)``."""

    __slots__ = ()

    async def progress(self) -> Progress | None:
        """The latest progress the task's handler reported (``ctx.progress``), or None."""
        return await self._client.progress(self.task.queue, self.id)


def unwrap(task: TaskDef[Any, R], task_id: str, outcome: Outcome) -> R:
    """The value an outcome carries, or the typed error that says why there is none."""
    status = outcome.status
    if status is TaskStatus.DONE:
        try:
            return task.result_decoder.decode(outcome.value)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ResultMismatch(
                task_id=task_id,
                task=task.name,
                problem=str(exc),
                client_fingerprint=task.fingerprint,
                worker_fingerprint=outcome.fingerprint,
            ) from None
    error = outcome.error
    message = f"{error.type}: {error.message}" if error else status.value
    if status in (TaskStatus.FAILED, TaskStatus.TIMED_OUT):
        failure = TaskTimedOut if status is TaskStatus.TIMED_OUT else TaskFailed
        raise failure(
            task_id=task_id,
            task=task.name,
            error_type=error.type if error else "Exception",
            error_message=error.message if error else "",
            remote_traceback=error.traceback if error else "",
            attempts=outcome.attempts,
        )
    if status is TaskStatus.REJECTED:
        raise TaskRejected(
            f"task {task.name} ({task_id}) was rejected: {message}", task_id=task_id, task=task.name
        )
    if status is TaskStatus.ABORTED:
        raise TaskAborted(
            f"task {task.name} ({task_id}) was aborted", task_id=task_id, task=task.name
        )
    if status is TaskStatus.EXPIRED:
        raise TaskExpired(
            f"task {task.name} ({task_id}) expired before it started: {message}",
            task_id=task_id,
            task=task.name,
        )
    raise TaskRejected(
        f"task {task.name} ({task_id}) ended as {status.value}", task_id=task_id, task=task.name
    )
