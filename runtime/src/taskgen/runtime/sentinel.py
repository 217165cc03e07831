"""Redis Sentinel URLs: ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]``.

Every taskgen client, worker and CLI command takes a URL; this one names the sentinels and the
service they watch instead of a server, and yields a client that asks the sentinels for the
current primary each time it opens a connection, so it follows a failover.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis.asyncio
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

SCHEME = "redis+sentinel"
#: Query parameters a Sentinel URL may carry.
PARAMETERS = frozenset({"sentinel_password", "sentinel_username"})
EXAMPLE = "redis+sentinel://:password@host1:26379,host2:26379,host3:26379/mymaster/0"


def is_sentinel_url(url: str) -> bool:
    """Whether ``url`` names sentinels rather than a server."""
    return url.lower().startswith(("redis+sentinel://", "rediss+sentinel://"))


@dataclass(frozen=True)
class SentinelUrl:
    """What a Sentinel URL says: where the sentinels are, which service, which database, auth."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Read a Sentinel URL; a malformed one raises ValueError saying what is wrong."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() == "rediss+sentinel":
        raise ValueError(
            "rediss+sentinel:// (TLS through Sentinel) is not supported: "
            f"use {SCHEME}:// on a trusted network"
        )
    if scheme.lower() != SCHEME:
        raise ValueError(f"not a Sentinel URL: expected {SCHEME}://, e.g. {EXAMPLE}")
    parts = urlsplit(f"x://{rest}")
    userinfo, at, hosts = parts.netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    sentinels = tuple(_address(entry) for entry in hosts.split(","))
    path = [segment for segment in parts.path.split("/") if segment]
    if not path or len(path) > 2:
        raise ValueError(f"a Sentinel URL ends with /<service>[/<db>], e.g. {EXAMPLE}")
    db = 0
    if len(path) == 2:
        if not path[1].isdigit():
            raise ValueError(f"the database in a Sentinel URL must be a number, not {path[1]!r}")
        db = int(path[1])
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - PARAMETERS)
    if unknown:
        raise ValueError(
            f"unknown Sentinel URL parameter {unknown[0]!r}: "
            f"allowed are {', '.join(sorted(PARAMETERS))}"
        )
    return SentinelUrl(
        sentinels=sentinels,
        service=unquote(path[0]),
        db=db,
        username=username,
        password=password,
        sentinel_username=query.get("sentinel_username"),
        sentinel_password=query.get("sentinel_password"),
    )


def _address(entry: str) -> tuple[str, int]:
    host, colon, port = entry.strip().rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ValueError(f"a sentinel must be host:port, not {entry!r} (e.g. {EXAMPLE})")
    return host.strip("[]"), int(port)


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel-managed pool that, like the plain client's, waits for a free connection."""


class SentinelRedis(redis.asyncio.Redis):
    """A client of the current primary that also closes its connections to the sentinels."""

    watchers: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the client, then the sentinel connections it used to find the primary."""
        await super().aclose(close_connection_pool)
        if self.watchers is not None:
            for watcher in self.watchers.sentinels:
                await watcher.aclose()


def sentinel_redis(url: str, *, blocking: bool = False, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client of the primary the sentinels in ``url`` name, following failovers."""
    parsed = parse_sentinel_url(url)
    # The sentinels get the same timeouts as the data connections, so an unreachable
    # sentinel is skipped instead of hanging the lookup.
    sentinel_options: dict[str, Any] = {
        key: options[key] for key in ("socket_timeout", "socket_connect_timeout") if key in options
    }
    if parsed.sentinel_password is not None:
        sentinel_options["password"] = parsed.sentinel_password
    if parsed.sentinel_username is not None:
        sentinel_options["username"] = parsed.sentinel_username
    sentinel = Sentinel(  # type: ignore[no-untyped-call]  # unannotated in redis-py
        list(parsed.sentinels), sentinel_kwargs=sentinel_options
    )
    auth = {"username": parsed.username, "password": parsed.password}
    client = sentinel.master_for(
        parsed.service,
        redis_class=SentinelRedis,
        connection_pool_class=BlockingSentinelPool if blocking else SentinelConnectionPool,
        db=parsed.db,
        **{key: value for key, value in auth.items() if value is not None},
        **options,
    )
    assert isinstance(client, SentinelRedis)
    client.watchers = sentinel
    return client
