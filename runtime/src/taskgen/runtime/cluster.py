"""Redis Cluster URLs: ``redis+cluster://[[user]:password@]host:port[,host:port...][/0]``.

The URL names one or more nodes of the cluster (any of them; the client reads the slot map
from the first that answers). ``rediss+cluster://`` speaks TLS to every node and takes the
``ssl_*`` query parameters of a ``rediss://`` URL (``TLS_PARAMETERS``). Every key of a queue
shares the hash tag ``{queue}`` (keys.py), so a queue lives in one slot and its scripts touch
only that slot; different queues spread over the primaries. The cluster client routes every
command and script by its first key, follows MOVED and ASK redirections, and retries TRYAGAIN
(a multi-key call during a resharding).

What differs from a single server is handled here (``TaskgenCluster``): a script called
inside a pipeline is sent as EVAL (a cluster pipeline cannot load a script a node is missing);
``INFO`` is read from every primary; calls wait for a turn when the pools are busy instead of
failing; the slot map is read before the first command; a connection closed under a call
(``closed_under_call``) fails that call as the outage it is. Pub/sub stays classic
(SUBSCRIBE/PUBLISH): a cluster broadcasts every message to all nodes, so one subscription on
any node hears every queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeGuard, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import redis.asyncio
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, ClusterPubSub, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError, RedisClusterException, TimeoutError
from redis.typing import ScriptTextT

SCHEMES = ("redis+cluster", "rediss+cluster")
EXAMPLE = "redis+cluster://:password@host1:6379,host2:6379,host3:6379"
#: Options of a single-server client that a cluster client does not take.
SINGLE_SERVER_ONLY = frozenset({"connection_pool", "db"})
#: Connections of each node's pool kept out of the calls' share, for pub/sub (a client's
#: results and registry hints, a worker's control channel) which holds one for good.
PUBSUB_RESERVE = 4
#: The query parameters a ``rediss+cluster://`` URL takes: the TLS settings of a ``rediss://``
#: URL, applied to the connection to every node.
TLS_PARAMETERS = (
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_cert_reqs",
    "ssl_check_hostname",
)


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
    #: The TLS settings of the query (``TLS_PARAMETERS``), as redis-py's keyword arguments.
    ssl: dict[str, str | bool] = dataclasses.field(default_factory=dict)


def parse_cluster_url(url: str) -> ClusterUrl:
    """Read a Cluster URL; a malformed one raises ValueError saying what is wrong."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in SCHEMES:
        raise ValueError(f"not a Cluster URL: expected redis+cluster://, e.g. {EXAMPLE}")
    parts = urlsplit(f"x://{rest}")
    tls = scheme.lower() == "rediss+cluster"
    ssl = _tls_settings(parts.query, tls=tls)
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
        tls=tls,
        username=username,
        password=password,
        ssl=ssl,
    )


def _tls_settings(query: str, *, tls: bool) -> dict[str, str | bool]:
    """The TLS settings of a Cluster URL's query; anything else raises ValueError."""
    settings: dict[str, str | bool] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in TLS_PARAMETERS:
            raise ValueError(
                f"unknown Cluster URL parameter {name!r}: a rediss+cluster:// URL takes only "
                f"{', '.join(TLS_PARAMETERS)}"
            )
        if not tls:
            raise ValueError(
                f"the Cluster URL parameter {name!r} is a TLS setting: "
                "use rediss+cluster:// to connect with TLS"
            )
        settings[name] = value
    if "ssl_check_hostname" in settings:
        flag = str(settings["ssl_check_hostname"]).lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(
                f"ssl_check_hostname must be true or false in a Cluster URL, not {flag!r}"
            )
        settings["ssl_check_hostname"] = flag in ("true", "1", "yes")
    return settings


def _address(entry: str) -> tuple[str, int]:
    host, colon, port = entry.strip().rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ValueError(f"a cluster node must be host:port, not {entry!r} (e.g. {EXAMPLE})")
    return host.strip("[]"), int(port)


#: Where a call on a connection that another task closed meanwhile fails inside redis-py or
#: asyncio (``closed_under_call``): the connection module and the streams and transports.
_CONNECTION_MODULES = (
    "redis/asyncio/connection.py",
    "asyncio/streams.py",
    "asyncio/selector_events.py",
    "asyncio/sslproto.py",
)


def closed_under_call(exc: AttributeError | TypeError) -> None:
    """Raise ``exc`` as a ConnectionError if it is a call's failure on a connection closed
    under it; return otherwise (the caller re-raises it as it is).

    On ClusterDownError (a failover) redis-py 8.1's cluster client closes every connection of
    every node, including those other calls are using; a call that was connecting or sending
    on one then fails inside redis-py with AttributeError or TypeError (its stream writer is
    gone). That is a lost connection: raised as one, the caller's outage handling retries it,
    where the bare error ended a worker's background loop, and the worker with it. (Checked
    in ``except`` clauses, which cost nothing until something is raised.)"""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and frames[-1].filename.endswith(_CONNECTION_MODULES):
        raise ConnectionError(f"the connection was closed under the call ({exc})") from exc


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
        try:
            return await super().execute_command(*args, **kwargs)
        except (AttributeError, TypeError) as exc:
            closed_under_call(exc)
            raise

    async def parse_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a message (see ``closed_under_call``)."""
        try:
            return await super().parse_response(*args, **kwargs)
        except (AttributeError, TypeError) as exc:
            closed_under_call(exc)
            raise


class TurnPipeline(ClusterPipeline):
    """A cluster pipeline that waits for a turn of its client before it runs."""

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        """Run the queued commands, one connection per node they touch."""
        client = self.cluster_client
        assert isinstance(client, TaskgenCluster)
        async with client.turn():
            try:
                return await super().execute(raise_on_error, allow_redirections)
            except (AttributeError, TypeError) as exc:
                closed_under_call(exc)
                raise


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

    async def initialize(self, *args: Any, **kwargs: Any) -> RedisCluster:
        """Read the slot map; no node answering is a ConnectionError (an outage, retried),
        not redis-py's RedisClusterException, so its cause (e.g. TLS) stays in view."""
        try:
            return await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:
            if isinstance(exc.__cause__, ConnectionError | TimeoutError | OSError):
                raise ConnectionError(str(exc)) from exc.__cause__
            raise

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """Send a command once the slot map is read (a no-op check after the first time).

        redis-py 8.1 starts routing a command before it reads the slot map; commands sent
        at once by a fresh client then lost their connections to the map's first read and
        were sent again (a handler's HINCRBY counted twice). Reading the map first avoids it."""
        await self.initialize()
        async with self.turn():
            try:
                return await super().execute_command(*args, **kwargs)
            except (AttributeError, TypeError) as exc:
                closed_under_call(exc)
                raise

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
        for name, value in parsed.ssl.items():
            settings.setdefault(name, value)
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
    """Whether ``value`` is a cluster client (``cluster_redis``), used like a Redis client; a
    plain ``RedisCluster`` is refused, as its pipelines cannot run taskgen's scripts."""
    if isinstance(value, RedisCluster) and not isinstance(value, TaskgenCluster):
        raise TypeError(
            "a plain RedisCluster cannot run taskgen's scripts in pipelines: pass "
            "taskgen.runtime.connection.async_redis('redis+cluster://...') instead, "
            "or use Client.from_url('redis+cluster://...')"
        )
    return isinstance(value, TaskgenCluster)
