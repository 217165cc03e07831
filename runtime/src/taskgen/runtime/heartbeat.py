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
from typing import TYPE_CHECKING

import msgspec

from taskgen.runtime.wire import ENCODER, now_ms

if TYPE_CHECKING:
    from taskgen.runtime.execution import Executor

__all__ = ["Heartbeat", "HeartbeatWriter"]


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


class HeartbeatWriter:
    """Builds this worker's record from what does not change and its executor's state.

    Reading the executor once per renewal, rather than observing every task, keeps the
    per-task cost at the executor's two integer increments."""

    __slots__ = ("_executor", "_fixed")

    def __init__(
        self,
        executor: Executor,
        *,
        queues: Iterable[str],
        concurrency: int,
        fingerprints: dict[str, str],
    ) -> None:
        self._executor = executor
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
        executor = self._executor
        running = {
            delivery.envelope.id: delivery.started_at
            for held in executor.inflight.values()
            for delivery in held.values()
            if delivery.started_at and delivery.envelope is not None
        }
        return ENCODER.encode(
            Heartbeat(
                host,
                pid,
                queues,
                concurrency,
                len(running),
                executor.processed,
                executor.failed,
                started_at,
                version,
                fingerprints,
                running if len(running) <= TASKS_SHOWN else dict(_first(running, TASKS_SHOWN)),
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
