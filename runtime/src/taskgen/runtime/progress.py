"""A running task's progress: the latest value a handler reported, kept in its task hash.

Reports are coalesced: the worker keeps the latest one per task and writes it with its next
completion batch (``complete.lua``, record ``P``), never one round trip per call.
"""

from __future__ import annotations

import msgspec

__all__ = ["Progress"]


class Progress(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """How far a task has got: a number (a fraction 0..1, or any count) and a message."""

    value: float
    message: str = ""
    #: When the handler reported it, in epoch milliseconds.
    at: int = 0


PROGRESS = msgspec.msgpack.Decoder(Progress)
