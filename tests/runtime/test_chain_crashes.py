"""Chains and chords under crashing workers, with real worker processes
(tests/fixtures/chain_worker.py): no step lost, none enqueued twice, every chord's callback once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

import redis.asyncio

from taskgen.runtime import Call, Chain, Client, Step, TaskClient, group
from taskgen.runtime.keys import QueueKeys
from tests.flows_fixture import DOUBLE, INC, MEET, RUNS, TOTAL, IncArgs, MeetArgs
from tests.support import worker_process

FLOW = "tests.fixtures.chain_worker:worker"


def flow_env(**values: str) -> dict[str, str]:
    return {**os.environ, **values}


async def run_counts(r: redis.asyncio.Redis) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in (await r.hgetall(RUNS)).items()}


async def until(condition: Callable[[], Awaitable[object]], timeout: float) -> None:
    """Wait, polling, until ``condition()`` is true; TimeoutError after ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


def five_steps(n: int) -> Chain[int]:
    pause = {"pause": 0.2}
    return (
        Call(INC, IncArgs(n=n, pause=0.2))
        .then(Step[int, int](DOUBLE, {}))
        .then(Step[int, int](INC, {"by": 3, **pause}))
        .then(Step[int, int](DOUBLE, {}))
        .then(Step[int, int](INC, {"by": 1, **pause}))
    )


def expected(n: int) -> int:
    return ((n + 1) * 2 + 3) * 2 + 1


async def test_a_worker_killed_between_a_steps_ending_and_its_handoff_loses_nothing(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url) as client:
        tasks = TaskClient(client)
        chain = (
            Call(INC, IncArgs(n=1))
            .then(Step[int, int](DOUBLE, {}))
            .then(Step[int, int](INC, {"by": 5}))
        )
        with worker_process(
            redis_url, target=FLOW, env=flow_env(FLOW_DIE_BEFORE_RELAY="1")
        ) as dying:
            handle = await tasks.start(chain)
            await asyncio.to_thread(dying.wait, 30)
        assert dying.returncode == -signal.SIGKILL
        first_queue, first_id = handle.steps[0]
        assert await r.hexists(QueueKeys(first_queue).handoff, first_id), "no handoff was left"
        with worker_process(redis_url, target=FLOW, env=flow_env()):
            assert await handle.result(timeout=30) == (1 + 1) * 2 + 5
        ids = [task_id for _, task_id in handle.steps]
        assert await run_counts(r) == {f"{task_id}:1": 1 for task_id in ids}
        assert await r.hlen(QueueKeys(first_queue).handoff) == 0
    await r.aclose()


async def test_a_chord_member_whose_worker_died_before_its_handoff_still_counts(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    async with Client.from_url(redis_url) as client:
        tasks = TaskClient(client)
        members = group([Call(INC, IncArgs(n=n)) for n in range(6)])
        dies = flow_env(FLOW_DIE_BEFORE_RELAY="1", FLOW_TASKS="flow.inc")
        with worker_process(redis_url, target=FLOW, env=dies) as dying:
            handle = await tasks.start(members.then(Step[list[int], int](TOTAL, {})))
            await asyncio.to_thread(dying.wait, 30)
        assert dying.returncode == -signal.SIGKILL
        assert await r.hlen(QueueKeys("flow-a").handoff) >= 1, "no member's handoff was left"
        with worker_process(redis_url, target=FLOW, env=flow_env()):
            assert await handle.result(timeout=30) == sum(range(1, 7))
        _, callback_id = handle.steps[0]
        counts = await run_counts(r)
        assert counts[f"{callback_id}:1"] == 1 and f"{callback_id}:2" not in counts
        assert await r.hlen(QueueKeys("flow-a").handoff) == 0
    await r.aclose()


async def test_chains_survive_workers_sigkilled_mid_chain(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    rng = random.Random(16)
    async with Client.from_url(redis_url) as client:
        tasks = TaskClient(client)
        with ExitStack() as stack:
            workers = [
                stack.enter_context(worker_process(redis_url, target=FLOW, env=flow_env()))
                for _ in range(2)
            ]
            handles = [await tasks.start(five_steps(n)) for n in range(20)]
            await until(lambda: r.exists(RUNS), 20)
            kills = 0
            while kills < 10:
                await asyncio.sleep(rng.uniform(0.2, 0.6))
                victim = workers.pop(rng.randrange(len(workers)))
                victim.send_signal(signal.SIGKILL)
                await asyncio.to_thread(victim.wait, 10)
                kills += 1
                workers.append(
                    stack.enter_context(worker_process(redis_url, target=FLOW, env=flow_env()))
                )
            values = await asyncio.gather(*(h.result(timeout=60) for h in handles))
            # Killed too: a replacement may still be starting, before it handles SIGTERM.
            for worker in workers:
                worker.send_signal(signal.SIGKILL)
        assert values == [expected(n) for n in range(20)]
        counts = await run_counts(r)
        twice = {key: n for key, n in counts.items() if n > 1}
        assert not twice, f"a step's delivery ran twice (a handoff enqueued it twice): {twice}"
        redelivered = [key for key in counts if not key.endswith(":1")]
        assert redelivered, "no kill hit a running step: the test shows nothing"
        ran = {key.partition(":")[0] for key in counts}
        for handle in handles:
            # A delivery killed before its handler counted shows only as delivery 2.
            assert {task_id for _, task_id in handle.steps} <= ran, "a step never ran"
        for queue in ("flow-a", "flow-b"):
            assert await r.hlen(QueueKeys(queue).handoff) == 0
    await r.aclose()


async def test_a_chord_whose_members_finish_together_calls_back_once(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    # Each member on its own worker, so the two handoffs reach the chord from two processes.
    members_only = flow_env(FLOW_CONCURRENCY="1", FLOW_TASKS="flow.meet")
    async with Client.from_url(redis_url) as client:
        tasks = TaskClient(client)
        with (
            worker_process(redis_url, target=FLOW, env=members_only),
            worker_process(redis_url, target=FLOW, env=members_only),
            worker_process(redis_url, target=FLOW, env=flow_env(FLOW_TASKS="flow.total")),
        ):
            for round_ in range(30):
                key = f"meet:{round_}"
                members = group([Call(MEET, MeetArgs(key=key, size=2, value=v)) for v in (1, 2)])
                handle = await tasks.start(members.then(Step[list[int], int](TOTAL, {})))
                assert await handle.result(timeout=20) == 3
                _, callback_id = handle.steps[0]
                counts = await run_counts(r)
                assert counts.get(f"{callback_id}:1") == 1
                assert f"{callback_id}:2" not in counts
    await r.aclose()
