"""The packed records an executor hands its completer, in the form ``complete.lua`` reads.

R schedules the next attempt, F ends a task, D ends it in the dead-letter stream; the common
ending (F, done) is joined from pre-packed pieces, since every task that succeeds pays for it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from taskgen.runtime.binding import Binding
from taskgen.runtime.delivery import Delivery
from taskgen.runtime.failures import clean
from taskgen.runtime.keys import LEVELS
from taskgen.runtime.packing import LENGTH, number, pack
from taskgen.runtime.signing import Signing
from taskgen.runtime.wire import (
    ENCODER,
    NONE_VALUE,
    Envelope,
    ErrorInfo,
    Outcome,
    TaskStatus,
    now_ms,
)

#: Packed forms of the values every completion record repeats.
STREAMS = [number(i) for i in range(len(LEVELS))]
STATUSES = {status: status.value.encode() for status in TaskStatus}
DONE_PREFIX = [pack([b"F", stream]) for stream in STREAMS]
DONE_STATUS = pack([STATUSES[TaskStatus.DONE]])


def retry_record(
    delivery: Delivery, following: Envelope, wait: float, signing: Signing | None = None
) -> bytes:
    """Record R: the entry is acknowledged and ``following`` runs in ``wait`` seconds."""
    envelope = ENCODER.encode(following)
    if signing is not None:
        envelope = signing.sign_envelope(envelope, delivery.keys.queue, delivery.task_id)
    return pack(
        [
            b"R",
            STREAMS[delivery.stream],
            delivery.entry,
            delivery.task_id,
            envelope,
            number(round(wait * 1000)),
        ]
    )


def end_record(
    delivery: Delivery,
    status: TaskStatus,
    *,
    value: msgspec.Raw = NONE_VALUE,
    error: ErrorInfo | None,
    ttl: float,
    dead: str | None,
    task: str | None,
    signing: Signing | None = None,
) -> bytes:
    """Record F (or D, dead-lettered with its reason): the task ends with ``status``; its
    outcome signed with ``signing``, the dead letter keeping the entry's bytes as they came."""
    envelope = delivery.envelope
    outcome = ENCODER.encode(
        Outcome(
            status,
            value,
            error,
            now_ms(),
            envelope.attempt if envelope else 1,
            delivery.redeliveries + 1,
            enqueued_at=envelope.enqueued_at if envelope else 0,
            started_at=delivery.started_at,
        )
    )
    if signing is not None:
        outcome = signing.sign_outcome(outcome, delivery.keys.queue, delivery.task_id)
    values = [
        b"D" if dead else b"F",
        STREAMS[delivery.stream],
        delivery.entry,
        delivery.task_id,
        STATUSES[status],
        outcome,
        number(round(ttl * 1000)),
        envelope.reply if envelope else b"",
    ]
    if dead:
        name = task or (envelope.task if envelope else "?")
        values += [name.encode(), clean(dead).encode(), delivery.payload]
    return pack(values)


def done_record(
    delivery: Delivery,
    binding: Binding[Any, Any],
    value: msgspec.Raw,
    signing: Signing | None = None,
) -> bytes:
    """Record F for a task that returned ``value``, from pre-packed pieces."""
    envelope = delivery.envelope
    assert envelope is not None
    outcome = ENCODER.encode(
        Outcome(
            TaskStatus.DONE,
            value,
            None,
            now_ms(),
            envelope.attempt,
            delivery.redeliveries + 1,
            binding.task.fingerprint,
            envelope.enqueued_at,
            delivery.started_at,
        )
    )
    entry, task_id = delivery.entry, delivery.task_id
    if signing is not None:
        outcome = signing.sign_outcome(outcome, delivery.keys.queue, task_id)
    return b"".join((
        DONE_PREFIX[delivery.stream],
        LENGTH(len(entry)), entry,
        LENGTH(len(task_id)), task_id,
        DONE_STATUS,
        LENGTH(len(outcome)), outcome,
        binding.packed_ttl,
        LENGTH(len(envelope.reply)), envelope.reply,
    ))  # fmt: skip
