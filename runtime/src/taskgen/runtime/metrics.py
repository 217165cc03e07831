"""Prometheus metrics of a worker: task counts and durations, running tasks, lease takeovers,
and each queue's depth, read from Redis when scraped.

Needs the ``metrics`` extra (``prometheus-client``). ``taskgen worker --metrics-port`` serves
them; in your own process, register ``WorkerMetrics`` (and ``QueueGauges``) and add the first
to ``Worker(observers=[...])``. Counting costs a few integer additions per task: the numbers
are kept in plain Python objects and turned into metric families only when scraped.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from time import perf_counter

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from taskgen.runtime.connection import redis_from_url
from taskgen.runtime.keys import DEFAULT_PREFIX
from taskgen.runtime.observe import Ending, Run, TaskObserver
from taskgen.runtime.wire import TaskStatus

#: Upper bounds of the duration histogram's buckets, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

DONE = TaskStatus.DONE
FAILURES = {TaskStatus.FAILED, TaskStatus.TIMED_OUT}

#: Counter name (after ``taskgen_tasks_``), its help, and the ``TaskCounts`` slot it reads.
COUNTERS = (
    ("started", "Task runs started (the handler was called)."),
    ("succeeded", "Task runs that returned a value."),
    ("failed", "Task runs that failed or timed out, retried or not."),
    ("retried", "Failed task runs after which another attempt was scheduled."),
    ("dead_lettered", "Tasks moved to the dead-letter stream (failed for good, or rejected)."),
)


class Durations:
    """A histogram of one task's run durations: a count per bucket, their sum."""

    __slots__ = ("buckets", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.buckets = [0] * (len(bounds) + 1)
        self.sum = 0.0


class TaskCounts:
    """The counts of one task on one queue, and its task's duration histogram."""

    __slots__ = (
        "dead_lettered",
        "durations",
        "failed",
        "retried",
        "running",
        "started",
        "succeeded",
    )

    def __init__(self, durations: Durations) -> None:
        self.started = self.succeeded = self.failed = self.retried = 0
        self.dead_lettered = self.running = 0
        self.durations = durations


class WorkerMetrics(TaskObserver, Collector):
    """A worker observer that is also a Prometheus collector of what it observed."""

    def __init__(self, buckets: Sequence[float] = DURATION_BUCKETS) -> None:
        self.bounds = tuple(sorted(buckets))
        self.counts: dict[tuple[str, str], TaskCounts] = {}
        self.durations: dict[str, Durations] = {}
        self.takeovers: dict[str, int] = {}

    # -- observing (in the worker's event loop) --------------------------------------------

    # Inlined lookups and no helper calls on the common path: this runs twice per task.

    def started(self, run: Run) -> None:
        """Count the start; the run is running until it ends."""
        counts = self.counts.get((run.task, run.queue)) or self._add(run)
        counts.started += 1
        counts.running += 1

    def ended(self, run: Run, ending: Ending) -> None:
        """Count how the run ended, and its duration if it ran."""
        counts = self.counts.get((run.task, run.queue)) or self._add(run)
        status = ending.status
        if status is DONE:
            counts.succeeded += 1
        elif status in FAILURES:
            counts.failed += 1
        if ending.retrying:
            counts.retried += 1
        if ending.dead:
            counts.dead_lettered += 1
        started = run.started
        if started is not None:
            counts.running -= 1
            seconds = perf_counter() - started
            durations = counts.durations
            # The first bucket whose upper bound holds it (Prometheus buckets are "le").
            durations.buckets[bisect_left(self.bounds, seconds)] += 1
            durations.sum += seconds

    def took(self, task: str, seconds: float) -> None:
        """Add one run's duration to its task's histogram."""
        durations = self._durations(task)
        durations.buckets[bisect_left(self.bounds, seconds)] += 1
        durations.sum += seconds

    def _add(self, run: Run) -> TaskCounts:
        counts = TaskCounts(self._durations(run.task))
        self.counts[(run.task, run.queue)] = counts
        return counts

    def _durations(self, task: str) -> Durations:
        durations = self.durations.get(task)
        if durations is None:
            durations = self.durations[task] = Durations(self.bounds)
        return durations

    def reclaimed(self, queue: str, count: int) -> None:
        """Count entries taken over from workers whose lease ran out."""
        self.takeovers[queue] = self.takeovers.get(queue, 0) + count

    # -- scraping (in the HTTP server's thread) --------------------------------------------

    def collect(self) -> Iterable[Metric]:
        """The metric families, from a snapshot of the counts."""
        counts = list(self.counts.items())  # a copy: the event loop may add keys meanwhile
        for name, doc in COUNTERS:
            family = CounterMetricFamily(f"taskgen_tasks_{name}", doc, labels=["task", "queue"])
            for (task, queue), numbers in counts:
                family.add_metric([task, queue], getattr(numbers, name))
            yield family
        running = GaugeMetricFamily(
            "taskgen_tasks_running", "Task runs in progress.", labels=["task", "queue"]
        )
        for (task, queue), numbers in counts:
            running.add_metric([task, queue], numbers.running)
        yield running
        histogram = HistogramMetricFamily(
            "taskgen_task_duration_seconds",
            "How long task runs took, from the handler's call to its ending.",
            labels=["task"],
        )
        for task, durations in list(self.durations.items()):
            buckets = list(durations.buckets)
            if any(buckets):  # a task none of whose runs started (all rejected) has none
                histogram.add_metric([task], _cumulative(self.bounds, buckets), durations.sum)
        yield histogram
        takeovers = CounterMetricFamily(
            "taskgen_lease_takeovers",
            "Entries this worker took over after their worker's lease ran out.",
            labels=["queue"],
        )
        for queue, count in list(self.takeovers.items()):
            takeovers.add_metric([queue], count)
        yield takeovers


def _cumulative(bounds: Sequence[float], buckets: list[int]) -> list[tuple[str, float]]:
    total = 0
    cumulative: list[tuple[str, float]] = []
    for bound, count in zip([*map(repr, map(float, bounds)), "+Inf"], buckets, strict=True):
        total += count
        cumulative.append((bound, total))
    return cumulative


#: Gauge name (after ``taskgen_queue_``) and its help.
QUEUE_GAUGES = (
    ("ready", "Tasks ready and not taken by a worker yet."),
    ("scheduled", "Tasks delayed at enqueue, waiting for their time."),
    ("retrying", "Tasks waiting for their next attempt."),
    ("running", "Tasks taken by a worker (leased)."),
    ("dead", "Letters in the dead-letter stream."),
)


class QueueGauges(Collector):
    """Each queue's depth and its oldest task's wait, read from Redis at scrape time."""

    def __init__(
        self, redis_url: str, queues: Sequence[str], *, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.redis_url = redis_url
        self.queues = list(queues)
        self.prefix = prefix

    def describe(self) -> Iterable[Metric]:
        """The families, without asking Redis (registration calls this)."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        """Every queue's numbers, in one pipelined round trip."""
        from taskgen.runtime.inspect import queues_stats

        async def read() -> list[tuple[str, dict[str, float], float | None]]:
            redis = redis_from_url(self.redis_url, socket_timeout=5, socket_connect_timeout=5)
            try:
                found = await queues_stats(redis, self.queues, prefix=self.prefix)
            finally:
                await redis.aclose()
            return [
                (
                    s.queue,
                    {
                        "ready": s.ready_total,
                        "scheduled": s.scheduled,
                        "retrying": s.retrying,
                        "running": s.running,
                        "dead": s.dead,
                    },
                    s.oldest_wait,
                )
                for s in found
            ]

        # The scrape runs in the HTTP server's thread, which has no event loop of its own.
        return self._families(asyncio.run(read()))

    def _families(
        self, stats: Sequence[tuple[str, dict[str, float], float | None]] = ()
    ) -> list[Metric]:
        families: list[Metric] = []
        for name, doc in QUEUE_GAUGES:
            family = GaugeMetricFamily(f"taskgen_queue_{name}", doc, labels=["queue"])
            for queue, numbers, _ in stats:
                family.add_metric([queue], numbers[name])
            families.append(family)
        oldest = GaugeMetricFamily(
            "taskgen_queue_oldest_age_seconds",
            "How long the oldest ready task has waited to be taken (0 when none waits).",
            labels=["queue"],
        )
        for queue, _, wait in stats:
            oldest.add_metric([queue], wait or 0.0)
        families.append(oldest)
        return families


def serve_metrics(
    port: int,
    observers: list[TaskObserver],
    *,
    redis_url: str,
    queues: Sequence[str],
    prefix: str = DEFAULT_PREFIX,
    address: str = "0.0.0.0",
) -> WorkerMetrics:
    """Serve a worker's metrics on ``http://address:port/metrics``; adds the observer."""
    registry = CollectorRegistry()
    metrics = WorkerMetrics()
    registry.register(metrics)
    registry.register(QueueGauges(redis_url, queues, prefix=prefix))
    start_http_server(port, address, registry)
    observers.append(metrics)
    return metrics
