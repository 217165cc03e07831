"""Writing ended tasks back to Redis: one script call per queue for everything that ended
while the previous call was in flight, so acks and results coalesce under load.

While Redis is unreachable the records are kept and written once it answers again; a worker
that is shutting down waits a bounded time for that (see ``flush``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from taskgen.runtime.faults import Backoff, describe
from taskgen.runtime.flows import handoff_record
from taskgen.runtime.keys import GROUP, QueueKeys
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.wire import now_ms

log = logging.getLogger("taskgen.worker")

#: Refusals that pass (out of memory, a replica, loading, a busy script, failing over): the
#: records are kept and written again, as after a lost connection.
PASSING = ("OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "NOPERM")


def transient(refused: ResponseError) -> bool:
    """Whether Redis may accept the same write later (else the write itself is at fault)."""
    return str(refused).startswith(PASSING)


#: The width of a throughput bucket (``QueueKeys.throughput``), in milliseconds.
THROUGHPUT_BUCKET_MS = 5000

#: Seconds a progress report waits, at most, for a batch of endings to ride with: a handler
#: that reports in a loop costs at most a few writes a second, never one per report.
PROGRESS_DELAY = 0.25


class CompletionSink(Protocol):
    """Where an executor hands each ended task's packed record (``complete.lua``'s format):
    a worker's ``Completer``, or the in-process queue of ``taskgen.testing.EagerClient``."""

    #: False while records cannot be written (leases then stop taking new work).
    writing: bool

    def add(self, keys: QueueKeys, record: bytes) -> None:
        """Take one packed record."""
        ...


class Completer:
    """Buffers completion records and flushes them, batched, as soon as Redis is free."""

    def __init__(
        self,
        redis: Redis,
        scripts: Scripts,
        *,
        dead_letter_cap: int,
        relay: Callable[[QueueKeys, list[tuple[bytes, bytes]]], None] | None = None,
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self._cap = dead_letter_cap
        #: Packed records (see ``complete.lua``) waiting to be written, per queue.
        self._pending: dict[QueueKeys, list[bytes]] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        #: The latest progress record of each task that reported one since the last write.
        self._progress: dict[QueueKeys, dict[str, bytes]] = {}
        self._progress_timer: asyncio.TimerHandle | None = None
        #: The throughput bucket of each queue's last write (see ``complete.lua``).
        self._buckets: dict[QueueKeys, int] = {}
        #: The records of the write in flight.
        self._sending: dict[QueueKeys, list[bytes]] = {}
        #: False from a failed write until the next write that succeeds.
        self.writing = True
        #: Chain and chord handoffs (task id, handoff) whose records wait in ``_pending``:
        #: handed to ``relay`` once their write succeeds (see ``relay.py``).
        self._handoffs: dict[QueueKeys, list[tuple[bytes, bytes]]] = {}
        self._relay = relay

    def add_with_handoff(
        self, keys: QueueKeys, record: bytes, task_id: bytes, handoff: bytes
    ) -> None:
        """Queue the record of a chained task's ending (it holds the H record of ``handoff``);
        once it is written, the relay carries the handoff on."""
        self._handoffs.setdefault(keys, []).append((task_id, handoff))
        self.add(keys, record + handoff_record(task_id, handoff))

    def add(self, keys: QueueKeys, record: bytes) -> None:
        """Queue one packed record; it is written by the next flush."""
        batch = self._pending.get(keys)
        if batch is None:
            self._pending[keys] = [record]
        else:
            batch.append(record)
        self._wake.set()

    def add_progress(self, keys: QueueKeys, task_id: str, record: bytes) -> None:
        """Keep a task's latest progress record (replacing an unwritten one) for the next
        write: the next batch of endings, or a write of its own ``PROGRESS_DELAY`` later."""
        reports = self._progress.get(keys)
        if reports is None:
            self._progress[keys] = {task_id: record}
        else:
            reports[task_id] = record
        if self._progress_timer is None:
            loop = asyncio.get_running_loop()
            self._progress_timer = loop.call_later(PROGRESS_DELAY, self._wake.set)

    async def run(self) -> None:
        """Flush whenever records are waiting."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    @property
    def waiting(self) -> int:
        """Records not written yet."""
        batches = (*self._pending.values(), *self._sending.values())
        return sum(len(records) for records in batches)

    async def flush(self, timeout: float | None = None) -> bool:
        """Write every waiting record; on a Redis error keep them and try again.

        With a ``timeout``, give up after that many seconds and return False (the records
        stay waiting); else return True once everything is written."""
        try:
            async with asyncio.timeout(timeout):
                await self._flush()
        except TimeoutError:
            return False
        return True

    async def _flush(self) -> None:
        async with self._lock:
            backoff = Backoff(most=1.0)
            while self._pending or self._progress:
                self._take_progress()
                pending = self._sending = self._pending
                self._pending = {}
                handoffs, self._handoffs = self._handoffs, {}
                try:
                    failed = await self._write(pending)
                except BaseException as exc:
                    failed = {keys: exc for keys in pending}
                    if not isinstance(exc, (RedisError, OSError)):
                        self._keep(pending, failed, handoffs)
                        raise
                self._sending = {}
                self._pass_on(handoffs, failed)
                if self._keep(pending, failed, handoffs):
                    self.writing = False
                    first = next(iter(failed.values()))
                    log.warning(
                        "writing %d queue(s) of results failed, retrying: %s",
                        len(failed),
                        describe(first),
                    )
                    await asyncio.sleep(backoff.next())
                else:
                    self.writing = True

    def _pass_on(
        self,
        handoffs: dict[QueueKeys, list[tuple[bytes, bytes]]],
        failed: dict[QueueKeys, BaseException],
    ) -> None:
        """Hand the relay the handoffs whose endings are now stored."""
        if self._relay is None:
            return
        for keys, carried in handoffs.items():
            if keys not in failed:
                self._relay(keys, carried)

    def _keep(
        self,
        pending: dict[QueueKeys, list[bytes]],
        failed: dict[QueueKeys, BaseException],
        handoffs: dict[QueueKeys, list[tuple[bytes, bytes]]],
    ) -> bool:
        """Put the records of failed writes back, except those Redis refused for good (one
        queue's broken key must not hold every other queue's results); True if any went back."""
        kept = False
        for keys, exc in failed.items():
            records = pending[keys]
            if isinstance(exc, ResponseError) and not transient(exc):
                log.error(
                    "Redis refused the results of %d task(s) of queue %s, dropped: %s; their "
                    "tasks run again once their lease expires (mend the queue's keys)",
                    len(records),
                    keys.queue,
                    describe(exc),
                )
                continue
            self._pending.setdefault(keys, []).extend(records)
            if keys in handoffs:
                self._handoffs.setdefault(keys, []).extend(handoffs[keys])
            kept = True
        return kept

    def _take_progress(self) -> None:
        """Progress records go first in their queue's batch, before any task's ending."""
        if self._progress_timer is not None:
            self._progress_timer.cancel()
            self._progress_timer = None
        for keys, reports in self._progress.items():
            self._pending[keys] = [*reports.values(), *self._pending.get(keys, ())]
        self._progress = {}

    async def _write(self, pending: dict[QueueKeys, list[bytes]]) -> dict[QueueKeys, BaseException]:
        """One script call per queue, pipelined; the queues whose call failed, and why."""
        if len(pending) == 1:
            ((keys, records),) = pending.items()
            try:
                await self._call(keys, records, self._redis)
            except ResponseError as refused:
                return {keys: refused}
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, records in pending.items():
                await self._call(keys, records, pipe)
            results = await pipe.execute(raise_on_error=False)
        return {
            keys: result
            for keys, result in zip(pending, results, strict=True)
            if isinstance(result, BaseException)
        }

    async def _call(self, keys: QueueKeys, records: list[bytes], client: Any) -> Any:
        bucket = now_ms() // THROUGHPUT_BUCKET_MS
        new_bucket = self._buckets.get(keys) != bucket
        self._buckets[keys] = bucket
        return await self._scripts.complete(
            keys=[*keys.streams, keys.delayed, keys.dead, keys.retrying, keys.throughput],
            args=[keys.base, b"".join(records), GROUP, self._cap, bucket, 1 if new_bucket else 0],
            client=client,
        )
