"""Waiters ride through a Redis restart: they wait for the tasks, not for one connection.

Each test runs its own server and restarts it while results are awaited; the worker starts
after the restart, so the outcomes are published on connections opened after it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from taskgen.runtime import Client, ResultTimeout, SyncClient
from tests.redis_server import FaultyServer, faulty_server
from tests.runtime.test_results import bind_nap
from tests.tasks_fixture import SLEEP, SleepArgs, running_worker

PATIENCE = 20.0
TASKS = 20


@pytest.fixture
def server() -> Iterator[FaultyServer]:
    with faulty_server(persistent=True) as started:
        yield started


def wait_for(condition: Callable[[], bool], timeout: float = PATIENCE) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)


def subscribed_channels(url: str) -> int:
    """Channels with a subscriber on the server: the waiters are listening once it is up."""
    with redis.Redis.from_url(url) as r:
        return len(r.pubsub_channels())


async def test_async_waiters_ride_through_a_restart(server: FaultyServer) -> None:
    async with Client.from_url(server.url) as client:
        handles = [
            await client.enqueue(SLEEP, SleepArgs(seconds=0, tag=str(i))) for i in range(TASKS)
        ]
        waiting = asyncio.gather(*(h.result(timeout=PATIENCE) for h in handles))
        await asyncio.to_thread(wait_for, lambda: subscribed_channels(server.url) >= TASKS)
        await asyncio.to_thread(server.restart)
        async with running_worker(server.url, [bind_nap()]):
            assert await waiting == [str(i) for i in range(TASKS)]
            # The client goes on as before: enqueues and awaits on its new connections.
            after = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="after"))
            assert await after.result(timeout=PATIENCE) == "after"


def test_sync_waiters_ride_through_a_restart(server: FaultyServer) -> None:
    with SyncClient.from_url(server.url) as client:
        handles = [client.enqueue(SLEEP, SleepArgs(seconds=0, tag=str(i))) for i in range(TASKS)]
        results: dict[int, str] = {}

        def wait(i: int) -> None:
            results[i] = handles[i].result(timeout=PATIENCE)

        threads = [threading.Thread(target=wait, args=(i,)) for i in range(TASKS)]
        for thread in threads:
            thread.start()
        wait_for(lambda: subscribed_channels(server.url) >= TASKS)
        server.restart()

        async def serve_until_done() -> None:
            async with running_worker(server.url, [bind_nap()]):
                for thread in threads:
                    await asyncio.to_thread(thread.join, PATIENCE)

        asyncio.run(serve_until_done())
        assert results == {i: str(i) for i in range(TASKS)}


async def test_a_restart_that_lost_the_tasks_ends_in_result_timeouts() -> None:
    """Without persistence the tasks are gone: waiters time out as they asked, no sooner and
    with no connection error, and the client serves new tasks."""
    with faulty_server(persistent=False) as server:
        async with Client.from_url(server.url) as client:
            lost = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="lost"))
            waiting = asyncio.ensure_future(lost.result(timeout=2.0))
            await asyncio.to_thread(wait_for, lambda: subscribed_channels(server.url) >= 1)
            await asyncio.to_thread(server.restart)
            with pytest.raises(ResultTimeout):
                await waiting
            async with running_worker(server.url, [bind_nap()]):
                after = await client.enqueue(SLEEP, SleepArgs(seconds=0, tag="after"))
                assert await after.result(timeout=PATIENCE) == "after"
