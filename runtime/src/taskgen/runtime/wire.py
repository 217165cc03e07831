"""What travels through Redis: the task envelope, the outcome record, and their codecs."""

from __future__ import annotations

import enum
import os
import time

import msgspec


class TaskStatus(enum.StrEnum):
    """Where a task is in its life."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    ABORTED = "aborted"
    EXPIRED = "expired"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        """True once the task will not run again."""
        return self not in _PENDING


_PENDING = frozenset({TaskStatus.QUEUED, TaskStatus.SCHEDULED, TaskStatus.RUNNING})

ENCODER = msgspec.msgpack.Encoder()
#: The encoded value of a task that returns None, or of one that ended without a value.
NONE_VALUE = msgspec.Raw(ENCODER.encode(None))


class Envelope(msgspec.Struct, array_like=True, gc=False, frozen=True):
    """One enqueued task: who it is, what to run, and the encoded arguments."""

    id: str
    task: str
    fingerprint: str
    args: msgspec.Raw
    enqueued_at: int
    attempt: int = 1
    priority: int = 1
    expires_at: int = 0
    trace: dict[str, str] | None = None
    #: The enqueueing client's own channel, when it awaits results: the worker publishes the
    #: outcome there too, so that client needs no subscription per task.
    reply: bytes = b""
    #: The steps after this one, for a task of a chain or a chord (``flows.Flow``, decoded
    #: only when the task ends); msgpack nil for a plain task (see ``chained``).
    flow: msgspec.Raw = NONE_VALUE

    @property
    def chained(self) -> bool:
        """Whether tasks follow this one (a chain's step, a chord's member)."""
        return len(self.flow) > 1


class ErrorInfo(msgspec.Struct, array_like=True, gc=False, frozen=True):
    """Why a task did not produce a value, as text a person can read."""

    type: str
    message: str
    traceback: str = ""


class Outcome(msgspec.Struct, array_like=True, gc=False, frozen=True):
    """How a task ended: its encoded value (nil unless done), or the error, and the tries."""

    status: TaskStatus
    value: msgspec.Raw = NONE_VALUE
    error: ErrorInfo | None = None
    finished_at: int = 0
    attempts: int = 1
    deliveries: int = 1
    #: The worker's contract fingerprint of the task (set on values), so a client that cannot
    #: decode the value can say whether the two sides run different contracts.
    fingerprint: str = ""
    #: When the task was enqueued and when its last run started, in epoch ms (0: unknown).
    enqueued_at: int = 0
    started_at: int = 0


ENVELOPE = msgspec.msgpack.Decoder(Envelope)
OUTCOME = msgspec.msgpack.Decoder(Outcome)


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def new_task_id() -> str:
    """A random 128-bit task id, hex encoded."""
    return os.urandom(16).hex()


def new_task_ids(count: int) -> list[str]:
    """``count`` random task ids from one read of the system's randomness."""
    digits = os.urandom(16 * count).hex()
    return [digits[i : i + 32] for i in range(0, 32 * count, 32)]
