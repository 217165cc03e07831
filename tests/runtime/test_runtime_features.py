"""Runtime features against a real Redis, with the worker in this process."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio

from taskgen.runtime import (
    Binding,
    Client,
    Context,
    HandlerMismatch,
    Priority,
    Retry,
    RetryLater,
    TaskAborted,
    TaskDef,
    TaskExpired,
    TaskFailed,
    TaskStatus,
    TaskTimedOut,
)
from taskgen.runtime.cron import Cron
from taskgen.runtime.deadletters import DeadLetters
from taskgen.runtime.taskdef import EnqueueOptions
from tests.tasks_fixture import ADD, FLAKY, SLEEP, AddArgs, SleepArgs, running_worker


def bind(task: TaskDef[Any, Any], fn: Any) -> Binding[Any, Any]:
    """Bind a handler that takes the args Struct's fields by name."""
    return Binding(
        task,
        fn,
        lambda ctx, args, _: fn(ctx, **{f: getattr(args, f) for f in args.__struct_fields__}),
    )


async def test_a_failing_task_is_retried_until_it_succeeds(redis_url: str) -> None:
    attempts: list[int] = []

    async def flaky(ctx: Context, a: int, b: int) -> int:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RuntimeError(f"attempt {ctx.attempt}")
        return a + b

    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(FLAKY, flaky)]),
    ):
        handle = await client.enqueue(FLAKY, AddArgs(a=1, b=1))
        assert await handle.result(timeout=10) == 2
    assert attempts == [1, 2, 3]


async def test_exhausted_retries_fail_typed_and_dead_letter(redis_url: str) -> None:
    async def always(ctx: Context, a: int, b: int) -> int:
        raise KeyError("nope")

    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(FLAKY, always)]),
    ):
        handle = await client.enqueue(FLAKY, AddArgs(a=1, b=1))
        with pytest.raises(TaskFailed) as failed:
            await handle.result(timeout=10)
        assert failed.value.attempts == 3 and failed.value.error_type == "KeyError"
        letters = await DeadLetters(client.redis, "math").list()
    assert [(x.task_id, x.reason) for x in letters] == [(handle.id, "retries exhausted")]
    assert letters[0].outcome is not None and letters[0].outcome.attempts == 3


async def test_the_worker_can_override_the_contracts_retry_policy(redis_url: str) -> None:
    calls = 0

    async def always(ctx: Context, a: int, b: int) -> int:
        nonlocal calls
        calls += 1
        raise KeyError("nope")

    retries = {"math.flaky": Retry(attempts=5, backoff=0.001, jitter=False)}
    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(FLAKY, always)], retries=retries),
    ):
        with pytest.raises(TaskFailed):
            await (await client.enqueue(FLAKY, AddArgs(a=1, b=1))).result(timeout=10)
    assert calls == 5


async def test_a_handler_can_ask_for_a_retry_after_a_delay(redis_url: str) -> None:
    seen: list[tuple[int, float]] = []

    async def later(ctx: Context, a: int, b: int) -> int:
        seen.append((ctx.attempt, time.monotonic()))
        if ctx.attempt == 1:
            raise RetryLater(0.3, "not yet")
        return a * b

    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(FLAKY, later)]),
    ):
        assert await (await client.enqueue(FLAKY, AddArgs(a=3, b=4))).result(timeout=10) == 12
    assert [a for a, _ in seen] == [1, 2]
    assert seen[1][1] - seen[0][1] >= 0.3


async def test_an_async_handler_over_its_timeout_is_cancelled(redis_url: str) -> None:
    cancelled = asyncio.Event()

    async def slow(ctx: Context, seconds: float, tag: str) -> str:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return tag

    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(SLEEP, slow)], timeouts={"math.sleep": 0.2}),
    ):
        handle = await client.enqueue(SLEEP, SleepArgs(seconds=30))
        with pytest.raises(TaskTimedOut, match=r"timeout of 0\.2 s"):
            await handle.result(timeout=10)
    assert cancelled.is_set()


async def test_a_sync_handler_over_its_timeout_fails_and_its_result_is_dropped(
    redis_url: str,
) -> None:
    def slow(ctx: Context, seconds: float, tag: str) -> str:
        time.sleep(seconds)
        return tag

    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(SLEEP, slow)], timeouts={"math.sleep": 0.1}),
    ):
        handle = await client.enqueue(SLEEP, SleepArgs(seconds=0.5, tag="late"))
        with pytest.raises(TaskTimedOut, match="its result is discarded"):
            await handle.result(timeout=10)


async def test_delayed_and_scheduled_tasks_wait_their_turn(redis_url: str) -> None:
    ran_at: dict[str, float] = {}

    async def stamp(ctx: Context, seconds: float, tag: str) -> str:
        ran_at[tag] = time.time()
        return tag

    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(SLEEP, stamp)]),
    ):
        start = time.time()
        delayed = await client.enqueue(
            SLEEP, SleepArgs(seconds=0, tag="delay"), EnqueueOptions(delay=0.4)
        )
        at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=0.2)
        scheduled = await client.enqueue(
            SLEEP, SleepArgs(seconds=0, tag="at"), EnqueueOptions(at=at)
        )
        assert await delayed.status() is TaskStatus.SCHEDULED
        assert await delayed.result(timeout=10) == "delay"
        assert await scheduled.result(timeout=10) == "at"
    assert ran_at["delay"] - start >= 0.4
    assert at.timestamp() <= ran_at["at"] < ran_at["delay"]


async def test_higher_priorities_run_first(redis_url: str) -> None:
    order: list[str] = []

    async def record(ctx: Context, seconds: float, tag: str) -> str:
        order.append(tag)
        return tag

    async with Client.from_url(redis_url) as client:
        handles = []
        for level in (Priority.LOW, Priority.NORMAL, Priority.HIGH):
            for i in range(5):
                options = EnqueueOptions(priority=level)
                handles.append(
                    await client.enqueue(
                        SLEEP, SleepArgs(seconds=0, tag=f"{level.name}{i}"), options
                    )
                )
        async with running_worker(redis_url, [bind(SLEEP, record)], concurrency=1):
            await asyncio.gather(*(h.result(timeout=10) for h in handles))
    assert order == [f"{p}{i}" for p in ("HIGH", "NORMAL", "LOW") for i in range(5)]


async def test_a_task_not_started_before_its_expiry_is_dropped(redis_url: str) -> None:
    ran: list[str] = []

    async def record(ctx: Context, seconds: float, tag: str) -> str:
        ran.append(tag)
        return tag

    async with Client.from_url(redis_url) as client:
        stale = await client.enqueue(
            SLEEP, SleepArgs(seconds=0, tag="stale"), EnqueueOptions(expires=0.01)
        )
        fresh = await client.enqueue(
            SLEEP, SleepArgs(seconds=0, tag="fresh"), EnqueueOptions(expires=60)
        )
        await asyncio.sleep(0.05)  # the expiry itself is under test: let it pass
        async with running_worker(redis_url, [bind(SLEEP, record)]):
            with pytest.raises(TaskExpired, match="not started before its expiry"):
                await stale.result(timeout=10)
            assert await fresh.result(timeout=10) == "fresh"
    assert ran == ["fresh"]


async def test_the_same_task_id_is_enqueued_and_run_once(redis_url: str) -> None:
    calls = 0

    async def count(ctx: Context, a: int, b: int) -> int:
        nonlocal calls
        calls += 1
        return a + b

    async with Client.from_url(redis_url) as client:
        first = await client.enqueue(ADD, AddArgs(a=1, b=2), EnqueueOptions(task_id="order-7"))
        second = await client.enqueue(ADD, AddArgs(a=5, b=5), EnqueueOptions(task_id="order-7"))
        assert (first.id, first.created, second.id, second.created) == (
            "order-7",
            True,
            "order-7",
            False,
        )
        async with running_worker(redis_url, [bind(ADD, count)]):
            assert await second.result(timeout=10) == 3
            third = await client.enqueue(ADD, AddArgs(a=9, b=9), EnqueueOptions(task_id="order-7"))
            assert not third.created and await third.result(timeout=10) == 3
    assert calls == 1


async def test_aborting_queued_and_scheduled_tasks_means_they_never_run(redis_url: str) -> None:
    ran: list[str] = []

    async def record(ctx: Context, seconds: float, tag: str) -> str:
        ran.append(tag)
        return tag

    async with Client.from_url(redis_url) as client:
        queued = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="queued"))
        scheduled = await client.enqueue(
            SLEEP, SleepArgs(seconds=0, tag="scheduled"), EnqueueOptions(delay=0.2)
        )
        assert await queued.abort() and await scheduled.abort()
        assert await queued.status() is TaskStatus.ABORTED
        assert not await queued.abort(), "an ended task cannot be aborted again"
        with pytest.raises(TaskAborted):
            await queued.result(timeout=1)
        async with running_worker(redis_url, [bind(SLEEP, record)]):
            marker = await client.enqueue(SLEEP, SleepArgs(seconds=0.3, tag="marker"))
            assert await marker.result(timeout=10) == "marker"
            with pytest.raises(TaskAborted):
                await scheduled.result(timeout=1)
    assert ran == ["marker"]


async def test_aborting_a_running_task_cancels_it(redis_url: str) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def wait_forever(ctx: Context, seconds: float, tag: str) -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return tag

    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(SLEEP, wait_forever)]),
    ):
        handle = await client.enqueue(SLEEP, SleepArgs(seconds=0))
        await started.wait()
        assert await handle.status() is TaskStatus.RUNNING
        assert await handle.abort()
        with pytest.raises(TaskAborted):
            await handle.result(timeout=10)
    assert cancelled.is_set()


async def test_results_expire_after_their_ttl(redis_url: str) -> None:
    short = TaskDef[AddArgs, int](
        name="math.add",
        queue="math",
        fingerprint="f",
        args=AddArgs,
        result=int,
        params=ADD.params,
        result_ttl=0.5,
    )

    async def add(ctx: Context, a: int, b: int) -> int:
        return a + b

    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(short, add)]),
    ):
        handle = await client.enqueue(short, AddArgs(a=1, b=1))
        assert await handle.result(timeout=10) == 2
        ttl = await client.redis.pttl(client.keys("math").task(handle.id))
    assert 0 < ttl <= 500


async def test_handlers_reach_the_lifespan_state_through_their_context(redis_url: str) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[dict[str, int]]:
        events.append("startup")
        yield {"offset": 100}
        events.append("shutdown")

    async def add(ctx: Context, a: int, b: int) -> int:
        return a + b + ctx.state["offset"]

    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind(ADD, add)], lifespan=lifespan),
    ):
        assert await (await client.enqueue(ADD, AddArgs(a=1, b=2))).result(timeout=10) == 103
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


async def test_dead_letters_can_be_listed_requeued_and_purged(redis_url: str) -> None:
    broken = True

    async def fragile(ctx: Context, a: int, b: int) -> int:
        if broken:
            raise ValueError("bug")
        return a + b

    async with Client.from_url(redis_url) as client:
        letters = DeadLetters(client.redis, "math")
        async with running_worker(redis_url, [bind(ADD, fragile)]):
            handles = [await client.enqueue(ADD, AddArgs(a=i, b=i)) for i in range(3)]
            for handle in handles:
                with pytest.raises(TaskFailed):
                    await handle.result(timeout=10)
            listed = await letters.list()
            assert [x.task_id for x in listed] == [h.id for h in handles]
            assert all(x.task == "math.add" and x.reason == "failed" for x in listed)
            broken = False
            assert await letters.requeue([listed[0].entry, listed[1].entry]) == 2
            assert [await h.result(timeout=10) for h in handles[:2]] == [0, 2]
        assert await letters.count() == 1
        assert await letters.purge() == 1
        assert await letters.count() == 0


async def test_a_handler_that_does_not_fit_its_task_stops_the_worker_at_start() -> None:
    async def wrong(ctx: Context, a: int) -> int:
        return a

    def no_context(a: int, b: int) -> int:
        return a + b

    with pytest.raises(HandlerMismatch) as mismatch:
        from taskgen.runtime import Worker

        Worker(
            [
                Binding(ADD, wrong, lambda c, x, _: wrong(c, x.a)),
                Binding(FLAKY, no_context, lambda c, x, _: no_context(x.a, x.b)),
            ]
        )
    problems = mismatch.value.problems
    assert len(problems) == 2
    assert "math.add: handler" in problems[0] and "lacks parameter 'b'" in problems[0]
    assert "math.flaky" in problems[1]


async def test_a_cron_job_fires_once_per_tick_across_workers(redis_url: str) -> None:
    ticks: list[str] = []

    async def record(ctx: Context, a: int, b: int) -> int:
        ticks.append(ctx.task_id)
        return a

    job = Cron(ADD, AddArgs(a=1, b=0), every=0.1, catch_up=0)
    async with (
        running_worker(redis_url, [bind(ADD, record)], cron=[job]),
        running_worker(redis_url, [bind(ADD, record)], cron=[job]),
        running_worker(redis_url, [bind(ADD, record)], cron=[job]),
    ):
        await asyncio.sleep(1.0)  # ten ticks' worth of wall time is what is under test
    assert len(ticks) == len(set(ticks)) >= 8
    stamps = sorted(int(t.rsplit(":", 1)[1]) for t in ticks)
    assert all(b - a == 100 for a, b in itertools.pairwise(stamps))


async def test_a_restarted_cron_does_not_replay_ticks_beyond_its_window(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    job = Cron(ADD, AddArgs(a=1, b=0), every=0.1, catch_up=0.5, name="fast")
    # The last tick was fired an hour ago, as if every worker had been down since.
    started = time.time_ns() // 1_000_000
    await r.hset("taskgen:{math}:cron", "fast", started - 3_600_000)
    ticks: list[int] = []

    async def record(ctx: Context, a: int, b: int) -> int:
        ticks.append(int(ctx.task_id.rsplit(":", 1)[1]))
        return a

    async with running_worker(redis_url, [bind(ADD, record)], cron=[job]):
        await asyncio.sleep(0.35)
    # Only the window's ticks are replayed (about five), not the hour's 36,000.
    assert ticks and min(ticks) >= started - 500
    assert len(ticks) <= 10
