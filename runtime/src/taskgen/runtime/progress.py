"""A running task's progress: the latest value a handler reported, kept in its task hash.

Reports are coalesced: the worker keeps the latest one per task and writes it with its next
completion batch (``complete.lua``, record ``P``), never one round trip per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable, Iterable
from typing import Protocol

import msgspec

from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.packing import pack
from taskgen.runtime.wire import ENCODER, now_ms

__all__ = ["Progress", "ProgressReporter", "ProgressSink"]


class Progress(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """How far a task has got: a number (a fraction 0..1, or any count) and a message."""

    value: float
    message: str = ""
    #: When the handler reported it, in epoch milliseconds.
    at: int = 0


PROGRESS = msgspec.msgpack.Decoder(Progress)


def decode_progress(raw: object) -> Progress | None:
    """A stored report, or None for none (or one this version cannot read)."""
    if not isinstance(raw, bytes) or not raw:
        return None
    try:
        return PROGRESS.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class ProgressSink(Protocol):
    """Where a context sends its task's progress reports."""

    def report(self, queue: str, task_id: str, value: float, message: str) -> None:
        """Keep ``value`` (with ``message``) as the task's latest progress."""


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

    def report(self, queue: str, task_id: str, value: float, message: str) -> None:
        """Keep ``value`` as the task's latest progress; it is written with the next batch."""
        record = pack([b"P", task_id.encode(), ENCODER.encode(checked(value, message))])
        keys = self._keys[queue]
        if threading.get_ident() == self._thread:
            self._add(keys, task_id, record)
        else:  # a sync handler, in the worker's thread pool
            # A thread left running past its timeout may report after the worker stopped:
            # its task has ended, so the report has nowhere to go.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._add, keys, task_id, record)


def checked(value: float, message: str) -> Progress:
    """A progress report, or a one-line error naming what is wrong with it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"ctx.progress() takes a number (e.g. 0.25 for a quarter done), not {value!r}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"ctx.progress() takes a finite number, not {value!r}")
    if not isinstance(message, str):
        raise TypeError(f"ctx.progress()'s message must be a str, not {type(message).__name__}")
    return Progress(number, message, now_ms())
