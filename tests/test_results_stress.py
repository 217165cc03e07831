"""Lost results: under concurrency, reconnections and restarts every awaited result arrives.

The stored outcome is the truth and pub/sub only a hint. Most tests here set the client's
periodic re-read far beyond their timeouts, so they prove the fast path loses nothing by itself
(a lost message would surface as a ``ResultTimeout``, not as a late result).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable

import msgspec
import pytest
import redis
import redis.asyncio

from taskgen.runtime import Client, Context, SyncClient
from taskgen.runtime.taskdef import Call
from taskgen.runtime.wire import ENCODER, Outcome, TaskStatus, now_ms
from tests.tasks_fixture import ADD, SLEEP, AddArgs, SleepArgs, bind_add, running_worker
from tests.test_results import bind_nap

#: Passed to every client whose fast path is under test: no re-read rescues a lost message.
NO_RECHECK = {"recheck": 600.0}
#: Seconds any one result may take; far above what a task here needs.
PATIENCE = 20.0


async def test_hundreds_of_concurrent_enqueue_and_await_lose_nothing(redis_url: str) -> None:
    async with (
        Client.from_url(redis_url, **NO_RECHECK) as client,
        running_worker(redis_url, [bind_add()], concurrency=64),
    ):

        async def one(i: int) -> int:
            handle = await client.enqueue(ADD, AddArgs(a=i, b=1))
            return await handle.result(timeout=PATIENCE)

        for _ in range(10):
            values = await asyncio.gather(*(one(i) for i in range(300)))
            assert values == [i + 1 for i in range(300)]


async def test_enqueue_many_then_await_each_loses_nothing(redis_url: str) -> None:
    async with (
        Client.from_url(redis_url, **NO_RECHECK) as client,
        running_worker(redis_url, [bind_add()], concurrency=64),
    ):
        for batch in range(20):
            handles = await client.enqueue_many(
                Call(ADD, AddArgs(a=batch, b=i)) for i in range(100)
            )
            values = await asyncio.gather(*(h.result(timeout=PATIENCE) for h in handles))
            assert values == [batch + i for i in range(100)]


async def test_a_thousand_concurrent_callers_share_one_client(redis_url: str) -> None:
    """More callers than the pool has connections: they queue for one instead of failing."""
    async with (
        Client.from_url(redis_url) as client,
        running_worker(redis_url, [bind_add()], concurrency=64),
    ):

        async def one(i: int) -> int:
            handle = await client.enqueue(ADD, AddArgs(a=i, b=i))
            return await handle.result(timeout=PATIENCE)

        values = await asyncio.gather(*(one(i) for i in range(1000)))
        assert values == [2 * i for i in range(1000)]


#: The user the clients under test log in as, so only their connections are killed (the
#: worker's own pub/sub connection is another part's concern).
USER = "waiter"


def as_waiter(redis_url: str) -> str:
    """``redis_url`` for the user ``USER``, created with every right."""
    with redis.Redis.from_url(redis_url) as r:
        r.execute_command("ACL", "SETUSER", USER, "on", "nopass", "~*", "&*", "+@all")
    return redis_url.replace("redis://", f"redis://{USER}:any@", 1)


async def kill_result_connections(redis_url: str, stop: asyncio.Event) -> int:
    """``CLIENT KILL TYPE pubsub`` (the clients' own) until ``stop``; how many were killed."""
    admin = redis.asyncio.Redis.from_url(redis_url)
    killed = 0
    try:
        while not stop.is_set():
            killed += int(
                await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub", "USER", USER)
            )
            # Paces the load; the waiters must recover whatever the timing.
            await asyncio.sleep(random.uniform(0.01, 0.05))
    finally:
        await admin.aclose()
    return killed


async def under_kills(redis_url: str, work: Callable[[], Awaitable[None]]) -> int:
    """Run ``work`` while pub/sub connections are killed; how many were."""
    stop = asyncio.Event()
    killer = asyncio.create_task(kill_result_connections(redis_url, stop))
    try:
        await work()
    finally:
        stop.set()
    return await killer


async def test_waiters_ride_through_killed_result_connections(redis_url: str) -> None:
    async with (
        Client.from_url(as_waiter(redis_url), **NO_RECHECK) as client,
        running_worker(redis_url, [bind_nap()], concurrency=200),
    ):
        warm = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="warm"))
        assert await warm.result(timeout=PATIENCE) == "warm"

        async def one(i: int) -> str:
            handle = await client.enqueue(
                SLEEP, SleepArgs(seconds=random.uniform(0, 0.3), tag=str(i))
            )
            return await handle.result(timeout=PATIENCE)

        async def rounds() -> None:
            for _ in range(5):
                values = await asyncio.gather(*(one(i) for i in range(200)))
                assert values == [str(i) for i in range(200)]

        assert await under_kills(redis_url, rounds) > 0


async def test_re_attached_waiters_ride_through_killed_result_connections(
    redis_url: str,
) -> None:
    """Waiters on tasks enqueued elsewhere listen on the tasks' own channels."""
    async with (
        Client.from_url(redis_url) as owner,
        Client.from_url(as_waiter(redis_url), **NO_RECHECK) as other,
        running_worker(redis_url, [bind_nap()], concurrency=200),
    ):

        async def one(i: int) -> str:
            handle = await owner.enqueue(
                SLEEP, SleepArgs(seconds=random.uniform(0, 0.3), tag=str(i))
            )
            return await other.handle(SLEEP, handle.id).result(timeout=PATIENCE)

        async def rounds() -> None:
            for _ in range(3):
                values = await asyncio.gather(*(one(i) for i in range(200)))
                assert values == [str(i) for i in range(200)]

        assert await under_kills(redis_url, rounds) > 0


def store_outcome_silently(redis_url: str, queue: str, task_id: str, value: int) -> None:
    """Write a task's outcome as a worker would, but without publishing it: a lost message."""
    outcome = Outcome(
        TaskStatus.DONE,
        value=msgspec.Raw(ENCODER.encode(value)),
        finished_at=now_ms(),
        attempts=1,
        deliveries=1,
    )
    with redis.Redis.from_url(redis_url) as r:
        r.hset(f"taskgen:{{{queue}}}:task:{task_id}", "o", ENCODER.encode(outcome))


async def test_a_waiter_whose_message_never_comes_reads_the_stored_outcome(
    redis_url: str,
) -> None:
    async with Client.from_url(redis_url, recheck=0.2) as client:
        handles = [await client.enqueue(ADD, AddArgs(a=i, b=0)) for i in range(3)]
        waiting = [asyncio.ensure_future(h.result(timeout=PATIENCE)) for h in handles]
        # The first waiters are registered (and have found nothing stored) before the outcome.
        await asyncio.wait(waiting, timeout=0.1)
        for i, handle in enumerate(handles):
            store_outcome_silently(redis_url, ADD.queue, handle.id, 40 + i)
        assert await asyncio.gather(*waiting) == [40, 41, 42]


def test_a_sync_waiter_whose_message_never_comes_reads_the_stored_outcome(
    redis_url: str,
) -> None:
    with SyncClient.from_url(redis_url, recheck=0.2) as client:
        handle = client.enqueue(ADD, AddArgs(a=1, b=1))
        got: list[int] = []
        waiter = threading.Thread(target=lambda: got.append(handle.result(timeout=PATIENCE)))
        waiter.start()
        store_outcome_silently(redis_url, ADD.queue, handle.id, 7)
        waiter.join(timeout=PATIENCE)
        assert got == [7]


async def test_sync_waiters_ride_through_killed_connections(redis_url: str) -> None:
    async def nap(ctx: Context, seconds: float, tag: str) -> str:
        await asyncio.sleep(seconds)
        return tag

    with SyncClient.from_url(as_waiter(redis_url), **NO_RECHECK) as client:
        async with running_worker(redis_url, [bind_nap()], concurrency=50):
            handles = [
                client.enqueue(SLEEP, SleepArgs(seconds=random.uniform(0.05, 0.4), tag=str(i)))
                for i in range(40)
            ]
            results: dict[int, str] = {}

            def wait(i: int) -> None:
                results[i] = handles[i].result(timeout=PATIENCE)

            async def work() -> None:
                threads = [threading.Thread(target=wait, args=(i,)) for i in range(40)]
                for thread in threads:
                    thread.start()
                await asyncio.gather(
                    *(asyncio.to_thread(thread.join, PATIENCE) for thread in threads)
                )

            assert await under_kills(redis_url, work) > 0
            assert results == {i: str(i) for i in range(40)}


@pytest.mark.parametrize("attempt", range(3))
async def test_an_early_reply_is_never_dropped(redis_url: str, attempt: int) -> None:
    """The reply may arrive before the enqueue call has returned (the race that lost
    results): with many callers at once, some replies always do."""
    async with (
        Client.from_url(redis_url, **NO_RECHECK) as client,
        running_worker(redis_url, [bind_add()], concurrency=64),
    ):
        assert await (await client.enqueue(ADD, AddArgs(a=0, b=0))).result(timeout=PATIENCE) == 0
        handles = await asyncio.gather(
            *(client.enqueue(ADD, AddArgs(a=i, b=attempt)) for i in range(400))
        )
        values = await asyncio.gather(*(h.result(timeout=PATIENCE) for h in handles))
        assert values == [i + attempt for i in range(400)]
