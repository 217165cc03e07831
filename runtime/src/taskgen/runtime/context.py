"""What a handler knows about the task it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskgen.runtime.progress import checked

if TYPE_CHECKING:
    from taskgen.runtime.progress import ProgressSink


class Context:
    """Passed to every handler as its first argument."""

    __slots__ = (
        "_reporter",
        "attempt",
        "delivery",
        "enqueued_at",
        "queue",
        "state",
        "task",
        "task_id",
    )

    def __init__(
        self,
        task_id: str,
        task: str,
        queue: str,
        attempt: int,
        delivery: int,
        enqueued_at: int,
        state: Any,
        reporter: ProgressSink | None = None,
    ) -> None:
        #: The task's id, as the client's handle knows it.
        self.task_id = task_id
        #: The task's wire name, e.g. ``billing.charge``.
        self.task = task
        self.queue = queue
        #: 1 on the first try; counts retries after failures.
        self.attempt = attempt
        #: 1 on the first delivery of this attempt; more after a worker died or shut down
        #: while running it. Deliveries are not retries: they do not use up attempts.
        self.delivery = delivery
        #: When the client enqueued the task, in epoch milliseconds.
        self.enqueued_at = enqueued_at
        #: Whatever the worker's lifespan yielded (None without a lifespan).
        self.state = state
        #: Where ``progress()`` sends reports (None: checked, then dropped).
        self._reporter = reporter

    def progress(self, value: float, message: str = "") -> None:
        """Report how far the task has got (e.g. 0.25, or items done) with an optional message.

        Cheap to call often: the worker keeps the latest report per task and writes it with
        its next batch. Readable through ``handle.progress()`` and ``taskgen task show``."""
        if self._reporter is None:
            checked(value, message)  # outside a worker (a test's context): checked, not kept
            return
        self._reporter.report(self.queue, self.task_id, value, message)

    def __repr__(self) -> str:
        return (
            f"Context(task={self.task!r}, task_id={self.task_id!r}, "
            f"attempt={self.attempt}, delivery={self.delivery})"
        )
