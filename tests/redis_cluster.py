"""A throwaway Redis Cluster for the tests: three primaries on free ports, each owning a third
of the 16,384 slots, met over the cluster bus; and the resharding drill's slot move."""

from __future__ import annotations

import random
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.cluster import key_slot

from taskgen.runtime.reshard import move_slot
from tests.redis_server import server_command

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
    ports: list[int]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.ports)
        return f"redis+cluster://{hosts}"

    def node(self, port: int) -> redis.Redis:
        """A plain client of one node (close it after use)."""
        return redis.Redis(port=port, socket_timeout=5)

    def owner(self, slot: int) -> int:
        """The port of the primary that serves ``slot``."""
        with self.node(self.ports[0]) as node:
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

    def wait_agreed(self, within: float = FORM_WITHIN) -> None:
        """Wait until every node reports the cluster ok and all nodes agree on who owns what."""
        deadline = time.monotonic() + within
        while True:
            views = []
            ok = True
            for port in self.ports:
                with self.node(port) as node:
                    info = node.cluster("info")
                    ok = ok and info["cluster_state"] == "ok"
                    ok = ok and int(info["cluster_known_nodes"]) == len(self.ports)
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


@contextmanager
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """Start three primaries, give each a third of the slots, let them meet; stop them after."""
    with tempfile.TemporaryDirectory(prefix="taskgen-cluster-") as folder, ExitStack() as stack:
        ports = _cluster_ports(PRIMARIES)
        processes = []
        for port in ports:
            directory = Path(folder) / str(port)
            directory.mkdir()
            process = subprocess.Popen(
                server_command(
                    port,
                    directory,
                    *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                    *("--cluster-node-timeout", "5000"),
                    loglevel="warning",
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            stack.callback(_stop, process)
            processes.append(process)
        cluster = RedisClusterNodes(processes, ports)
        for port in ports:
            _wait_answering(port)
        share = SLOTS // PRIMARIES
        for index, port in enumerate(ports):
            first = index * share
            last = SLOTS - 1 if index == PRIMARIES - 1 else first + share - 1
            with cluster.node(port) as node:
                node.execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
        with cluster.node(ports[0]) as first_node:
            for port in ports[1:]:
                first_node.execute_command("CLUSTER MEET", "127.0.0.1", port)
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


def _wait_answering(port: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            with redis.Redis(port=port, socket_timeout=1) as node:
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
