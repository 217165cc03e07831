"""The Redis layout of one queue.

Every key of a queue shares the hash tag ``{queue}``, so a queue lives in one Redis Cluster
slot (its Lua scripts may touch all of its keys) while different queues spread across slots.
"""

from __future__ import annotations

from taskgen.vocabulary import Priority

GROUP = "taskgen"

#: The default first part of every key, so several deployments can share one server.
DEFAULT_PREFIX = "taskgen"

#: Where a worker, the CLI and the dashboard look for Redis when given no URL.
DEFAULT_URL = "redis://localhost:6379/0"

#: The fields of a task's hash (``QueueKeys.task``), one letter each to keep a hash per task
#: small. Scripts spell them as literals; tests/runtime/test_layout.py checks that every field
#: a script or the code uses is here, so one letter never takes two meanings.
TASK_FIELDS: dict[str, str] = {
    "s": "status: queued, scheduled, running (derived), done, failed, ...",
    "l": "priority level: the index of its ready stream",
    "e": "the id of its entry in the ready stream",
    "p": "the envelope of a delayed or retrying task, until it is promoted",
    "r": "redeliveries: how often its entry was taken over or handed back",
    "c": "the reply channel of the client that enqueued it ('' for none)",
    "a": "abort requested while a worker runs it",
    "o": "the outcome, once it has ended",
    "d": "the id of its dead-letter entry, once it was dead-lettered",
    "g": "its latest progress report (msgpack ``Progress`` or ``TypedRecord``), running or ended",
    "k": "its flow record (concurrency, rate and unique keys: ``flow.py``), if it has one",
    "q": "set once a flow-controlled task was admitted: it holds its slot and its rate token",
}

#: The field that holds a task's outcome.
OUTCOME = "o"

#: The field that holds a task's latest progress report.
PROGRESS = "g"

#: Stream index → priority level, highest first: the order workers read in.
LEVELS: tuple[Priority, ...] = tuple(sorted(Priority, reverse=True))


def queues_key(prefix: str = DEFAULT_PREFIX) -> str:
    """The set of queue names that workers add theirs to when they start."""
    return f"{prefix}:queues"


class QueueKeys:
    """Names of the keys and channels of one queue."""

    __slots__ = (
        "alive",
        "base",
        "control",
        "cron",
        "dead",
        "delayed",
        "handoff",
        "heartbeats",
        "queue",
        "retrying",
        "streams",
        "throughput",
    )

    def __init__(self, queue: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.queue = queue
        self.base = f"{prefix}:{{{queue}}}"
        #: One ready stream per priority level, in ``LEVELS`` order (highest first).
        self.streams = tuple(f"{self.base}:ready:{int(level)}" for level in LEVELS)
        self.delayed = f"{self.base}:delayed"
        self.dead = f"{self.base}:dead"
        self.control = f"{self.base}:control"
        self.cron = f"{self.base}:cron"
        #: Worker liveness: consumer name -> when its heartbeat runs out (epoch ms).
        self.alive = f"{self.base}:alive"
        #: Who the live workers are: consumer name -> msgpack ``Heartbeat`` (``heartbeat.py``).
        self.heartbeats = f"{self.base}:heartbeats"
        #: The ids of the tasks in ``delayed`` that wait to be retried (the rest are scheduled).
        self.retrying = f"{self.base}:retrying"
        #: Tasks ended per 5-second bucket, the last 16 buckets (see ``complete.lua``).
        self.throughput = f"{self.base}:throughput"
        #: Chain and chord handoffs written with their task's ending, not yet relayed:
        #: task id -> msgpack ``flows.Handoff`` (see ``relay.py``).
        self.handoff = f"{self.base}:handoff"

    def chord(self, chord_id: str) -> str:
        """The hash that gathers a chord's member values until its callback is enqueued."""
        return f"{self.base}:chord:{chord_id}"

    def task(self, task_id: str) -> str:
        """The hash that holds a task's state and, once it ends, its outcome."""
        return f"{self.base}:task:{task_id}"

    def done_channel(self, task_id: str) -> str:
        """The channel on which a task's outcome is published when it ends."""
        return f"{self.base}:done:{task_id}"
