"""The Redis layout of one queue.

Every key of a queue shares the hash tag ``{queue}``, so a queue lives in one Redis Cluster
slot (its Lua scripts may touch all of its keys) while different queues spread across slots.
"""

from __future__ import annotations

from taskgen.vocabulary import Priority

GROUP = "taskgen"

#: Stream index → priority level, highest first: the order workers read in.
LEVELS: tuple[Priority, ...] = tuple(sorted(Priority, reverse=True))


class QueueKeys:
    """Names of the keys and channels of one queue."""

    __slots__ = ("base", "control", "cron", "dead", "delayed", "queue", "streams")

    def __init__(self, queue: str, prefix: str = "taskgen") -> None:
        self.queue = queue
        self.base = f"{prefix}:{{{queue}}}"
        #: One ready stream per priority level, in ``LEVELS`` order (highest first).
        self.streams = tuple(f"{self.base}:ready:{int(level)}" for level in LEVELS)
        self.delayed = f"{self.base}:delayed"
        self.dead = f"{self.base}:dead"
        self.control = f"{self.base}:control"
        self.cron = f"{self.base}:cron"

    def stream(self, priority: int) -> str:
        """The ready stream of a priority level."""
        return f"{self.base}:ready:{priority}"

    def task(self, task_id: str) -> str:
        """The hash that holds a task's state and, once it ends, its outcome."""
        return f"{self.base}:task:{task_id}"

    def done_channel(self, task_id: str) -> str:
        """The channel on which a task's outcome is published when it ends."""
        return f"{self.base}:done:{task_id}"
