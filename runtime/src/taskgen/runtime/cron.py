"""Periodic tasks, declared on the worker side and fired once per tick across all workers.

Every worker process that declares a job computes the job's ticks itself; a Lua script
records the last tick fired per job, so however many processes race for a tick, one enqueues
it. After a restart, ticks missed while no worker ran are fired only if they are younger
than the job's ``catch_up`` window.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import msgspec
from cronsim import CronSim
from redis.exceptions import RedisError

from taskgen.runtime.faults import Backoff, describe
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.scripts import Scripts
from taskgen.runtime.signing import Signing
from taskgen.runtime.taskdef import EnqueueOptions, Seconds, TaskDef, encode_call
from taskgen.runtime.wire import now_ms

log = logging.getLogger("taskgen.worker")

A = TypeVar("A", bound=msgspec.Struct)

#: Most ticks of one job fired at once (after this worker's loop stalled for a long time).
MOST_TICKS = 100


class Cron(Generic[A]):
    """Enqueue ``task(args)`` on a cron ``schedule`` (UTC) or ``every`` so many seconds."""

    def __init__(
        self,
        task: TaskDef[A, Any],
        args: A,
        *,
        schedule: str | None = None,
        every: Seconds | None = None,
        name: str | None = None,
        catch_up: Seconds = 60.0,
    ) -> None:
        if (schedule is None) == (every is None):
            raise ValueError("give a cron schedule or an interval (every=...), exactly one")
        self.task = task
        self.args = args
        self.schedule = schedule
        self.every_ms = _ms(every) if every is not None else 0
        if every is not None and self.every_ms < 1:
            raise ValueError("every must be at least a millisecond")
        if schedule is not None:
            CronSim(schedule, datetime.datetime.now(datetime.UTC))  # fails early if invalid
        self.name = name or f"{task.name}@{schedule or f'{self.every_ms}ms'}"
        self.catch_up_ms = _ms(catch_up)

    def next_tick(self, after: int) -> int:
        """The first tick strictly after epoch millisecond ``after``."""
        if self.every_ms:
            return (after // self.every_ms + 1) * self.every_ms
        assert self.schedule is not None
        start = datetime.datetime.fromtimestamp(after / 1000, datetime.UTC)
        return int(next(CronSim(self.schedule, start)).timestamp() * 1000)

    def ticks(self, after: int, until: int) -> list[int]:
        """Every tick in (``after``, ``until``]."""
        found: list[int] = []
        tick = self.next_tick(after)
        while tick <= until:
            found.append(tick)
            tick = self.next_tick(tick)
        return found

    def __repr__(self) -> str:
        return f"Cron({self.name!r})"


class CronScheduler:
    """Sleeps until the next tick of any job, then fires the ticks that are due."""

    def __init__(
        self,
        jobs: Iterable[Cron[Any]],
        scripts: Scripts,
        prefix: str,
        signing: Signing | None = None,
    ) -> None:
        self._jobs = list(jobs)
        self._signing = signing
        self._scripts = scripts
        self._keys = {job.task.queue: QueueKeys(job.task.queue, prefix) for job in self._jobs}

    async def run(self) -> None:
        """Fire ticks until cancelled."""
        now = now_ms()
        # On start, ticks inside a job's catch-up window count as due (if nobody fired them).
        seen = {job.name: now - job.catch_up_ms for job in self._jobs}
        backoff = Backoff(first=0.5)
        while True:
            now = now_ms()
            failed = False
            for job in self._jobs:
                due = job.ticks(seen[job.name], now)
                if len(due) > MOST_TICKS:
                    log.warning(
                        "cron %s skips %d ticks missed while this worker stalled",
                        job.name,
                        len(due) - MOST_TICKS,
                    )
                for tick in due[-MOST_TICKS:]:
                    if not await self._fire(job, tick):
                        failed = True  # Redis is unreachable: this tick is tried again
                        break
                    seen[job.name] = tick
                else:
                    seen[job.name] = now
            if failed:
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
            wake = min(job.next_tick(now) for job in self._jobs)
            await asyncio.sleep(max(0.0, (wake - now_ms()) / 1000))

    async def _fire(self, job: Cron[Any], tick: int) -> bool:
        """Enqueue one tick unless another process did; False if Redis could not be reached."""
        keys = self._keys[job.task.queue]
        options = EnqueueOptions(task_id=f"cron:{job.name}:{tick}")
        task_id, level, _, envelope = encode_call(
            job.task, job.args, options, now_ms(), signing=self._signing
        )
        try:
            fired = await self._scripts.cron(
                keys=[keys.cron],
                args=[keys.base, job.name, tick, task_id, level, envelope],
            )
        except (RedisError, OSError) as exc:
            log.warning("cron %s could not fire its %d tick: %s", job.name, tick, describe(exc))
            return False
        if fired:
            log.info("cron %s fired (tick %d, task %s)", job.name, tick, task_id)
        return True


def _ms(value: Seconds) -> int:
    seconds = value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)
    return round(seconds * 1000)
