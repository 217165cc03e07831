"""Flow control on a Redis Cluster: every flow key sits under its queue's hash tag, so the
flow scripts touch one slot, as every other script of the queue."""

from __future__ import annotations

import asyncio

import pytest

from taskgen.runtime import Binding, Call, Client, Context, TaskStatus
from taskgen.runtime.connection import redis_from_url
from tests.flow_fixture import FAIR, RATED, SINGLE, UNIQUE, WorkArgs
from tests.redis_cluster import RedisClusterNodes
from tests.runtime.test_flow_control import most_at_once
from tests.tasks_fixture import running_worker

pytestmark = pytest.mark.server


async def test_flow_control_works_on_a_cluster(cluster: RedisClusterNodes) -> None:
    cluster.flush()
    log: list[list[str]] = []

    async def work(ctx: Context, *, key: str, seconds: float = 0.0, tag: str = "") -> str:
        log.append(["S", ctx.task, key, ctx.task_id])
        await asyncio.sleep(seconds)
        log.append(["E", ctx.task, key, ctx.task_id])
        return key

    bindings = [
        Binding(t, work, lambda ctx, a, _: work(ctx, key=a.key, seconds=a.seconds))
        for t in (SINGLE, UNIQUE, RATED, FAIR)
    ]
    async with Client(redis_from_url(cluster.url), close_redis=True) as client:
        single = await client.enqueue_many(
            [Call(SINGLE, WorkArgs(key="k", seconds=0.02)) for _ in range(4)]
        )
        assert await single[1].status() == TaskStatus.SCHEDULED  # parked
        unique = await client.enqueue(UNIQUE, WorkArgs(key="u"))
        assert (await client.enqueue(UNIQUE, WorkArgs(key="u"))).id == unique.id
        rated = await client.enqueue_many([Call(RATED, WorkArgs(key="r")) for _ in range(7)])
        assert await rated[6].status() == TaskStatus.SCHEDULED  # waits for its token
        fair = await client.enqueue_many([Call(FAIR, WorkArgs(key=k)) for k in "aaab"])
        async with running_worker(cluster.url, bindings, concurrency=8):
            for handle in (*single, unique, *rated, *fair):
                await handle.result(timeout=20)
    assert most_at_once([e for e in log if e[1] == "flow.single"])["k"] == 1
