"""Nothing grows without bound: after 100,000 tasks, once their results have expired, Redis
holds what it held before."""

from __future__ import annotations

import asyncio

import redis.asyncio

from taskgen.runtime import Binding, Call, Client, Context, TaskDef, Worker
from tests.tasks_fixture import ADD, AddArgs

TASKS = 100_000
SHORT_LIVED = TaskDef[AddArgs, int](
    name="math.add",
    queue="math",
    fingerprint="add-v1",
    args=AddArgs,
    result=int,
    params=ADD.params,
    result_ttl=1.0,
)


ran = 0


async def add(ctx: Context, a: int, b: int) -> int:
    global ran
    ran += 1
    return a + b


async def used_memory(r: redis.asyncio.Redis) -> int:
    return int((await r.info("memory"))["used_memory"])


async def test_memory_returns_to_baseline_once_results_expire(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    worker = Worker(
        [Binding(SHORT_LIVED, add, lambda c, a, _: add(c, a.a, a.b))],
        redis_url=redis_url,
        concurrency=64,
    )
    await worker.run(burst=True)  # creates the queue's streams and group: the baseline
    keys_before, memory_before = await r.dbsize(), await used_memory(r)

    async with Client.from_url(redis_url) as client:
        for start in range(0, TASKS, 10_000):
            await client.enqueue_many(
                [Call(SHORT_LIVED, AddArgs(a=i, b=1)) for i in range(start, start + 10_000)]
            )
        peak = await used_memory(r)
        await worker.run(burst=True)

    # The throughput counts stay: one key of 3 fields per 5-second bucket, the last 16 at most.
    counts = client.keys("math").throughput
    assert 1 <= await r.hlen(counts) <= 3 * 16
    async with asyncio.timeout(30):  # waiting for the server to expire the results
        while await r.dbsize() > keys_before + 1:
            await asyncio.sleep(0.2)
    memory_after = await used_memory(r)
    print(
        f"\nused_memory: {memory_before:,} before, {peak:,} with {TASKS:,} queued, "
        f"{memory_after:,} after expiry"
    )
    assert ran == TASKS
    assert [await r.xlen(s) for s in client.keys("math").streams] == [0, 0, 0]
    assert peak > memory_before + 10_000_000
    assert memory_after < memory_before + 1_000_000
    await r.aclose()
