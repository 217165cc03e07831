"""Helpers of the Redis Cluster tests: the cluster worker's settings and events, and bounded
waits on what the workers wrote."""

from __future__ import annotations

import asyncio
import os

from taskgen.runtime import Call, Client, TaskStatus
from taskgen.runtime.connection import redis_from_url
from tests.fixtures.cluster_worker import QUEUES, TASKS
from tests.redis_cluster import RedisClusterNodes
from tests.tasks_fixture import SleepArgs

#: The worker of the cluster tests (one queue per primary).
CW = "tests.fixtures.cluster_worker:worker"


def settings(**values: str) -> dict[str, str]:
    """The environment of a cluster worker process with these RT_* settings."""
    return {**os.environ, **{f"RT_{k.upper()}": v for k, v in values.items()}}


async def runs(url: str) -> dict[str, int]:
    """How many times each task ran, by task id."""
    r = redis_from_url(url)
    try:
        counts = await r.hgetall("rt:runs")
    finally:
        await r.aclose()
    return {k.decode(): int(v) for k, v in counts.items()}


async def until_joined(url: str, workers: int = 1, within: float = 30) -> None:
    """Wait until ``workers`` workers are in every test queue's registry, on each shard."""
    redis = redis_from_url(url)
    try:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            sizes = [await redis.hlen(f"taskgen:{{{queue}}}:workers") for queue in QUEUES]
            if min(sizes) >= workers:
                return
            assert asyncio.get_running_loop().time() < deadline, f"workers joined: {sizes}"
            await asyncio.sleep(0.02)  # polling the registry, bounded by the deadline
    finally:
        await redis.aclose()


async def until_ran(url: str, count: int, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while len(await runs(url)) < count:
        assert asyncio.get_running_loop().time() < deadline, "the drain never began"
        await asyncio.sleep(0.02)  # polling the run counter, bounded by the deadline


async def run_on_every_shard(cluster: RedisClusterNodes, url: str, per_queue: int) -> None:
    """Run ``per_queue`` tasks on each test queue through one ``enqueue_many`` (split by slot),
    with a worker serving them: each finishes once, and its state is on its queue's primary."""
    async with Client.from_url(url, registry="strict") as client:
        queues = [queue for queue in QUEUES for _ in range(per_queue)]
        handles = await client.enqueue_many(
            [Call(TASKS[queue], SleepArgs(seconds=0, tag=queue)) for queue in queues]
        )
        results = await asyncio.gather(*(h.result(timeout=30) for h in handles))
        assert all(result.endswith(" 1 1") for result in results)
        assert {await h.status() for h in handles} == {TaskStatus.DONE}
    for queue, handle in zip(queues, handles, strict=True):
        key = f"taskgen:{{{queue}}}:task:{handle.id}"
        with cluster.node(cluster.owner_of_key(key)) as node:
            assert node.exists(key) == 1
    assert set((await runs(url)).values()) == {1}
