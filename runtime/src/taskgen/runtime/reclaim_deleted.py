"""Pending entries deleted from their stream: tasks that nothing can run any more.

taskgen itself deletes an entry only once it is acknowledged, so a pending entry that is gone
was removed from outside (XDEL, XTRIM, a stream MAXLEN). Its envelope went with it, so the
task cannot be run, retried or dead-lettered: the reclaim script drops the entry from the
pending list (Redis 7 does so itself; Redis 6.2 would hand it out as nil forever) and the
worker says which entries were lost, so the loss is never silent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from taskgen.runtime.keys import QueueKeys

log = logging.getLogger("taskgen.worker")


def report_deleted(keys: QueueKeys, gone: Sequence[bytes | int]) -> None:
    """Log the pending entries of ``keys``' queue found deleted (flat: stream index, entry id)."""
    entries = [f"{keys.streams[int(gone[i])]} {_text(gone[i + 1])}" for i in range(0, len(gone), 2)]
    log.warning(
        "%d task(s) of queue %s lost: their entries were deleted from the ready stream while "
        "a worker held them (XDEL or XTRIM by something other than taskgen?), so nothing can "
        "run them; enqueue them again if they are still needed: %s",
        len(entries),
        keys.queue,
        ", ".join(entries),
    )


def _text(value: bytes | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
