"""Who a worker is, as it tells every queue it serves on each lease renewal.

The record rides in the renewal's own script call (``renew.lua``), so it costs no round trip
of its own, and lives in the queue's ``heartbeats`` hash (same hash tag as the queue). A record
counts as live only while the worker's score in the queue's ``alive`` set is in the future:
a worker that stops deletes both; one that dies leaves them until its heartbeat runs out and
the next sweep (``sweep.lua``) removes them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

import msgspec

from taskgen.runtime.observe import Ending, Run, TaskObserver
from taskgen.runtime.wire import ENCODER, TaskStatus, now_ms

__all__ = ["Heartbeat", "HeartbeatWriter", "Tally"]


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


class Tally(TaskObserver):
    """The worker's own observer: what runs now, and how many runs ended (and not done)."""

    __slots__ = ("failed", "processed", "running")

    def __init__(self) -> None:
        #: Task id -> when its run started (epoch ms).
        self.running: dict[str, int] = {}
        self.processed = 0
        self.failed = 0

    def started(self, run: Run) -> None:
        """Note the run as running."""
        self.running[run.task_id] = now_ms()

    def ended(self, run: Run, ending: Ending) -> None:
        """Count the run; one that did not end done counts as failed."""
        self.running.pop(run.task_id, None)
        self.processed += 1
        if ending.status is not TaskStatus.DONE:
            self.failed += 1


class HeartbeatWriter:
    """Builds this worker's record from what does not change and its tally."""

    __slots__ = ("_fixed", "tally")

    def __init__(
        self,
        tally: Tally,
        *,
        queues: Iterable[str],
        concurrency: int,
        fingerprints: dict[str, str],
    ) -> None:
        self.tally = tally
        self._fixed = (
            socket.gethostname(),
            os.getpid(),
            tuple(queues),
            concurrency,
            now_ms(),
            _version(),
            fingerprints,
        )

    def record(self) -> bytes:
        """The record as of now, msgpack-encoded."""
        host, pid, queues, concurrency, started_at, version, fingerprints = self._fixed
        tally = self.tally
        running = tally.running
        shown = running if len(running) <= TASKS_SHOWN else dict(_first(running, TASKS_SHOWN))
        return ENCODER.encode(
            Heartbeat(
                host,
                pid,
                queues,
                concurrency,
                len(running),
                tally.processed,
                tally.failed,
                started_at,
                version,
                fingerprints,
                shown,
            )
        )


def _first(running: dict[str, int], count: int) -> Iterable[tuple[str, int]]:
    for i, item in enumerate(running.items()):
        if i >= count:
            return
        yield item


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("taskgen-runtime")
    except PackageNotFoundError:
        return "unknown"
