"""taskiq + taskiq-redis, as their published benchmark configures them:
``RedisStreamBroker(xread_count=32)`` with ``RedisAsyncResultBackend``, enqueue one by one with a
semaphore of 32, results polled every 1 ms.

Worker: ``taskiq worker bench.peers.taskiq:broker --workers 1 --max-async-tasks 32
--max-prefetch 32``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from bench.peers import common
from bench.peers.probe import PROBE

#: How often ``wait_result`` polls the result backend, as in BENCHMARKS.md (1 ms).
RESULT_POLL = 0.001

broker = RedisStreamBroker(common.REDIS_URL, xread_count=common.CONCURRENCY).with_result_backend(
    RedisAsyncResultBackend(common.REDIS_URL, result_ex_time=common.RESULT_TTL)
)


@broker.task(task_name="bench.nap")
async def nap(seconds: float = 0.0) -> None:
    """The benchmark task: sleep ``seconds`` (0: return at once), then count itself."""
    if seconds:
        await asyncio.sleep(seconds)
    PROBE.done()


@asynccontextmanager
async def session() -> AsyncIterator[None]:
    # startup() declares the consumer group; it starts at "$", so before any enqueue.
    await broker.startup()
    try:
        yield
    finally:
        await broker.shutdown()


async def enqueue(n: int, seconds: float, mode: str) -> None:
    await common.gather_limited(common.each(lambda: nap.kiq(seconds), n))


async def roundtrip(timeout: float) -> None:
    task = await nap.kiq(0.0)
    result = await task.wait_result(check_interval=RESULT_POLL, timeout=timeout)
    if result.is_err:
        raise RuntimeError(f"taskiq task failed: {result.error!r}")


if __name__ == "__main__":
    common.main(enqueue=enqueue, roundtrip=roundtrip, session=session)
