"""Metrics through the executor's tally: plain successes counted in batches, with no ``Run``
per task, and scrapes read in the worker's event loop so that their numbers agree."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
import time
from collections import Counter
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskgen.runtime import Binding, Call, Client, Context, TaskDef, Worker
from taskgen.runtime.delivery import Delivery
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.metrics import DURATION_BUCKETS, Durations, Snapshot, WorkerMetrics
from taskgen.runtime.observe import TaskObserver
from taskgen.runtime.tally import BATCH, Tallied, tally_for
from taskgen.runtime.wire import Envelope
from tests.tasks_fixture import ADD, SLEEP, AddArgs, SleepArgs, bind_add, running_worker

# -- folding a batch of durations ------------------------------------------------------------

BOUNDS = tuple(float(b) for b in DURATION_BUCKETS)
#: Every bound, and the floats just below and above it: where a bucketing mistake shows.
EDGES = sorted({0.0, *BOUNDS, *(math.nextafter(b, 0) for b in BOUNDS), *(b * 1.5 for b in BOUNDS)})


@given(
    st.lists(st.one_of(st.sampled_from(EDGES), st.floats(0, 400, allow_nan=False)), min_size=1),
    st.lists(st.floats(1e-6, 1e3, allow_nan=False), min_size=1, unique=True),
)
def test_a_batch_counts_each_duration_in_the_bucket_one_by_one_would(
    durations: list[float], bounds: list[float]
) -> None:
    for edges in (BOUNDS, tuple(sorted(bounds))):
        one_by_one, batched = Durations(edges), Durations(edges)
        for seconds in durations:
            one_by_one.add(seconds)
        batched.add_many(list(durations))
        assert batched.buckets == one_by_one.buckets
        assert batched.sum == pytest.approx(one_by_one.sum)


# -- in a real worker --------------------------------------------------------------------------


def counts(snapshot: Snapshot, task: str) -> dict[str, int]:
    """started, succeeded, failed, retried, dead-lettered and running of a task."""
    ((numbers, running),) = [(n, r) for t, _, n, r in snapshot.rows if t == task]
    names = ("started", "succeeded", "failed", "retried", "dead_lettered")
    return {**dict(zip(names, numbers, strict=True)), "running": running}


def histogram_count(snapshot: Snapshot, task: str) -> int:
    return sum(next(b for t, b, _ in snapshot.histograms if t == task))


async def in_thread(metrics: WorkerMetrics, timeout: float = 5.0) -> Snapshot:
    """A scrape as the HTTP server's thread makes it."""
    return await asyncio.to_thread(metrics.snapshot, timeout)


async def test_metrics_make_no_run_for_a_success(
    redis_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A success costs metrics no ``Run`` (and no call): its duration joins a batch."""
    caplog.set_level(logging.WARNING, logger="taskgen.worker")

    def no_run(*args: object) -> None:
        raise AssertionError("a Run was made for a success")

    monkeypatch.setattr("taskgen.runtime.execution.Run", no_run)
    metrics = WorkerMetrics()
    async with (
        Client.from_url(redis_url, registry="off") as client,
        running_worker(redis_url, [bind_add()], observers=[metrics], tracing=False),
    ):
        handles = await client.enqueue_many(Call(ADD, AddArgs(a=i, b=1)) for i in range(20))
        assert [await h.result(timeout=10) for h in handles] == [i + 1 for i in range(20)]
        seen = await in_thread(metrics)
    assert counts(seen, "math.add") == {
        "started": 20,
        "succeeded": 20,
        "failed": 0,
        "retried": 0,
        "dead_lettered": 0,
        "running": 0,
    }
    assert histogram_count(seen, "math.add") == 20


async def test_successes_over_several_batches_are_counted_exactly(redis_url: str) -> None:
    """Full batches handed over as they fill, the partial one at the scrape: none lost or
    counted twice, however the scrapes fall."""
    n = 2 * BATCH + 37
    metrics = WorkerMetrics()
    async with (
        Client.from_url(redis_url, registry="off") as client,
        running_worker(redis_url, [bind_add()], observers=[metrics], tracing=False),
    ):
        handles = await client.enqueue_many(Call(ADD, AddArgs(a=i, b=1)) for i in range(n))
        scrapes = [await in_thread(metrics)]
        for handle in handles:
            await handle.result(timeout=20)
        scrapes.append(await in_thread(metrics))
        scrapes.append(await in_thread(metrics))  # nothing new: the same numbers
    final = counts(scrapes[-1], "math.add")
    assert final["started"] == final["succeeded"] == n and final["running"] == 0
    assert histogram_count(scrapes[-1], "math.add") == n
    assert counts(scrapes[-2], "math.add") == final


async def test_every_scrape_during_a_drain_agrees_with_itself(redis_url: str) -> None:
    """Read in the event loop, between two task steps: each scrape's runs started are exactly
    those that succeeded plus those running, and no counter goes back."""
    n = 3000
    metrics = WorkerMetrics()
    scrapes: list[dict[str, int]] = []
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            found = [r for r in metrics.snapshot(5.0).rows if r[0] == "math.add"]
            if found:
                scrapes.append(counts(Snapshot(found, [], []), "math.add"))

    scraper = threading.Thread(target=scrape)
    async with Client.from_url(redis_url, registry="off") as client:
        await client.enqueue_many(Call(ADD, AddArgs(a=i, b=1)) for i in range(n))
        scraper.start()
        try:
            worker = Worker([bind_add()], redis_url=redis_url, observers=[metrics], tracing=False)
            await asyncio.wait_for(worker.run(burst=True), 60)
        finally:
            stop.set()
            await asyncio.to_thread(scraper.join, 10)
    scrapes.append(counts(metrics.snapshot(), "math.add"))
    assert len(scrapes) > 2
    for seen in scrapes:
        assert seen["started"] == seen["succeeded"] + seen["running"], seen
    for before, after in itertools.pairwise(scrapes):
        assert after["started"] >= before["started"] and after["succeeded"] >= before["succeeded"]
    assert scrapes[-1]["succeeded"] == n


async def test_a_run_a_shutdown_interrupts_stays_started_and_stops_running(
    redis_url: str,
) -> None:
    """Handed back unended by a stop: still counted as started, no longer as running."""
    entered = asyncio.Event()

    async def hang(ctx: Context, seconds: float, tag: str) -> str:
        entered.set()
        await asyncio.Event().wait()
        return tag

    metrics = WorkerMetrics()
    binding = Binding(SLEEP, hang, lambda ctx, a, _: hang(ctx, a.seconds, a.tag))
    async with (
        Client.from_url(redis_url, registry="off") as client,
        running_worker(redis_url, [binding], observers=[metrics], tracing=False, grace=0),
    ):
        await client.enqueue(SLEEP, SleepArgs(seconds=0))
        await asyncio.wait_for(entered.wait(), 10)
        running = counts(await in_thread(metrics), "math.sleep")
        assert (running["started"], running["running"]) == (1, 1)
    stopped = counts(metrics.snapshot(), "math.sleep")
    assert (stopped["started"], stopped["running"], stopped["succeeded"]) == (1, 0, 0)


def test_a_scrape_does_not_wait_for_an_event_loop_stuck_in_a_handler(redis_url: str) -> None:
    """A handler that blocks the loop: the scrape gives up waiting and reads as it is."""
    entered, release = threading.Event(), threading.Event()

    async def hog(ctx: Context, seconds: float, tag: str) -> str:
        entered.set()
        release.wait(30)  # blocks the event loop: the case under test
        return tag

    metrics = WorkerMetrics()
    binding = Binding(SLEEP, hog, lambda ctx, a, _: hog(ctx, a.seconds, a.tag))
    worker = Worker([binding], redis_url=redis_url, observers=[metrics], tracing=False)
    serving = threading.Thread(target=asyncio.run, args=(worker.run(burst=True),))

    async def enqueue() -> Any:
        async with Client.from_url(redis_url, registry="off") as client:
            return await client.enqueue(SLEEP, SleepArgs(seconds=0))

    asyncio.run(enqueue())
    serving.start()
    try:
        assert entered.wait(10)
        began = time.monotonic()
        seen = counts(metrics.snapshot(timeout=0.2), "math.sleep")
        assert time.monotonic() - began < 5
        assert (seen["started"], seen["running"]) == (1, 1)
    finally:
        release.set()
        serving.join(30)
    assert counts(metrics.snapshot(), "math.sleep")["succeeded"] == 1


# -- the tally alone: any mix of tasks, queues, interruptions and scrapes ------------------------


class Totals(TaskObserver):
    """Adds up every batch it is handed."""

    def __init__(self) -> None:
        self.successes: Counter[tuple[str, str]] = Counter()
        self.interrupted: Counter[tuple[str, str]] = Counter()

    def every_run(self) -> bool:
        return False

    def tallied(self, batch: Tallied) -> None:
        assert all(seconds >= 0 for seconds in batch.durations)
        self.successes[(batch.task, batch.queue)] += len(batch.durations)
        self.interrupted[(batch.task, batch.queue)] += batch.interrupted


STEP = st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from(["done", "stop", "scrape"]))


@given(st.lists(STEP, max_size=3 * BATCH))
def test_the_tally_hands_every_success_over_once_whatever_the_tasks_and_queues(
    steps: list[tuple[int, int, str]],
) -> None:
    """A task may run on several queues (a worker serving an old queue after a contract moved
    it): each (task, queue) is counted apart, and nothing is lost or counted twice."""

    async def nothing(ctx: Context) -> None: ...

    tasks = [
        TaskDef[AddArgs, None](
            name=f"t.{i}", queue="q0", fingerprint="f", args=AddArgs, result=None
        )
        for i in range(3)
    ]
    bindings = {t.name: Binding(t, nothing, lambda ctx, a, _: nothing(ctx)) for t in tasks}
    queues = [QueueKeys(f"q{i}") for i in range(3)]
    totals = Totals()
    tally = tally_for([totals], [], {})
    assert tally is not None
    expected: Counter[tuple[str, str]] = Counter()
    stopped: Counter[tuple[str, str]] = Counter()
    for task, queue, step in steps:
        name = tasks[task].name
        delivery = Delivery(queues[queue], 0, b"1-0", b"id", b"", 0)
        delivery.envelope = Envelope("id", name, "f", msgspec.Raw(b"\x90"), 0)
        delivery.started_at, delivery.began = 1, time.perf_counter()
        if step == "done":
            tally.done(bindings[name], delivery)
            expected[(name, queues[queue].queue)] += 1
        elif step == "stop":
            tally.interrupt(bindings, delivery)
            stopped[(name, queues[queue].queue)] += 1
        else:
            tally.settle(lambda census: census)
    tally.close()
    assert +totals.successes == +expected
    assert +totals.interrupted == +stopped
