"""How a client connects: a bounded pool that waits for a free connection, a timeout on every
call, and a bounded retry of calls that failed on the connection.

A web app shares one client between all its requests, so a burst of requests must queue for a
connection (up to ``POOL_WAIT`` seconds) rather than fail. Every call has a socket timeout, so
a server that stops answering fails the call instead of hanging it. A call that timed out or
lost its connection is ambiguous (the server may have run it); it is sent again, a bounded
number of times, because every call a client makes is safe to repeat: an enqueue carries a task
id the client made, and the enqueue script skips an id that already exists.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff

from taskgen.runtime.cluster import cluster_redis, is_cluster_url
from taskgen.runtime.sentinel import is_sentinel_url, sentinel_redis

#: Connections one client opens at most (one of them is kept for awaiting results).
POOL_SIZE = 64
#: Seconds a call waits for a free connection before it fails.
POOL_WAIT = 10.0
#: Seconds a call waits for the server's answer (and for a connection to open).
SOCKET_TIMEOUT = 5.0
#: Times a call that failed on its connection is sent again; backoff from 50 ms up to 0.5 s.
RETRIES = 3
RETRY_BASE = 0.05
RETRY_CAP = 0.5


def _options(options: dict[str, Any]) -> dict[str, Any]:
    """The defaults above, overridden by what the caller passed."""
    return {
        "max_connections": POOL_SIZE,
        "timeout": POOL_WAIT,
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        **options,
    }


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=RETRY_BASE, cap=RETRY_CAP)


def async_redis(url: str, **options: Any) -> redis.asyncio.Redis:
    """An asyncio Redis client for ``url`` with the pool, timeouts and retries above."""
    settings = _options({"retry": AsyncRetry(_backoff(), RETRIES), **options})
    if is_sentinel_url(url):
        return sentinel_redis(url, blocking=True, **settings)
    if is_cluster_url(url):
        return cluster_redis(url, **settings)
    pool = redis.asyncio.BlockingConnectionPool.from_url(url, **settings)
    return redis.asyncio.Redis(connection_pool=pool)


def redis_from_url(url: str, **options: Any) -> redis.asyncio.Redis:
    """``Redis.from_url`` that also takes ``redis+sentinel://`` (see sentinel.py) and
    ``redis+cluster://`` (see cluster.py) URLs."""
    if is_sentinel_url(url):
        return sentinel_redis(url, **options)
    if is_cluster_url(url):
        return cluster_redis(url, **options)
    return redis.asyncio.Redis.from_url(url, **options)
