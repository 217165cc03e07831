"""Flow control per key value (concurrency, rate, uniqueness, fairness), with real worker
processes.

The workers are ``tests.fixtures.flow_worker``: each handler run appends its start and end
to the ``flow:events`` list, so how many ran at once per key is read from Redis's own order
of events, not from clocks.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import Awaitable, Callable

import redis.asyncio

from taskgen.runtime import Call, Client, EnqueueOptions, TaskStatus
from tests.flow_fixture import FAIR, LIMITED, PLAIN, RATED, SINGLE, UNIQUE, WorkArgs
from tests.support import worker_process

FLOW = "tests.fixtures.flow_worker:worker"
BASE = "taskgen:{flow}"


def settings(**values: str) -> dict[str, str]:
    return {**os.environ, **{f"RT_{k.upper()}": v for k, v in values.items()}}


async def events(url: str) -> list[list[str]]:
    r = redis.asyncio.Redis.from_url(url)
    try:
        return [e.decode().split() for e in await r.lrange("flow:events", 0, -1)]
    finally:
        await r.aclose()


def most_at_once(log: list[list[str]]) -> dict[str, int]:
    """Per key, the most handler runs between a start and its end at one moment; a second
    start of the same id replaces the first (that run's worker was killed)."""
    running: dict[str, set[str]] = {}
    most: dict[str, int] = {}
    for kind, _task, key, task_id, *_ in log:
        ids = running.setdefault(key, set())
        if kind == "S":
            ids.add(task_id)
        else:
            ids.discard(task_id)
        most[key] = max(most.get(key, 0), len(ids))
    return most


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    """Wait for ``condition`` with a bounded deadline (checked every 20 ms)."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


async def test_concurrency_never_exceeds_max_per_key_while_other_keys_flow(
    redis_url: str,
) -> None:
    env = settings(concurrency="8")
    calls = [
        Call(LIMITED, WorkArgs(key=key, seconds=0.05, tag=str(i)))
        for i in range(12)
        for key in ("a", "b", "c")
    ]
    calls += [Call(PLAIN, WorkArgs(key="plain", seconds=0.05)) for _ in range(8)]
    with (
        worker_process(redis_url, target=FLOW, env=env),
        worker_process(redis_url, target=FLOW, env=env),
    ):
        async with Client.from_url(redis_url) as client:
            handles = await client.enqueue_many(calls)
            for handle in handles:
                await handle.result(timeout=30)
    log = await events(redis_url)
    most = most_at_once(log)
    assert most["a"] == most["b"] == most["c"] == 2, most
    # Keys at their limit hold up no other key: at some moment all three ran two at once.
    assert most_at_once([[k, t, "all", i] for k, t, _, i, *_ in log])["all"] >= 6
    assert most["plain"] >= 2
    r = redis.asyncio.Redis.from_url(redis_url)
    assert [await r.scard(f"{BASE}:flow:c:flow.limited:{key}") for key in "abc"] == [0, 0, 0]
    assert await r.exists(f"{BASE}:flow:parked") == 0
    await r.aclose()


async def test_a_killed_workers_slot_comes_back_after_its_lease(redis_url: str) -> None:
    env = settings(lease="1", concurrency="4")
    with (
        worker_process(redis_url, target=FLOW, env=env),
        worker_process(redis_url, target=FLOW, env=env),
    ):
        async with Client.from_url(redis_url) as client:
            first = await client.enqueue(SINGLE, WorkArgs(key="k", tag="long-once"))
            second = await client.enqueue(SINGLE, WorkArgs(key="k", seconds=0.01))
            other = await client.enqueue(SINGLE, WorkArgs(key="other", seconds=0.01))

            async def first_started() -> bool:
                return any(e[0] == "S" and e[3] == first.id for e in await events(redis_url))

            await until(first_started)
            victim = next(int(e[5]) for e in await events(redis_url) if e[3] == first.id)
            assert await second.status() == TaskStatus.SCHEDULED  # parked behind the slot
            await other.result(timeout=10)  # another key is not held up meanwhile
            os.kill(victim, signal.SIGKILL)
            assert (await first.result(timeout=20)).endswith(" 2")  # redelivered after its lease
            await second.result(timeout=20)
    log = [e for e in await events(redis_url) if e[2] == "k"]
    assert [(e[0], e[3]) for e in log] == [
        ("S", first.id),
        ("S", first.id),
        ("E", first.id),
        ("S", second.id),
        ("E", second.id),
    ]
    r = redis.asyncio.Redis.from_url(redis_url)
    assert await r.scard(f"{BASE}:flow:c:flow.single:k") == 0
    await r.aclose()


async def test_a_slot_its_holder_never_freed_is_healed_by_the_sweep(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    # A holder whose task is gone (its hash expired, its entry deleted): nothing will end it.
    await r.sadd(f"{BASE}:flow:c:flow.single:k", "vanished")
    async with Client.from_url(redis_url) as client:
        handle = await client.enqueue(SINGLE, WorkArgs(key="k"))
        assert await handle.status() == TaskStatus.SCHEDULED
        with worker_process(redis_url, target=FLOW, env=settings(lease="0.3")):
            await handle.result(timeout=20)
    assert await r.smembers(f"{BASE}:flow:c:flow.single:k") == set()
    await r.aclose()


async def test_aborting_frees_the_slot_and_skips_a_parked_task(redis_url: str) -> None:
    async with Client.from_url(redis_url) as client:
        first, second, third = [
            await client.enqueue(SINGLE, WorkArgs(key="k", tag=str(i))) for i in range(3)
        ]
        assert [await h.status() for h in (first, second, third)] == [
            TaskStatus.QUEUED,
            TaskStatus.SCHEDULED,
            TaskStatus.SCHEDULED,
        ]
        assert await third.abort()  # parked: ends at once, and is skipped when its turn comes
        assert await first.abort()  # admitted: its slot goes to the next parked task
        assert await second.status() == TaskStatus.QUEUED
        assert await third.status() == TaskStatus.ABORTED
        with worker_process(redis_url, target=FLOW):
            await second.result(timeout=20)
    assert [e[3] for e in await events(redis_url) if e[0] == "S"] == [second.id]


async def test_unique_returns_the_queued_task_until_it_ends(redis_url: str) -> None:
    async with Client.from_url(redis_url) as client:
        first = await client.enqueue(UNIQUE, WorkArgs(key="u", seconds=0.05))
        again = await client.enqueue(UNIQUE, WorkArgs(key="u", seconds=9, tag="ignored"))
        other = await client.enqueue(UNIQUE, WorkArgs(key="v"))
        batch = await client.enqueue_many(
            [Call(UNIQUE, WorkArgs(key="u")), Call(UNIQUE, WorkArgs(key="w"))]
        )
        assert again.id == first.id and not again.created
        assert batch[0].id == first.id and other.id not in (first.id, batch[1].id)
        with worker_process(redis_url, target=FLOW):
            await first.result(timeout=20)
            after = await client.enqueue(UNIQUE, WorkArgs(key="u"))
            assert after.id != first.id and after.created
            await after.result(timeout=20)
    starts = [e[3] for e in await events(redis_url) if e[0] == "S" and e[2] == "u"]
    assert starts == [first.id, after.id]


async def test_a_rate_spaces_the_starts_of_one_key_by_its_tokens(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url) as client:
        rated = await client.enqueue_many([Call(RATED, WorkArgs(key="r")) for _ in range(12)])
        others = await client.enqueue_many([Call(RATED, WorkArgs(key="s")) for _ in range(3)])
        statuses = [await h.status() for h in rated]
        # The bucket holds 5 tokens: 5 start now, the rest are scheduled a token apart.
        assert statuses == [TaskStatus.QUEUED] * 5 + [TaskStatus.SCHEDULED] * 7
        assert {await h.status() for h in others} == {TaskStatus.QUEUED}
        due = [await r.zscore(f"{BASE}:delayed", h.id) for h in rated[5:]]
        gaps = [b - a for a, b in itertools.pairwise(due) if a and b]
        assert len(gaps) == 6 and all(199 <= gap <= 201 for gap in gaps), gaps
        with worker_process(redis_url, target=FLOW):
            for handle in rated + others:
                await handle.result(timeout=20)
    starts = [e[3] for e in await events(redis_url) if e[0] == "S" and e[2] == "r"]
    assert starts[5:] == [h.id for h in rated[5:]]  # in the order of their tokens
    await r.aclose()


async def test_fair_keys_take_turns_so_a_big_backlog_starves_no_small_one(redis_url: str) -> None:
    async with Client.from_url(redis_url) as client:
        await client.enqueue_many([Call(FAIR, WorkArgs(key="big")) for _ in range(1000)])
        small = await client.enqueue_many([Call(FAIR, WorkArgs(key="small")) for _ in range(10)])
        with worker_process(redis_url, target=FLOW, env=settings(concurrency="2")):
            for handle in small:
                await handle.result(timeout=30)
    starts = [e for e in await events(redis_url) if e[0] == "S"]
    last_small = max(i for i, e in enumerate(starts) if e[2] == "small")
    # A window of 2, then one turn each: the 10 small ones all start within the first 22.
    assert last_small < 22, [e[2] for e in starts[:30]]
    log = await events(redis_url)
    assert most_at_once([[k, t, "all", i] for k, t, _, i, *_ in log])["all"] <= 2


async def test_a_delayed_task_passes_its_gate_when_it_is_due(redis_url: str) -> None:
    async with Client.from_url(redis_url) as client:
        holder = await client.enqueue(SINGLE, WorkArgs(key="k", seconds=0.3))
        delayed = await client.enqueue(SINGLE, WorkArgs(key="k"), EnqueueOptions(delay=0.05))
        r = redis.asyncio.Redis.from_url(redis_url)
        # Delayed at enqueue: it holds no slot while it waits.
        assert await r.smembers(f"{BASE}:flow:c:flow.single:k") == {holder.id.encode()}
        with worker_process(redis_url, target=FLOW):
            await delayed.result(timeout=20)
        await r.aclose()
    log = [(e[0], e[3]) for e in await events(redis_url)]
    # Due while the holder ran: parked at promotion, started once the slot was free.
    assert log == [("S", holder.id), ("E", holder.id), ("S", delayed.id), ("E", delayed.id)]
