"""Enqueueing is all-or-known: a batch is checked before anything is sent, a batch that fails
midway says what went, and a call to a server that does not answer fails in bounded time."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskgen.runtime import Client, EnqueueFailed, SyncClient, TaskDef
from taskgen.runtime import connection as connection_defaults
from taskgen.runtime.batch import encode_calls, was_created
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.scripts import source
from taskgen.runtime.taskdef import Call, EnqueueOptions
from taskgen.runtime.wire import now_ms
from tests.tasks_fixture import ADD, AddArgs


class Unencodable:
    """A value msgspec cannot encode, smuggled into a call's arguments."""


def batch(size: int, bad: int) -> list[Call[int]]:
    """``size`` calls to ``math.add``; the one at ``bad`` cannot be encoded."""
    return [
        Call(ADD, AddArgs(a=Unencodable() if i == bad else i, b=0))  # type: ignore[arg-type]
        for i in range(size)
    ]


def enqueued(redis_url: str) -> int:
    """Tasks with state on the server."""
    with redis.Redis.from_url(redis_url) as r:
        return len(r.keys("taskgen:*:task:*"))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_one_unencodable_call_enqueues_nothing(redis_url: str, data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=2500), label="size")
    bad = data.draw(st.integers(min_value=0, max_value=size - 1), label="bad")
    with (
        SyncClient.from_url(redis_url) as client,
        pytest.raises(EnqueueFailed, match=rf"call #{bad} \(math.add\)") as failed,
    ):
        client.enqueue_many(batch(size, bad))
    assert failed.value.handles == []
    assert enqueued(redis_url) == 0


async def test_one_unencodable_call_enqueues_nothing_async(redis_url: str) -> None:
    async with Client.from_url(redis_url) as client:
        with pytest.raises(EnqueueFailed, match=r"call #1200 \(math.add\)") as failed:
            await client.enqueue_many(batch(1500, 1200))
    assert failed.value.handles == []
    assert enqueued(redis_url) == 0


#: A task on a queue whose ready stream is made unusable, so its chunk fails on the server.
BROKEN = TaskDef[AddArgs, int](
    name="broken.add", queue="broken", fingerprint="b-v1", args=AddArgs, result=int
)


def break_queue(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as r:
        r.set("taskgen:{broken}:ready:1", "not a stream")


def mixed_batch() -> list[Call[int]]:
    """1,500 calls for a working queue, then 10 for the broken one."""
    good = [Call(ADD, AddArgs(a=i, b=0)) for i in range(1500)]
    return [*good, *(Call(BROKEN, AddArgs(a=i, b=0)) for i in range(10))]


def test_a_batch_failing_midway_carries_what_was_enqueued(redis_url: str) -> None:
    break_queue(redis_url)
    with (
        SyncClient.from_url(redis_url) as client,
        pytest.raises(EnqueueFailed, match="after 1500 of 1510") as failed,
    ):
        client.enqueue_many(mixed_batch())
    assert len(failed.value.handles) == 1500
    assert all(h.task is ADD and h.created for h in failed.value.handles)
    assert len(failed.value.uncertain) == 10
    assert enqueued(redis_url) == 1500


async def test_a_batch_failing_midway_carries_what_was_enqueued_async(redis_url: str) -> None:
    break_queue(redis_url)
    async with Client.from_url(redis_url) as client:
        with pytest.raises(EnqueueFailed, match="after 1500 of 1510") as failed:
            await client.enqueue_many(mixed_batch())
    assert len(failed.value.handles) == 1500
    assert all(h.task is ADD and h.created for h in failed.value.handles)
    assert enqueued(redis_url) == 1500


class BlackHole:
    """A server that accepts connections and never answers; counts the connections."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"
        self.accepted = 0
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._open.append(conn)

    def close(self) -> None:
        self._listener.close()
        for conn in self._open:
            conn.close()


@pytest.fixture
def black_hole(monkeypatch: pytest.MonkeyPatch) -> Iterator[BlackHole]:
    """A black hole, with the clients' default socket timeout shortened to keep tests short."""
    monkeypatch.setattr(connection_defaults, "SOCKET_TIMEOUT", 0.2)
    hole = BlackHole()
    yield hole
    hole.close()


#: Every attempt waits one socket timeout, plus backoff between attempts.
BOUND = (connection_defaults.RETRIES + 1) * 0.2 + connection_defaults.RETRIES * 0.5 + 2.0


async def test_an_enqueue_to_a_silent_server_fails_in_bounded_time(black_hole: BlackHole) -> None:
    # The registry's own first read would count attempts too: this test counts the enqueue's.
    async with Client.from_url(black_hole.url, registry="off") as client:
        started = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError):
            await asyncio.wait_for(client.enqueue(ADD, AddArgs(a=1, b=2)), timeout=30)
        assert time.monotonic() - started < BOUND
    # The call was sent again, a bounded number of times, each on a fresh connection.
    assert black_hole.accepted == connection_defaults.RETRIES + 1


def test_a_sync_enqueue_to_a_silent_server_fails_in_bounded_time(black_hole: BlackHole) -> None:
    # As above: the registry's first read is left out of the count.
    with SyncClient.from_url(black_hole.url, registry="off") as client:
        started = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError):
            client.enqueue(ADD, AddArgs(a=1, b=2))
        assert time.monotonic() - started < BOUND
    assert black_hole.accepted == connection_defaults.RETRIES + 1


@pytest.mark.parametrize("chosen", [None, "order-7"])
def test_a_resent_enqueue_lands_once_and_keeps_its_created_flag(
    redis_url: str, chosen: str | None
) -> None:
    """What a retry after a timeout does: the same records sent twice land once; a generated
    id found taken can only be this call's earlier attempt, so the task is still ours, while
    a caller-chosen id found taken is someone else's."""
    call = Call(ADD, AddArgs(a=1, b=1), EnqueueOptions(task_id=chosen))
    (chunk,) = encode_calls([call], now_ms())
    keys = QueueKeys(ADD.queue)
    with redis.Redis.from_url(redis_url) as r:
        send = r.register_script(source("enqueue"))
        assert send(keys=[keys.delayed], args=[keys.base, chunk.records]) == [1]
        assert send(keys=[keys.delayed], args=[keys.base, chunk.records]) == [0]
        assert r.xlen(keys.streams[1]) == 1
    assert was_created(call, 1)
    assert was_created(call, 0) is (chosen is None)
