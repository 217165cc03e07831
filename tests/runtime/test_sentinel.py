"""Redis Sentinel: ``redis+sentinel://`` URLs everywhere, and a failover under a draining worker.

The deployment (a primary, a replica, three sentinels) is started by tests/sentinel_cluster.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from taskgen.dashboard import dashboard
from taskgen.runtime import Call, Client, TaskStatus
from taskgen.runtime.connection import redis_from_url
from taskgen.runtime.faults import redact
from taskgen.runtime.sentinel import SentinelUrl, parse_sentinel_url
from tests.sentinel_cluster import SentinelCluster, sentinel_cluster, wait_for
from tests.support import taskgen, worker_process
from tests.tasks_fixture import SLEEP, SleepArgs

RT = "tests.fixtures.rt_worker:worker"


@pytest.fixture(scope="module")
def cluster() -> Iterator[SentinelCluster]:
    """One deployment for the tests that do not fail it over."""
    with sentinel_cluster() as running:
        yield running


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database() -> None:
    assert parse_sentinel_url(
        "redis+sentinel://app:s%40cret@a:26379,b:26380,[::1]:26381/mymaster/3"
        "?sentinel_password=watch"
    ) == SentinelUrl(
        sentinels=(("a", 26379), ("b", 26380), ("::1", 26381)),
        service="mymaster",
        db=3,
        username="app",
        password="s@cret",
        sentinel_password="watch",
    )
    assert parse_sentinel_url("redis+sentinel://h:1/svc") == SentinelUrl((("h", 1),), "svc")
    assert redact("redis+sentinel://:pw@a:1,b:2/svc/0") == "redis+sentinel://:***@a:1,b:2/svc/0"


HOSTS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
)
SECRETS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1)


@given(
    sentinels=st.lists(st.tuples(HOSTS, st.integers(1, 65535)), min_size=1, max_size=5),
    service=st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True),
    db=st.one_of(st.none(), st.integers(0, 15)),
    password=st.one_of(st.none(), SECRETS),
)
def test_every_sentinel_url_reads_back_and_redacts_its_password(
    sentinels: list[tuple[str, int]], service: str, db: int | None, password: str | None
) -> None:
    hosts = ",".join(f"{host}:{port}" for host, port in sentinels)
    auth = "" if password is None else f":{quote(password, safe='')}@"
    url = f"redis+sentinel://{auth}{hosts}/{service}" + ("" if db is None else f"/{db}")
    parsed = parse_sentinel_url(url)
    assert parsed.sentinels == tuple((host.strip("[]"), port) for host, port in sentinels)
    assert (parsed.service, parsed.db, parsed.password) == (service, db or 0, password)
    assert redact(url) == url.replace(auth, ":***@" if auth else "", 1)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://a:1,b/svc/0", "host:port"),
        ("redis+sentinel://a:1/", "/<service>"),
        ("redis+sentinel://a:1/svc/x", "must be a number"),
        ("redis+sentinel://a:1/svc/0/extra", "/<service>"),
        ("redis+sentinel://a:1/svc/0?ssl=true", "unknown Sentinel URL parameter 'ssl'"),
        ("rediss+sentinel://a:1/svc/0", "not supported"),
    ],
)
def test_a_malformed_sentinel_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_sentinel_url(url)


async def test_enqueue_and_result_through_sentinel(cluster: SentinelCluster) -> None:
    with worker_process(cluster.url, target=RT):
        async with Client.from_url(cluster.url) as client:
            handle = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="via-sentinel"))
            assert (await handle.result(timeout=20)).endswith(" 1 1")
    # The task really went through the primary the sentinels name.
    direct = redis_from_url(cluster.direct_url(cluster.primary_port))
    try:
        assert await direct.hget("rt:runs", handle.id) == b"1"
    finally:
        await direct.aclose()


def test_the_cli_works_through_sentinel(cluster: SentinelCluster) -> None:
    shown = taskgen(cluster.url, "status", "--json", "--scan")
    assert shown.returncode == 0, shown.stderr
    assert "queues" in json.loads(shown.stdout)
    listed = taskgen(cluster.url, "dead", "list", "rt")
    assert listed.returncode == 0, listed.stderr
    wrong = taskgen("redis+sentinel://127.0.0.1:1/svc/x", "status")
    assert wrong.returncode != 0
    assert "must be a number" in wrong.stderr


async def test_the_dashboard_works_through_sentinel(cluster: SentinelCluster) -> None:
    async with Client.from_url(cluster.url) as client:
        await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="dashboard"))

    def page() -> str:
        with TestClient(dashboard(cluster.url)) as browser:
            shown = browser.get("/")
            assert shown.status_code == 200, shown.text
            return shown.text

    assert "math" in await asyncio.to_thread(page)


async def test_clients_and_workers_follow_a_failover_mid_drain() -> None:
    """SIGKILL the primary while a worker drains: the sentinels promote the replica, the
    worker and the client follow it, and every acknowledged task ends done."""
    tasks = 40
    with sentinel_cluster() as cluster:
        env = {"RT_CONCURRENCY": "2", "RT_LEASE": "2"}
        with worker_process(cluster.url, target=RT, env={**os.environ, **env}):
            async with Client.from_url(cluster.url) as client:
                handles = await client.enqueue_many(
                    [Call(SLEEP, SleepArgs(seconds=0.1, tag=f"drill-{i}")) for i in range(tasks)]
                )
                # Enqueues are acknowledged by the primary before they reach the replica
                # (asynchronous replication): wait as WAIT would, so none is lost by design.
                await asyncio.to_thread(
                    wait_for, cluster.replica_caught_up, "replication of the enqueues"
                )
                primary = redis_from_url(cluster.direct_url(cluster.primary_port))

                async def some_ran() -> bool:
                    return int(await primary.hlen("rt:runs")) >= 5

                deadline = asyncio.get_running_loop().time() + 20
                while not await some_ran():
                    assert asyncio.get_running_loop().time() < deadline, "the drain never began"
                    await asyncio.sleep(0.02)
                # Handles already awaiting when the primary dies must follow the new one.
                waiting = [asyncio.create_task(h.result(timeout=30)) for h in handles]
                ran_before = int(await primary.hlen("rt:runs"))
                await primary.aclose(close_connection_pool=True)
                cluster.kill_primary()
                assert ran_before < tasks, "the drain ended before the primary was killed"
                await asyncio.to_thread(
                    wait_for,
                    lambda: cluster.primary_seen_by_sentinels() == {cluster.replica_port},
                    "the sentinels promoting the replica",
                )
                results = await asyncio.gather(*waiting)
                assert len(results) == tasks
                assert {await h.status() for h in handles} == {TaskStatus.DONE}
        new_primary = redis_from_url(cluster.url)
        try:
            runs = {k.decode(): int(v) for k, v in (await new_primary.hgetall("rt:runs")).items()}
        finally:
            await new_primary.aclose()
    assert set(runs) == {h.id for h in handles}, "a task ran on no primary that survived"
    duplicates = sum(count - 1 for count in runs.values())
    # At-least-once: a completion the old primary took but never replicated runs again.
    print(
        f"failover drill: {tasks} tasks, {ran_before} started before the kill, "
        f"{duplicates} ran again after the failover"
    )
