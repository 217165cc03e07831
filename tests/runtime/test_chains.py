"""Chains, groups and chords against a real server, with a worker in this process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from taskgen.runtime import (
    Call,
    Chain,
    Client,
    Signing,
    Step,
    SyncClient,
    SyncTaskClient,
    TaskAborted,
    TaskClient,
    TaskFailed,
    TaskStatus,
    group,
)
from taskgen.runtime.keys import QueueKeys
from tests.flows_fixture import (
    DOUBLE,
    FAIL,
    INC,
    NAME,
    PAIR,
    RUNS,
    TOTAL,
    DoubleArgs,
    FailArgs,
    IncArgs,
    bindings,
)
from tests.support import worker_process
from tests.tasks_fixture import running_worker


@contextlib.asynccontextmanager
async def serving(redis_url: str, signing: Signing | None = None) -> AsyncIterator[TaskClient]:
    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[redis.asyncio.Redis]:
        r = redis.asyncio.Redis.from_url(redis_url)
        yield r
        await r.aclose()

    async with (
        running_worker(redis_url, bindings(), lifespan=lifespan, concurrency=8, signing=signing),
        Client.from_url(redis_url, signing=signing) as client,
    ):
        yield TaskClient(client)


async def run_counts(redis_url: str) -> dict[str, int]:
    r = redis.asyncio.Redis.from_url(redis_url)
    found = await r.hgetall(RUNS)
    await r.aclose()
    return {k.decode(): int(v) for k, v in found.items()}


def inc(n: int, by: int = 1) -> Call[int]:
    return Call(INC, IncArgs(n=n, by=by))


async def test_a_chain_passes_each_value_on_across_queues(redis_url: str) -> None:
    chain = (
        inc(1)
        .then(Step[int, int](DOUBLE, {}))
        .then(Step[int, int](INC, {"by": 10}))
        .then(Step[int, int](DOUBLE, {}))
    )
    async with serving(redis_url) as tasks:
        handle = await tasks.start(chain)
        assert await handle.result(timeout=20) == ((1 + 1) * 2 + 10) * 2
    ids = [task_id for _, task_id in handle.steps]
    assert len(set(ids)) == 4
    assert await run_counts(redis_url) == {f"{task_id}:1": 1 for task_id in ids}
    r = redis.asyncio.Redis.from_url(redis_url)
    for queue in ("flow-a", "flow-b"):
        assert await r.hlen(QueueKeys(queue).handoff) == 0, "a handoff was left behind"
    await r.aclose()


async def test_a_one_call_chain_is_just_that_call(redis_url: str) -> None:
    async with serving(redis_url) as tasks:
        handle = await tasks.start(Call(DOUBLE, DoubleArgs(n=21)).then(Step(INC, {"by": 0})))
        assert await handle.result(timeout=20) == 42


async def test_a_failed_step_fails_the_chain_with_its_error_and_stops_it(redis_url: str) -> None:
    chain = inc(1).then(Step[int, int](FAIL, {})).then(Step[int, int](DOUBLE, {}))
    async with serving(redis_url) as tasks:
        handle = await tasks.start(chain)
        with pytest.raises(TaskFailed) as failed:
            await handle.result(timeout=20)
    assert failed.value.error_type == "ValueError"
    message = failed.value.error_message
    assert "step flow.fail" in message and "no good: 2" in message
    assert failed.value.task == "flow.double"
    counts = await run_counts(redis_url)
    _, fail_id = handle.steps[1]
    _, last_id = handle.steps[2]
    assert counts[f"{fail_id}:1"] == 2, "the failing step gets its retries"
    assert not any(key.startswith(last_id) for key in counts), "a step after a failure ran"


async def test_aborting_a_chain_cancels_the_running_step_and_the_rest(redis_url: str) -> None:
    chain = Call(INC, IncArgs(n=1, pause=30)).then(Step[int, int](DOUBLE, {}))
    async with serving(redis_url) as tasks:
        r = redis.asyncio.Redis.from_url(redis_url)
        handle = await tasks.start(chain)
        _, first_id = handle.steps[0]
        async with asyncio.timeout(10):
            while not await r.hexists(RUNS, f"{first_id}:1"):
                await asyncio.sleep(0.01)
        assert await handle.abort() is True
        with pytest.raises(TaskAborted):
            await handle.result(timeout=10)
        await r.aclose()
    _, last_id = handle.steps[1]
    assert f"{last_id}:1" not in await run_counts(redis_url)


async def test_a_group_awaits_a_list_or_a_typed_tuple(redis_url: str) -> None:
    async with serving(redis_url) as tasks:
        listed = await tasks.start(group([inc(n) for n in range(20)]))
        assert await listed.result(timeout=20) == [n + 1 for n in range(20)]
        same = inc(7)
        twice = await tasks.start(group([same, same]))
        assert await twice.result(timeout=20) == [8, 8]
        assert len({h.id for h in twice.handles}) == 2, "one call given twice is two tasks"
        mixed = await tasks.start(group(inc(1), Call(NAME, DoubleArgs(n=3))))
        number, text = await mixed.result(timeout=20)
        assert number == 2 and text.startswith("n3@")


async def test_a_chord_runs_its_callback_once_with_every_value_in_order(redis_url: str) -> None:
    members = group([inc(n, by=n) for n in range(50)])
    chord = members.then(Step[list[int], int](TOTAL, {"plus": 1})).then(Step[int, int](DOUBLE, {}))
    async with serving(redis_url) as tasks:
        handle = await tasks.start(chord)
        assert await handle.result(timeout=30) == (sum(2 * n for n in range(50)) + 1) * 2
        assert await handle.members.result(timeout=5) == [2 * n for n in range(50)]
    counts = await run_counts(redis_url)
    _, callback_id = handle.steps[0]
    assert counts[f"{callback_id}:1"] == 1
    r = redis.asyncio.Redis.from_url(redis_url)
    assert not await r.exists(QueueKeys("flow-b").chord(callback_id)), "the chord key stayed"
    await r.aclose()


async def test_a_chord_of_a_tuple_group_decodes_the_tuple(redis_url: str) -> None:
    chord = group(inc(1), Call(NAME, DoubleArgs(n=5))).then(Step(PAIR, {}))
    async with serving(redis_url) as tasks:
        handle = await tasks.start(chord)
        value = await handle.result(timeout=20)
    assert value.startswith("2-n5@")


async def test_a_failed_member_fails_the_chord_and_its_callback_never_runs(
    redis_url: str,
) -> None:
    chord = group([inc(1), Call(FAIL, FailArgs(n=7)), inc(2)]).then(Step[list[int], int](TOTAL, {}))
    async with serving(redis_url) as tasks:
        handle = await tasks.start(chord)
        with pytest.raises(TaskFailed) as failed:
            await handle.result(timeout=20)
    assert "no good: 7" in failed.value.error_message
    _, callback_id = handle.steps[0]
    assert not any(k.startswith(callback_id) for k in await run_counts(redis_url))
    r = redis.asyncio.Redis.from_url(redis_url)
    assert not await r.exists(QueueKeys("flow-b").chord(callback_id)), "the chord key stayed"
    await r.aclose()


async def test_signed_steps_chords_and_failures_pass_the_signature_checks(redis_url: str) -> None:
    """The worker signs the envelopes and outcomes it hands off; the client and the next
    worker check them like any other."""
    signing = Signing("k" * 32)
    async with serving(redis_url, signing) as tasks:
        chain = inc(1).then(Step[int, int](DOUBLE, {})).then(Step[int, int](INC, {"by": 3}))
        assert await (await tasks.start(chain)).result(timeout=20) == 7
        chord = group([inc(n) for n in range(5)]).then(Step[list[int], int](TOTAL, {}))
        assert await (await tasks.start(chord)).result(timeout=20) == 15
        failing = await tasks.start(inc(1).then(Step[int, int](FAIL, {})))
        with pytest.raises(TaskFailed, match="no good"):
            await failing.result(timeout=20)


def random_chain(rng: random.Random) -> tuple[Chain[int], int]:
    """A chain of 2 to 9 steps over both queues, with bound arguments, and its value."""
    start = rng.randint(-50, 50)
    chain: Chain[int] = Chain(inc(start, by=0))
    value = start
    for _ in range(rng.randint(1, 8)):
        if rng.random() < 0.5:
            by = rng.randint(-9, 9)
            chain = chain.then(Step[int, int](INC, {"by": by}))
            value += by
        else:
            chain = chain.then(Step[int, int](DOUBLE, {}))
            value *= 2
    return chain, value


async def test_chains_of_every_shape_compute_their_fold(redis_url: str) -> None:
    rng = random.Random(1616)
    shapes = [random_chain(rng) for _ in range(40)]
    async with serving(redis_url) as tasks:
        handles = [await tasks.start(chain) for chain, _ in shapes]
        values = await asyncio.gather(*(h.result(timeout=30) for h in handles))
    assert values == [value for _, value in shapes]


async def test_a_large_group_over_two_queues_keeps_member_order(redis_url: str) -> None:
    calls = [inc(n) if n % 3 else Call(DOUBLE, DoubleArgs(n=n)) for n in range(2500)]
    async with serving(redis_url) as tasks:
        handle = await tasks.start(group(calls))
        values = await handle.result(timeout=60)
    assert values == [n * 2 if n % 3 == 0 else n + 1 for n in range(2500)]


def test_the_blocking_client_starts_and_awaits_chains_groups_and_chords(redis_url: str) -> None:
    env = {**os.environ, "FLOW_NO_COUNT": "1"}
    with (
        worker_process(redis_url, target="tests.fixtures.chain_worker:worker", env=env),
        SyncClient.from_url(redis_url) as client,
    ):
        tasks = SyncTaskClient(client)
        chain = tasks.start(inc(1).then(Step[int, int](DOUBLE, {})))
        assert chain.result(timeout=30) == 4
        assert chain.status() is TaskStatus.DONE
        assert tasks.start(group([inc(1), inc(2)])).result(timeout=30) == [2, 3]
        chord = tasks.start(group([inc(1), inc(2)]).then(Step[list[int], int](TOTAL, {})))
        assert chord.result(timeout=30) == 5
        assert chord.members.result(timeout=5) == [2, 3]
