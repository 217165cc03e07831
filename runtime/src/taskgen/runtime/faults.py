"""Riding through Redis faults: one-line reports, backoff, and repairing what a flush removed.

Every worker loop that talks to Redis catches the errors a restart, a failover or a black-holed
server cause (``OUTAGE``), reports them in one line, and tries again after a growing delay. A
``FLUSHALL``, a failover to an empty replica or an eviction removes the consumer group; the first
loop that meets ``NOGROUP`` creates it again.
"""

from __future__ import annotations

import asyncio
import random
from urllib.parse import urlsplit, urlunsplit

from redis import exceptions
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from taskgen.runtime.errors import TaskgenError
from taskgen.runtime.keys import GROUP, QueueKeys

#: What a restart, failover, outage or unanswering server raise, at connect or on a command.
OUTAGE: tuple[type[BaseException], ...] = (
    exceptions.ConnectionError,
    exceptions.TimeoutError,
    OSError,
)

#: Connecting, and every command, give up after these many seconds (then the caller retries):
#: a black-holed server must never block a worker for good.
CONNECT_TIMEOUT = 5.0
SOCKET_TIMEOUT = 10.0


class EvictingPolicy(TaskgenError):
    """The server may evict keys, and would drop queued tasks and their states silently."""


class Backoff:
    """Growing delays between retries: doubling from ``first`` up to ``most`` seconds, jittered."""

    __slots__ = ("_delay", "first", "most")

    def __init__(self, first: float = 0.05, most: float = 5.0) -> None:
        self.first = first
        self.most = most
        self._delay = first

    def next(self) -> float:
        """The next delay to wait (somewhere in its upper half, so workers do not march in step)."""
        delay = self._delay
        self._delay = min(self.most, delay * 2)
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        """Start again from ``first``, after a success."""
        self._delay = self.first


def redact(url: str) -> str:
    """The URL without its password (in the user part or a ``password=`` parameter), for logs."""
    parts = urlsplit(url)
    if parts.password is not None:
        # Everything after the user part, so a Sentinel URL keeps all its host:port pairs.
        host = parts.netloc.rpartition("@")[2]
        url = urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    base, mark, query = url.partition("?")
    if not mark:
        return url
    hidden = [
        "password=***" if pair.split("=", 1)[0] == "password" else pair for pair in query.split("&")
    ]
    return f"{base}?{'&'.join(hidden)}"


def describe(exc: BaseException) -> str:
    """An error in one line: its type and message."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def missing_group(exc: BaseException) -> bool:
    """Whether Redis said the consumer group (or its stream) is gone: a flush or failover."""
    return isinstance(exc, ResponseError) and "NOGROUP" in str(exc)


async def create_groups(redis: Redis, keys: QueueKeys) -> int:
    """Create the consumer group of each of the queue's streams that lacks one; how many were."""
    created = 0
    for stream in keys.streams:
        try:
            await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        else:
            created += 1
    return created


async def join_groups(redis: Redis, keys: QueueKeys, consumer: str) -> None:
    """Make ``consumer`` a member of each of the queue's groups now, in one round trip.

    Valkey and Redis 7.2+ add a consumer at its first read, Redis 6.2-7.0 only once it reads an
    entry: joining at start makes a worker visible (and sweepable) the same way on each."""
    async with redis.pipeline(transaction=False) as pipe:
        for stream in keys.streams:
            pipe.xgroup_createconsumer(stream, GROUP, consumer)
        await pipe.execute()


#: The policies that never evict a key without a TTL; every other one may drop queued tasks.
SAFE_POLICIES = frozenset({"noeviction"})


async def check_eviction_policy(redis: Redis, url: str) -> str | None:
    """Raise ``EvictingPolicy`` if the server may evict keys; its policy, or None if hidden.

    It reads ``INFO memory``, not ``CONFIG GET``: managed services and least-privilege users
    (``taskgen acl``) are often denied CONFIG, whose answers include passwords. Where INFO is
    denied too, the policy cannot be known and is not checked."""
    try:
        reply = await redis.info("memory")
    except ResponseError:
        return None
    raw: object = reply.get("maxmemory_policy")
    if raw is None:
        return None
    policy = raw.decode() if isinstance(raw, bytes) else str(raw)
    if policy not in SAFE_POLICIES:
        raise EvictingPolicy(
            f"Redis at {redact(url)} has maxmemory-policy {policy}: it may evict queued tasks and "
            "their states without a trace. Set it to noeviction "
            "(CONFIG SET maxmemory-policy noeviction, or maxmemory-policy in redis.conf), "
            "or pass Worker(allow_eviction=True) to run anyway"
        )
    return policy


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass
