"""The blocking client is the async one driven from threads: shared by many threads, it keeps the
registry's modes, its loop thread ends with it, and blocking calls work inside an event loop.

(A server restart mid-wait: tests/runtime/test_results_restart.py; a lost message:
tests/runtime/test_results_stress.py; EnqueueFailed: tests/runtime/test_enqueue_safety.py.)"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from taskgen.runtime import (
    Call,
    ContractMismatch,
    QueueMismatch,
    QueueMismatchWarning,
    SyncClient,
    SyncTaskClient,
    SyncTaskHandle,
    TaskStatus,
)
from tests.e2e.test_registry import NoteArgs, note, publisher, task_keys
from tests.support import worker_process
from tests.tasks_fixture import ADD, AddArgs

ADD_WORKER = "tests.fixtures.add_worker:worker"
PATIENCE = 30.0
THREADS, CALLS = 50, 20


def loop_threads() -> list[threading.Thread]:
    """The sync clients' event-loop threads alive now."""
    return [t for t in threading.enumerate() if t.name.startswith("taskgen-sync-client")]


@pytest.fixture(autouse=True)
def no_loop_thread_left() -> Iterator[None]:
    """Every test closes its clients: no loop thread outlives it."""
    yield
    assert loop_threads() == []


def test_many_threads_share_one_sync_client(redis_url: str) -> None:
    with SyncClient.from_url(redis_url) as client, worker_process(redis_url, target=ADD_WORKER):
        results: dict[tuple[int, int], int] = {}
        errors: list[BaseException] = []

        def calls(t: int) -> None:
            try:
                for i in range(CALLS):
                    handle = client.enqueue(ADD, AddArgs(a=t, b=i))
                    if i % 2:  # half of them re-attached by id, as another request would
                        handle = client.handle(ADD, handle.id)
                    results[t, i] = handle.result(timeout=PATIENCE)
                    assert handle.status() is TaskStatus.DONE
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=calls, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE)
        assert errors == []
        assert results == {(t, i): t + i for t in range(THREADS) for i in range(CALLS)}
        assert len(loop_threads()) == 1, "one loop serves every calling thread"


async def test_a_strict_sync_client_refuses_what_no_live_worker_runs(redis_url: str) -> None:
    """As tests/e2e/test_registry.py's async tests: a live worker runs f1 of notes.note; the
    sync client refuses f2 before anything is queued, and (strict) a queue never served."""
    redis = Redis.from_url(redis_url)
    old, new, nowhere = note("sync-reg", "f1"), note("sync-reg", "f2"), note("sync-nowhere")
    try:
        await publisher(redis, old, "w1").join()

        def refused() -> None:
            with SyncClient.from_url(redis_url, registry="strict") as client:
                assert client.enqueue(old, NoteArgs()).created
                with pytest.raises(ContractMismatch, match="nothing queued"):
                    client.enqueue(new, NoteArgs())
                with pytest.raises(ContractMismatch):
                    client.enqueue_many([Call(old, NoteArgs()), Call(new, NoteArgs())])
                with pytest.raises(QueueMismatch, match="'sync-nowhere'"):
                    client.enqueue(nowhere, NoteArgs())

        def refused_by_the_generated_base() -> None:
            # What a generated ``<Client>Sync.from_url(url, registry=...)`` passes on.
            with (
                SyncTaskClient.from_url(redis_url, registry="strict") as tasks,
                pytest.raises(QueueMismatch, match="'sync-nowhere'"),
            ):
                tasks.client.enqueue(nowhere, NoteArgs())

        before = await task_keys(redis)
        await asyncio.to_thread(refused)
        await asyncio.to_thread(refused_by_the_generated_base)
        assert len(await task_keys(redis)) == len(before) + 1
    finally:
        await redis.aclose()


def test_sync_registry_modes_warn_and_off(redis_url: str) -> None:
    task = note("sync-unserved")
    with (
        SyncClient.from_url(redis_url) as warn,
        SyncClient.from_url(redis_url, registry="off") as off,
    ):
        with pytest.warns(QueueMismatchWarning, match="no worker running it has ever served"):
            warn.enqueue(task, NoteArgs())
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            handle = off.enqueue(task, NoteArgs())
        assert handle.status() is TaskStatus.QUEUED


def test_close_ends_the_loop_thread(redis_url: str) -> None:
    client = SyncClient.from_url(redis_url, registry="off")
    assert loop_threads() == [], "started lazily, at the first call"
    client.enqueue(ADD, AddArgs(a=1, b=1))
    assert len(loop_threads()) == 1
    client.close()
    assert loop_threads() == []
    client.close()  # closing twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        client.enqueue(ADD, AddArgs(a=1, b=1))


async def test_blocking_calls_work_inside_a_running_event_loop(redis_url: str) -> None:
    """A blocking call in an async function (an `async def` route that should not, a notebook)
    runs on the client's own loop: it blocks the caller's loop while it waits, no deadlock."""
    with SyncClient.from_url(redis_url, registry="off") as client:
        handle = client.enqueue(ADD, AddArgs(a=2, b=3))
        assert isinstance(handle, SyncTaskHandle)
        assert handle.status() is TaskStatus.QUEUED
        assert handle.abort()
        assert handle.status() is TaskStatus.ABORTED


def test_a_blocking_call_on_the_clients_own_loop_is_refused(redis_url: str) -> None:
    with SyncClient.from_url(redis_url, registry="off") as client:

        async def nested() -> None:
            client.enqueue(ADD, AddArgs(a=1, b=1))  # from the loop it would have to wait on

        with pytest.raises(RuntimeError, match="from inside its own event loop"):
            client.run(nested())


def test_a_client_used_before_a_fork_says_so_in_the_child(redis_url: str) -> None:
    """Its loop thread stays in the parent: a child's call fails at once, never hangs."""
    with SyncClient.from_url(redis_url, registry="off") as client:
        client.enqueue(ADD, AddArgs(a=1, b=1))
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what the call raised, then leave without cleanup
            try:
                client.enqueue(ADD, AddArgs(a=1, b=1))
                said = "no error"
            except RuntimeError as exc:
                said = str(exc)
            client.close()
            os.write(write, said.encode())
            os._exit(0)
        os.close(write)
        answered, _, _ = select.select([read], [], [], 10.0)
        if not answered:
            os.kill(pid, signal.SIGKILL)
        with os.fdopen(read, "rb") as pipe:
            said = pipe.read().decode() if answered else "the call hung"
        os.waitpid(pid, 0)
        assert "used before this process forked" in said
        # The parent's client goes on.
        assert client.enqueue(ADD, AddArgs(a=1, b=1)).created


def test_a_client_first_used_after_a_fork_works_in_the_child(redis_url: str) -> None:
    client = SyncClient.from_url(redis_url, registry="off")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with client:
                code = 0 if client.enqueue(ADD, AddArgs(a=1, b=1)).created else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + PATIENCE
    while (ended := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(ended[1]) == 0
    client.close()
