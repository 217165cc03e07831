"""What a handler knows about the task it runs."""

from __future__ import annotations

from typing import Any


class Context:
    """Passed to every handler as its first argument."""

    __slots__ = ("attempt", "delivery", "enqueued_at", "queue", "state", "task", "task_id")

    def __init__(
        self,
        task_id: str,
        task: str,
        queue: str,
        attempt: int,
        delivery: int,
        enqueued_at: int,
        state: Any,
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

    def __repr__(self) -> str:
        return (
            f"Context(task={self.task!r}, task_id={self.task_id!r}, "
            f"attempt={self.attempt}, delivery={self.delivery})"
        )
