"""Redis Cluster URLs: ``redis+cluster://[[user]:password@]host:port[,host:port...][/0]``.

The URL names one or more nodes of the cluster (any of them; the client reads the slot map
from the first that answers). Every key of a queue shares the hash tag ``{queue}`` (keys.py), so
a queue lives in one slot and its scripts touch only that slot; different queues spread over
the primaries. The cluster client routes every command and script by its first key, follows
MOVED and ASK redirections, and retries TRYAGAIN (a multi-key call during a resharding).

What differs from a single server is handled here (``TaskgenCluster``): a script called
inside a pipeline is sent as EVAL (a cluster pipeline cannot load a script a node is missing);
``INFO`` is read from every primary; calls wait for a turn when the pools are busy instead of
failing; the slot map is read before the first command. Pub/sub stays classic
(SUBSCRIBE/PUBLISH): a cluster broadcasts every message to all nodes, so one subscription on
any node hears every queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeGuard, cast
from urllib.parse import unquote, urlsplit

import redis.asyncio
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, ClusterPubSub, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError
from redis.typing import ScriptTextT

SCHEMES = ("redis+cluster", "rediss+cluster")
EXAMPLE = "redis+cluster://:password@host1:6379,host2:6379,host3:6379"
#: Options of a single-server client that a cluster client does not take.
SINGLE_SERVER_ONLY = frozenset({"connection_pool", "db"})
#: Connections of each node's pool kept out of the calls' share, for pub/sub (a client's
#: results and registry hints, a worker's control channel) which holds one for good.
PUBSUB_RESERVE = 4


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names the nodes of a Redis Cluster rather than one server."""
    return url.lower().startswith(tuple(f"{scheme}://" for scheme in SCHEMES))


@dataclass(frozen=True)
class ClusterUrl:
    """What a Cluster URL says: where some of its nodes are, TLS or not, auth."""

    nodes: tuple[tuple[str, int], ...]
    tls: bool = False
    username: str | None = None
    password: str | None = None


def parse_cluster_url(url: str) -> ClusterUrl:
    """Read a Cluster URL; a malformed one raises ValueError saying what is wrong."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in SCHEMES:
        raise ValueError(f"not a Cluster URL: expected redis+cluster://, e.g. {EXAMPLE}")
    parts = urlsplit(f"x://{rest}")
    if parts.query:
        raise ValueError(f"a Cluster URL takes no parameters ({parts.query!r}), e.g. {EXAMPLE}")
    userinfo, at, hosts = parts.netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    if not hosts:
        raise ValueError(f"a Cluster URL names at least one node host:port, e.g. {EXAMPLE}")
    path = parts.path.strip("/")
    if path not in ("", "0"):
        raise ValueError(
            f"a cluster has only database 0, not {path!r}: end the URL with /0 or nothing"
        )
    return ClusterUrl(
        nodes=tuple(_address(entry) for entry in hosts.split(",")),
        tls=scheme.lower() == "rediss+cluster",
        username=username,
        password=password,
    )


def _address(entry: str) -> tuple[str, int]:
    host, colon, port = entry.strip().rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ValueError(f"a cluster node must be host:port, not {entry!r} (e.g. {EXAMPLE})")
    return host.strip("[]"), int(port)


class ClusterScript(AsyncScript):
    """A script that, inside a cluster pipeline, is sent whole (EVAL) instead of by hash."""

    async def __call__(
        self,
        keys: Any = None,
        args: Any = None,
        client: Any = None,
    ) -> Any:
        """Run the script; in a cluster pipeline, queue it as EVAL routed by its first key."""
        if isinstance(client, ClusterPipeline):
            keys = list(keys or ())
            # EVALSHA in a pipeline fails with NOSCRIPT on a node that never saw the script
            # (a new or restarted primary, a slot just moved); EVAL caches it there.
            # Queued, not awaited: awaiting a cluster pipeline empties its queue.
            text = self.script if isinstance(self.script, str) else bytes(self.script).decode()
            return client.eval(text, len(keys), *keys, *(args or ()))
        return await super().__call__(keys, args, client)


class NodePubSub(ClusterPubSub):
    """Classic pub/sub on one node of the cluster, chosen once the client knows the nodes."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """Send a pub/sub command; the first one waits for the client to read the slot map."""
        if self.connection is None and self.connection_pool is None:
            await self.cluster.initialize()
        return await super().execute_command(*args, **kwargs)


class TurnPipeline(ClusterPipeline):
    """A cluster pipeline that waits for a turn of its client before it runs."""

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        """Run the queued commands, one connection per node they touch."""
        client = self.cluster_client
        assert isinstance(client, TaskgenCluster)
        async with client.turn():
            return await super().execute(raise_on_error, allow_redirections)


class TaskgenCluster(RedisCluster):
    """A cluster client whose scripts work in pipelines, whose pub/sub may come first, whose
    INFO reads every primary, and whose calls wait for a free connection.

    Each node's pool is bounded by ``max_connections`` and, unlike the single-server client's
    blocking pool, fails a call at once when it is exhausted. With ``timeout`` (the client's
    pool wait, ``connection.POOL_WAIT``) calls and pipelines instead take a turn first, at most
    ``max_connections - PUBSUB_RESERVE`` at a time: each uses one connection per node it
    touches, so no node's pool runs out; a call that gets no turn within ``timeout`` seconds
    fails with ConnectionError, as on a single server."""

    def __init__(
        self, *, timeout: float | None = None, max_connections: int = 100, **kwargs: Any
    ) -> None:
        super().__init__(max_connections=max_connections, **kwargs)
        self.pool_size = max_connections
        self.pool_wait = timeout
        self.turns = asyncio.Semaphore(max(1, max_connections - PUBSUB_RESERVE))

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait (up to the pool wait) until fewer calls than the pool allows are in flight."""
        if self.pool_wait is None:
            yield
            return
        try:
            async with asyncio.timeout(self.pool_wait):
                await self.turns.acquire()
        except TimeoutError:
            raise ConnectionError(
                f"no connection free within {self.pool_wait:g}s: "
                f"all {self.pool_size} of a node's connections are busy"
            ) from None
        try:
            yield
        finally:
            self.turns.release()

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        """A pipeline that takes a turn (see ``turn``) to run."""
        # redis-py declares an attribute abstract that ClusterPipeline sets when created.
        return TurnPipeline(self, transaction)  # type: ignore[abstract]

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """Send a command once the slot map is read (a no-op check after the first time).

        redis-py 8.1 starts routing a command before it reads the slot map; commands sent
        at once by a fresh client then lost their connections to the map's first read and
        were sent again (a handler's HINCRBY counted twice). Reading the map first avoids it."""
        await self.initialize()
        async with self.turn():
            return await super().execute_command(*args, **kwargs)

    def pubsub(
        self,
        node: ClusterNode | None = None,
        host: str | None = None,
        port: int | None = None,
        **kwargs: Any,
    ) -> ClusterPubSub:
        """Classic pub/sub on one node: the cluster broadcasts every PUBLISH to all nodes."""
        return NodePubSub(self, node=node, host=host, port=port, **kwargs)

    # redis-py annotates the inherited method with its synchronous Script.
    def register_script(self, script: ScriptTextT) -> AsyncScript:  # type: ignore[override]
        """A script that knows how to run inside a cluster pipeline."""
        return ClusterScript(self, script)

    async def info(self, section: str | None = None, *args: str, **kwargs: Any) -> Any:
        """INFO of every primary, as one reply: the first primary's, except that a
        ``maxmemory_policy`` other than ``noeviction`` on any primary wins (so the eviction
        check refuses a cluster where one shard may evict)."""
        kwargs.setdefault("target_nodes", RedisCluster.PRIMARIES)
        replies: Any = await super().info(section, *args, **kwargs)
        if not isinstance(replies, dict) or not all(isinstance(r, dict) for r in replies.values()):
            return replies
        merged: dict[str, Any] = {}
        for reply in replies.values():
            for field, value in reply.items():
                merged.setdefault(field, value)
            policy = reply.get("maxmemory_policy")
            if policy is not None and policy != "noeviction":
                merged["maxmemory_policy"] = policy
        return merged


def cluster_redis(url: str, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client of the cluster ``url`` names, following resharding and failover.

    It has the command surface of ``redis.asyncio.Redis`` that taskgen uses (commands,
    scripts, non-transactional pipelines, pub/sub), so it is returned under that type."""
    parsed = parse_cluster_url(url)
    settings = {key: value for key, value in options.items() if key not in SINGLE_SERVER_ONLY}
    if parsed.tls:
        settings.setdefault("ssl", True)
    auth: dict[str, Any] = {"username": parsed.username, "password": parsed.password}
    client = TaskgenCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in parsed.nodes],
        **{key: value for key, value in auth.items() if value is not None},
        **settings,
    )
    # The commands taskgen sends exist on both clients with the same signatures; the calls
    # whose behaviour differs are adapted above.
    return cast("redis.asyncio.Redis", client)


def is_cluster_client(value: object) -> TypeGuard[redis.asyncio.Redis]:
    """Whether ``value`` is a cluster client (``cluster_redis``), used like a Redis client."""
    return isinstance(value, RedisCluster)
