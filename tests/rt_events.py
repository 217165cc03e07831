"""What the handlers of tests/fixtures/rt_worker.py announce: each start on ``rt:started``
("task-id delivery pid"), and each task's run count in the hash ``rt:runs``."""

from __future__ import annotations

import asyncio

import redis.asyncio
from redis.asyncio.client import PubSub


async def next_start(pubsub: PubSub, timeout: float = 20) -> tuple[str, int, int]:
    """The next (task id, delivery, worker pid) a handler announced."""
    async with asyncio.timeout(timeout):
        while True:
            message = await pubsub.get_message(timeout=timeout)
            if message is not None:
                task_id, delivery, pid = message["data"].decode().split()
                return task_id, int(delivery), int(pid)


async def runs(url: str) -> dict[str, int]:
    """How many times each task ran, by task id."""
    r = redis.asyncio.Redis.from_url(url)
    counts = await r.hgetall("rt:runs")
    await r.aclose()
    return {k.decode(): int(v) for k, v in counts.items()}
