"""streaq, as its published benchmark configures it: ``Worker(concurrency=32)`` on uvloop,
enqueue with one ``enqueue_many``.

Worker: ``streaq run bench.peers.streaq:worker``.
"""

from __future__ import annotations

import asyncio

import uvloop
from streaq import Worker

from bench.peers import common
from bench.peers.probe import PROBE

worker = Worker(
    redis_url=common.REDIS_URL,
    concurrency=common.CONCURRENCY,
    anyio_kwargs={"use_uvloop": True},
)


@worker.task(ttl=common.RESULT_TTL)
async def nap(seconds: float) -> None:
    """The benchmark task: sleep ``seconds`` (0: return at once), then count itself."""
    if seconds:
        await asyncio.sleep(seconds)
    PROBE.done()


async def enqueue(n: int, seconds: float, mode: str) -> None:
    if mode == "many":
        await worker.enqueue_many([nap.enqueue(seconds) for _ in range(n)])
    else:
        await common.gather_limited(common.each(lambda: nap.enqueue(seconds), n))


async def roundtrip(timeout: float) -> None:
    task = await nap.enqueue(0.0)
    await task.result(timeout=timeout)


if __name__ == "__main__":
    common.main(enqueue=enqueue, roundtrip=roundtrip, session=lambda: worker, runner=uvloop.run)
