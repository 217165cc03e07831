"""Chains and chords on a Redis Cluster: steps on queues whose slots live on two different
primaries (flow-a: slot 7319, flow-b: slot 11508), so every handoff crosses shards."""

from __future__ import annotations

import os

import pytest
from redis.cluster import key_slot

from taskgen.runtime import Call, Client, Step, TaskClient, TaskFailed, group
from taskgen.runtime.keys import QueueKeys
from tests.flows_fixture import DOUBLE, FAIL, INC, TOTAL, IncArgs
from tests.redis_cluster import RedisClusterNodes
from tests.support import worker_process

FLOW = "tests.fixtures.chain_worker:worker"

pytestmark = pytest.mark.server


def test_the_two_queues_live_on_two_primaries(cluster: RedisClusterNodes) -> None:
    owners = {cluster.owner_of_key(QueueKeys(q).handoff) for q in ("flow-a", "flow-b")}
    assert len(owners) == 2, owners
    assert key_slot(b"flow-a") != key_slot(b"flow-b")


async def test_chains_and_chords_cross_shards(cluster: RedisClusterNodes) -> None:
    cluster.flush()
    env = {**os.environ, "FLOW_NO_COUNT": "1", "FLOW_CONCURRENCY": "8"}
    with worker_process(cluster.url, target=FLOW, env=env):
        async with Client.from_url(cluster.url) as client:
            tasks = TaskClient(client)
            chain = (
                Call(INC, IncArgs(n=1))
                .then(Step[int, int](DOUBLE, {}))
                .then(Step[int, int](INC, {"by": 10}))
                .then(Step[int, int](DOUBLE, {}))
            )
            assert await (await tasks.start(chain)).result(timeout=30) == 28
            members = group([Call(INC, IncArgs(n=n)) for n in range(40)])
            chord = await tasks.start(members.then(Step[list[int], int](TOTAL, {})))
            assert await chord.result(timeout=30) == sum(range(1, 41))
            failing = await tasks.start(
                Call(INC, IncArgs(n=1))
                .then(Step[int, int](FAIL, {}))
                .then(Step[int, int](DOUBLE, {}))
            )
            with pytest.raises(TaskFailed, match="no good: 2"):
                await failing.result(timeout=30)
    for queue in ("flow-a", "flow-b"):
        key = QueueKeys(queue).handoff
        with cluster.node(cluster.owner_of_key(key)) as node:
            assert node.hlen(key) == 0
