"""Recycling a worker process: stop it once it has run its share of tasks or holds too much
memory, so that its supervisor starts a fresh one (``--max-tasks-per-process``,
``--max-memory-per-process``): the cure for handlers that leak."""

from __future__ import annotations

import logging
import os
import resource
from collections.abc import Callable

log = logging.getLogger("taskgen.worker")

#: How many ended tasks apart the process looks at its memory (a read of /proc, ~10 µs).
MEMORY_CHECK_EVERY = 8


class Recycler:
    """Counts ended tasks and calls ``on_spent`` once, when the process should be replaced."""

    __slots__ = ("ended", "max_memory", "max_tasks", "on_spent", "spent")

    def __init__(
        self, on_spent: Callable[[], None], *, max_tasks: int | None, max_memory: int | None
    ) -> None:
        self.on_spent = on_spent
        self.max_tasks = max_tasks
        #: In bytes of resident memory.
        self.max_memory = max_memory
        self.ended = 0
        #: Set once the limit is reached: no further task starts in this process.
        self.spent = False

    def task_ended(self) -> None:
        """Count one ended task, and recycle if a limit is reached."""
        self.ended += 1
        if self.spent:
            return
        if self.max_tasks is not None and self.ended >= self.max_tasks:
            why = f"{self.ended} tasks ended"
        elif (
            self.max_memory is not None
            and self.ended % MEMORY_CHECK_EVERY == 0
            and (held := resident_bytes()) > self.max_memory
        ):
            why = f"it holds {held // 2**20} MiB (limit {self.max_memory // 2**20} MiB)"
        else:
            return
        self.spent = True
        log.info("%s: recycling this worker process", why)
        self.on_spent()


def resident_bytes() -> int:
    """This process's resident memory now (Linux), else its peak."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
