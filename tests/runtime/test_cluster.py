"""Redis Cluster: ``redis+cluster://`` URLs for clients, workers, CLI and dashboard, queues
spread over three primaries, and the guarantees of a single server kept across shards.

The cluster (three primaries, a third of the slots each) is started by tests/redis_cluster.py;
the workers are ``tests.fixtures.cluster_worker`` processes serving one queue per primary.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError
from starlette.testclient import TestClient

from taskgen.dashboard import dashboard
from taskgen.runtime import Binding, Call, Client, EnqueueOptions, TaskDef, TaskStatus
from taskgen.runtime.acl import parse_version, rule
from taskgen.runtime.cluster import ClusterUrl, parse_cluster_url
from taskgen.runtime.connection import redis_from_url
from taskgen.runtime.faults import EvictingPolicy, check_eviction_policy, redact
from taskgen.runtime.inspect import queue_names, queues_stats
from taskgen.runtime.metrics import QueueGauges
from taskgen.runtime.worker import Worker
from tests.cluster_support import CW, run_on_every_shard, runs, settings, until_joined
from tests.fixtures.cluster_worker import QUEUES, TASKS
from tests.redis_cluster import RedisClusterNodes
from tests.redis_server import free_port
from tests.rt_events import next_start
from tests.support import taskgen, worker_process
from tests.tasks_fixture import AddArgs, SleepArgs, add, bind_add, running_worker

#: The cluster is started from the selected server's binary: ``-m server`` (CI's pass on
#: Redis 7 and Redis 6.2) runs these tests too.
pytestmark = pytest.mark.server


@pytest.fixture
async def started(cluster_url: str) -> AsyncIterator[PubSub]:
    """Subscribed to the handlers' start announcements (on one node: PUBLISH reaches all)."""
    r = redis_from_url(cluster_url)
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("rt:started")
    yield pubsub
    await pubsub.aclose()
    await r.aclose()


# -- the URL ---------------------------------------------------------------------------------


def test_a_cluster_url_names_nodes_and_auth() -> None:
    assert parse_cluster_url("redis+cluster://app:s%40cret@a:7000,b:7001,[::1]:7002/0") == (
        ClusterUrl(
            nodes=(("a", 7000), ("b", 7001), ("::1", 7002)), username="app", password="s@cret"
        )
    )
    assert parse_cluster_url("rediss+cluster://h:1") == ClusterUrl((("h", 1),), tls=True)
    tls = "rediss+cluster://h:1/0?ssl_ca_certs=%2Fca.pem&ssl_check_hostname=false"
    assert parse_cluster_url(tls).ssl == {"ssl_ca_certs": "/ca.pem", "ssl_check_hostname": False}
    assert redact("redis+cluster://:pw@a:1,b:2") == "redis+cluster://:***@a:1,b:2"


HOSTS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
)
SECRETS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1)


@given(
    nodes=st.lists(st.tuples(HOSTS, st.integers(1, 65535)), min_size=1, max_size=6),
    password=st.one_of(st.none(), SECRETS),
    tail=st.sampled_from(["", "/", "/0"]),
)
def test_every_cluster_url_reads_back_and_redacts_its_password(
    nodes: list[tuple[str, int]], password: str | None, tail: str
) -> None:
    hosts = ",".join(f"{host}:{port}" for host, port in nodes)
    auth = "" if password is None else f":{quote(password, safe='')}@"
    url = f"redis+cluster://{auth}{hosts}{tail}"
    parsed = parse_cluster_url(url)
    assert parsed.nodes == tuple((host.strip("[]"), port) for host, port in nodes)
    assert parsed.password == password
    assert redact(url) == url.replace(auth, ":***@" if auth else "", 1)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+cluster://a:1,b", "host:port"),
        ("redis+cluster://", "at least one node"),
        ("redis+cluster://a:1/3", "only database 0"),
        ("rediss+cluster://a:1?ssl=true", "unknown Cluster URL parameter 'ssl'"),
        ("redis+cluster://a:1?ssl_ca_certs=ca.pem", "is a TLS setting"),
        ("rediss+cluster://a:1?ssl_check_hostname=maybe", "ssl_check_hostname must be"),
    ],
)
def test_a_malformed_cluster_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_cluster_url(url)
    for command in (["status"], ["worker", CW]):
        shown = taskgen(url, *command)
        assert shown.returncode != 0
        assert says in shown.stderr


# -- one queue per primary -------------------------------------------------------------------


async def test_a_worker_retries_a_cluster_none_of_whose_nodes_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="taskgen.worker")
    worker = Worker([bind_add()], redis_url=f"redis+cluster://127.0.0.1:{free_port()}")
    serving = asyncio.create_task(worker.run())
    async with asyncio.timeout(15):
        while caplog.text.count("cannot reach Redis") < 2:
            assert not serving.done(), serving.exception()
            await asyncio.sleep(0.02)  # polling the log, bounded by the timeout
    assert "Redis Cluster cannot be connected" in caplog.text
    worker.stop()
    await serving


async def test_a_fresh_clients_first_commands_each_run_once(cluster_url: str) -> None:
    """Commands sent at once before the client has read the slot map are not sent twice."""
    rounds = 8
    for _ in range(rounds):
        redis = redis_from_url(cluster_url)
        try:
            await asyncio.gather(*(redis.incr(f"count:{{{i % 3}}}") for i in range(30)))
        finally:
            await redis.aclose()
    redis = redis_from_url(cluster_url)
    try:
        assert [int(await redis.get(f"count:{{{i}}}")) for i in range(3)] == [10 * rounds] * 3
    finally:
        await redis.aclose()


async def test_a_burst_beyond_the_pool_waits_for_connections(cluster_url: str) -> None:
    """As on a single server, a client's calls beyond its pool wait for a free connection
    (redis-py's cluster pools fail them at once)."""
    async with Client.from_url(cluster_url, max_connections=8, registry="off") as client:
        handles = await asyncio.gather(
            *(
                client.enqueue(TASKS[QUEUES[i % 3]], SleepArgs(seconds=0, tag="burst"))
                for i in range(150)
            )
        )
        states = await asyncio.gather(*(h.status() for h in handles))
    assert set(states) == {TaskStatus.QUEUED}


async def test_a_connection_closed_under_a_call_fails_it_as_an_outage(cluster_url: str) -> None:
    """A call whose connection another task closes while it sends (what redis-py's cluster
    client does to every connection on ClusterDownError) fails with ConnectionError, which
    every worker loop rides through, not redis-py's bare AttributeError; the next call works.
    (CI saw both workers of the failover drill end on that AttributeError.)"""
    redis = redis_from_url(cluster_url)
    assert isinstance(redis, RedisCluster)
    try:
        await redis.set("k", "v")
        node = redis.get_node_from_key("k")
        (connection,) = node._free  # the one connection the next call takes
        call = asyncio.create_task(redis.get("k"))
        while node._free:  # until the call holds the connection and waits on its send
            await asyncio.sleep(0)
        await connection.disconnect(nowait=True)
        with pytest.raises(ConnectionError, match="closed under the call"):
            await call
        assert await redis.get("k") == b"v"
    finally:
        await redis.aclose()


def test_a_plain_redis_cluster_client_is_refused_with_what_to_use() -> None:
    plain = RedisCluster(host="127.0.0.1", port=1)
    with pytest.raises(TypeError, match="redis\\+cluster://"):
        Client(plain)


def test_the_test_queues_live_on_three_different_primaries(cluster: RedisClusterNodes) -> None:
    owners = {cluster.owner_of_key(f"taskgen:{{{queue}}}:ready:0") for queue in QUEUES}
    assert len(owners) == 3


async def test_tasks_on_three_primaries_run_end_to_end(
    cluster: RedisClusterNodes, cluster_url: str
) -> None:
    # The registry check (strict) finds the worker's contract on every shard.
    with worker_process(cluster_url, target=CW):
        await until_joined(cluster_url)
        await run_on_every_shard(cluster, cluster_url, per_queue=10)


async def test_a_failed_attempt_is_retried_on_every_shard(cluster_url: str) -> None:
    with worker_process(cluster_url, target=CW):
        await until_joined(cluster_url)
        async with Client.from_url(cluster_url) as client:
            handles = [
                await client.enqueue(TASKS[queue], SleepArgs(seconds=0, tag="fail-once"))
                for queue in QUEUES
            ]
            for handle in handles:
                # Delivery 1 of attempt 2: the retry went through the queue's delayed set.
                assert (await handle.result(timeout=30)).endswith(" 1 2")
    assert set((await runs(cluster_url)).values()) == {2}


async def test_a_killed_workers_task_is_taken_over_on_its_shard(
    cluster_url: str, started: PubSub
) -> None:
    env = settings(lease="1")
    with (
        worker_process(cluster_url, target=CW, env=env),
        worker_process(cluster_url, target=CW, env=env),
    ):
        await until_joined(cluster_url, 2)
        async with Client.from_url(cluster_url) as client:
            for queue in ("alpha", "beta"):
                handle = await client.enqueue(TASKS[queue], SleepArgs(seconds=0, tag="long-once"))
                task_id, delivery, victim = await next_start(started)
                assert (task_id, delivery) == (handle.id, 1)
                os.kill(victim, signal.SIGKILL)
                killed_at = time.monotonic()
                again, delivery, survivor = await next_start(started)
                waited = time.monotonic() - killed_at
                assert (again, delivery) == (handle.id, 2) and survivor != victim
                assert waited < 3, f"redelivered {waited:.2f}s after the kill; the lease is 1s"
                assert await handle.result(timeout=10) == f"{survivor} 2 1"
                break  # one worker is dead now: a second round would need a new pair
    assert (await runs(cluster_url))[handle.id] == 2


async def test_cron_fires_each_tick_once_across_processes(cluster_url: str) -> None:
    env = settings(cron_every="0.2")
    with (
        worker_process(cluster_url, target=CW, env=env),
        worker_process(cluster_url, target=CW, env=env),
    ):
        await until_joined(cluster_url, 2)
        await asyncio.sleep(1.5)  # the passage of ticks is what is under test
    cron_runs = {k: v for k, v in (await runs(cluster_url)).items() if k.startswith("cron:")}
    assert len(cron_runs) >= 4
    assert set(cron_runs.values()) == {1}


# -- reading across shards ---------------------------------------------------------------------


async def test_status_cli_and_dashboard_read_every_shard(cluster_url: str) -> None:
    with worker_process(cluster_url, target=CW):
        await until_joined(cluster_url)
        async with Client.from_url(cluster_url) as client:
            handles = await client.enqueue_many(
                [Call(TASKS[queue], SleepArgs(seconds=0, tag=queue)) for queue in QUEUES]
            )
            await asyncio.gather(*(h.result(timeout=30) for h in handles))
            # Scheduled for later: counted as scheduled on each shard.
            later = EnqueueOptions(delay=3600)
            await client.enqueue_many(
                [Call(TASKS[queue], SleepArgs(seconds=0, tag="later"), later) for queue in QUEUES]
            )
        shown = taskgen(cluster_url, "status", "--json", "--scan")
    redis = redis_from_url(cluster_url)
    try:
        assert await queue_names(redis) == sorted(QUEUES)
        assert await queue_names(redis, scan=True) == sorted(QUEUES)
        stats = await queues_stats(redis, list(QUEUES))
    finally:
        await redis.aclose()
    assert [(s.queue, s.scheduled, s.completed) for s in stats] == [(q, 1, 1) for q in QUEUES]
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert [(q["queue"], q["scheduled"], q["completed"]) for q in status["queues"]] == [
        (queue, 1, 1) for queue in sorted(QUEUES)
    ]
    # The one worker, seen by its heartbeats on all three shards.
    assert len(status["workers"]) == 1
    for queue in QUEUES:
        listed = taskgen(cluster_url, "dead", "list", queue)
        assert listed.returncode == 0, listed.stderr
    # A task found by id alone: every queue on every shard is searched.
    found = taskgen(cluster_url, "task", "show", handles[-1].id)
    assert found.returncode == 0, found.stderr
    assert "beta" in found.stdout and "done" in found.stdout

    # The metrics endpoint's queue gauges, read at scrape time from every shard.
    gauges = QueueGauges(cluster_url, list(QUEUES))
    scraped = await asyncio.to_thread(lambda: list(gauges.collect()))
    scheduled = next(m for m in scraped if m.name == "taskgen_queue_scheduled")
    assert {s.labels["queue"]: s.value for s in scheduled.samples} == dict.fromkeys(QUEUES, 1)

    def page() -> str:
        with TestClient(dashboard(cluster_url)) as browser:
            answer = browser.get("/")
            assert answer.status_code == 200, answer.text
            return answer.text

    text = await asyncio.to_thread(page)
    assert all(queue in text for queue in QUEUES)


# -- least privilege -------------------------------------------------------------------------


def adder(queue: str) -> TaskDef[AddArgs, int]:
    return TaskDef[AddArgs, int](
        name=f"{queue}.add",
        queue=queue,
        fingerprint="add-v1",
        args=AddArgs,
        result=int,
        params=(("a", "positional"), ("b", "positional")),
    )


def _bind(task: TaskDef[AddArgs, int]) -> Binding[AddArgs, int]:
    return Binding(task, add, lambda ctx, args, _: add(ctx, args.a, args.b))


async def test_workers_and_producers_on_a_cluster_need_nothing_beyond_their_rules(
    cluster: RedisClusterNodes, cluster_url: str
) -> None:
    """``taskgen acl --cluster``'s rules, set on every node, let a worker and a producer do
    their work across the three shards with no denial in any node's ACL log."""
    secrets = {"worker": "worker-pw", "producer": "producer-pw"}
    for port in cluster.ports:
        with cluster.node(port) as node:
            info = node.info("server")
            version = (7, 2) if "valkey_version" in info else parse_version(info["redis_version"])
            for role, secret in secrets.items():
                grants = rule(
                    "worker" if role == "worker" else "producer", server=version, cluster=True
                )
                node.execute_command(
                    "ACL", "SETUSER", f"tg-{role}", "reset", "on", f">{secret}", *grants.split()
                )
            node.execute_command("ACL", "LOG", "RESET")
    urls = {
        role: cluster_url.replace("://", f"://tg-{role}:{secret}@", 1)
        for role, secret in secrets.items()
    }
    tasks = [adder(queue) for queue in QUEUES]
    try:
        async with running_worker(urls["worker"], [_bind(t) for t in tasks]):
            await until_joined(cluster_url)
            async with Client.from_url(urls["producer"]) as client:
                handles = await client.enqueue_many(
                    [Call(task, AddArgs(a=i, b=1)) for task in tasks for i in range(3)]
                )
                assert [await h.result(timeout=30) for h in handles] == [1, 2, 3] * 3
        denied = []
        for port in cluster.ports:
            with cluster.node(port) as node:
                denied += node.execute_command("ACL", "LOG")
        assert denied == []
    finally:
        for port in cluster.ports:
            with cluster.node(port) as node:
                node.execute_command("ACL", "DELUSER", "tg-worker", "tg-producer")


async def test_a_worker_refuses_a_cluster_where_one_primary_may_evict(
    cluster: RedisClusterNodes, cluster_url: str
) -> None:
    redis = redis_from_url(cluster_url)
    last = cluster.ports[-1]
    try:
        assert await check_eviction_policy(redis, cluster_url) == "noeviction"
        with cluster.node(last) as node:
            node.config_set("maxmemory-policy", "allkeys-lru")
        with pytest.raises(EvictingPolicy, match="allkeys-lru"):
            await check_eviction_policy(redis, cluster_url)
    finally:
        with cluster.node(last) as node:
            node.config_set("maxmemory-policy", "noeviction")
        await redis.aclose()
