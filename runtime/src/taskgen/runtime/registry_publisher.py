"""A worker's entries in the contract registry: written when it starts, on every heartbeat,
and marked stopped when it stops, one per queue it serves (see ``registry``)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskgen.runtime.binding import Binding
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.registry import (
    HEARTBEAT,
    KEEP,
    LIVE,
    STALE_AFTER,
    STOPPED,
    RegistryKeys,
    encode_contract,
    served_key,
)
from taskgen.runtime.scripts import source

log = logging.getLogger("taskgen.worker")


class RegistryPublisher:
    """Publishes which tasks and fingerprints this worker runs on each of its queues."""

    def __init__(
        self,
        redis: Redis,
        queues: Iterable[QueueKeys],
        bindings: Mapping[str, Binding[Any, Any]],
        *,
        worker: str,
        prefix: str,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self._redis = redis
        self._script = redis.register_script(source("registry_publish"))
        self._worker = worker
        self._prefix = prefix
        self._heartbeat = heartbeat
        self._stale_after = str(round(heartbeat * STALE_AFTER * 1000))
        self._entries: list[tuple[RegistryKeys, str, bytes]] = []
        self._served: dict[str, str] = {}
        for keys in queues:
            tasks = [b.task for b in bindings.values() if b.task.queue == keys.queue]
            self._entries.append((RegistryKeys(keys), *encode_contract(tasks)))
            self._served.update((task.name, keys.queue) for task in tasks)

    async def join(self) -> None:
        """Publish this worker's entries, contracts included, before it reads any task."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, digest, contract in self._entries:
                await self._write(pipe, keys, LIVE, digest, contract)
            if self._served:
                served = served_key(self._prefix)
                pipe.hset(served, items=[*itertools.chain(*self._served.items())])
                pipe.expire(served, KEEP)
            await pipe.execute()

    async def run(self) -> None:
        """Beat every ``heartbeat`` seconds until cancelled; a beat that finds its contract
        gone (a flushed or restarted Redis) writes the entry whole again."""
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for keys, digest, _ in self._entries:
                        await self._write(pipe, keys, LIVE, digest, b"")
                    found = await pipe.execute()
                if not all(found):
                    await self.join()
            except RedisError as exc:
                log.warning("registry heartbeat failed (%s); trying again", exc)

    async def leave(self, patience: float = 5.0) -> None:
        """Mark the entries stopped: they stay, so a deploy in progress stays visible.

        Gives up after ``patience`` seconds of an unreachable Redis (the entry then turns stale
        by its heartbeat), so a shutdown in an outage stays bounded."""
        try:
            async with asyncio.timeout(patience), self._redis.pipeline(transaction=False) as pipe:
                for keys, digest, contract in self._entries:
                    await self._write(pipe, keys, STOPPED, digest, contract)
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not mark this worker stopped in the registry (%r)", exc)

    async def _write(
        self, pipe: Any, keys: RegistryKeys, state: str, digest: str, contract: bytes
    ) -> None:
        await self._script(
            keys=[keys.workers, keys.contracts],
            args=[
                self._worker,
                state,
                digest,
                contract,
                self._stale_after,
                KEEP,
                keys.channel,
            ],
            client=pipe,
        )
