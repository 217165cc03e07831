"""The eager client runs tasks through the worker's own executor: for every way a handler can end,
its outcome is exactly what a real worker stores for the same task and arguments."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskgen.runtime import Binding, Call, Client, Context, Retry, RetryLater, SyncClient, TaskDef
from taskgen.runtime.packing import pack, unpack
from taskgen.runtime.wire import OUTCOME, Outcome, TaskStatus
from taskgen.testing import EagerClient
from tests.tasks_fixture import ADD, ADD_DRIFTED, UNKNOWN, AddArgs, AddTextArgs, running_worker

PATIENCE = 20.0


class CaseArgs(msgspec.Struct, frozen=True, kw_only=True):
    how: str


def probe(name: str) -> TaskDef[CaseArgs, int]:
    return TaskDef[CaseArgs, int](
        name=f"probe.{name}",
        queue="probe",
        fingerprint=f"{name}-v1",
        args=CaseArgs,
        result=int,
        params=(("how", "positional"),),
        timeout=0.3,
        retry=Retry(attempts=2, backoff=0.01, jitter=False),
    )


ASYNC, SYNC = probe("async"), probe("sync")


async def run_async(ctx: Context, how: str) -> int:
    if how == "slow":
        await asyncio.sleep(5)
    return ends(ctx, how)


def run_sync(ctx: Context, how: str) -> int:
    if how == "slow":
        time.sleep(0.6)
    return ends(ctx, how)


def ends(ctx: Context, how: str) -> Any:
    """Every way a handler ends: by its try, raising, returning a value the contract refuses."""
    if how == "flaky" and ctx.attempt == 1:
        raise ValueError(f"try {ctx.attempt} of {ctx.task} fails")
    if how == "later" and ctx.attempt == 1:
        raise RetryLater(0.01, "not yet")
    if how == "raises":
        raise KeyError("always")
    if how == "wrong":
        return "seven"
    if how == "exits":
        raise SystemExit(3)
    return 7


def bindings() -> list[Binding[Any, Any]]:
    return [
        Binding(ASYNC, run_async, lambda ctx, args, _: run_async(ctx, args.how)),
        Binding(SYNC, run_sync, lambda ctx, args, _: run_sync(ctx, args.how)),
        Binding(ADD, add, lambda ctx, args, _: add(ctx, args.a, args.b)),
    ]


async def add(ctx: Context, a: int, b: int) -> int:
    return a + b


CASES = ["ok", "flaky", "later", "raises", "wrong", "exits", "slow"]
#: Calls that end before a handler runs: a payload that does not fit, a task no one runs.
UNRUN = [Call(ADD_DRIFTED, AddTextArgs(a=1, b="x")), Call(UNKNOWN, AddArgs(a=1, b=1))]


def calls() -> list[Call[Any]]:
    return [Call(task, CaseArgs(how=how)) for task in (ASYNC, SYNC) for how in CASES] + UNRUN


async def outcomes(client: Client, enqueued: list[Call[Any]]) -> list[Outcome]:
    """How each call ended, with the moment it ended left out."""
    ended: list[Outcome] = []
    for call in enqueued:
        handle = await client.enqueue(call.task, call.args)
        raw = await client.wait_outcome(call.task.queue, handle.id, PATIENCE)
        assert raw is not None, f"{call.task.name} {call.args} never ended"
        ended.append(
            msgspec.structs.replace(OUTCOME.decode(raw), finished_at=0, enqueued_at=0, started_at=0)
        )
    return ended


async def test_the_eager_client_ends_every_task_as_a_worker_does(redis_url: str) -> None:
    async with EagerClient(bindings()) as eager:
        eagerly = await outcomes(eager, calls())
    async with (
        Client.from_url(redis_url, registry="off") as client,
        running_worker(redis_url, bindings(), concurrency=32),
    ):
        worked = await asyncio.gather(*(outcomes(client, [call]) for call in calls()))
    by_case = [f"{c.task.name} {c.args}" for c in calls()]
    for case, mine, theirs in zip(by_case, eagerly, [w[0] for w in worked], strict=True):
        assert mine == theirs, case
    statuses = {case: o.status for case, o in zip(by_case, eagerly, strict=True)}
    # The cases do reach every ending, on their second try where they retry.
    assert {s.value for s in statuses.values()} == {"done", "failed", "timed_out", "rejected"}
    assert [o.attempts for o in eagerly[: len(CASES)]] == [1, 2, 2, 2, 2, 2, 2]


async def test_enqueue_many_and_the_record_of_what_was_enqueued() -> None:
    async with EagerClient(bindings()) as eager:
        handles = await eager.enqueue_many(
            [Call(ASYNC, CaseArgs(how="ok")), Call(ADD, AddArgs(a=2, b=3))]
        )
        assert [await h.result() for h in handles] == [7, 5]
        again = await eager.enqueue_many([Call(ADD, AddArgs(a=1, b=1))])
        assert await again[0].status() is TaskStatus.DONE
    assert [(e.task, e.args) for e in eager.enqueued] == [
        ("probe.async", CaseArgs(how="ok")),
        ("math.add", AddArgs(a=2, b=3)),
        ("math.add", AddArgs(a=1, b=1)),
    ]


def test_blocking_code_gets_the_eager_client_too() -> None:
    with SyncClient(EagerClient(bindings())) as client:
        assert client.enqueue(ADD, AddArgs(a=4, b=5)).result() == 9
        flaky = client.enqueue(SYNC, CaseArgs(how="flaky"))
        assert flaky.result() == 7
        assert flaky.status() is TaskStatus.DONE
        assert not flaky.abort()


@pytest.mark.parametrize("chosen", ["order-1"])
async def test_a_chosen_id_runs_once(chosen: str) -> None:
    from taskgen.runtime import EnqueueOptions

    async with EagerClient(bindings()) as eager:
        first = await eager.enqueue(ADD, AddArgs(a=1, b=1), EnqueueOptions(task_id=chosen))
        second = await eager.enqueue(ADD, AddArgs(a=5, b=5), EnqueueOptions(task_id=chosen))
        assert (first.created, second.created) == (True, False)
        assert await second.result() == 2
    assert len(eager.enqueued) == 1


@given(st.lists(st.binary(max_size=300), max_size=30))
def test_the_eager_queue_reads_records_back_as_the_scripts_do(values: list[bytes]) -> None:
    assert unpack(pack(values)) == values
