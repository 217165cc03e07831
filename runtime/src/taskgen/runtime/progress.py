"""A running task's progress: the latest value a handler reported, kept in its task hash.

Reports are coalesced: the worker keeps the latest one per task and writes it with its next
completion batch (``complete.lua``, record ``P``), never one round trip per call.

A task whose contract declares a progress type (``@task(progress=EncodeProgress)``) reports
values of that type instead of a number: the stored record is then ``[0.0, "", at, value]``,
the typed value msgpack-encoded as the record's fourth item. Readers of the plain record (an
older client, ``Progress``) ignore the fourth item; an untyped report stays three items long.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from taskgen.runtime import bigint
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.packing import pack
from taskgen.runtime.wire import ENCODER, now_ms

__all__ = ["Progress", "ProgressReporter", "ProgressSink", "ProgressType"]

P = TypeVar("P")


class Progress(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """How far a task has got: a number (a fraction 0..1, or any count) and a message."""

    value: float
    message: str = ""
    #: When the handler reported it, in epoch milliseconds.
    at: int = 0


class TypedRecord(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A typed report as stored: a plain ``Progress`` followed by the typed value."""

    value: float
    message: str
    at: int
    data: msgspec.Raw


class StoredProgress(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """Either kind of stored report; ``data`` is empty for an untyped one."""

    value: float
    message: str = ""
    at: int = 0
    data: msgspec.Raw = msgspec.Raw()

    @property
    def typed(self) -> bool:
        """Whether a handler reported a value of the task's declared progress type."""
        return len(self.data) > 0

    @property
    def plain(self) -> Progress:
        """The number, message and time, without a typed value."""
        return Progress(self.value, self.message, self.at)


PROGRESS = msgspec.msgpack.Decoder(Progress)
STORED = msgspec.msgpack.Decoder(StoredProgress)


def decode_progress(raw: object) -> Progress | None:
    """A stored report, or None for none (or one this version cannot read)."""
    if not isinstance(raw, bytes) or not raw:
        return None
    try:
        return PROGRESS.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def decode_stored(raw: object) -> StoredProgress | None:
    """A stored report of either kind, or None for none (or one this version cannot read)."""
    if not isinstance(raw, bytes) or not raw:
        return None
    try:
        return STORED.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class ProgressType(Generic[P]):
    """A task's declared progress type: checks what a handler reports, decodes what a reader
    reads (generated once per task, like its result type)."""

    __slots__ = ("decoder", "spelling", "type")

    def __init__(self, tp: Any) -> None:
        self.type = tp
        self.decoder: bigint.Decoder[P] = bigint.Decoder(tp)
        #: The type as the contract spells it, for errors.
        self.spelling: str = (
            tp.__name__ if isinstance(tp, type) else repr(tp).replace("typing.", "")
        )

    def record(self, task: str, value: object) -> bytes:
        """The stored record of a report of ``value``; a one-line ``TypeError`` if ``value`` is
        not of the type (checked the way a reader will decode it)."""
        try:
            data = bigint.encode(value)
            self.decoder.decode(data)
        except (TypeError, msgspec.EncodeError, msgspec.ValidationError) as exc:
            raise TypeError(
                f"ctx.progress() of task {task} takes a {self.spelling} (its contract's "
                f"progress type), not {_short(value)}: {exc}"
            ) from None
        return ENCODER.encode(TypedRecord(0.0, "", now_ms(), msgspec.Raw(data)))

    def decode(self, stored: StoredProgress) -> P | None:
        """The typed value of a stored report; None for an untyped one (an older worker's).

        Raises ``msgspec.ValidationError`` when it does not fit the type."""
        if not stored.typed:
            return None
        return self.decoder.decode(bytes(stored.data))

    def __repr__(self) -> str:
        return f"ProgressType({self.spelling})"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ProgressSink(Protocol):
    """Where a context sends its task's progress reports."""

    def report(self, queue: str, task_id: str, record: bytes) -> None:
        """Keep ``record`` (an encoded report) as the task's latest progress."""


class ProgressReporter(ProgressSink):
    """Hands handlers' reports to the worker's completer, from the event loop or a thread."""

    __slots__ = ("_add", "_keys", "_loop", "_thread")

    def __init__(
        self, add: Callable[[QueueKeys, str, bytes], None], queues: Iterable[QueueKeys]
    ) -> None:
        self._add = add
        self._keys = {keys.queue: keys for keys in queues}
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def report(self, queue: str, task_id: str, record: bytes) -> None:
        """Keep ``record`` as the task's latest progress; it is written with the next batch."""
        packed = pack([b"P", task_id.encode(), record])
        keys = self._keys[queue]
        if threading.get_ident() == self._thread:
            self._add(keys, task_id, packed)
        else:  # a sync handler, in the worker's thread pool
            # A thread left running past its timeout may report after the worker stopped:
            # its task has ended, so the report has nowhere to go.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._add, keys, task_id, packed)


def checked(value: float, message: str) -> bytes:
    """The stored record of an untyped report, or a one-line error naming what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"ctx.progress() takes a number (e.g. 0.25 for a quarter done), not {value!r}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"ctx.progress() takes a finite number, not {value!r}")
    if not isinstance(message, str):
        raise TypeError(f"ctx.progress()'s message must be a str, not {type(message).__name__}")
    return ENCODER.encode(Progress(number, message, now_ms()))
