"""Prometheus metrics of a worker: task counts and durations, running tasks, lease takeovers,
and each queue's depth, read from Redis when scraped.

Needs the ``metrics`` extra (``prometheus-client``). ``taskgen worker --metrics-port`` serves
them; in your own process, register ``WorkerMetrics`` (and ``QueueGauges``) and add the first
to ``Worker(observers=[...])``. A task that succeeds costs a clock read and a list append (the
executor's tally, see ``taskgen.runtime.tally``): its counts and durations arrive in batches,
are kept in plain Python objects, and are turned into metric families only when scraped.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left, bisect_right
from collections import Counter
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
from taskgen.runtime.tally import SETTLE_TIMEOUT, Tallied, Tally
from taskgen.runtime.wire import TaskStatus

#: Upper bounds of the duration histogram's buckets, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

DONE = TaskStatus.DONE
FAILURES = {TaskStatus.FAILED, TaskStatus.TIMED_OUT}

#: Counter name (after ``taskgen_tasks_``) and its help, in the order of ``Row``'s numbers.
COUNTERS = (
    ("started", "Task runs started (the handler was called)."),
    ("succeeded", "Task runs that returned a value."),
    ("failed", "Task runs that failed or timed out, retried or not."),
    ("retried", "Failed task runs after which another attempt was scheduled."),
    ("dead_lettered", "Tasks moved to the dead-letter stream (failed for good, or rejected)."),
)

#: One task on one queue, read at one moment: task, queue, its ``COUNTERS``, its running runs.
Row = tuple[str, str, tuple[int, ...], int]


class Durations:
    """A histogram of one task's run durations: a count per bucket, their sum."""

    __slots__ = ("bounds", "buckets", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def add(self, seconds: float) -> None:
        """Count one duration in the first bucket whose upper bound holds it ("le")."""
        self.buckets[bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    def add_many(self, durations: list[float]) -> None:
        """Count a batch: one addition when it fits one bucket (the usual case), else a
        bisection per bound into the sorted batch rather than one per duration."""
        bounds, buckets = self.bounds, self.buckets
        total = sum(durations)
        self.sum += total
        # Durations are never negative: if their sum fits the first bucket, each one does.
        last = 0 if total <= bounds[0] else bisect_left(bounds, max(durations))
        if last == 0 or last == bisect_left(bounds, min(durations)):
            buckets[last] += len(durations)
            return
        ordered = sorted(durations)
        below = 0
        for i, bound in enumerate(bounds):
            upto = bisect_right(ordered, bound, below)
            buckets[i] += upto - below
            below = upto
        buckets[-1] += len(ordered) - below


class TaskCounts:
    """The counts of one task on one queue, and its task's duration histogram."""

    __slots__ = ("dead_lettered", "durations", "failed", "finished", "retried", "succeeded")

    def __init__(self, durations: Durations) -> None:
        self.succeeded = self.failed = self.retried = self.dead_lettered = 0
        #: Runs that started and are over (ended, or interrupted by a shutdown): with the
        #: runs in progress, the runs started.
        self.finished = 0
        self.durations = durations


class Snapshot:
    """Every number of a ``WorkerMetrics`` at one moment, for a scrape."""

    __slots__ = ("histograms", "rows", "takeovers")

    def __init__(
        self,
        rows: list[Row],
        histograms: list[tuple[str, list[int], float]],
        takeovers: list[tuple[str, int]],
    ) -> None:
        self.rows = rows
        self.histograms = histograms
        self.takeovers = takeovers


class WorkerMetrics(TaskObserver, Collector):
    """A worker observer that is also a Prometheus collector of what it observed.

    Plain successes reach it in batches from the executor's tally (no ``Run`` per task); the
    runs started are those over plus those in progress, counted when scraped. A scrape reads
    everything in the worker's event loop (``Tally.settle``), so its numbers agree."""

    def __init__(self, buckets: Sequence[float] = DURATION_BUCKETS) -> None:
        self.bounds = tuple(sorted(float(b) for b in buckets))
        self.counts: dict[tuple[str, str], TaskCounts] = {}
        self.durations: dict[str, Durations] = {}
        self.takeovers: dict[str, int] = {}
        #: The tallies of the executors it observes (one per ``Worker.run``).
        self.tallies: list[Tally] = []

    # -- observing (in the worker's event loop) --------------------------------------------

    def every_run(self) -> bool:
        """Plain successes come counted, in batches (``tallied``)."""
        return False

    def counting(self, tally: Tally) -> None:
        """Read this executor's tally from now on (the closed ones handed everything over)."""
        self.tallies = [*(t for t in self.tallies if not t.closed), tally]

    def tallied(self, batch: Tallied) -> None:
        """Count a batch of plain successes and their durations."""
        counts = self._counts(batch.task, batch.queue)
        durations = batch.durations
        if durations:
            counts.succeeded += len(durations)
            counts.durations.add_many(durations)
        counts.finished += len(durations) + batch.interrupted

    def ended(self, run: Run, ending: Ending) -> None:
        """Count how the run ended, and its duration if it ran."""
        counts = self._counts(run.task, run.queue)
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
            counts.finished += 1
            counts.durations.add(perf_counter() - started)

    def took(self, task: str, seconds: float) -> None:
        """Add one run's duration to its task's histogram."""
        self._durations(task).add(seconds)

    def _counts(self, task: str, queue: str) -> TaskCounts:
        counts = self.counts.get((task, queue))
        if counts is None:
            counts = self.counts[(task, queue)] = TaskCounts(self._durations(task))
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

    def snapshot(self, timeout: float = SETTLE_TIMEOUT) -> Snapshot:
        """Every number now: read in the observed worker's event loop while it serves (one
        stuck for ``timeout`` seconds in a blocking handler is read as it is)."""
        live = [t for t in self.tallies if not t.closed]
        running: Counter[tuple[str, str]] = Counter()
        for tally in live[:-1]:  # more than one worker at once: each settled in turn
            running.update(tally.settle(lambda census: census.running, timeout))
        if not live:
            return self._read(running)
        return live[-1].settle(
            lambda census: self._read(running + Counter(census.running)), timeout
        )

    def _read(self, running: Counter[tuple[str, str]]) -> Snapshot:
        rows: list[Row] = []
        for (task, queue), c in list(self.counts.items()):  # a copy: keys may be added
            now = running.pop((task, queue), 0)
            numbers = (c.finished + now, c.succeeded, c.failed, c.retried, c.dead_lettered)
            rows.append((task, queue, numbers, now))
        rows.extend((task, queue, (now, 0, 0, 0, 0), now) for (task, queue), now in running.items())
        histograms = [(task, list(d.buckets), d.sum) for task, d in list(self.durations.items())]
        return Snapshot(rows, histograms, list(self.takeovers.items()))

    def collect(self) -> Iterable[Metric]:
        """The metric families, from a snapshot."""
        snapshot = self.snapshot()
        for column, (name, doc) in enumerate(COUNTERS):
            family = CounterMetricFamily(f"taskgen_tasks_{name}", doc, labels=["task", "queue"])
            for task, queue, numbers, _ in snapshot.rows:
                family.add_metric([task, queue], numbers[column])
            yield family
        running = GaugeMetricFamily(
            "taskgen_tasks_running", "Task runs in progress.", labels=["task", "queue"]
        )
        for task, queue, _, now in snapshot.rows:
            running.add_metric([task, queue], now)
        yield running
        histogram = HistogramMetricFamily(
            "taskgen_task_duration_seconds",
            "How long task runs took, from the handler's call to its ending.",
            labels=["task"],
        )
        for task, buckets, total in snapshot.histograms:
            if any(buckets):  # a task none of whose runs started (all rejected) has none
                histogram.add_metric([task], _cumulative(self.bounds, buckets), total)
        yield histogram
        takeovers = CounterMetricFamily(
            "taskgen_lease_takeovers",
            "Entries this worker took over after their worker's lease ran out.",
            labels=["queue"],
        )
        for queue, count in snapshot.takeovers:
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
