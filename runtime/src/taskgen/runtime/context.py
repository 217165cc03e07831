"""What a handler knows about the task it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from taskgen.runtime.progress import checked

if TYPE_CHECKING:
    from taskgen.runtime.progress import ProgressSink, ProgressType

P = TypeVar("P")


class TaskContext:
    """What every handler's context holds; ``Context`` and ``ProgressContext`` add ``progress``."""

    __slots__ = (
        "_progress_type",
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
        progress_type: ProgressType[Any] | None = None,
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
        #: The contract's progress type of the task (None: a number and a message).
        self._progress_type = progress_type

    def _send(self, record: bytes) -> None:
        if self._reporter is not None:  # None outside a worker (a test's context)
            self._reporter.report(self.queue, self.task_id, record)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(task={self.task!r}, task_id={self.task_id!r}, "
            f"attempt={self.attempt}, delivery={self.delivery})"
        )


class Context(TaskContext):
    """Passed to every handler as its first argument (``ProgressContext`` where the contract
    declares the task's progress type)."""

    __slots__ = ()

    def progress(self, value: float, message: str = "") -> None:
        """Report how far the task has got (e.g. 0.25, or items done) with an optional message.

        Cheap to call often: the worker keeps the latest report per task and writes it with
        its next batch. Readable through ``handle.progress()`` and ``taskgen task show``."""
        self._send(checked(value, message))


class ProgressContext(TaskContext, Generic[P]):
    """The context of a task whose contract declares a progress type ``P``."""

    __slots__ = ()

    def progress(self, value: P) -> None:
        """Report how far the task has got, as a value of the contract's progress type.

        A value of another type raises ``TypeError`` here, in the handler. Cheap to call
        often, like ``Context.progress``; readable through ``handle.progress()``, typed."""
        if self._progress_type is None:
            raise TypeError(
                f"task {self.task} declares no progress type: report with "
                "ctx.progress(value, message) on a Context"
            )
        self._send(self._progress_type.record(self.task, value))


def context_type(progress_type: ProgressType[Any] | None) -> type[TaskContext]:
    """The context class of a task: ``ProgressContext`` if it declares a progress type."""
    return Context if progress_type is None else ProgressContext
