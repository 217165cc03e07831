"""Several queues at low concurrency: an idle queue's blocked read must not starve the others."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
import redis.asyncio

from taskgen.runtime import Binding, Client, Context, TaskDef
from taskgen.runtime.reader import BLOCK_MS
from tests.tasks_fixture import running_worker

#: Well under one blocking read's timeout: a task that waited for another queue's read to
#: time out (or forever) misses it, one started at once does not.
PROMPT = BLOCK_MS / 1000 / 2
QUEUES = ("flow-a", "flow-b", "flow-c")


class EchoArgs(msgspec.Struct, frozen=True, kw_only=True):
    n: int


def echo_task(queue: str) -> TaskDef[EchoArgs, int]:
    return TaskDef[EchoArgs, int](
        name=f"{queue}.echo",
        queue=queue,
        fingerprint=f"{queue}-echo-v1",
        args=EchoArgs,
        result=int,
        params=(("n", "positional"),),
    )


async def echo(ctx: Context, n: int) -> int:
    return n


def bind(task: TaskDef[EchoArgs, int]) -> Binding[EchoArgs, int]:
    return Binding(task, echo, lambda ctx, args, _: echo(ctx, args.n))


async def blocked_reads(r: redis.asyncio.Redis) -> int:
    """How many connections are blocked in XREADGROUP now."""
    clients = await r.client_list()
    return sum(1 for c in clients if c.get("cmd") == "xreadgroup" and "b" in c.get("flags", ""))


async def wait_idle(r: redis.asyncio.Redis, deadline: float = 10.0) -> None:
    """Wait until the worker has found its queues empty and a reader is blocked on one."""
    end = time.monotonic() + deadline
    while await blocked_reads(r) == 0:
        assert time.monotonic() < end, "the worker never blocked on an empty queue"


@pytest.mark.parametrize(
    ("concurrency", "queues", "target"),
    [
        # Every queue in turn is the one with work, the others idle: with one reader per
        # queue, whichever reader blocked first used to hold the only free slot.
        *((1, 2, t) for t in range(2)),
        *((2, 3, t) for t in range(3)),
    ],
)
async def test_a_ready_task_starts_promptly_while_other_queues_are_empty(
    redis_url: str, concurrency: int, queues: int, target: int
) -> None:
    tasks = [echo_task(q) for q in QUEUES[:queues]]
    r = redis.asyncio.Redis.from_url(redis_url)
    async with (
        Client.from_url(redis_url, registry="off") as client,
        running_worker(redis_url, [bind(t) for t in tasks], concurrency=concurrency),
    ):
        # Several arrivals, each while the other queues' readers sit blocked.
        for n in range(3):
            await wait_idle(r)
            sent = time.monotonic()
            handle = await client.enqueue(tasks[target], EchoArgs(n=n))
            assert await handle.result(timeout=BLOCK_MS / 1000 * 3) == n
            took = time.monotonic() - sent
            assert took < PROMPT, (
                f"a task on {tasks[target].queue} took {took:.2f}s to run at concurrency "
                f"{concurrency} while {queues - 1} other queue(s) were empty"
            )
    await r.aclose()


async def test_an_entry_read_while_every_slot_is_busy_waits_and_is_handed_back_at_stop(
    redis_url: str,
) -> None:
    # Queue a's task holds the only slot; queue b's idle reader, blocked without a slot, then
    # receives an entry it cannot start. Stopping must not wait out the grace for it (it never
    # ran), and it must go back to the queue for the next worker.
    first, second = echo_task(QUEUES[0]), echo_task(QUEUES[1])
    release = asyncio.Event()
    entered = asyncio.Event()

    async def wait_for_release(ctx: Context, n: int) -> int:
        entered.set()
        await release.wait()
        return n

    blocking = Binding(first, wait_for_release, lambda ctx, args, _: wait_for_release(ctx, args.n))
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url, registry="off") as client:
        async with running_worker(
            redis_url, [blocking, bind(second)], concurrency=1, grace=30.0
        ) as worker:
            end = time.monotonic() + 10
            while await blocked_reads(r) < 2:
                assert time.monotonic() < end, "both readers never blocked on their empty queues"
            running = await client.enqueue(first, EchoArgs(n=1))
            await asyncio.wait_for(entered.wait(), 10)
            waiting = await client.enqueue(second, EchoArgs(n=2))
            stream = f"taskgen:{{{second.queue}}}:ready:1"
            while (await r.xpending(stream, "taskgen"))["pending"] == 0:
                assert time.monotonic() < end, "queue b's reader never received its entry"
            worker.stop()
            release.set()
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 5, "the stop waited for an entry that never ran"
        assert await running.result(timeout=5) == 1
        assert (await r.xpending(stream, "taskgen"))["pending"] == 0, "not handed back"
        async with running_worker(redis_url, [bind(first), bind(second)], concurrency=1):
            assert await waiting.result(timeout=10) == 2
    await r.aclose()
