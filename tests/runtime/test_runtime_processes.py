"""Guarantees that cross process boundaries, shown with real worker processes.

Workers are ``taskgen worker tests.fixtures.rt_worker:worker`` subprocesses; their handler
announces each start on the ``rt:started`` channel, which the tests await.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sized

import pytest
import redis.asyncio
from redis.asyncio.client import PubSub

from taskgen.runtime import Call, Client, TaskHandle, TaskStatus, inspect
from tests.rt_events import next_start, runs
from tests.support import REPO, worker_process
from tests.tasks_fixture import SLEEP, SleepArgs

RT = "tests.fixtures.rt_worker:worker"


def settings(**values: str) -> dict[str, str]:
    return {**os.environ, **{f"RT_{k.upper()}": v for k, v in values.items()}}


@pytest.fixture
async def started(redis_url: str) -> AsyncIterator[PubSub]:
    """Subscribed to the handlers' start announcements."""
    r = redis.asyncio.Redis.from_url(redis_url)
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("rt:started")
    yield pubsub
    await pubsub.aclose()
    await r.aclose()


async def test_a_killed_workers_task_is_redelivered_within_a_lease(
    redis_url: str, started: PubSub
) -> None:
    env = settings(lease="1")
    with (
        worker_process(redis_url, target=RT, env=env),
        worker_process(redis_url, target=RT, env=env),
    ):
        async with Client.from_url(redis_url) as client:
            handle = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="long-once"))
            task_id, delivery, victim = await next_start(started)
            assert (task_id, delivery) == (handle.id, 1)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            again, delivery, survivor = await next_start(started)
            waited = time.monotonic() - killed_at
            assert (again, delivery) == (handle.id, 2) and survivor != victim
            assert waited < 1.5, f"redelivered {waited:.2f}s after the kill; the lease is 1s"
            # A redelivery is not a retry: still attempt 1, now on delivery 2.
            assert await handle.result(timeout=10) == f"{survivor} 2 1"
    assert (await runs(redis_url))[handle.id] == 2


async def test_a_slow_task_on_a_live_worker_is_never_taken_over(
    redis_url: str, started: PubSub
) -> None:
    env = settings(lease="0.5")
    with (
        worker_process(redis_url, target=RT, env=env),
        worker_process(redis_url, target=RT, env=env),
    ):
        async with Client.from_url(redis_url) as client:
            handle = await client.enqueue(SLEEP, SleepArgs(seconds=2.5, tag="slow"))
            _, _, runner = await next_start(started)
            assert await handle.result(timeout=20) == f"{runner} 1 1"
    assert (await runs(redis_url))[handle.id] == 1


async def test_sigterm_finishes_what_it_can_and_hands_back_the_rest(
    redis_url: str, started: PubSub
) -> None:
    env = settings(grace="0.5", concurrency="3")
    async with Client.from_url(redis_url) as client:
        with worker_process(redis_url, target=RT, env=env) as worker:
            short = [
                await client.enqueue(SLEEP, SleepArgs(seconds=0.2, tag="short")) for _ in range(2)
            ]
            long = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="long-once"))
            waiting = [
                await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="later")) for _ in range(3)
            ]
            for _ in range(3):
                await next_start(started)
            worker.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            assert await asyncio.to_thread(worker.wait, 15) == 0
            assert time.monotonic() - stopping < 5
        assert [await h.result(timeout=1) for h in short] == [f"{worker.pid} 1 1"] * 2
        assert await long.status() is TaskStatus.QUEUED
        assert {await h.status() for h in waiting} == {TaskStatus.QUEUED}
        with worker_process(redis_url, target=RT, env=env) as successor:
            assert await long.result(timeout=20) == f"{successor.pid} 2 1"
            for handle in waiting:
                assert await handle.result(timeout=20) == f"{successor.pid} 1 1"


async def test_processes_flag_runs_and_stops_several_workers(redis_url: str) -> None:
    with worker_process(redis_url, "--processes", "2", target=RT, env=settings()) as supervisor:
        async with Client.from_url(redis_url) as client:
            handles = await client.enqueue_many(
                [Call(SLEEP, SleepArgs(seconds=0.05)) for _ in range(200)]
            )
            pids = {(await h.result(timeout=30)).split()[0] for h in handles}
        supervisor.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(supervisor.wait, 30) == 0
    assert len(pids) == 2 and str(supervisor.pid) not in pids


async def test_cron_fires_each_tick_once_across_processes(redis_url: str) -> None:
    env = settings(cron_every="0.2")
    r = redis.asyncio.Redis.from_url(redis_url)
    with (
        worker_process(redis_url, target=RT, env=env),
        worker_process(redis_url, target=RT, env=env),
    ):
        # Both processes serving (a loaded machine may take seconds to start one), then ticks
        # go by while both schedule them.
        await _until(lambda: _live_workers(r), 2)
        ticked = len(await _cron_runs(redis_url))
        await _until(lambda: _count(_cron_runs(redis_url)), ticked + 6)
    await r.aclose()
    cron_runs = await _cron_runs(redis_url)
    assert len(cron_runs) >= 6
    assert set(cron_runs.values()) == {1}


async def _cron_runs(url: str) -> dict[str, int]:
    return {k: v for k, v in (await runs(url)).items() if k.startswith("cron:")}


async def _live_workers(r: redis.asyncio.Redis) -> int:
    return len(await inspect.workers(r, ["math"]))


async def _count(sized: Awaitable[Sized]) -> int:
    return len(await sized)


async def _until(measure: Callable[[], Awaitable[int]], at_least: int, timeout: float = 30) -> None:
    """Wait until ``measure()`` reaches ``at_least``, checking every 50 ms, up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while (value := await measure()) < at_least:
        assert time.monotonic() < deadline, f"{value} after {timeout}s, waiting for {at_least}"
        await asyncio.sleep(0.05)


async def test_nothing_is_lost_while_workers_are_killed_and_restarted(redis_url: str) -> None:
    """5,000 tasks, two worker processes, one SIGKILLed and restarted at each thousand results
    (by progress, not by the clock: a fast machine drains 5,000 in under two seconds)."""
    env = {**settings(lease="0.5", concurrency="16"), "TASKGEN_REDIS_URL": redis_url}
    command = [sys.executable, "-m", "taskgen", "worker", RT, "--log-level", "WARNING"]

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    workers = [spawn(), spawn()]
    kills = 0
    done = 0
    progressed = asyncio.Event()

    async def counted_result(handle: TaskHandle[str]) -> str:
        nonlocal done
        outcome = await handle.result(timeout=180)
        done += 1
        if done >= (kills + 1) * 1000:
            progressed.set()
        return outcome

    try:
        async with Client.from_url(redis_url) as client:
            handles = await client.enqueue_many(
                [Call(SLEEP, SleepArgs(seconds=0.01)) for _ in range(5000)]
            )
            results = asyncio.ensure_future(asyncio.gather(*map(counted_result, handles)))
            while kills < 4:
                await asyncio.wait_for(progressed.wait(), timeout=120)
                progressed.clear()
                victim = kills % 2
                workers[victim].kill()
                workers[victim].wait()
                workers[victim] = spawn()
                kills += 1
            outcomes = await results
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(timeout=30)
    deliveries = [int(o.split()[1]) for o in outcomes]
    redelivered = sum(d - 1 for d in deliveries)
    counted = await runs(redis_url)
    print(
        f"\n{kills} kills, {redelivered} redeliveries, "
        f"{sum(counted.values()) - len(counted)} extra runs for 5000 tasks"
    )
    assert len(outcomes) == 5000 and len(counted) == 5000
    assert redelivered > 0
    # A task runs at most once per delivery: a redelivery may find it never started.
    assert all(counted[h.id] <= d for h, d in zip(handles, deliveries, strict=True))
