"""The ceiling: the least a Redis Streams queue in Python must do, in plain redis-py + msgspec.

Enqueue: pipelined XADD. Worker: XREADGROUP COUNT 500 (32 for tasks that sleep, which then run
concurrently), decode, run, then one pipeline per batch with XACK + XDEL and a SET (with TTL) and
PUBLISH per result. No leases, retries, or error handling: nothing a real queue could skip.

Worker: ``python -m bench.peers.bare worker [--count N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bench.peers import common
from bench.peers.probe import PROBE

STREAM = "bare:ready"
GROUP = "bare"
DONE = "bare:done"
RESULT = "bare:result:"


class Envelope(msgspec.Struct, array_like=True, gc=False):
    id: str
    seconds: float


ENCODER = msgspec.msgpack.Encoder()
DECODER = msgspec.msgpack.Decoder(Envelope)
NONE = ENCODER.encode(None)

redis: Redis | None = None


async def nap(seconds: float) -> None:
    """The benchmark task: sleep ``seconds`` (0: return at once), then count itself."""
    if seconds:
        await asyncio.sleep(seconds)
    PROBE.done()


async def work(count: int, stop: asyncio.Event | None = None) -> None:
    """Serve the stream until killed (or, for ``bench/profile.py``, until ``stop`` is set,
    checked after each batch: cancelling a blocked XREADGROUP can hang in redis-py)."""
    r = Redis.from_url(common.REDIS_URL)
    try:
        await r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    consumer = f"bare-{os.getpid()}"
    ttl = common.RESULT_TTL * 1000
    while stop is None or not stop.is_set():
        reply = await r.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=count, block=1000)
        if not reply:
            continue
        entries = reply[0][1]
        ids = [entry for entry, _ in entries]
        tasks = [DECODER.decode(fields[b"t"]) for _, fields in entries]
        if count > common.CONCURRENCY:
            # No-op tasks never suspend: running them in turn is as concurrent as it gets.
            for task in tasks:
                await nap(task.seconds)
        else:
            await asyncio.gather(*(nap(task.seconds) for task in tasks))
        async with r.pipeline(transaction=False) as pipe:
            pipe.xack(STREAM, GROUP, *ids)
            pipe.xdel(STREAM, *ids)
            for task in tasks:
                pipe.set(RESULT + task.id, NONE, px=ttl)
                pipe.publish(DONE, task.id)
            await pipe.execute()


@asynccontextmanager
async def session() -> AsyncIterator[None]:
    global redis
    async with Redis.from_url(common.REDIS_URL) as redis:
        await redis.ping()
        yield


async def enqueue(n: int, seconds: float, mode: str) -> None:
    assert redis is not None
    async with redis.pipeline(transaction=False) as pipe:
        for _ in range(n):
            pipe.xadd(STREAM, {"t": ENCODER.encode(Envelope(uuid.uuid4().hex, seconds))})
        await pipe.execute()


_pubsub = None


async def roundtrip(timeout: float) -> None:
    global _pubsub
    assert redis is not None
    if _pubsub is None:
        _pubsub = redis.pubsub()
        await _pubsub.subscribe(DONE)
    task_id = uuid.uuid4().hex
    await redis.xadd(STREAM, {"t": ENCODER.encode(Envelope(task_id, 0.0))})
    async with asyncio.timeout(timeout):
        while True:
            message = await _pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is not None and message["data"] == task_id.encode():
                return


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        parser = argparse.ArgumentParser()
        parser.add_argument("worker")
        parser.add_argument("--count", type=int, default=500)
        asyncio.run(work(parser.parse_args().count))
    else:
        common.main(enqueue=enqueue, roundtrip=roundtrip, session=session)
