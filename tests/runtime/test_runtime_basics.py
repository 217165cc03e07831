"""The runtime's core path against a real Redis: decode, run, reject, limit concurrency."""

from __future__ import annotations

import asyncio
import threading
import time

import msgspec
import pytest
import redis.asyncio

from taskgen.runtime import Binding, Client, Context, TaskRejected
from tests.tasks_fixture import (
    ADD,
    ADD_DRIFTED,
    SLEEP,
    UNKNOWN,
    AddArgs,
    AddTextArgs,
    SleepArgs,
    bind_add,
    running_worker,
)


async def test_a_payload_that_does_not_fit_is_rejected_and_the_worker_goes_on(
    redis_url: str,
) -> None:
    # The registry would refuse it at the client (tests/e2e/test_registry.py): off, the worker's
    # own check is what is left.
    off = Client.from_url(redis_url, registry="off")
    async with off as client, running_worker(redis_url, [bind_add()]):
        drifted = await client.enqueue(ADD_DRIFTED, AddTextArgs(a=1, b="two"))
        with pytest.raises(TaskRejected) as rejected:
            await drifted.result(timeout=10)
        message = str(rejected.value)
        assert "math.add" in message and "`$.b`" in message
        assert "add-v2" in message and "add-v1" in message
        good = await client.enqueue(ADD, AddArgs(a=1, b=2))
        assert await good.result(timeout=10) == 3

    dead = await redis.asyncio.Redis.from_url(redis_url).xrange("taskgen:{math}:dead")
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields[b"id"].decode() == drifted.id
    assert fields[b"task"] == b"math.add"
    assert b"does not fit" in fields[b"reason"]


async def test_an_unknown_task_name_is_rejected_not_left_pending(redis_url: str) -> None:
    off = Client.from_url(redis_url, registry="off")  # else refused at the client
    async with off as client, running_worker(redis_url, [bind_add()]):
        handle = await client.enqueue(UNKNOWN, AddArgs(a=1, b=2))
        with pytest.raises(TaskRejected, match=r"no handler for task 'math\.unknown'"):
            await handle.result(timeout=10)
    pending = await redis.asyncio.Redis.from_url(redis_url).xpending(
        "taskgen:{math}:ready:1", "taskgen"
    )
    assert pending["pending"] == 0


async def test_an_envelope_that_cannot_be_decoded_is_dead_lettered(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with running_worker(redis_url, [bind_add()]):
        await r.xadd("taskgen:{math}:ready:1", {"garbage-id": b"\xc1 not msgpack"})
        async with Client.from_url(redis_url) as client:
            good = await client.enqueue(ADD, AddArgs(a=2, b=2))
            assert await good.result(timeout=10) == 4
    dead = await r.xrange("taskgen:{math}:dead")
    assert [d[1][b"id"] for d in dead] == [b"garbage-id"]
    assert b"cannot be decoded" in dead[0][1][b"reason"]


async def test_async_and_sync_handlers_respect_the_concurrency_limit(redis_url: str) -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def sleep_sync(ctx: Context, seconds: float, tag: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(seconds)
        with lock:
            running -= 1
        return f"{tag}:{threading.current_thread().name.startswith('taskgen-handler')}"

    binding = Binding(SLEEP, sleep_sync, lambda ctx, a, _: sleep_sync(ctx, a.seconds, a.tag))
    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [binding], concurrency=3),
    ):
        handles = [
            await client.enqueue(SLEEP, SleepArgs(seconds=0.05, tag=str(i))) for i in range(12)
        ]
        results = await asyncio.gather(*(h.result(timeout=20) for h in handles))
    assert results == [f"{i}:True" for i in range(12)]
    assert most == 3


def test_envelopes_are_msgpack_not_pickle() -> None:
    from taskgen.runtime.taskdef import NO_OPTIONS, encode_call

    task_id, level, delay, payload = encode_call(ADD, AddArgs(a=1, b=2), NO_OPTIONS, 0)
    decoded = msgspec.msgpack.decode(payload)
    assert decoded[0] == task_id and decoded[1] == "math.add" and decoded[3] == {"a": 1, "b": 2}
    assert (level, delay) == (1, 0)
