"""Every way a handler or a payload can end ends the task, never the worker (real processes).

The workers are ``taskgen worker tests.fixtures.ends_worker:worker`` subprocesses. Each test
checks the bad task's outcome, that a good task enqueued after it is served by the same
process, and that the process is still running (or, when crashing is the point, that the
fleet goes on).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import pytest
import redis.asyncio

from taskgen.runtime import (
    Call,
    Client,
    ResultMismatch,
    TaskDef,
    TaskFailed,
    TaskRejected,
    TaskStatus,
)
from taskgen.runtime.keys import GROUP, LEVELS, QueueKeys
from taskgen.runtime.wire import ENCODER, Envelope, new_task_id, now_ms
from taskgen.testing import EagerClient
from taskgen.vocabulary import Priority
from tests.fixtures import ends_worker
from tests.fixtures.ends_worker import ASYNC, BLOB, CRASH, SYNC, BlobArgs, EndArgs
from tests.support import worker_process
from tests.tasks_fixture import ADD, ADD_DRIFTED, AddArgs, AddTextArgs

ENDS = "tests.fixtures.ends_worker:worker"
KEYS = QueueKeys("math")
STREAM = KEYS.streams[LEVELS.index(Priority.NORMAL)]

#: Every way a handler can end, and the (error type, words of the message) it must end with;
#: None: it returns the worker's pid.
ENDINGS: dict[str, tuple[str, str] | None] = {
    "return": None,
    "wrong_type": ("WrongResultType", "returned float, the contract says int"),
    "bool_for_int": ("WrongResultType", "returned bool, the contract says int"),
    "exception": ("ValueError", "boom"),
    "str_raises": ("Unprintable", "<str() of this Unprintable raised RuntimeError>"),
    "lone_surrogate": ("ValueError", "bad \\udc80 text"),
    "huge_message": ("ValueError", "characters cut"),
    "keyboard_interrupt": ("KeyboardInterrupt", "it ends this task, not the worker"),
    "system_exit": ("SystemExit", "3 (raised by the handler: it ends this task"),
    "generator_exit": ("GeneratorExit", "it ends this task, not the worker"),
    "custom_base_exception": ("Custom", "mine (raised by the handler"),
    "cancelled": ("CancelledError", "raised CancelledError itself"),
}


def env(**limits: str) -> dict[str, str]:
    return {**os.environ, **{f"ENDS_{k.upper()}": v for k, v in limits.items()}}


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    """Wait, with a deadline, for a condition on the server's state."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def add(redis_url: str, a: int, b: int) -> int:
    """Run math.add from a client of its own.

    A client that has awaited a result offers its reply channel to later enqueues; a reply
    that arrives before the enqueue has returned is then missed (a race in the client's result
    waiter, reported apart), so these checks do not depend on it."""
    async with Client.from_url(redis_url) as client:
        return await (await client.enqueue(ADD, AddArgs(a=a, b=b))).result(timeout=15)


@pytest.fixture
async def server(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    r = redis.asyncio.Redis.from_url(redis_url)
    for stream in KEYS.streams:
        await r.xgroup_create(stream, GROUP, id="0", mkstream=True)
    yield r
    await r.aclose()


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("how", list(ENDINGS))
async def test_every_way_a_handler_ends_ends_its_task_and_the_worker_serves_on(
    redis_url: str, how: str, kind: str
) -> None:
    task = SYNC if kind == "sync" else ASYNC
    with worker_process(redis_url, target=ENDS) as worker:
        async with Client.from_url(redis_url) as client:
            handle = await client.enqueue(task, EndArgs(how=how))
            good = await client.enqueue(task, EndArgs(how="return"))
            expected = ENDINGS[how]
            if expected is None:
                assert await handle.result(timeout=15) == worker.pid
            else:
                with pytest.raises(TaskFailed) as failed:
                    await handle.result(timeout=15)
                error_type, words = expected
                assert failed.value.error_type == error_type
                assert words in failed.value.error_message
                assert len(failed.value.error_message) < 20_000
            assert await good.result(timeout=15) == worker.pid
        assert worker.poll() is None, "the worker died"


async def test_an_oversized_result_fails_its_task_at_once_and_stays_out_of_redis(
    redis_url: str, server: redis.asyncio.Redis
) -> None:
    with worker_process(redis_url, target=ENDS, env=env(max_result_bytes="1000000")) as worker:
        async with Client.from_url(redis_url) as client:
            big = await client.enqueue(BLOB, BlobArgs(size=2_000_000))
            small = await client.enqueue(BLOB, BlobArgs(size=1000))
            with pytest.raises(TaskFailed) as failed:
                await big.result(timeout=15)
            assert failed.value.error_type == "ResultTooLarge"
            assert "2,000,000 bytes" in failed.value.error_message
            assert "max_result_bytes" in failed.value.error_message
            assert failed.value.attempts == 1, "retried, though it would be as large again"
            assert await small.result(timeout=15) == b"x" * 1000
            letters = await server.xrange(KEYS.dead)
            assert [f[b"reason"] for _, f in letters] == [b"result too large"]
            assert await server.memory_usage(KEYS.task(big.id)) < 100_000
        assert worker.poll() is None


def _envelope(task: str, args: bytes, fingerprint: str = "add-v1") -> tuple[str, bytes]:
    task_id = new_task_id()
    return task_id, ENCODER.encode(
        Envelope(task_id, task, fingerprint, msgspec.Raw(args), now_ms())
    )


async def _add_raw(r: redis.asyncio.Redis, task_id: str, payload: bytes, *more: str) -> str:
    fields = {task_id: payload, **dict(zip(more[::2], more[1::2], strict=True))}
    await r.xadd(STREAM, fields)  # type: ignore[arg-type]
    return task_id


async def _poison(shape: str, r: redis.asyncio.Redis, client: Client) -> str:
    """Put one poison entry of this shape on the queue; returns its task id."""
    add_args = ENCODER.encode(AddArgs(a=1, b=2))
    if shape == "too_deep":
        return await _add_raw(r, *_envelope("math.add", b"\x91" * 100_000 + b"\x01"))
    if shape == "garbage":
        return await _add_raw(r, new_task_id(), b"\xc1\xc1 not msgpack \xff")
    if shape == "wrong_envelope_shape":
        return await _add_raw(r, new_task_id(), ENCODER.encode({"id": 1, "task": ["x"]}))
    if shape == "unknown_task":
        return await _add_raw(r, *_envelope("math.nope", add_args))
    if shape == "non_numeric_counter":
        return await _add_raw(r, *_envelope("math.add", add_args), "r", "abc")
    if shape == "wrong_fingerprint":
        return (await client.enqueue(ADD_DRIFTED, AddTextArgs(a=1, b="two"))).id
    assert shape == "bool_for_int"
    return (await client.enqueue(ADD, AddArgs(a=True, b=1))).id


#: Each poison shape, and the words its dead letter's reason must hold (None: it runs).
POISON: dict[str, str | None] = {
    "too_deep": "nested deeper than the worker decodes",
    "garbage": "the envelope cannot be decoded",
    "wrong_envelope_shape": "the envelope cannot be decoded",
    "unknown_task": "no handler for task 'math.nope'",
    "non_numeric_counter": None,
    "wrong_fingerprint": "client runs contract fingerprint add-v2, this worker add-v1",
    "bool_for_int": "client and worker run the same contract, fingerprint add-v1",
}


@pytest.mark.parametrize("shape", list(POISON))
async def test_a_poison_entry_is_dead_lettered_with_its_reason_and_the_worker_serves_on(
    redis_url: str, server: redis.asyncio.Redis, shape: str
) -> None:
    reason = POISON[shape]

    async def ended(task_id: str) -> bool:
        if reason is None:
            return await server.hget(KEYS.task(task_id), "s") == b"done"
        letters = await server.xrange(KEYS.dead)
        return any(
            f[b"id"] == task_id.encode() and reason.encode() in f[b"reason"] for _, f in letters
        )

    # registry="off": the poison is injected on purpose, past the client's own checks.
    async with Client.from_url(redis_url, registry="off") as client:
        # One read by the batched fetch at start-up, one by the blocking read of an idle worker.
        before = await _poison(shape, server, client)
        with worker_process(redis_url, target=ENDS) as worker:
            assert await add(redis_url, 1, 2) == 3
            after = await _poison(shape, server, client)
            assert await add(redis_url, 2, 2) == 4
            for task_id in (before, after):
                await until(lambda: ended(task_id))  # noqa: B023
            assert worker.poll() is None, "the worker died"
        assert await server.xlen(STREAM) == 0


async def test_bool_for_int_is_rejected_in_words_that_do_not_suggest_version_skew(
    redis_url: str,
) -> None:
    with worker_process(redis_url, target=ENDS):
        async with Client.from_url(redis_url) as client:
            handle = await client.enqueue(ADD, AddArgs(a=True, b=1))
            with pytest.raises(TaskRejected) as rejected:
                await handle.result(timeout=15)
    message = str(rejected.value)
    assert message.lower().count("rejected") == 1, message
    assert "same contract" in message and "`$.a`" in message
    assert "version" not in message


async def test_a_non_numeric_counter_in_the_task_hash_does_not_stop_reclaiming(
    redis_url: str, server: redis.asyncio.Redis
) -> None:
    async with Client.from_url(redis_url) as client:
        handle = await client.enqueue(ADD, AddArgs(a=1, b=2))
        # A worker that read it and vanished, leaving a corrupted counter behind.
        await server.xreadgroup(GROUP, "ghost", {STREAM: ">"}, count=1)
        await server.hset(KEYS.task(handle.id), "r", "abc")
        with worker_process(redis_url, target=ENDS, env=env(lease="0.3")) as worker:
            assert await handle.result(timeout=15) == 3
            assert await add(redis_url, 2, 2) == 4
            assert worker.poll() is None


@pytest.mark.parametrize("written_by", ["client", "raw_xadd"])
async def test_a_task_that_keeps_killing_its_workers_is_dead_lettered_after_max_deliveries(
    redis_url: str, server: redis.asyncio.Redis, written_by: str
) -> None:
    settings = env(lease="0.3", max_deliveries="2")
    async with Client.from_url(redis_url) as client:
        with (
            worker_process(redis_url, target=ENDS, env=settings) as first,
            worker_process(redis_url, target=ENDS, env=settings) as second,
            worker_process(redis_url, target=ENDS, env=settings) as third,
        ):
            if written_by == "client":
                poison = await client.enqueue(CRASH, EndArgs(how="crash"))
            else:  # no task hash: the stream's own delivery count is what counts
                crash = ENCODER.encode(EndArgs(how="crash"))
                task_id = await _add_raw(server, *_envelope("ends.crash", crash, "crash-v1"))
                poison = client.handle(CRASH, task_id)
            with pytest.raises(TaskFailed) as failed:
                await poison.result(timeout=30)
            assert failed.value.error_type == "TooManyDeliveries"
            assert "max_deliveries" in failed.value.error_message
            workers = [first, second, third]
            assert [w.poll() for w in workers].count(-signal.SIGKILL) == 2
            survivor = next(w for w in workers if w.poll() is None)
            async with Client.from_url(redis_url) as fresh:
                handles = await fresh.enqueue_many(
                    [Call(ASYNC, EndArgs(how="return")) for _ in range(5)]
                )
                assert [await h.result(timeout=15) for h in handles] == [survivor.pid] * 5
            assert await poison.status() is TaskStatus.FAILED


async def test_max_tasks_per_process_recycles_worker_processes(redis_url: str) -> None:
    with worker_process(redis_url, "--max-tasks-per-process", "5", target=ENDS) as supervisor:
        async with Client.from_url(redis_url) as client:
            handles = await client.enqueue_many(
                [Call(ASYNC, EndArgs(how="return")) for _ in range(30)]
            )
            pids = [await h.result(timeout=30) for h in handles]
        supervisor.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(supervisor.wait, 30) == 0
    assert supervisor.pid not in pids
    served = {pid: pids.count(pid) for pid in pids}
    # Each process stops after its fifth task; those it had started meanwhile end too.
    assert len(served) >= 4 and max(served.values()) <= 5 + 4, served


async def test_a_result_mismatch_names_both_fingerprints(redis_url: str) -> None:
    reads_text = TaskDef[AddArgs, str](
        name="math.add", queue="math", fingerprint="add-v9", args=AddArgs, result=str
    )
    with worker_process(redis_url, target=ENDS):
        async with Client.from_url(redis_url) as client:
            handle = await client.enqueue(reads_text, AddArgs(a=1, b=2))
            with pytest.raises(ResultMismatch) as mismatch:
                await handle.result(timeout=15)
    message = str(mismatch.value)
    assert "the worker runs contract fingerprint add-v1, this client add-v9" in message
    assert "Expected `str`, got `int`" in message


@pytest.mark.parametrize(
    ("worker_fingerprint", "words"),
    [
        ("", "did not say which it runs"),
        ("v2", "the worker runs contract fingerprint v2, this client v1"),
        ("v1", "both run contract fingerprint v1, so the value itself does not fit"),
    ],
)
def test_result_mismatch_says_whether_the_versions_differ(
    worker_fingerprint: str, words: str
) -> None:
    error = ResultMismatch(
        task_id="t",
        task="math.add",
        problem="Expected `int`, got `float`",
        client_fingerprint="v1",
        worker_fingerprint=worker_fingerprint,
    )
    assert words in str(error)
    assert ("version" in str(error)) == (worker_fingerprint != "v1")


async def test_max_memory_per_process_recycles_a_leaking_worker(redis_url: str) -> None:
    with worker_process(redis_url, "--max-memory-per-process", "100", target=ENDS) as supervisor:
        async with Client.from_url(redis_url) as client:
            handles = await client.enqueue_many(
                [Call(ASYNC, EndArgs(how="leak")) for _ in range(40)]
            )
            pids = [await h.result(timeout=30) for h in handles]
        supervisor.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(supervisor.wait, 30) == 0
    # 8 MiB leaked per task: a process passes 100 MiB within its first few checks.
    assert len(set(pids)) >= 3, {pid: pids.count(pid) for pid in pids}


@pytest.mark.parametrize(
    ("how", "error_type"),
    [
        ("wrong_type", "WrongResultType"),
        ("system_exit", "SystemExit"),
        ("str_raises", "Unprintable"),
    ],
)
async def test_the_eager_client_ends_tasks_as_a_worker_does(how: str, error_type: str) -> None:
    bindings = [b for b in ends_worker.worker.bindings.values() if b.task is SYNC]
    async with EagerClient(bindings) as eager:
        with pytest.raises(TaskFailed) as failed:
            await (await eager.enqueue(SYNC, EndArgs(how=how))).result()
    assert failed.value.error_type == error_type
