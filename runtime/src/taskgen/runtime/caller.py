"""Bases of the generated client classes: everything that is not a task's own signature."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any, Generic, Self, TypeVar, overload

import msgspec

from taskgen.runtime.chains import Chain, Chord, Group, Step
from taskgen.runtime.client import Client
from taskgen.runtime.handle import TaskHandle
from taskgen.runtime.keys import DEFAULT_PREFIX
from taskgen.runtime.sync import SyncClient, SyncTaskHandle
from taskgen.runtime.sync_workflow import (
    SyncChainHandle,
    SyncChordHandle,
    SyncGroupHandle,
    start_blocking,
)
from taskgen.runtime.taskdef import NO_OPTIONS, Call, EnqueueOptions, Seconds, TaskDef
from taskgen.runtime.workflow import (
    ChainHandle,
    ChordHandle,
    GroupHandle,
    start_chain,
    start_chord,
    start_group,
)
from taskgen.vocabulary import Priority

A = TypeVar("A", bound=msgspec.Struct)
R = TypeVar("R")
C = TypeVar("C", Client, SyncClient)
T = TypeVar("T")


class TaskCallerBase(Generic[C, A, R]):
    """What every generated task class has: per-call options, and calls for enqueue_many."""

    __slots__ = ("_client", "_options")

    #: The task, set by each generated subclass.
    definition: TaskDef[A, R]

    def __init__(self, client: C, options: EnqueueOptions = NO_OPTIONS) -> None:
        self._client: C = client
        self._options = options

    def options(
        self,
        *,
        delay: Seconds | None = None,
        at: datetime.datetime | None = None,
        priority: Priority | None = None,
        task_id: str | None = None,
        expires: Seconds | None = None,
    ) -> Self:
        """The same task, enqueued with these options; its own parameters stay typed."""
        options = EnqueueOptions(
            delay=delay, at=at, priority=priority, task_id=task_id, expires=expires
        )
        return type(self)(self._client, options)

    def _call(self, args: A) -> Call[R]:
        return Call(self.definition, args, self._options)

    def _step(self, bound: dict[str, Any]) -> Step[Any, R]:
        """This task as a chain step, its other arguments bound (see ``chains.Step``)."""
        return Step(self.definition, bound, self._options)


class TaskCaller(TaskCallerBase[Client, A, R]):
    """Base of each generated async task class; the subclass adds the typed ``__call__``."""

    __slots__ = ()

    def handle(self, task_id: str) -> TaskHandle[R]:
        """Re-attach to a task enqueued earlier, by its id."""
        return self._client.handle(self.definition, task_id)

    async def _enqueue(self, args: A) -> TaskHandle[R]:
        return await self._client.enqueue(self.definition, args, self._options)


class SyncTaskCaller(TaskCallerBase[SyncClient, A, R]):
    """Base of each generated blocking task class; the subclass adds the typed ``__call__``."""

    __slots__ = ()

    def handle(self, task_id: str) -> SyncTaskHandle[R]:
        """Re-attach to a task enqueued earlier, by its id."""
        return self._client.handle(self.definition, task_id)

    def _enqueue(self, args: A) -> SyncTaskHandle[R]:
        return self._client.enqueue(self.definition, args, self._options)


class TaskClient:
    """Base of the generated async client: the connection and enqueueing many at once."""

    __slots__ = ("client",)

    def __init__(self, client: Client) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX, **options: Any) -> Self:
        """A client with its own connection pool; close it with ``close()`` or ``async with``."""
        return cls(Client.from_url(url, prefix=prefix, **options))

    async def enqueue_many(self, calls: Iterable[Call[R]]) -> list[TaskHandle[R]]:
        """Enqueue tasks built with ``<task>.call(...)``, of any queues, in one round trip."""
        return await self.client.enqueue_many(calls)

    @overload
    async def start(self, flow: Chain[R]) -> ChainHandle[R]: ...
    @overload
    async def start(self, flow: Chord[R]) -> ChordHandle[R]: ...
    @overload
    async def start(self, flow: Group[T]) -> GroupHandle[T]: ...
    async def start(
        self, flow: Chain[Any] | Chord[Any] | Group[Any]
    ) -> ChainHandle[Any] | GroupHandle[Any]:
        """Start a chain, chord or group built from ``<task>.call(...)`` (docs/workflows.md)."""
        if isinstance(flow, Chain):
            return await start_chain(self.client, flow)
        if isinstance(flow, Chord):
            return await start_chord(self.client, flow)
        if isinstance(flow, Group):
            return await start_group(self.client, flow)
        raise TypeError(f"cannot start {flow!r}: give a chain, a chord or a group")

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class SyncTaskClient:
    """Base of the generated blocking client: the connection and enqueueing many at once."""

    __slots__ = ("client",)

    def __init__(self, client: SyncClient) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX, **options: Any) -> Self:
        """A client with its own connection pool; close it with ``close()`` or ``with``."""
        return cls(SyncClient.from_url(url, prefix=prefix, **options))

    def enqueue_many(self, calls: Iterable[Call[R]]) -> list[SyncTaskHandle[R]]:
        """Enqueue tasks built with ``<task>.call(...)``, of any queues, in one round trip."""
        return self.client.enqueue_many(calls)

    @overload
    def start(self, flow: Chain[R]) -> SyncChainHandle[R]: ...
    @overload
    def start(self, flow: Chord[R]) -> SyncChordHandle[R]: ...
    @overload
    def start(self, flow: Group[T]) -> SyncGroupHandle[T]: ...
    def start(
        self, flow: Chain[Any] | Chord[Any] | Group[Any]
    ) -> SyncChainHandle[Any] | SyncGroupHandle[Any]:
        """Start a chain, chord or group built from ``<task>.call(...)`` (docs/workflows.md)."""
        return start_blocking(self.client, flow)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
