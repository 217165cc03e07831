"""Lost results: under concurrency, reconnections and restarts every awaited result arrives.

The stored outcome is the truth and pub/sub only a hint. Most tests here set the client's
periodic re-read far beyond their timeouts, so they prove the fast path loses nothing by itself
(a lost message would surface as a ``ResultTimeout``, not as a late result).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable

import msgspec
import redis
import redis.asyncio

from taskgen.runtime import Client, Context, SyncClient
from taskgen.runtime.taskdef import Call, EnqueueOptions
from taskgen.runtime.wire import ENCODER, Outcome, TaskStatus, now_ms
from tests.runtime.test_results import bind_nap
from tests.support import worker_process
from tests.tasks_fixture import ADD, SLEEP, AddArgs, SleepArgs, bind_add, running_worker

#: Passed to every client whose fast path is under test: no re-read rescues a lost message.
NO_RECHECK = {"recheck": 600.0}
#: Seconds any one result may take; far above what a task here needs.
PATIENCE = 20.0
#: A worker in its own process: it replies while this process is busy, as in production.
ADD_WORKER = "tests.fixtures.add_worker:worker"


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
    async with Client.from_url(redis_url, **NO_RECHECK) as client:
        with worker_process(redis_url, target=ADD_WORKER):
            await client_warmed_up(client)
            for batch in range(50):
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


def done(value: int) -> Outcome:
    """The outcome of a task that returned ``value``."""
    return Outcome(
        TaskStatus.DONE,
        value=msgspec.Raw(ENCODER.encode(value)),
        finished_at=now_ms(),
        attempts=1,
        deliveries=1,
    )


def store_outcome_silently(client: Client, task_id: str, value: int) -> None:
    """Write a task's outcome as a worker would, but without publishing it: a lost message."""
    url = client.redis.connection_pool.connection_kwargs
    with redis.Redis(host=url["host"], port=url["port"], db=url.get("db", 0)) as r:
        r.hset(client.keys(ADD.queue).task(task_id), "o", ENCODER.encode(done(value)))


async def test_a_waiter_whose_message_never_comes_reads_the_stored_outcome(
    redis_url: str,
) -> None:
    async with Client.from_url(redis_url, recheck=0.2) as client:
        first = await client.enqueue(ADD, AddArgs(a=0, b=0))
        store_outcome_silently(client, first.id, 39)
        assert await first.result(timeout=PATIENCE) == 39
        # Now enqueued with the client's reply channel: the client expects a reply, not reads.
        handles = [await client.enqueue(ADD, AddArgs(a=i, b=0)) for i in range(3)]
        for i, handle in enumerate(handles):
            store_outcome_silently(client, handle.id, 40 + i)
        values = await asyncio.gather(*(h.result(timeout=PATIENCE) for h in handles))
        assert values == [40, 41, 42]


def hget_calls(r: redis.Redis) -> int:
    stats = r.info("commandstats")
    return int(stats.get("cmdstat_hget", {}).get("calls", 0))


def wait_for(condition: Callable[[], bool], timeout: float = PATIENCE) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.005)


def test_a_sync_waiter_whose_message_never_comes_reads_the_stored_outcome(
    redis_url: str,
) -> None:
    with SyncClient.from_url(redis_url, recheck=0.2) as client:
        handle = client.enqueue(ADD, AddArgs(a=1, b=1))
        got: list[int] = []
        admin = redis.Redis.from_url(redis_url)
        reads = hget_calls(admin)
        waiter = threading.Thread(target=lambda: got.append(handle.result(timeout=PATIENCE)))
        waiter.start()
        # Once the waiter has read what is stored (nothing yet), the outcome is stored silently.
        wait_for(lambda: hget_calls(admin) > reads)
        admin.close()
        store_outcome_silently(client.client, handle.id, 7)
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


async def test_a_reply_that_beats_the_enqueue_call_is_kept(redis_url: str) -> None:
    """The race that lost results: the worker's reply reaches the client before the enqueue
    call that expects it has returned. Played deterministically: replies are published by
    hand, as ``complete.lua`` would, before the task they answer is enqueued."""
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url, **NO_RECHECK) as client:
        await client_warmed_up(client, worker=False)
        marker = await client.enqueue(ADD, AddArgs(a=1, b=1), EnqueueOptions(task_id="marker"))
        reply_channel = await r.hget(client.keys(ADD.queue).task("marker"), "c")
        assert reply_channel
        waiting = asyncio.ensure_future(marker.result(timeout=PATIENCE))
        keys = client.keys(ADD.queue)
        # Replies on one channel arrive in order: once the marker's is in, so is the early one.
        await publish_reply(r, reply_channel, keys.done_channel("early"), 5)
        await publish_reply(r, reply_channel, keys.done_channel("marker"), 2)
        assert await waiting == 2
        early = await client.enqueue(ADD, AddArgs(a=2, b=3), EnqueueOptions(task_id="early"))
        assert early.created
        assert await early.result(timeout=PATIENCE) == 5
    await r.aclose()


async def publish_reply(r: redis.asyncio.Redis, reply: bytes, channel: str, value: int) -> None:
    """What a worker publishes on a client's reply channel when a task ends."""
    outcome = ENCODER.encode(done(value))
    name = channel.encode()
    await r.publish(reply, len(name).to_bytes(4, "big") + name + outcome)


async def client_warmed_up(client: Client, *, worker: bool = True) -> None:
    """Once a first result came, the worker serves and the client has its reply channel."""
    first = await client.enqueue(ADD, AddArgs(a=0, b=0))
    if not worker:
        store_outcome_silently(client, first.id, 0)
    assert await first.result(timeout=PATIENCE) == 0


def test_hundreds_of_threads_share_one_sync_client(redis_url: str) -> None:
    """Each waiting thread holds a pub/sub connection for as long as it waits: those come from
    a pool of their own, so threads that wait never starve the enqueues of connections."""
    with SyncClient.from_url(redis_url) as client, worker_process(redis_url, target=ADD_WORKER):
        assert client.enqueue(ADD, AddArgs(a=0, b=0)).result(timeout=PATIENCE) == 0
        results: dict[int, str] = {}
        errors: list[BaseException] = []

        def one(i: int) -> None:
            try:
                handle = client.enqueue(SLEEP, SleepArgs(seconds=0.5, tag=str(i)))
                results[i] = handle.result(timeout=PATIENCE)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE)
        assert errors == []
        assert results == {i: str(i) for i in range(200)}
