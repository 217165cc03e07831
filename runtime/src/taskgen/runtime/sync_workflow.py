"""Blocking handles of chains, groups and chords, for the blocking client (``SyncTaskClient``):
each call runs the async handle's on the ``SyncClient``'s event-loop thread."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from taskgen.runtime.chains import Chain, Chord, Group
from taskgen.runtime.sync import SyncClient
from taskgen.runtime.wire import TaskStatus
from taskgen.runtime.workflow import (
    ChainHandle,
    ChordHandle,
    GroupHandle,
    start_chain,
    start_chord,
    start_group,
)

R = TypeVar("R")
T = TypeVar("T")


class SyncChainHandle(Generic[R]):
    """A started chain or chord, blocking: the last step's value, or abort every step."""

    __slots__ = ("_client", "_handle")

    def __init__(self, client: SyncClient, handle: ChainHandle[R]) -> None:
        self._client = client
        self._handle = handle

    @property
    def id(self) -> str:
        """The last step's task id."""
        return self._handle.id

    @property
    def steps(self) -> list[tuple[str, str]]:
        """Every step's (queue, task id), in order."""
        return self._handle.steps

    def result(self, timeout: float | None = None) -> R:
        """The last step's value; a failed step raises its error (see ``ChainHandle``)."""
        return self._client.run(self._handle.result(timeout))

    def status(self) -> TaskStatus:
        """The last step's status."""
        return self._client.run(self._handle.status())

    def abort(self) -> bool:
        """Abort the chain: the running step is cancelled, the later ones never run."""
        return self._client.run(self._handle.abort())


class SyncGroupHandle(Generic[T]):
    """A started group, blocking: every member's value, in member order."""

    __slots__ = ("_client", "_handle")

    def __init__(self, client: SyncClient, handle: GroupHandle[T]) -> None:
        self._client = client
        self._handle = handle

    def result(self, timeout: float | None = None) -> T:
        """Every member's value (list or tuple); the first failed member raises its error."""
        return self._client.run(self._handle.result(timeout))

    def abort(self) -> int:
        """Abort every member; how many had not ended."""
        return self._client.run(self._handle.abort())

    def __len__(self) -> int:
        return len(self._handle)


class SyncChordHandle(SyncChainHandle[R]):
    """A started chord, blocking: its callback's value, and the members' own handle."""

    __slots__ = ("members",)

    def __init__(self, client: SyncClient, handle: ChordHandle[R]) -> None:
        super().__init__(client, handle)
        self.members: SyncGroupHandle[Any] = SyncGroupHandle(client, handle.members)


def start_blocking(
    client: SyncClient, flow: Chain[Any] | Chord[Any] | Group[Any]
) -> SyncChainHandle[Any] | SyncGroupHandle[Any]:
    """Start a chain, chord or group from blocking code."""
    if isinstance(flow, Chain):
        return SyncChainHandle(client, client.run(start_chain(client.client, flow)))
    if isinstance(flow, Chord):
        return SyncChordHandle(client, client.run(start_chord(client.client, flow)))
    if isinstance(flow, Group):
        return SyncGroupHandle(client, client.run(start_group(client.client, flow)))
    raise TypeError(f"cannot start {flow!r}: give a chain, a chord or a group")
