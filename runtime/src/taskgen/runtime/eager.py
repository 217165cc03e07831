"""An in-process queue for tests: a client ``Backend`` whose tasks run on the worker's own
``Executor``, with no Redis.

It takes the packed records a client sends to ``enqueue.lua`` and hands each task to the
executor as a worker's reader would; the executor hands back the packed records a worker's
completer sends to ``complete.lua``, and they are read back the way that script reads them:
an ending stores the outcome its handle returns, a retry queues the next attempt. So decoding,
the argument check, the handler call, its timeout, the retry policy, the result check and the
error text are the worker's, not a copy of them. What it leaves out: delays and retry backoff
are not waited for, and priorities do not reorder anything.
"""

from __future__ import annotations

import itertools
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from taskgen.runtime.binding import Binding
from taskgen.runtime.delivery import Delivery
from taskgen.runtime.execution import Executor
from taskgen.runtime.keys import LEVELS, QueueKeys
from taskgen.runtime.packing import unpack
from taskgen.runtime.signing import Signing, unverified
from taskgen.runtime.slots import Slots
from taskgen.runtime.wire import OUTCOME, TaskStatus
from taskgen.vocabulary import Priority

#: Values per task in an enqueue record: id, level, delay, envelope, reply channel.
ENQUEUE_VALUES = 5


class EagerQueue:
    """Runs every task it is given at once, through an ``Executor``, and keeps the outcomes."""

    #: The executor's completer may always write (see ``CompletionSink``).
    writing = True
    #: Outcomes are read where they are stored: no reply channel.
    reply = b""

    def __init__(
        self,
        bindings: dict[str, Binding[Any, Any]],
        *,
        state: Any = None,
        threads: int = 8,
        signing: Signing | None = None,
    ) -> None:
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="taskgen-eager")
        self._slots = Slots(1)
        self._executor = Executor(
            bindings, self, self._slots, self._threads, state=state, reporter=self, signing=signing
        )
        self._entries = itertools.count(1)
        self._pending: deque[Delivery] = deque()
        #: Every task id ever queued here; an outcome once the task has ended.
        self._tasks: dict[str, bytes | None] = {}
        #: The latest progress report of each task (an encoded ``Progress``, or a typed record).
        self._progress: dict[str, bytes] = {}

    # -- the client's side (Backend) -------------------------------------------------------

    async def enqueue(self, keys: QueueKeys, records: bytes) -> list[int]:
        """Queue each new task id (to be started by ``run``); 0 for an id already known."""
        values = unpack(records)
        created: list[int] = []
        for at in range(0, len(values), ENQUEUE_VALUES):
            task_id, level, _delay, envelope, _reply = values[at : at + ENQUEUE_VALUES]
            if task_id.decode() in self._tasks:
                created.append(0)
                continue
            self._tasks[task_id.decode()] = None
            stream = LEVELS.index(Priority(int(level)))
            self._pending.append(self._delivery(keys, stream, task_id, envelope))
            created.append(1)
        return created

    def expect(self, keys: QueueKeys, task_id: str) -> None:
        """Nothing to expect: there is no reply channel."""

    async def wait(self, keys: QueueKeys, task_id: str, timeout: float | None) -> bytes | None:
        """The stored outcome; None for a task that has not ended (or is unknown)."""
        return self._tasks.get(task_id)

    async def status(self, keys: QueueKeys, task_id: str) -> TaskStatus:
        """How the task ended; ``queued`` before ``run`` started it, else ``unknown``."""
        if task_id not in self._tasks:
            return TaskStatus.UNKNOWN
        outcome = self._tasks[task_id]
        return TaskStatus.QUEUED if outcome is None else OUTCOME.decode(unverified(outcome)).status

    async def progress(self, keys: QueueKeys, task_id: str) -> bytes | None:
        """The latest progress its handler reported."""
        return self._progress.get(task_id)

    async def abort(self, keys: QueueKeys, task_id: str, outcome: bytes, ttl_ms: int) -> bool:
        """Too late: ``EagerClient`` runs each task before its enqueue returns."""
        return False

    async def close(self) -> None:
        """Let go of the handler threads (one that still runs is not waited for)."""
        self._threads.shutdown(wait=False, cancel_futures=True)

    # -- the worker's side -----------------------------------------------------------------

    async def run(self) -> None:
        """Start every queued task (retries included) and wait for each to end."""
        while self._pending:
            delivery = self._pending.popleft()
            self._slots.take_now(1)
            self._executor.hold(delivery)
            self._executor.start(delivery)
            if delivery.runner is not None:
                await delivery.runner

    def add(self, keys: QueueKeys, record: bytes) -> None:
        """A record of ``complete.lua``: an ending (F, D) or a retry (R)."""
        kind, stream, _entry, task_id, *rest = unpack(record)
        if kind == b"R":
            envelope = rest[0]
            self._pending.append(self._delivery(keys, int(stream), task_id, envelope))
        else:
            self._tasks[task_id.decode()] = rest[1]

    def report(self, queue: str, task_id: str, record: bytes) -> None:
        """A handler's ``ctx.progress()``: kept as the task's latest (``ProgressSink``)."""
        self._progress[task_id] = record

    def _delivery(self, keys: QueueKeys, stream: int, task_id: bytes, envelope: bytes) -> Delivery:
        entry = b"%d-0" % next(self._entries)
        return Delivery(keys, stream, entry, task_id, envelope, 0)
