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
        #: What observers know of this run (None when the worker has no observers).
        self.run: Run | None = None
        self.runner: asyncio.Future[Any] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.cancelled: str | None = None
        #: When its handler was called, in epoch milliseconds (0: not yet).
        self.started_at = 0
