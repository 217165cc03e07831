"""Payload limits against a real Redis: refused at the client unsent, dead-lettered undecoded."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import redis.asyncio

from taskgen.runtime import (
    Binding,
    Call,
    Client,
    Context,
    EnqueueFailed,
    PayloadTooLarge,
    TaskDef,
    TaskRejected,
    Worker,
)
from taskgen.runtime.limits import MAX_ENVELOPE_BYTES
from taskgen.runtime.wire import ENCODER, Envelope, new_task_id, now_ms
from tests.support import worker_process
from tests.tasks_fixture import ADD, SLEEP, AddArgs, SleepArgs, bind_add, running_worker

READY = "taskgen:{math}:ready:1"
DEAD = "taskgen:{math}:dead"
RT = "tests.fixtures.rt_worker:worker"


class NestArgs(msgspec.Struct, frozen=True, kw_only=True):
    value: Any


NEST = TaskDef[NestArgs, int](
    name="math.nest",
    queue="math",
    fingerprint="nest-v1",
    args=NestArgs,
    result=int,
    params=(("value", "positional"),),
)


async def depth(ctx: Context, value: Any) -> int:
    levels = 0
    while isinstance(value, list) and value:
        value, levels = value[0], levels + 1
    return levels


def bind_nest() -> Binding[NestArgs, int]:
    return Binding(NEST, depth, lambda ctx, args, _: depth(ctx, args.value))


def nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


async def queued(r: redis.asyncio.Redis) -> int:
    return int(await r.xlen(READY)) if await r.exists(READY) else 0


async def envelope_size(redis_url: str, tag: str) -> int:
    """The size this client's envelope of SLEEP(tag) has, as a limit of 1 reports it."""
    async with Client.from_url(redis_url, registry="off", max_envelope_bytes=1) as probe:
        with pytest.raises(PayloadTooLarge) as refused:
            await probe.enqueue(SLEEP, SleepArgs(seconds=0, tag=tag))
    return refused.value.size


async def test_an_oversized_enqueue_is_refused_unsent_naming_task_size_and_limit(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url, registry="off", max_envelope_bytes=1000) as client:
        with pytest.raises(PayloadTooLarge) as refused:
            await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="x" * 2000))
        error = refused.value
        assert (error.task, error.limit) == ("math.sleep", 1000) and error.size > 2000
        assert isinstance(error, EnqueueFailed) and error.handles == []
        assert "math.sleep" in str(error) and f"{error.size:,}" in str(error)
        assert "1,000" in str(error) and "nothing enqueued" in str(error)
        assert await queued(r) == 0
        assert await r.keys("taskgen:{math}:task:*") == []


async def test_one_oversized_call_fails_the_whole_batch_before_any_is_sent(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    calls = [Call(SLEEP, SleepArgs(seconds=0, tag=f"ok{i}")) for i in range(5)]
    calls.insert(3, Call(SLEEP, SleepArgs(seconds=0, tag="x" * 5000)))
    async with Client.from_url(redis_url, registry="off", max_envelope_bytes=1000) as client:
        with pytest.raises(PayloadTooLarge) as refused:
            await client.enqueue_many(calls)
        assert refused.value.position == 3 and refused.value.handles == []
        assert "call #3" in str(refused.value) and "nothing of the batch" in str(refused.value)
        assert await queued(r) == 0
        handles = await client.enqueue_many(calls[:3] + calls[4:])
        assert len(handles) == 5 and await queued(r) == 5


def test_the_default_limit_and_bad_limits() -> None:
    assert Client.from_url("redis://localhost:1").max_envelope_bytes == MAX_ENVELOPE_BYTES
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_envelope_bytes"):
            Client.from_url("redis://localhost:1", max_envelope_bytes=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_envelope_bytes"):
            Worker([bind_add()], max_envelope_bytes=bad)  # type: ignore[arg-type]


# Tag lengths inside each msgpack string-header width (fixstr, str8, str16, str32), so one more
# character is one more byte.
@pytest.mark.parametrize("start", [0, 100, 1000, 70_000])
async def test_sizes_at_the_limit_pass_and_one_byte_over_are_refused_on_both_sides(
    redis_url: str, start: int
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    limit = await envelope_size(redis_url, "t" * start) + 1
    tags = ["t" * (start + extra) for extra in range(4)]  # sizes limit-1, limit, limit+1, +2
    assert [await envelope_size(redis_url, tag) for tag in tags] == [
        limit - 1,
        limit,
        limit + 1,
        limit + 2,
    ]
    async with Client.from_url(redis_url, registry="off", max_envelope_bytes=limit) as client:
        for tag in tags[:2]:
            await client.enqueue(SLEEP, SleepArgs(seconds=0, tag=tag))
        for tag in tags[2:]:
            with pytest.raises(PayloadTooLarge):
                await client.enqueue(SLEEP, SleepArgs(seconds=0, tag=tag))
    assert await queued(r) == 2

    async def sleep(ctx: Context, seconds: float, tag: str) -> str:
        return tag

    binding = Binding(SLEEP, sleep, lambda ctx, a, _: sleep(ctx, a.seconds, a.tag))
    generous = Client.from_url(redis_url, registry="off", max_envelope_bytes=limit + 10)
    async with generous as client, running_worker(redis_url, [binding], max_envelope_bytes=limit):
        handles = [await client.enqueue(SLEEP, SleepArgs(seconds=0, tag=tag)) for tag in tags]
        assert [await h.result(timeout=10) for h in handles[:2]] == tags[:2]
        for handle in handles[2:]:
            with pytest.raises(TaskRejected, match=f"over this worker's limit of {limit:,}"):
                await handle.result(timeout=10)
    dead = await r.xrange(DEAD)
    assert [d[1][b"id"].decode() for d in dead] == [h.id for h in handles[2:]]
    assert all(b"not decoded" in d[1][b"reason"] for d in dead)


async def test_a_raw_oversized_entry_is_dead_lettered_undecoded_and_the_next_task_runs(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    limit = 4096
    # Not msgpack at all: decoding it would dead-letter it as BadEnvelope, not as too large.
    garbage = b"\xc1" * (limit + 1)
    async with running_worker(redis_url, [bind_add()], max_envelope_bytes=limit):
        await r.xadd(READY, {"huge-id": garbage})
        async with Client.from_url(redis_url) as client:
            good = await client.enqueue(ADD, AddArgs(a=2, b=3))
            assert await good.result(timeout=10) == 5
    dead = await r.xrange(DEAD)
    assert [d[1][b"id"] for d in dead] == [b"huge-id"]
    reason = dead[0][1][b"reason"].decode()
    assert f"{limit + 1:,} bytes" in reason and f"limit of {limit:,}" in reason
    assert "cannot be decoded" not in reason
    assert dead[0][1][b"envelope"] == garbage  # kept whole in the dead letter: nothing lost
    assert (await r.xpending(READY, "taskgen"))["pending"] == 0


async def test_deep_nesting_is_refused_by_the_client_and_dead_lettered_by_the_worker(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    deep = nested(100_000)
    async with Client.from_url(redis_url, registry="off") as client:
        with pytest.raises(RecursionError):
            await client.enqueue(NEST, NestArgs(value=deep))
        with pytest.raises(EnqueueFailed, match=r"call #1 \(math\.nest\) cannot be encoded"):
            await client.enqueue_many(
                [Call(NEST, NestArgs(value=[])), Call(NEST, NestArgs(value=deep))]
            )
        assert await queued(r) == 0
        raw_args = b"\x81\xa5value" + b"\x91" * 100_000 + b"\x90"
        envelope = Envelope(
            new_task_id(), NEST.name, NEST.fingerprint, msgspec.Raw(raw_args), now_ms()
        )
        async with running_worker(redis_url, [bind_nest()]):
            await r.xadd(READY, {envelope.id: ENCODER.encode(envelope)})
            shallow = await client.enqueue(NEST, NestArgs(value=nested(50)))
            assert await shallow.result(timeout=10) == 50
    dead = await r.xrange(DEAD)
    assert [d[1][b"id"].decode() for d in dead] == [envelope.id]
    assert b"nested deeper than the worker decodes" in dead[0][1][b"reason"]


async def test_the_cli_option_sets_a_real_workers_limit(redis_url: str) -> None:
    limit = 2000
    with worker_process(redis_url, "--max-envelope-bytes", str(limit), target=RT):
        async with Client.from_url(redis_url, registry="off") as client:
            big = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="x" * limit))
            with pytest.raises(TaskRejected, match=f"over this worker's limit of {limit:,}"):
                await big.result(timeout=20)
            small = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="small"))
            assert (await small.result(timeout=20)).endswith(" 1 1")
