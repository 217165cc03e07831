"""A throwaway Sentinel deployment for the tests: a primary, a replica and three sentinels on
free ports, with a short down-after and failover timeout so a failover takes a few seconds."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.redis_server import free_port, server_binary, server_command

SERVICE = "taskgen"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


@dataclass
class SentinelCluster:
    """The running deployment: its processes and ports, and the taskgen URL that names it."""

    primary: subprocess.Popen[bytes]
    primary_port: int
    replica: subprocess.Popen[bytes]
    replica_port: int
    sentinel_ports: list[int]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def direct_url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"

    def primary_seen_by_sentinels(self) -> set[int]:
        """The primary's port each sentinel reports."""
        ports = set()
        for port in self.sentinel_ports:
            with redis.Redis(port=port, socket_timeout=2) as sentinel:
                _host, primary = sentinel.sentinel_get_master_addr_by_name(SERVICE)
                ports.add(int(primary))
        return ports

    def replica_caught_up(self) -> bool:
        """Whether the replica has every write the primary took."""
        with (
            redis.Redis(port=self.primary_port, socket_timeout=2) as p,
            redis.Redis(port=self.replica_port, socket_timeout=2) as r,
        ):
            primary = p.info("replication")
            replica = r.info("replication")
        return bool(
            replica.get("master_link_status") == "up"
            and replica["slave_repl_offset"] >= primary["master_repl_offset"]
        )

    def kill_primary(self) -> None:
        """SIGKILL the primary: no goodbye to replicas or clients."""
        self.primary.send_signal(signal.SIGKILL)
        self.primary.wait(timeout=10)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll ``condition`` until it holds; fail saying ``what`` did not happen in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.RedisError, OSError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def _server(folder: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        server_command(port, folder, *extra, loglevel="warning"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _sentinel(folder: Path, port: int, primary_port: int) -> subprocess.Popen[bytes]:
    config = folder / f"sentinel-{port}.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
        f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {SERVICE} 1\n"
    )
    return subprocess.Popen(
        [server_binary(), str(config), "--sentinel", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def sentinel_cluster() -> Iterator[SentinelCluster]:
    """Start the deployment, wait until the sentinels know the replica and each other."""
    with tempfile.TemporaryDirectory(prefix="taskgen-sentinel-") as name, ExitStack() as stack:
        folder = Path(name)
        processes: list[subprocess.Popen[bytes]] = []

        def stop_all() -> None:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                process.wait(timeout=10)

        stack.callback(stop_all)
        primary_port, replica_port = free_port(), free_port()
        primary = _server(folder / "", primary_port)
        processes.append(primary)
        (folder / "replica").mkdir()
        replica = _server(
            folder / "replica", replica_port, "--replicaof", "127.0.0.1", str(primary_port)
        )
        processes.append(replica)
        ports = [free_port() for _ in range(3)]
        for port in ports:
            (folder / str(port)).mkdir()
            processes.append(_sentinel(folder / str(port), port, primary_port))
        cluster = SentinelCluster(primary, primary_port, replica, replica_port, ports)
        wait_for(cluster.replica_caught_up, "the replica's first sync")

        def sentinels_ready() -> bool:
            for port in ports:
                with redis.Redis(port=port, socket_timeout=2) as sentinel:
                    if len(sentinel.sentinel_slaves(SERVICE)) != 1:
                        return False
                    if len(sentinel.sentinel_sentinels(SERVICE)) != 2:
                        return False
            return True

        wait_for(sentinels_ready, "the sentinels discovering the replica and each other")
        yield cluster
