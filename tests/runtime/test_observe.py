"""Worker observers: every run's start and ending, in the task's own context, sync and async."""

from __future__ import annotations

import contextvars
import threading

import pytest

from taskgen.runtime import Binding, Client, Context, TaskFailed, TaskRejected
from taskgen.runtime.observe import Ending, Run, TaskObserver
from taskgen.runtime.wire import TaskStatus
from tests.tasks_fixture import ADD, FLAKY, UNKNOWN, AddArgs, bind_add, running_worker

CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="")


class Recorder(TaskObserver):
    """Keeps what it is told; sets a context variable the handler reads back."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, int]] = []
        self.ends: list[tuple[str, int, TaskStatus, bool, bool]] = []

    def started(self, run: Run) -> None:
        self.starts.append((run.task, run.attempt))
        CURRENT.set(run.task_id)

    def ended(self, run: Run, ending: Ending) -> None:
        assert run.duration >= 0
        self.ends.append((run.task, run.attempt, ending.status, ending.retrying, ending.dead))


class Broken(TaskObserver):
    def started(self, run: Run) -> None:
        raise RuntimeError("observer bug")

    def ended(self, run: Run, ending: Ending) -> None:
        raise RuntimeError("observer bug")


async def test_observers_see_each_start_and_ending_and_the_handler_runs_in_their_context(
    redis_url: str,
) -> None:
    seen: dict[str, str] = {}
    threads: set[str] = set()

    def flaky(ctx: Context, a: int, b: int) -> int:
        # A sync handler in a worker thread sees what the observer set in the task's context.
        seen[f"{ctx.task_id}:{ctx.attempt}"] = CURRENT.get()
        threads.add(threading.current_thread().name)
        if ctx.attempt < 3:
            raise ValueError("not yet")
        return a + b

    async def add(ctx: Context, a: int, b: int) -> int:
        seen[ctx.task_id] = CURRENT.get()
        return a + b

    bindings = [
        Binding(ADD, add, lambda ctx, args, _: add(ctx, args.a, args.b)),
        Binding(FLAKY, flaky, lambda ctx, args, _: flaky(ctx, args.a, args.b)),
    ]
    recorder = Recorder()
    off = Client.from_url(redis_url, registry="off")
    async with off as client, running_worker(redis_url, bindings, observers=[Broken(), recorder]):
        added = await client.enqueue(ADD, AddArgs(a=1, b=2))
        flaked = await client.enqueue(FLAKY, AddArgs(a=2, b=3))
        unknown = await client.enqueue(UNKNOWN, AddArgs(a=1, b=1))
        assert await added.result(timeout=10) == 3
        assert await flaked.result(timeout=10) == 5
        with pytest.raises(TaskRejected):
            await unknown.result(timeout=10)

    assert seen[added.id] == added.id
    assert [seen[f"{flaked.id}:{n}"] for n in (1, 2, 3)] == [flaked.id] * 3
    assert all(name.startswith("taskgen-handler") for name in threads)
    assert sorted(recorder.starts) == [("math.add", 1), *(("math.flaky", n) for n in (1, 2, 3))]
    assert sorted(recorder.ends) == [
        ("math.add", 1, TaskStatus.DONE, False, False),
        ("math.flaky", 1, TaskStatus.FAILED, True, False),
        ("math.flaky", 2, TaskStatus.FAILED, True, False),
        ("math.flaky", 3, TaskStatus.DONE, False, False),
        ("math.unknown", 1, TaskStatus.REJECTED, False, True),
    ]


async def test_a_final_failure_is_reported_dead_lettered(redis_url: str) -> None:
    async def boom(ctx: Context, a: int, b: int) -> int:
        raise ValueError("no")

    recorder = Recorder()
    binding = Binding(ADD, boom, lambda ctx, args, _: boom(ctx, args.a, args.b))
    async with (
        Client.from_url(redis_url, registry="off") as client,
        running_worker(redis_url, [binding], observers=[recorder]),
    ):
        handle = await client.enqueue(ADD, AddArgs(a=1, b=1))
        with pytest.raises(TaskFailed):
            await handle.result(timeout=10)
    assert recorder.ends == [("math.add", 1, TaskStatus.FAILED, False, True)]


async def test_every_worker_logs_outcomes_through_one_observer_first(redis_url: str) -> None:
    """The outcome log is an observer the worker adds ahead of the user's, not part of them."""
    recorder = Recorder()
    async with (
        Client.from_url(redis_url, registry="off") as client,
        running_worker(redis_url, [bind_add()], observers=[recorder], tracing=False) as worker,
    ):
        assert await (await client.enqueue(ADD, AddArgs(a=1, b=1))).result(timeout=10) == 2
        assert worker.observers == [recorder]
        assert [type(o).__name__ for o in worker._observers()] == ["OutcomeLog", "Recorder"]
