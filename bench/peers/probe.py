"""Counts finished tasks in Redis without adding a round trip per task.

Every library's task body calls ``PROBE.done()``. It only bumps an in-process counter and notes
the time; one background flush at a time sends ``INCRBY`` with everything that finished since the
last flush, plus this process's first and latest finish times, and then waits ``FLUSH_EVERY``
before the next. So a process flushes at most 200 times a second, however fast it finishes tasks:
the measurement costs a fast library as little as a slow one (flushing after every batch instead
cost taskgen's worker about 5 µs of its 25 µs of CPU per task, a fifth, and a library that ends
500 tasks in one go almost nothing). The finish times are taken when each task ends, not when
they are flushed, so the wait does not move the measured time. The harness waits for
``bench:count`` to reach N and takes the latest ``bench:last:*`` stamp as the moment the Nth task
finished. Runs in every virtualenv, so it needs only redis-py's asyncio client.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from redis.asyncio import Redis

COUNT_KEY = "bench:count"
#: Seconds between two flushes of one process (longer under valgrind: ``overhead_valgrind``
#: counts instructions per task, and a flush's cost spread over the tasks since the last one
#: would otherwise vary with how fast the machine runs them).
FLUSH_EVERY = float(os.environ.get("BENCH_PROBE_FLUSH_EVERY", "0.005"))
FIRST_KEY = "bench:first:"
LAST_KEY = "bench:last:"


class Probe:
    """Finished-task counter of one worker process."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._redis: Redis | None = None
        self._pending = 0
        self._first = 0.0
        self._last = 0.0
        self._flushing: asyncio.Task[None] | None = None
        # Holds the flush task: the event loop keeps only a weak reference to it.
        self._tasks: set[Any] = set()

    def done(self) -> None:
        """Record one finished task; must be called from the worker's event loop."""
        now = time.time()
        if not self._first:
            self._first = now
        self._last = now
        self._pending += 1
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
            self._tasks.add(self._flushing)
            self._flushing.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        try:
            if self._redis is None:
                self._redis = Redis.from_url(self._url)
            me = str(os.getpid())
            while self._pending:
                count, self._pending = self._pending, 0
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.set(FIRST_KEY + me, repr(self._first), nx=True)
                    pipe.set(LAST_KEY + me, repr(self._last))
                    pipe.incrby(COUNT_KEY, count)
                    await pipe.execute()
                await asyncio.sleep(FLUSH_EVERY)
        finally:
            self._flushing = None


PROBE = Probe(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
