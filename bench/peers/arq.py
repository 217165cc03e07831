"""arq, as its published benchmark configures it: ``max_jobs=32``, enqueue one by one with a
semaphore of 32, results polled every 0.5 s (its default). It pins redis<6: own virtualenv.

Worker: ``arq bench.peers.arq.WorkerSettings``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from bench.peers import common
from bench.peers.probe import PROBE

#: How often ``Job.result`` polls for the result: arq's default.
RESULT_POLL = 0.5

redis_settings = RedisSettings.from_dsn(common.REDIS_URL)


async def nap(ctx: Any, seconds: float = 0.0) -> None:
    """The benchmark task: sleep ``seconds`` (0: return at once), then count itself."""
    if seconds:
        await asyncio.sleep(seconds)
    PROBE.done()


class WorkerSettings:
    functions: ClassVar = [nap]
    redis_settings = redis_settings
    max_jobs = common.CONCURRENCY
    keep_result = common.RESULT_TTL


pool: ArqRedis | None = None


@asynccontextmanager
async def session() -> AsyncIterator[None]:
    global pool
    pool = await create_pool(redis_settings)
    try:
        yield
    finally:
        await pool.aclose()


async def enqueue(n: int, seconds: float, mode: str) -> None:
    assert pool is not None
    await common.gather_limited(common.each(lambda: pool.enqueue_job("nap", seconds), n))


async def roundtrip(timeout: float) -> None:
    assert pool is not None
    job = await pool.enqueue_job("nap", 0.0)
    assert job is not None
    await job.result(timeout=timeout, poll_delay=RESULT_POLL)


if __name__ == "__main__":
    common.main(enqueue=enqueue, roundtrip=roundtrip, session=session)
