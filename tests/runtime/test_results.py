"""Awaiting results: a client that awaits gets its outcomes on its own channel, with no
subscription per task; re-attached handles, aborts and early replies still resolve."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from taskgen.runtime import Binding, Client, Context, TaskAborted
from taskgen.runtime.taskdef import EnqueueOptions
from tests.tasks_fixture import ADD, SLEEP, AddArgs, SleepArgs, bind_add, running_worker


async def nap(ctx: Context, seconds: float, tag: str) -> str:
    await asyncio.sleep(seconds)
    return tag


def bind_nap() -> Binding[SleepArgs, str]:
    return Binding(SLEEP, nap, lambda ctx, args, _: nap(ctx, args.seconds, args.tag))


async def calls(r: redis.asyncio.Redis, command: str) -> int:
    stats = await r.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def subscriptions(r: redis.asyncio.Redis) -> int:
    return await calls(r, "subscribe")


async def test_once_a_client_awaits_results_it_needs_no_subscription_per_task(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url) as client, running_worker(redis_url, [bind_nap()]):
        first = await client.enqueue(SLEEP, SleepArgs(seconds=0.01, tag="first"))
        assert await first.result(timeout=10) == "first"
        before = await subscriptions(r)
        # Tasks still running when awaited: without the reply channel, each would subscribe.
        for i in range(10):
            handle = await client.enqueue(SLEEP, SleepArgs(seconds=0.01, tag=str(i)))
            assert await handle.result(timeout=10) == str(i)
        assert await subscriptions(r) == before
    await r.aclose()


async def test_replies_that_arrive_before_anyone_awaits_them_are_kept(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url) as client, running_worker(redis_url, [bind_add()]):
        assert await (await client.enqueue(ADD, AddArgs(a=0, b=0))).result(timeout=10) == 0
        handles = [await client.enqueue(ADD, AddArgs(a=i, b=i)) for i in range(50)]
        # The last result arriving means the earlier ones have been published too.
        assert await handles[-1].result(timeout=10) == 98
        reads = await calls(r, "hget"), await subscriptions(r)
        values = [await h.result(timeout=10) for h in reversed(handles[:-1])]
        assert values == [2 * i for i in reversed(range(49))]
        # All of them came from the kept replies: nothing was read or subscribed to.
        assert (await calls(r, "hget"), await subscriptions(r)) == reads
    await r.aclose()


async def test_another_client_re_attaching_by_id_gets_the_outcome(redis_url: str) -> None:
    async with (
        Client.from_url(redis_url) as owner,
        Client.from_url(redis_url) as other,
        running_worker(redis_url, [bind_add()]),
    ):
        assert await (await owner.enqueue(ADD, AddArgs(a=0, b=0))).result(timeout=10) == 0
        handle = await owner.enqueue(ADD, AddArgs(a=2, b=3))
        assert await other.handle(ADD, handle.id).result(timeout=10) == 5
        assert await handle.result(timeout=10) == 5


async def test_an_awaited_task_aborted_while_queued_resolves_at_once(redis_url: str) -> None:
    async with Client.from_url(redis_url) as client, Client.from_url(redis_url) as other:
        async with running_worker(redis_url, [bind_add()]):
            assert await (await client.enqueue(ADD, AddArgs(a=0, b=0))).result(timeout=10) == 0
        # No worker serves SLEEP: the task waits, scheduled, until another client aborts it.
        later = await client.enqueue(
            SLEEP, SleepArgs(seconds=0, tag="never"), EnqueueOptions(delay=60)
        )
        waiting = asyncio.ensure_future(later.result(timeout=10))
        assert await other.handle(SLEEP, later.id).abort()
        with pytest.raises(TaskAborted):
            await waiting


async def test_a_task_handed_back_at_shutdown_still_replies(redis_url: str) -> None:
    """Redeliveries are counted in the task's state next to its reply channel."""
    started = asyncio.Event()

    async def once_slow(ctx: Context, seconds: float, tag: str) -> str:
        if ctx.delivery == 1:
            started.set()
            await asyncio.sleep(seconds)
        return f"{tag} on delivery {ctx.delivery}"

    slow = Binding(SLEEP, once_slow, lambda ctx, args, _: once_slow(ctx, args.seconds, args.tag))
    async with Client.from_url(redis_url) as client:
        async with running_worker(redis_url, [bind_nap()]):
            warm = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="warm"))
            assert await warm.result(timeout=10) == "warm"
        handle = await client.enqueue(SLEEP, SleepArgs(seconds=30, tag="slow"))
        async with running_worker(redis_url, [slow], grace=0):
            await started.wait()
        async with running_worker(redis_url, [slow]):
            assert await handle.result(timeout=10) == "slow on delivery 2"
