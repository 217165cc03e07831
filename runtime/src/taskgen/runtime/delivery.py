"""One stream entry handed to a worker, from receipt until its outcome is recorded."""

from __future__ import annotations

import asyncio
from typing import Any

from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.observe import Run
from taskgen.runtime.wire import Envelope


class Delivery:
    """One stream entry handed to this worker, from receipt until its outcome is recorded."""

    __slots__ = (
        "began",
        "cancelled",
        "entry",
        "envelope",
        "keys",
        "payload",
        "redeliveries",
        "run",
        "runner",
        "started_at",
        "stream",
        "task_id",
        "timer",
    )

    def __init__(
        self,
        keys: QueueKeys,
        stream: int,
        entry: bytes,
        task_id: bytes,
        payload: bytes,
        redeliveries: int,
    ) -> None:
        self.keys = keys
        self.stream = stream
        self.entry = entry
        self.task_id = task_id
        self.payload = payload
        self.redeliveries = redeliveries
        self.envelope: Envelope | None = None
        #: What observers know of this run (None until one needs it).
        self.run: Run | None = None
        #: ``time.perf_counter()`` when the handler was called (kept if the worker observes).
        self.began = 0.0
        self.runner: asyncio.Future[Any] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.cancelled: str | None = None
        #: When its handler was called, in epoch milliseconds (0: not yet).
        self.started_at = 0

    def observed(self, task: str | None = None) -> Run:
        """This run as observers see it: the one made at its start, or one made up now."""
        if self.run is not None:
            return self.run
        envelope = self.envelope
        run = Run(
            task or (envelope.task if envelope else "?"),
            envelope.id if envelope else self.task_id.decode(errors="replace"),
            self.keys.queue,
            envelope.attempt if envelope else 1,
            self.redeliveries + 1,
            envelope.enqueued_at if envelope else 0,
            envelope.trace if envelope else None,
        )
        run.started = self.began if self.started_at else None
        return run
