"""saq, as its published benchmark configures it: ``concurrency=32``, ``dequeue_timeout=1``,
enqueue one by one with a semaphore of 32; results awaited with ``Queue.apply``.

Worker: ``saq bench.peers.saq.settings --quiet``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from saq import Queue

from bench.peers import common
from bench.peers.probe import PROBE

queue = Queue.from_url(common.REDIS_URL)


async def nap(ctx: Any, *, seconds: float = 0.0) -> None:
    """The benchmark task: sleep ``seconds`` (0: return at once), then count itself."""
    if seconds:
        await asyncio.sleep(seconds)
    PROBE.done()


settings = {
    "queue": queue,
    "functions": [nap],
    "concurrency": common.CONCURRENCY,
    "dequeue_timeout": 1,
}


async def enqueue(n: int, seconds: float, mode: str) -> None:
    await common.gather_limited(
        common.each(lambda: queue.enqueue("nap", seconds=seconds, ttl=common.RESULT_TTL), n)
    )


async def roundtrip(timeout: float) -> None:
    await queue.apply("nap", timeout=timeout, ttl=common.RESULT_TTL)


class Session:
    """Connects the queue before timing starts and disconnects it afterwards."""

    async def __aenter__(self) -> None:
        await queue.connect()

    async def __aexit__(self, *exc: object) -> None:
        await queue.disconnect()


if __name__ == "__main__":
    common.main(enqueue=enqueue, roundtrip=roundtrip, session=Session)
