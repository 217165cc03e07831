"""The read API (taskgen.runtime.inspect) against a real Redis: counts, task lookups, display."""

from __future__ import annotations

import asyncio
import math
import time

import msgspec
import pytest
import redis.asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgen.runtime import (
    NO_RETRY,
    Binding,
    Client,
    Context,
    EnqueueOptions,
    Priority,
    Retry,
    TaskFailed,
    bigint,
)
from taskgen.runtime.inspect import (
    THROUGHPUT_BUCKET,
    THROUGHPUT_WINDOW,
    UNTYPED_NOTE,
    decode_for_display,
    queue_names,
    queue_stats,
    queues_stats,
    task_info,
    task_types,
)
from taskgen.runtime.keys import QueueKeys
from taskgen.testing import EagerClient
from tests.tasks_fixture import (
    ADD,
    FLAKY,
    SLEEP,
    AddArgs,
    SleepArgs,
    bind_add,
    running_worker,
)


async def test_stats_count_ready_tasks_per_priority_and_delayed_ones(redis_url: str) -> None:
    async with Client.from_url(redis_url, registry="off") as client:
        for i in range(3):
            await client.enqueue(
                ADD, AddArgs(a=i, b=1), options=EnqueueOptions(priority=Priority.HIGH)
            )
        for i in range(5):
            await client.enqueue(ADD, AddArgs(a=i, b=2))
        for i in range(2):
            await client.enqueue(ADD, AddArgs(a=i, b=3), options=EnqueueOptions(delay=300))
    r = redis.asyncio.Redis.from_url(redis_url)
    stats = await queue_stats(r, "math")
    assert stats.ready == {"high": 3, "normal": 5, "low": 0}
    assert (stats.scheduled, stats.retrying, stats.running, stats.dead) == (2, 0, 0, 0)
    assert stats.oldest_wait is not None and 0 <= stats.oldest_wait < 30
    assert (stats.completed, stats.failed, stats.retried) == (0, 0, 0)
    empty = (await queues_stats(r, ["math", "nothing"]))[1]
    assert empty.ready_total == 0 and empty.oldest_wait is None
    assert msgspec.json.decode(msgspec.json.encode(stats))["ready"]["high"] == 3
    assert await queue_names(r, scan=True) == ["math"]


async def test_task_info_of_a_queued_task_holds_its_envelope(redis_url: str) -> None:
    async with Client.from_url(redis_url, registry="off") as client:
        handle = await client.enqueue(SLEEP, SleepArgs(seconds=1.5, tag="x"))
    r = redis.asyncio.Redis.from_url(redis_url)
    info = await task_info(r, handle.id)  # found by scanning: no worker registered the queue
    assert info is not None
    assert (info.queue, info.status, info.task, info.attempts) == (
        "math",
        "queued",
        "math.sleep",
        1,
    )
    assert info.args is not None
    assert decode_for_display(info.args, SLEEP.args) == {"seconds": 1.5, "tag": "x"}
    untyped = decode_for_display(info.args, None)
    assert untyped["note"] == UNTYPED_NOTE
    assert await task_info(r, "no-such-task") is None


def test_task_types_from_a_module_and_from_a_worker_target() -> None:
    found = task_types("tests.tasks_fixture")
    assert found["math.add"] is ADD and found["math.sleep"] is SLEEP
    with pytest.raises(ValueError, match="cannot import"):
        task_types("no.such.module")


async def always_fails(ctx: Context, a: int, b: int) -> int:
    raise KeyError("nope")


def bind_failing(retry: Retry) -> Binding[AddArgs, int]:
    return Binding(FLAKY, always_fails, lambda ctx, a, _: always_fails(ctx, a.a, a.b))


async def test_a_retry_counts_as_retrying_until_promoted_or_aborted(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    keys = QueueKeys("math")
    slow = {"math.flaky": Retry(attempts=2, backoff=600, jitter=False)}
    fast = {"math.flaky": Retry(attempts=3, backoff=0.001, jitter=False)}
    async with Client.from_url(redis_url, registry="off") as client:
        async with running_worker(redis_url, [bind_failing(NO_RETRY)], retries=slow):
            waiting = await client.enqueue(FLAKY, AddArgs(a=1, b=1))
            deadline = time.monotonic() + 10
            while (await queue_stats(r, "math")).retrying != 1:
                assert time.monotonic() < deadline, "the task never waited for its retry"
                await asyncio.sleep(0.02)
            stats = await queue_stats(r, "math")
            assert (stats.scheduled, stats.retrying, stats.retried, stats.failed) == (0, 1, 1, 0)
            info = await task_info(r, waiting.id, queue="math")
            assert info is not None and (info.status, info.retrying, info.attempts) == (
                "scheduled",
                True,
                2,
            )
            assert (
                info.due_at is not None and info.due_at > time.time() * 1000 + 200_000
            )  # max_delay: 300 s
            assert await waiting.abort()
            assert (await queue_stats(r, "math")).retrying == 0
        async with running_worker(redis_url, [bind_failing(NO_RETRY)], retries=fast):
            dead = await client.enqueue(FLAKY, AddArgs(a=2, b=2))
            with pytest.raises(TaskFailed):
                await dead.result(timeout=10)
    assert await r.scard(keys.retrying) == 0  # each retry left the set when promoted
    stats = await queue_stats(r, "math")
    assert (stats.retried, stats.failed, stats.dead) == (3, 1, 1)
    info = await task_info(r, dead.id)
    assert info is not None and info.dead_letter is not None
    assert info.dead_letter.reason == "retries exhausted"
    assert info.error is not None and info.error.type == "KeyError"
    assert info.args is not None and decode_for_display(info.args, AddArgs) == {"a": 2, "b": 2}
    await r.aclose()


async def current_bucket(r: redis.asyncio.Redis) -> int:
    seconds, micros = await r.time()
    return (int(seconds) * 1000 + int(micros) // 1000) // (THROUGHPUT_BUCKET * 1000)


@pytest.mark.parametrize("age", range(-2, 20))
async def test_throughput_counts_exactly_the_buckets_of_the_last_minute(
    redis_url: str, age: int
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    counts = QueueKeys("math").throughput
    while True:  # written and read within one bucket, so "age" means what it says
        now = await current_bucket(r)
        bucket = now - age  # a negative age: a worker whose clock is ahead of Redis's
        await r.hset(counts, mapping={f"{bucket}d": 3, f"{bucket}f": 2, f"{bucket}r": 1})
        stats = await queue_stats(r, "math")
        if await current_bucket(r) == now:
            break
    counted = age < THROUGHPUT_WINDOW // THROUGHPUT_BUCKET
    assert (stats.completed, stats.failed, stats.retried) == ((3, 2, 1) if counted else (0, 0, 0))
    await r.aclose()


async def test_a_worker_drops_buckets_older_than_its_window(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    counts = QueueKeys("math").throughput
    async with (
        Client.from_url(redis_url, registry="off") as client,
        running_worker(redis_url, [bind_add()]),
    ):
        while True:
            now = await current_bucket(r)
            # Left by a worker that stopped a while ago: 16 buckets old, and 15 (kept).
            await r.hset(counts, mapping={f"{now - 16}d": 100, f"{now - 15}f": 7, "junk": 1})
            assert await (await client.enqueue(ADD, AddArgs(a=1, b=1))).result(10) == 2
            if await current_bucket(r) == now:
                break
    assert await r.hgetall(counts) == {f"{now}d".encode(): b"1", f"{now - 15}f".encode(): b"7"}
    stats = await queue_stats(r, "math")
    assert (stats.completed, stats.failed) == (1, 0)
    await r.aclose()


async def test_progress_reports_are_coalesced_into_the_next_batch(redis_url: str) -> None:
    reports = 2000

    async def busy(ctx: Context, a: int, b: int) -> int:
        for i in range(reports):
            ctx.progress(i, f"item {i}")
            await asyncio.sleep(0)  # the completer could write between any two reports
        ctx.progress(reports, "all")
        return a + b

    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url, registry="off") as client:
        async with running_worker(
            redis_url, [Binding(ADD, busy, lambda c, a, _: busy(c, a.a, a.b))]
        ):
            before = await script_calls(r)
            handle = await client.enqueue(ADD, AddArgs(a=1, b=2))
            assert await handle.result(timeout=10) == 3
            calls = await script_calls(r) - before
        progress = await handle.progress()
    assert progress is not None and (progress.value, progress.message) == (reports, "all")
    assert calls < 20, f"{calls} script calls for {reports} progress reports"
    await r.aclose()


async def script_calls(r: redis.asyncio.Redis) -> int:
    stats = await r.info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )


@pytest.mark.parametrize("bad", ["half", True, None, float("nan"), float("inf"), [0.5]])
def test_progress_refuses_what_is_not_a_finite_number(bad: object) -> None:
    context = Context("t", "math.add", "math", 1, 1, 0, None)
    with pytest.raises((TypeError, ValueError), match=r"ctx\.progress\(\) takes"):
        context.progress(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="message must be a str"):
        context.progress(0.5, 3)  # type: ignore[arg-type]


async def test_the_eager_client_keeps_the_last_progress() -> None:
    async def counting(ctx: Context, a: int, b: int) -> int:
        ctx.progress(a, "of b")
        return a + b

    async with EagerClient(
        [Binding(ADD, counting, lambda c, a, _: counting(c, a.a, a.b))]
    ) as eager:
        handle = await eager.enqueue(ADD, AddArgs(a=4, b=5))
        assert await handle.result() == 9
        progress = await handle.progress()
    assert progress is not None and (progress.value, progress.message) == (4.0, "of b")


async def test_a_sweep_drops_retrying_ids_no_longer_delayed(redis_url: str) -> None:
    """An older client's abort removes a retrying task from ``delayed`` only."""
    r = redis.asyncio.Redis.from_url(redis_url)
    keys = QueueKeys("math")
    await r.sadd(keys.retrying, "aborted-by-an-old-client", "still-waiting")
    await r.zadd(keys.delayed, {"still-waiting": time.time() * 1000 + 600_000})
    async with running_worker(redis_url, [bind_add()], lease=0.3):
        deadline = time.monotonic() + 10
        while await r.scard(keys.retrying) != 1:
            assert time.monotonic() < deadline, "the stale id was never swept"
            await asyncio.sleep(0.05)
    assert await r.smembers(keys.retrying) == {b"still-waiting"}
    await r.aclose()


class Shipment(msgspec.Struct, frozen=True, kw_only=True):
    sku: str
    count: int
    weight: float | None = None
    tags: list[str] = []
    blob: bytes = b""


SHIPMENTS = st.builds(
    Shipment,
    sku=st.text(max_size=20),
    count=st.integers(min_value=-(2**100), max_value=2**100),  # big ints travel as BIG_INT
    weight=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    tags=st.lists(st.text(max_size=5), max_size=4),
    blob=st.binary(max_size=16),
)


@settings(max_examples=200, deadline=None)
@given(SHIPMENTS)
def test_display_decodes_any_payload_typed_and_shows_it_raw_without_a_type(
    shipment: Shipment,
) -> None:
    raw = bigint.encode(shipment)
    typed = decode_for_display(raw, Shipment)
    assert typed == msgspec.to_builtins(shipment)
    assert msgspec.json.decode(msgspec.json.encode(typed)) == typed  # JSON-able as it is
    untyped = decode_for_display(raw, None)
    assert untyped["note"] == UNTYPED_NOTE
    assert untyped["raw"]["count"] == shipment.count and untyped["raw"]["sku"] == shipment.sku
    msgspec.json.encode(untyped)
    mismatch = decode_for_display(raw, int)
    assert "does not decode as int" in mismatch["note"] and mismatch["raw"] == untyped["raw"]


@settings(max_examples=200, deadline=None)
@given(st.floats() | st.integers(min_value=-(2**60), max_value=2**60), st.text(max_size=10))
def test_progress_accepts_every_finite_number_and_refuses_the_rest(
    value: float, message: str
) -> None:
    context = Context("t", "math.add", "math", 1, 1, 0, None)
    if math.isfinite(value):
        context.progress(value, message)
    else:
        with pytest.raises(ValueError, match="finite number"):
            context.progress(value, message)
