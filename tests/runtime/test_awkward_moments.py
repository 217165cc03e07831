"""Stopping and aborting at awkward moments: an abort the worker did not hear, a stop before run."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from taskgen.runtime import Binding, Client, Context, TaskAborted, TaskDef, Worker
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.wire import TaskStatus
from tests.tasks_fixture import ADD, SLEEP, AddArgs, SleepArgs, bind_add, running_worker


async def test_an_abort_published_while_the_control_channel_was_down_cancels_the_task(
    redis_url: str,
) -> None:
    started = asyncio.Event()

    async def sleep(ctx: Context, seconds: float, tag: str) -> str:
        started.set()
        await asyncio.sleep(seconds)
        return tag

    binding = Binding(SLEEP, sleep, lambda ctx, args, _: sleep(ctx, args.seconds, args.tag))
    r = redis.asyncio.Redis.from_url(redis_url)
    try:
        async with (
            Client.from_url(redis_url, registry="off") as client,
            running_worker(redis_url, [binding], concurrency=1),
        ):
            handle = await client.enqueue(SLEEP, SleepArgs(seconds=60, tag="late"))
            await asyncio.wait_for(started.wait(), 10)
            # What abort.lua leaves when its PUBLISH reaches nobody: the stored request only.
            await r.hset(QueueKeys(SLEEP.queue).task(handle.id), "a", "1")
            # The worker's control subscription drops (as in a network blip) and comes back.
            killed = await r.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            assert killed >= 1
            with pytest.raises(TaskAborted):
                await handle.result(timeout=15)
            assert await handle.status() is TaskStatus.ABORTED
    finally:
        await r.aclose()


async def test_a_worker_stopped_before_it_runs_returns_at_once(redis_url: str) -> None:
    worker = Worker([bind_add()], redis_url=redis_url)
    worker.stop()
    await asyncio.wait_for(worker.run(), 5)
    r = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await r.keys("taskgen:{math}:*") == []  # it never joined the queue
    finally:
        await r.aclose()


async def test_one_queue_whose_results_redis_refuses_does_not_hold_up_the_others(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    other = TaskDef[AddArgs, int](
        name="other.add",
        queue="other",
        fingerprint="other-v1",
        args=AddArgs,
        result=int,
        params=(("a", "positional"), ("b", "positional")),
    )

    async def add(ctx: Context, a: int, b: int) -> int:
        return a + b

    bindings = [
        bind_add(),
        Binding(other, add, lambda ctx, args, _: add(ctx, args.a, args.b)),
    ]
    r = redis.asyncio.Redis.from_url(redis_url)
    try:
        # A key of the wrong type (a hand-made mistake, a clash with another program):
        # complete.lua's HINCRBY on it is refused every time.
        await r.set(QueueKeys("math").throughput, "not a hash")
        async with (
            Client.from_url(redis_url, registry="off") as client,
            running_worker(redis_url, bindings, lease=30),
        ):
            for n in range(20):
                # Both queues' endings go in one pipelined write, over and over.
                await client.enqueue(ADD, AddArgs(a=n, b=1))
                fine = await client.enqueue(other, AddArgs(a=n, b=2))
                assert await fine.result(timeout=10) == n + 2
            assert "refused the results" in caplog.text and "queue math" in caplog.text
    finally:
        await r.aclose()
