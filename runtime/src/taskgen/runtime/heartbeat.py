"""Who a worker is, as it tells every queue it serves on each lease renewal.

The record rides in the renewal's own script call (``renew.lua``), so it costs no round trip
of its own, and lives in the queue's ``heartbeats`` hash (same hash tag as the queue). A record
counts as live only while the worker's score in the queue's ``alive`` set is in the future:
a worker that stops deletes both; one that dies leaves them until its heartbeat runs out and
the next sweep (``sweep.lua``) removes them.
"""

from __future__ import annotations

import msgspec

__all__ = ["Heartbeat"]


class Heartbeat(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One worker process's record: where it runs, what it serves, how much it has done."""

    host: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    #: Tasks running now (started, not ended).
    running: int
    #: Runs ended since the worker started, and how many of them did not end done.
    processed: int
    failed: int
    #: When the worker started, in epoch milliseconds.
    started_at: int
    #: The taskgen-runtime version it runs.
    version: str
    #: Task wire name -> contract fingerprint, for the tasks it serves.
    fingerprints: dict[str, str]
    #: Task id -> when it started (epoch ms), for the tasks running now (at most ``TASKS_SHOWN``).
    tasks: dict[str, int] = {}


#: The most running tasks one record lists by id.
TASKS_SHOWN = 1000

HEARTBEAT = msgspec.msgpack.Decoder(Heartbeat)
