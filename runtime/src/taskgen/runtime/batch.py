"""Preparing ``enqueue_many``: every call is encoded and checked before anything is sent.

So one call that cannot be encoded fails the whole batch with nothing enqueued, and a batch
that fails while it is being sent fails with the handles of the tasks already enqueued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from taskgen.runtime.errors import EnqueueFailed, PayloadTooLarge
from taskgen.runtime.limits import MAX_ENVELOPE_BYTES
from taskgen.runtime.taskdef import Call, pack_call
from taskgen.runtime.wire import new_task_ids

if TYPE_CHECKING:
    from taskgen.runtime.signing import Signing

#: Most tasks sent in one script call, so one call never holds Redis for long.
ENQUEUE_CHUNK = 1000


class Chunk(NamedTuple):
    """Calls of one queue, encoded for one enqueue script call."""

    queue: str
    calls: list[Call[Any]]
    ids: list[str]
    records: bytes


def encode_calls(
    calls: list[Call[Any]],
    now: int,
    reply: bytes = b"",
    trace: dict[str, str] | None = None,
    limit: int = MAX_ENVELOPE_BYTES,
    signing: Signing | None = None,
) -> list[Chunk]:
    """Every call encoded (and signed, with ``signing``), grouped by queue in chunks of at most
    ``ENQUEUE_CHUNK``, in order; raises ``EnqueueFailed`` naming the first call that cannot be
    encoded (``PayloadTooLarge`` if it is over ``limit`` bytes)."""
    by_queue: dict[str, tuple[list[Call[Any]], list[str], list[bytes]]] = {}
    fresh = iter(new_task_ids(len(calls)))
    for position, call in enumerate(calls):
        try:
            task_id, record = pack_call(
                call.task,
                call.args,
                call.options,
                now,
                call.options.task_id or next(fresh),
                reply,
                trace,
                limit,
                signing,
            )
        except PayloadTooLarge as exc:
            raise PayloadTooLarge(
                task=exc.task, size=exc.size, limit=exc.limit, position=position
            ) from None
        except (msgspec.EncodeError, TypeError, ValueError, OverflowError, RecursionError) as exc:
            raise EnqueueFailed(
                f"enqueue_many: call #{position} ({call.task.name}) cannot be encoded: {exc}; "
                "nothing was enqueued: fix or drop that call and enqueue the batch again",
                handles=[],
            ) from exc
        group = by_queue.setdefault(call.task.queue, ([], [], []))
        group[0].append(call)
        group[1].append(task_id)
        group[2].append(record)
    return [
        Chunk(
            queue,
            group_calls[i : i + ENQUEUE_CHUNK],
            ids[i : i + ENQUEUE_CHUNK],
            b"".join(records[i : i + ENQUEUE_CHUNK]),
        )
        for queue, (group_calls, ids, records) in by_queue.items()
        for i in range(0, len(group_calls), ENQUEUE_CHUNK)
    ]


def was_created(call: Call[Any], flag: int) -> bool:
    """Whether the enqueue script's answer means this client created the task.

    An id the client generated is new, so finding it taken means an earlier attempt of this
    very call went through (the call was sent again after a timeout): the task is still ours."""
    return flag == 1 or call.options.task_id is None


def incomplete(
    handles: list[Any], failed: Chunk, total: int, cause: BaseException
) -> EnqueueFailed:
    """The error for a batch whose sending failed at ``failed``, after ``handles`` went."""
    return EnqueueFailed(
        f"enqueue_many: sending failed after {len(handles)} of {total} tasks were enqueued: "
        f"{cause!r}; error.handles holds those; the {len(failed.ids)} of the call that failed "
        "(error.uncertain, their ids) may be enqueued in part or not at all, and the rest were "
        "not sent: enqueue what is missing again (an uncertain one under its id, with "
        "options(task_id=...), so it cannot run twice)",
        handles=handles,
        uncertain=list(failed.ids),
    )
