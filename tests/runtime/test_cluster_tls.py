"""``rediss+cluster://`` against a real TLS cluster: three primaries of Debian's ``redis-server``
speaking only TLS (client certificate required, TLS cluster bus), a ``taskgen worker`` process
and a client running tasks on the three shards, ``taskgen status`` over TLS, and a wrong CA
refused in one line. Without a TLS-capable ``redis-server`` these tests skip (fail in CI)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import redis

from tests.cluster_support import CW, run_on_every_shard, until_joined
from tests.fixtures.cluster_worker import QUEUES
from tests.redis_cluster import RedisClusterNodes, redis_cluster
from tests.support import taskgen, worker_process
from tests.tls_proxy import make_certificates


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """One TLS-only cluster for the module, emptied by ``url``."""
    certificates = make_certificates(tmp_path_factory.mktemp("cluster-tls"))
    with redis_cluster(tls=certificates) as running:
        yield running


@pytest.fixture
def url(tls_cluster: RedisClusterNodes) -> str:
    tls_cluster.flush()
    return tls_cluster.url


def wrong_ca_url(cluster: RedisClusterNodes) -> str:
    """The cluster's URL with a CA that did not sign the nodes' certificates."""
    assert cluster.tls is not None
    params = {**cluster.tls.client_params(), "ssl_ca_certs": str(cluster.tls.wrong_ca)}
    return f"{cluster.url.partition('?')[0]}?{urlencode(params)}"


def test_the_nodes_serve_tls_only_and_announce_their_tls_ports(
    tls_cluster: RedisClusterNodes,
) -> None:
    with tls_cluster.node(tls_cluster.ports[0]) as node:
        slots = node.execute_command("CLUSTER SLOTS")
    assert sorted(int(primary[1]) for _, _, primary, *_ in slots) == sorted(tls_cluster.ports)
    # A plaintext client gets no answer but a hang-up: nothing is served without TLS.
    with (
        redis.Redis(port=tls_cluster.ports[0], socket_timeout=5) as plain,
        pytest.raises(redis.ConnectionError),
    ):
        plain.ping()


async def test_a_worker_command_and_a_client_run_tasks_on_every_shard_over_tls(
    tls_cluster: RedisClusterNodes, url: str
) -> None:
    owners = {tls_cluster.owner_of_key(f"taskgen:{{{queue}}}:ready:0") for queue in QUEUES}
    assert len(owners) == 3
    with worker_process(url, target=CW) as worker:
        await until_joined(url)
        await run_on_every_shard(tls_cluster, url, per_queue=5)
        assert worker.poll() is None


def test_the_status_command_over_tls(tls_cluster: RedisClusterNodes, url: str) -> None:
    with worker_process(url, target=CW):
        asyncio.run(until_joined(url))
        shown = taskgen(url, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert [queue["queue"] for queue in status["queues"]] == sorted(QUEUES)
    assert len(status["workers"]) == 1  # seen by its heartbeats on the three shards
    refused = taskgen(wrong_ca_url(tls_cluster), "status")
    assert refused.returncode != 0
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("taskgen status: TLS to rediss+cluster://127.0.0.1:")
    assert "certificate did not verify" in refused.stderr and "wrong-ca" not in refused.stderr


def test_the_worker_command_with_a_wrong_ca_exits_with_one_line(
    tls_cluster: RedisClusterNodes,
) -> None:
    ran = taskgen(wrong_ca_url(tls_cluster), "worker", CW)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    refusal = [line for line in ran.stderr.splitlines() if "taskgen worker:" in line]
    assert len(refusal) == 1, ran.stderr
    assert "certificate did not verify" in refusal[0] and "ssl_ca_certs" in refusal[0]
    assert "rediss+cluster://127.0.0.1:" in refusal[0]
    assert "wrong-ca" not in refusal[0]  # the query (which may hold secrets) is left out
