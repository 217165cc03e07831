"""Typed progress: a task whose contract declares a progress type reports values of it, and
every reader (handles of the async, blocking and eager clients, ``taskgen task show``, the
dashboard) decodes them with that type; a value of another type is refused in the handler."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec
import pytest
import redis.asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from taskgen.dashboard import dashboard
from taskgen.runtime import (
    Binding,
    Client,
    Context,
    Progress,
    ProgressContext,
    ProgressHandle,
    ProgressMismatch,
    ProgressType,
    SyncClient,
    SyncProgressHandle,
    TaskFailed,
)
from taskgen.runtime.inspect import UNTYPED_NOTE, task_info
from taskgen.runtime.progress import PROGRESS, checked, decode_stored
from taskgen.testing import EagerClient
from tests.fixtures.progress_worker import STEP, STEPS, SYNC_STEPS, WRONG, Step, StepsArgs
from tests.support import taskgen, worker_process
from tests.tasks_fixture import ADD, AddArgs

TARGET = "tests.fixtures.progress_worker:worker"


class Frames(msgspec.Struct, frozen=True):
    """A progress type a client of another contract version declares."""

    frames: int


async def until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 15) -> None:
    """Wait, with a deadline, for a condition on the server's state."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        await asyncio.sleep(0.02)


# -- the stored record ------------------------------------------------------------------------


def test_an_untyped_report_is_stored_exactly_as_before() -> None:
    """Three items, as the untyped reader (and an older client) decodes them."""
    record = checked(0.25, "a quarter")
    items = msgspec.msgpack.decode(record)
    assert len(items) == 3 and items[:2] == [0.25, "a quarter"]
    stored = decode_stored(record)
    assert stored is not None and not stored.typed
    assert stored.plain == PROGRESS.decode(record)
    assert STEP.decode(stored) is None  # a typed reader meets an older worker's number


STEPS_ = st.builds(Step, st.integers(), st.integers(min_value=0), st.none() | st.text(max_size=20))


@settings(max_examples=200, deadline=None)
@given(step=STEPS_)
def test_a_typed_report_reads_back_with_its_type_and_as_a_plain_progress(step: Step) -> None:
    record = STEP.record("prog.steps", step)
    stored = decode_stored(record)
    assert stored is not None and stored.typed
    assert STEP.decode(stored) == step
    # A reader of the plain record (an older client, or an untyped handle) reads 0.0.
    plain = PROGRESS.decode(record)
    assert (plain.value, plain.message) == (0.0, "") and plain.at > 0


@settings(max_examples=100, deadline=None)
@given(value=st.tuples(st.integers(), st.integers()) | st.lists(st.floats(allow_nan=False)))
def test_any_type_the_contract_allows_round_trips(value: Any) -> None:
    declared: ProgressType[Any] = ProgressType(
        tuple[int, int] if isinstance(value, tuple) else list[float]
    )
    stored = decode_stored(declared.record("t", value))
    assert stored is not None
    back = declared.decode(stored)
    assert back == (list(value) if isinstance(value, list) else value)


@pytest.mark.parametrize(
    "bad",
    [0.5, "half", None, True, {"done": "one", "total": 2}, Frames(3), object(), [1, 2, 3, 4]],
    ids=["float", "str", "none", "bool", "mistyped-dict", "other-struct", "object", "list"],
)
def test_a_value_of_another_type_is_refused_in_the_handler(bad: object) -> None:
    context: ProgressContext[Step] = ProgressContext(
        "t1", "prog.steps", "prog", 1, 1, 0, None, None, STEP
    )
    with pytest.raises(TypeError) as refused:
        context.progress(bad)  # type: ignore[arg-type]
    message = str(refused.value)
    assert message.startswith("ctx.progress() of task prog.steps takes a Step")
    assert "\n" not in message


def test_a_typed_context_without_its_type_takes_the_value_unchecked() -> None:
    """A unit test's context, made without the task's ProgressType: reports are not refused."""
    kept: list[bytes] = []

    class Sink:
        def report(self, queue: str, task_id: str, record: bytes) -> None:
            kept.append(record)

    ProgressContext[Step]("t1", "prog.steps", "prog", 1, 1, 0, None).progress(Step(1, 2))
    ProgressContext[Step]("t1", "prog.steps", "prog", 1, 1, 0, None, Sink()).progress(Step(1, 2))
    (stored,) = [decode_stored(record) for record in kept]
    assert stored is not None and STEP.decode(stored) == Step(1, 2)


# -- a real worker process --------------------------------------------------------------------


async def test_concurrent_handles_on_one_client_read_their_own_typed_progress(
    redis_url: str,
) -> None:
    """Six tasks run at once (four async, two in handler threads); each handle reads its own
    task's reports, typed, while it runs and after it ended."""
    tasks = [(STEPS, 3), (STEPS, 5), (SYNC_STEPS, 4), (STEPS, 7), (SYNC_STEPS, 2), (STEPS, 1)]
    r = redis.asyncio.Redis.from_url(redis_url)
    with worker_process(redis_url, target=TARGET):
        async with Client.from_url(redis_url, registry="off") as client:
            handles = [
                ProgressHandle(
                    await client.enqueue(task, StepsArgs(total=total, go=f"prog:go:{i}")), STEP
                )
                for i, (task, total) in enumerate(tasks)
            ]

            async def reaches(handle: ProgressHandle[int, Step], step: Step) -> None:
                async def there() -> bool:
                    return await handle.progress() == step

                await until(there, f"{handle.task.name} reports {step}")

            await asyncio.gather(
                *(reaches(h, Step(t - 1, t)) for h, (_, t) in zip(handles, tasks, strict=True))
            )
            for handle, (_, total) in zip(handles, tasks, strict=True):
                info = await task_info(r, handle.id)
                assert info is not None and info.status == "running"
                assert info.progress_value is not None
                assert msgspec.msgpack.decode(info.progress_value, type=Step) == Step(
                    total - 1, total
                )
            for i in range(len(tasks)):
                await r.rpush(f"prog:go:{i}", 1)
            results = await asyncio.gather(*(h.result(timeout=20) for h in handles))
            assert results == [t for _, t in tasks]
            finals = await asyncio.gather(*(h.progress() for h in handles))
            assert finals == [Step(t, t, "done") for _, t in tasks]
    await r.aclose()


async def test_a_report_of_the_wrong_type_fails_the_run_with_a_clear_error(
    redis_url: str,
) -> None:
    with worker_process(redis_url, target=TARGET):
        async with Client.from_url(redis_url, registry="off") as client:
            handle = await client.enqueue(WRONG, StepsArgs(total=1, go="unused"))
            with pytest.raises(TaskFailed) as failed:
                await handle.result(timeout=20)
    assert failed.value.error_type == "TypeError"
    assert failed.value.error_message.startswith(
        "ctx.progress() of task prog.wrong takes a Step (its contract's progress type), "
        "not {'done': 'all of it'}"
    )


async def test_another_progress_type_is_a_mismatch_and_the_untyped_handle_reads_zero(
    redis_url: str,
) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    with worker_process(redis_url, target=TARGET):
        async with Client.from_url(redis_url, registry="off") as client:
            plain = await client.enqueue(STEPS, StepsArgs(total=2, go="prog:go:m"))
            theirs = ProgressHandle(plain, ProgressType[Frames](Frames))

            async def reported() -> bool:
                return await plain.progress() is not None

            await until(reported, "the first report")
            untyped = await plain.progress()
            assert isinstance(untyped, Progress) and (untyped.value, untyped.message) == (0.0, "")
            with pytest.raises(ProgressMismatch, match="progress type Frames: Object missing"):
                await theirs.progress()
            await r.rpush("prog:go:m", 1)
            assert await plain.result(timeout=20) == 2
    await r.aclose()


def test_the_blocking_client_reads_typed_progress(redis_url: str) -> None:
    with (
        worker_process(redis_url, target=TARGET),
        SyncClient.from_url(redis_url, registry="off") as client,
    ):
        enqueued = client.enqueue(STEPS, StepsArgs(total=3, go="prog:go:s"))
        handle = SyncProgressHandle(client, ProgressHandle(enqueued.handle, STEP))
        deadline = time.monotonic() + 15
        while handle.progress() != Step(2, 3):
            assert time.monotonic() < deadline, "no report within 15s"
            time.sleep(0.02)
        with redis.Redis.from_url(redis_url) as r:
            r.rpush("prog:go:s", 1)
        assert handle.result(timeout=20) == 3
        assert handle.progress() == Step(3, 3, "done")


async def test_the_eager_client_reads_typed_progress_and_none_for_a_number() -> None:
    async def typed(ctx: ProgressContext[Step], total: int, go: str) -> int:
        ctx.progress(Step(total, total, go))
        return total

    async def untyped(ctx: Context, a: int, b: int) -> int:
        ctx.progress(a, "of b")
        return a + b

    bindings = [
        Binding(STEPS, typed, lambda c, a, _: typed(c, a.total, a.go)),
        Binding(ADD, untyped, lambda c, a, _: untyped(c, a.a, a.b)),
    ]
    async with EagerClient(bindings) as eager:
        handle = ProgressHandle(await eager.enqueue(STEPS, StepsArgs(total=4, go="x")), STEP)
        assert await handle.result() == 4
        assert await handle.progress() == Step(4, 4, "x")
        # An older worker's number, read by a client that expects the type: no typed report.
        numbered = ProgressHandle(await eager.enqueue(ADD, AddArgs(a=1, b=2)), STEP)
        assert await numbered.result() == 3
        assert await numbered.progress() is None


# -- task show and the dashboard ----------------------------------------------------------


async def test_task_show_and_the_dashboard_decode_typed_progress(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    with worker_process(redis_url, target=TARGET):
        async with Client.from_url(redis_url, registry="off") as client:
            handle = ProgressHandle(
                await client.enqueue(STEPS, StepsArgs(total=2, go="prog:go:show")), STEP
            )

            async def reported() -> bool:
                return await handle.progress() == Step(1, 2)

            await until(reported, "the last report before the go")
            shown = taskgen(
                redis_url, "task", "show", handle.id, "--tasks", "tests.fixtures.progress_worker"
            )
            assert shown.returncode == 0, shown.stderr
            assert re.search(r'progress\s+\{"done":1,"total":2,"note":null\} \(at ', shown.stdout)
            as_json = json.loads(
                taskgen(
                    redis_url,
                    "task",
                    "show",
                    handle.id,
                    "--tasks",
                    "tests.fixtures.progress_worker",
                    "--json",
                ).stdout
            )
            assert as_json["progress"] == {"done": 1, "total": 2, "note": None}
            raw = json.loads(taskgen(redis_url, "task", "show", handle.id, "--json").stdout)
            assert raw["progress"] == {"done": 1, "total": 2, "note": None}
            assert raw["decoded"] == UNTYPED_NOTE

            typed_board = dashboard(redis=r, tasks={STEPS.name: STEPS})
            untyped_board = dashboard(redis=r)
            async with (
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(typed_board), base_url="http://dash.test"
                ) as typed,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(untyped_board), base_url="http://dash.test"
                ) as untyped,
            ):
                page = (await typed.get(f"/tasks/{handle.id}")).text
                cell = re.search(r'<dd id="progress">(.*?)</dd>', page, re.S)
                assert cell and json.loads(html.unescape(cell.group(1))) == {
                    "done": 1,
                    "total": 2,
                    "note": None,
                }
                polled = (await typed.get(f"/api/tasks/{handle.id}")).json()
                assert json.loads(polled["progress"]) == {"done": 1, "total": 2, "note": None}
                polled = (await untyped.get(f"/api/tasks/{handle.id}")).json()
                assert json.loads(polled["progress"]) == {
                    "raw": {"done": 1, "total": 2, "note": None},
                    "note": UNTYPED_NOTE,
                }
            await r.rpush("prog:go:show", 1)
            assert await handle.result(timeout=20) == 2
    await r.aclose()
