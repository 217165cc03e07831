"""Redis Cluster drills: a queue's slot moved to another primary, and a primary failing over
to its replica, each while workers drain the queue; nothing acknowledged is lost.

Each drill starts a cluster of its own (tests/redis_cluster.py), as it changes its layout.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.cluster import key_slot

from taskgen.runtime import Call, Client, TaskStatus
from tests.cluster_support import CW, runs, settings, until_joined, until_ran
from tests.fixtures.cluster_worker import TASKS
from tests.redis_cluster import redis_cluster
from tests.support import worker_process
from tests.tasks_fixture import SleepArgs

#: Started from the selected server's binary: CI's ``-m server`` passes run these too.
pytestmark = pytest.mark.server


async def test_a_queue_moved_to_another_primary_mid_drain_loses_nothing() -> None:
    """Move queue math's slot to another primary (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE)
    while two workers drain it and a client keeps enqueueing: every task ends done."""
    with redis_cluster() as cluster:
        url = cluster.url
        slot = key_slot(b"math")
        source = cluster.owner(slot)
        target = next(port for port in cluster.ports if port != source)
        env = settings(concurrency="4", lease="2")
        with (
            worker_process(url, target=CW, env=env),
            worker_process(url, target=CW, env=env),
        ):
            await until_joined(url, 2)
            async with Client.from_url(url) as client:
                before = await client.enqueue_many(
                    [Call(TASKS["math"], SleepArgs(seconds=0.01, tag="before")) for _ in range(300)]
                )
                await until_ran(url, 30)
                moving = asyncio.create_task(asyncio.to_thread(cluster.move_slot, slot, target))
                during = []
                while not moving.done():
                    during.append(
                        await client.enqueue(TASKS["math"], SleepArgs(seconds=0, tag="during"))
                    )
                moved = await moving
                after = await client.enqueue_many(
                    [Call(TASKS["math"], SleepArgs(seconds=0, tag="after")) for _ in range(50)]
                )
                handles = [*before, *during, *after]
                ran_before = len(await runs(url))
                await asyncio.gather(*(h.result(timeout=60) for h in handles))
                assert {await h.status() for h in handles} == {TaskStatus.DONE}
        assert cluster.owner(slot) == target
        assert moved > 0 and during, "the move raced nothing"
        counts = await runs(url)
    assert set(counts) == {h.id for h in handles}, "a task never ran"
    duplicates = sum(count - 1 for count in counts.values())
    print(
        f"resharding drill: {len(handles)} tasks ({len(during)} enqueued during the move), "
        f"{moved} keys moved, {ran_before} ran before the move ended, {duplicates} ran twice"
    )


async def test_a_primary_failing_over_mid_drain_loses_no_task() -> None:
    """SIGKILL queue beta's primary while two workers drain it: its replica takes over the
    slots, clients and workers follow, and every task ends done."""
    with redis_cluster(replicas=True, node_timeout_ms=1000) as cluster:
        url = cluster.url
        victim = cluster.owner_of_key("taskgen:{beta}:ready:0")
        assert cluster.owner_of_key("rt:runs") != victim, "the run counter must survive"
        env = settings(concurrency="4", lease="2")
        # No registry: the tasks are queued before any worker has said what it serves.
        async with Client.from_url(url, registry="off") as client:
            # Queued before the workers start, so the drain (8 at a time, 50 ms each: over a
            # second) cannot end while the replication of the enqueues is awaited.
            handles = await client.enqueue_many(
                [Call(TASKS["beta"], SleepArgs(seconds=0.05, tag="drill")) for _ in range(200)]
            )
            # Replication is asynchronous: wait as WAIT would, so none is lost by design.
            await asyncio.to_thread(
                cluster.wait_for, cluster.replicas_caught_up, "replication of the enqueues"
            )
            waiting = [asyncio.create_task(h.result(timeout=60)) for h in handles]
            with (
                worker_process(url, target=CW, env=env),
                worker_process(url, target=CW, env=env),
            ):
                await until_ran(url, 20)
                ran_before = len(await runs(url))
                cluster.kill(victim)
                await asyncio.to_thread(
                    cluster.wait_for,
                    lambda: cluster.owner_of_key("taskgen:{beta}:ready:0") != victim,
                    "the replica's promotion",
                )
                await asyncio.gather(*waiting)
                assert {await h.status() for h in handles} == {TaskStatus.DONE}
        counts = await runs(url)
    assert ran_before < len(handles), "the drain ended before the primary was killed"
    assert {h.id for h in handles} <= set(counts), "a task never ran"
    duplicates = sum(counts[h.id] - 1 for h in handles)
    print(
        f"cluster failover drill: {len(handles)} tasks, {ran_before} ran before the kill, "
        f"{duplicates} ran again after it"
    )
