"""Prometheus metrics: a real worker process serves them, and a scrape during the run shows
exactly what happened (started, succeeded, failed, retried, dead-lettered, running, durations,
and the queue's depth read from Redis at scrape time)."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
from collections.abc import Callable

import pytest
import redis.asyncio
from prometheus_client.parser import text_string_to_metric_families

from taskgen.runtime import Call, Client, EnqueueOptions, TaskFailed, TaskRejected
from taskgen.runtime.metrics import WorkerMetrics
from taskgen.runtime.observe import Ending, Run
from taskgen.runtime.wire import ErrorInfo, TaskStatus
from tests.fixtures.telemetry_worker import UNKNOWN, WORK, WorkArgs
from tests.support import worker_process

TELE = "tests.fixtures.telemetry_worker:worker"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """Every sample the endpoint serves now, by name and sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def answers(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first: int = s.getsockname()[1]
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise AssertionError("no consecutive free ports")


def task(name: str, queue: str = "tele") -> tuple[tuple[str, str], ...]:
    return (("queue", queue), ("task", name))


async def test_a_scrape_during_a_real_run_counts_what_happened(redis_url: str) -> None:
    port = free_ports(1)
    server = redis.asyncio.Redis.from_url(redis_url)
    with worker_process(redis_url, "--metrics-port", str(port), target=TELE):
        await until(lambda: answers(port), "the metrics endpoint")
        async with Client.from_url(redis_url, registry="off") as client:
            ok = [await client.enqueue(WORK, WorkArgs(how="ok")) for _ in range(5)]
            failing = [await client.enqueue(WORK, WorkArgs(how="fail")) for _ in range(2)]
            rejected = await client.enqueue(UNKNOWN, WorkArgs(how="ok"))
            for _ in range(3):
                await client.enqueue(WORK, WorkArgs(how="ok"), EnqueueOptions(delay=3600))
            held = await client.enqueue(WORK, WorkArgs(how="hold"))
            assert [await h.result(timeout=20) for h in ok] == ["ok"] * 5
            for handle in failing:
                with pytest.raises(TaskFailed):
                    await handle.result(timeout=20)
            with pytest.raises(TaskRejected):
                await rejected.result(timeout=20)
            running = ("taskgen_tasks_running", task("tele.work"))
            await until(lambda: scrape(port).get(running) == 1, "the held task to run")

            seen = scrape(port)
            work = task("tele.work")
            assert seen[("taskgen_tasks_started_total", work)] == 5 + 2 * 2 + 1
            assert seen[("taskgen_tasks_succeeded_total", work)] == 5
            assert seen[("taskgen_tasks_failed_total", work)] == 4
            assert seen[("taskgen_tasks_retried_total", work)] == 2
            assert seen[("taskgen_tasks_dead_lettered_total", work)] == 2
            assert seen[("taskgen_tasks_dead_lettered_total", task("tele.unknown"))] == 1
            assert ("taskgen_tasks_started_total", task("tele.unknown")) not in {
                k for k, v in seen.items() if v
            }
            assert seen[("taskgen_task_duration_seconds_count", (("task", "tele.work"),))] == 9
            le_inf = (("le", "+Inf"), ("task", "tele.work"))
            assert seen[("taskgen_task_duration_seconds_bucket", le_inf)] == 9
            # Read from Redis as the scrape happens: 3 delayed, 1 leased, 3 dead letters.
            queue = (("queue", "tele"),)
            assert seen[("taskgen_queue_scheduled", queue)] == 3
            assert seen[("taskgen_queue_running", queue)] == 1
            assert seen[("taskgen_queue_dead", queue)] == 3
            assert seen[("taskgen_queue_ready", queue)] == 0
            assert seen[("taskgen_queue_oldest_age_seconds", queue)] == 0

            await server.rpush("tele:release", "go")
            assert await held.result(timeout=20) == "hold"
            await until(
                lambda: scrape(port).get(("taskgen_tasks_succeeded_total", work)) == 6,
                "the held task's success",
            )
            assert scrape(port)[running] == 0
    await server.aclose()


async def test_with_processes_each_serves_its_own_port(redis_url: str) -> None:
    """--processes 2 --metrics-port P: process 0 serves P, process 1 serves P + 1."""
    port = free_ports(2)
    args = ("--processes", "2", "--metrics-port", str(port))
    with worker_process(redis_url, *args, target=TELE):
        await until(lambda: answers(port) and answers(port + 1), "both endpoints")
        async with Client.from_url(redis_url, registry="off") as client:
            handles = await client.enqueue_many(Call(WORK, WorkArgs(how="ok")) for _ in range(40))
            assert {await h.result(timeout=20) for h in handles} == {"ok"}
        key = ("taskgen_tasks_succeeded_total", task("tele.work"))
        await until(
            lambda: scrape(port).get(key, 0) + scrape(port + 1).get(key, 0) == 40,
            "40 successes over the two processes",
        )


def test_lease_takeovers_are_counted_by_queue() -> None:
    metrics = WorkerMetrics()
    metrics.reclaimed("tele", 3)
    metrics.reclaimed("tele", 2)
    metrics.reclaimed("other", 1)
    families = {f.name: f for f in metrics.collect()}
    values = {s.labels["queue"]: s.value for s in families["taskgen_lease_takeovers"].samples}
    assert values == {"tele": 5, "other": 1}


BOUNDS = (0.005, 0.25, 1.0)


@pytest.mark.parametrize(
    "seconds",
    sorted(
        {0.0, 1e9, *BOUNDS, *(b * (1 - 1e-9) for b in BOUNDS), *(b * (1 + 1e-9) for b in BOUNDS)}
    ),
)
def test_a_duration_counts_in_every_bucket_that_holds_it(seconds: float) -> None:
    metrics = WorkerMetrics(buckets=BOUNDS)
    metrics.took("t", seconds)
    histogram = next(f for f in metrics.collect() if f.name == "taskgen_task_duration_seconds")
    samples = {s.labels.get("le", s.name): s.value for s in histogram.samples}
    expected = {repr(b): float(seconds <= b) for b in BOUNDS}
    assert samples == {
        **expected,
        "+Inf": 1.0,
        "taskgen_task_duration_seconds_count": 1.0,
        "taskgen_task_duration_seconds_sum": seconds,
    }


def test_a_run_never_started_counts_but_has_no_duration() -> None:
    metrics = WorkerMetrics()
    run = Run("t", "id", "q", 1, 1, 0, None)
    metrics.ended(run, Ending(TaskStatus.REJECTED, ErrorInfo("E", "m"), dead=True))
    # started, succeeded, failed, retried, dead-lettered; running
    assert metrics.snapshot().rows == [("t", "q", (0, 0, 0, 0, 1), 0)]
    histogram = next(f for f in metrics.collect() if f.name == "taskgen_task_duration_seconds")
    assert histogram.samples == []
