"""Handles and task classes of tasks whose contract declares a progress type.

Their ``progress()`` returns the declared type instead of a ``Progress``, so they are siblings
of ``TaskHandle`` and ``TaskCaller`` (sharing their bases), not subclasses.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from taskgen.runtime.caller import TaskCallerBase
from taskgen.runtime.client import Client
from taskgen.runtime.errors import ProgressMismatch
from taskgen.runtime.handle import HandleBase, TaskHandle
from taskgen.runtime.progress import ProgressType, decode_stored
from taskgen.runtime.sync import SyncClient, SyncHandleBase

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")
P = TypeVar("P")


class ProgressHandle(HandleBase[R], Generic[R, P]):
    """One enqueued task whose handler reports progress of type ``P``."""

    __slots__ = ("progress_type",)

    def __init__(self, handle: TaskHandle[R], progress_type: ProgressType[P]) -> None:
        super().__init__(handle._client, handle.task, handle.id, created=handle.created)
        self.progress_type = progress_type

    async def progress(self) -> P | None:
        """The latest progress the task's handler reported (``ctx.progress``), or None before
        its first report; ``ProgressMismatch`` if it does not fit this client's type."""
        raw = await self._client.progress_record(self.task.queue, self.id)
        stored = decode_stored(raw)
        if stored is None:
            return None
        try:
            return self.progress_type.decode(stored)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProgressMismatch(
                task_id=self.id,
                task=self.task.name,
                problem=str(exc),
                expected=self.progress_type.spelling,
            ) from None


class SyncProgressHandle(SyncHandleBase[R], Generic[R, P]):
    """``ProgressHandle``, followed by blocking calls."""

    __slots__ = ("handle",)

    def __init__(self, client: SyncClient, handle: ProgressHandle[R, P]) -> None:
        super().__init__(client, handle)
        #: The async handle whose calls this one runs.
        self.handle = handle

    def progress(self) -> P | None:
        """The latest progress the task's handler reported, or None (see ``ProgressHandle``)."""
        return self._client.run(self.handle.progress())


class ProgressTaskCaller(TaskCallerBase[Client, A, R], Generic[A, R, P]):
    """Base of a generated async task class whose task declares a progress type."""

    __slots__ = ()

    #: The task's progress type, set by each generated subclass.
    progress_type: ProgressType[P]

    def handle(self, task_id: str) -> ProgressHandle[R, P]:
        """Re-attach to a task enqueued earlier, by its id."""
        return ProgressHandle(self._client.handle(self.definition, task_id), self.progress_type)

    async def _enqueue(self, args: A) -> ProgressHandle[R, P]:
        handle = await self._client.enqueue(self.definition, args, self._options)
        return ProgressHandle(handle, self.progress_type)


class SyncProgressTaskCaller(TaskCallerBase[SyncClient, A, R], Generic[A, R, P]):
    """Base of a generated blocking task class whose task declares a progress type."""

    __slots__ = ()

    #: The task's progress type, set by each generated subclass.
    progress_type: ProgressType[P]

    def handle(self, task_id: str) -> SyncProgressHandle[R, P]:
        """Re-attach to a task enqueued earlier, by its id."""
        return self._typed(self._client.handle(self.definition, task_id).handle)

    def _enqueue(self, args: A) -> SyncProgressHandle[R, P]:
        return self._typed(self._client.enqueue(self.definition, args, self._options).handle)

    def _typed(self, handle: TaskHandle[R]) -> SyncProgressHandle[R, P]:
        return SyncProgressHandle(self._client, ProgressHandle(handle, self.progress_type))
