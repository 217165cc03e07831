"""taskgen: a hand-written TaskDef and Binding (what codegen would emit) and its client side.

The binding's adapter takes ``(ctx, args, extras)`` like the generated ones; ``extras`` (what an
injector provides) is always empty here.

Worker: ``taskgen worker bench.peers.taskgen:worker --concurrency 32``. With
``TASKGEN_SIGNING_KEY`` set (``./dev bench --signing``) the client signs and the worker, which
reads the same variable, checks and signs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec

from bench.peers import common
from bench.peers.probe import PROBE
from taskgen.runtime import Binding, Call, Client, Context, Signing, TaskDef, Worker


class NapArgs(msgspec.Struct, frozen=True, kw_only=True):
    seconds: float = 0.0


NAP = TaskDef[NapArgs, None](
    name="bench.nap",
    queue="bench",
    fingerprint="bench-nap-v1",
    args=NapArgs,
    result=None,
    params=(("seconds", "positional"),),
    result_ttl=common.RESULT_TTL,
)


async def nap(ctx: Context, seconds: float) -> None:
    """The benchmark task: sleep ``seconds`` (0: return at once), then count itself."""
    if seconds:
        await asyncio.sleep(seconds)
    PROBE.done()


worker = Worker(
    [Binding(NAP, nap, lambda ctx, args, extras: nap(ctx, args.seconds))],
    redis_url=common.REDIS_URL,
    concurrency=common.CONCURRENCY,
)

client: Client | None = None


@asynccontextmanager
async def session() -> AsyncIterator[None]:
    global client
    signing = Signing.from_env() if os.environ.get("TASKGEN_SIGNING_KEY") else None
    async with Client.from_url(common.REDIS_URL, signing=signing) as client:
        await client.redis.ping()
        yield


async def enqueue(n: int, seconds: float, mode: str) -> None:
    assert client is not None
    args = NapArgs(seconds=seconds)
    if mode == "many":
        await client.enqueue_many([Call(NAP, args) for _ in range(n)])
    else:
        await common.gather_limited(common.each(lambda: client.enqueue(NAP, args), n))


async def roundtrip(timeout: float) -> None:
    assert client is not None
    handle = await client.enqueue(NAP, NapArgs())
    await handle.result(timeout=timeout)


if __name__ == "__main__":
    common.main(enqueue=enqueue, roundtrip=roundtrip, session=session)
