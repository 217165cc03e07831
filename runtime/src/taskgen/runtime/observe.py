"""What a worker tells its observers (metrics, traces, logs, its heartbeat) about each task.

An observer sees a task start inside the task's own asyncio context, so what it sets there
(e.g. a tracing span made current) is what the handler runs under, and sees it end once its
ending is recorded. A worker with no observers pays one falsy check per task.

Observers that want totals rather than each run (metrics) say ``every_run() -> False`` and
override ``tallied``: the executor then counts plain successes itself, in batches (``tally``),
and makes no ``Run`` for them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from taskgen.runtime.wire import ErrorInfo, TaskStatus

if TYPE_CHECKING:
    from taskgen.runtime.tally import Tallied, Tally

__all__ = ["Ending", "Run", "TaskObserver"]


class Run:
    """One task run as observers see it; ``notes`` is theirs to keep per-run state in."""

    __slots__ = (
        "attempt",
        "delivery",
        "enqueued_at",
        "notes",
        "queue",
        "started",
        "task",
        "task_id",
        "trace",
    )

    def __init__(
        self,
        task: str,
        task_id: str,
        queue: str,
        attempt: int,
        delivery: int,
        enqueued_at: int,
        trace: dict[str, str] | None,
    ) -> None:
        self.task = task
        self.task_id = task_id
        self.queue = queue
        #: 1 on the first try; counts retries.
        self.attempt = attempt
        #: 1 on the first delivery of this attempt; more after a worker died running it.
        self.delivery = delivery
        #: When the client enqueued the task, in epoch milliseconds.
        self.enqueued_at = enqueued_at
        #: The enqueuing side's trace context (W3C headers), if it sent one.
        self.trace = trace
        #: ``time.perf_counter()`` when the handler was called; None for a task never started.
        self.started: float | None = None
        self.notes: dict[str, Any] = {}

    @property
    def duration(self) -> float:
        """Seconds since the handler was called (0 for a task never started)."""
        return 0.0 if self.started is None else time.perf_counter() - self.started


class Ending:
    """How one run ended: its status, and whether it is retried or dead-lettered."""

    __slots__ = ("dead", "error", "retry_in", "retrying", "status")

    def __init__(
        self,
        status: TaskStatus,
        error: ErrorInfo | None = None,
        *,
        retrying: bool = False,
        dead: bool = False,
        retry_in: float = 0.0,
    ) -> None:
        #: DONE, FAILED, TIMED_OUT, ABORTED, EXPIRED or REJECTED (FAILED/TIMED_OUT when retrying).
        self.status = status
        self.error = error
        #: The run failed and another attempt is scheduled.
        self.retrying = retrying
        #: The task went to the dead-letter stream.
        self.dead = dead
        #: Seconds until the next attempt, when retrying.
        self.retry_in = retry_in


class TaskObserver:
    """Base of worker observers: override what you need; every method does nothing here."""

    def every_run(self) -> bool:
        """Whether it is told of every start and every plain success (asked once, at start).

        False: only of runs that did not simply succeed, each with a ``Run`` made at its end
        (and, if it overrides ``tallied``, of the plain successes in batches). A worker whose
        observers all say False makes no ``Run`` for a task that succeeds."""
        return True

    def started(self, run: Run) -> None:
        """The handler is about to be called, in the task's own context."""

    def ended(self, run: Run, ending: Ending) -> None:
        """The run's ending was handed to the completer (it is written in the next batch)."""

    def reclaimed(self, queue: str, count: int) -> None:
        """This worker took over ``count`` entries whose lease had run out."""

    def counting(self, tally: Tally) -> None:
        """An executor starts counting plain successes for it (if ``every_run()`` is False
        and it overrides ``tallied``); ``tally.settle`` hands over what it has counted."""

    def tallied(self, batch: Tallied) -> None:
        """Plain successes of one task on one queue (and runs a shutdown interrupted), a batch
        at a time, in the worker's event loop."""


def overrides(observer: TaskObserver, event: str) -> bool:
    """Whether the observer does something on ``event`` (the base class does nothing)."""
    return getattr(type(observer), event) is not getattr(TaskObserver, event)


def notify_started(observers: Sequence[TaskObserver], run: Run) -> None:
    """Tell every observer a run starts; an observer's error never reaches the task."""
    for observer in observers:
        try:
            observer.started(run)
        except Exception:
            complain(observer, "started")


def notify_ended(observers: Sequence[TaskObserver], run: Run, ending: Ending) -> None:
    """Tell every observer a run ended."""
    for observer in observers:
        try:
            observer.ended(run, ending)
        except Exception:
            complain(observer, "ended")


def notify_reclaimed(observers: Sequence[TaskObserver], queue: str, count: int) -> None:
    """Tell every observer about entries taken over from dead workers."""
    for observer in observers:
        try:
            observer.reclaimed(queue, count)
        except Exception:
            complain(observer, "reclaimed")


def complain(observer: TaskObserver, event: str) -> None:
    """Log an observer's failure; the task and the worker go on."""
    import logging

    logging.getLogger("taskgen.worker").exception(
        "observer %s failed on %r; the task goes on", type(observer).__qualname__, event
    )
