"""A pending entry deleted from its stream (XDEL, XTRIM) and then reclaimed: Redis 6.2 answers
nil in its place, Redis 7 and Valkey list it apart. Either way the worker must not crash, must
still take over the other entries, must drop the deleted one from the pending list (else 6.2
hands it out as nil at every reclaim, forever), and must say that its task was lost."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio

from taskgen.runtime import Client
from taskgen.runtime.keys import GROUP, LEVELS, QueueKeys
from taskgen.vocabulary import Priority
from tests.tasks_fixture import ADD, AddArgs, bind_add, running_worker

KEYS = QueueKeys("math")
STREAM = KEYS.streams[LEVELS.index(Priority.NORMAL)]


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    """Wait, with a deadline, for a condition on the server's state."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("deleted", [[0], [1], [0, 2], [0, 1, 2, 3]])
async def test_a_pending_entry_deleted_from_its_stream_is_dropped_and_reported(
    redis_url: str, caplog: pytest.LogCaptureFixture, deleted: list[int]
) -> None:
    server = redis.asyncio.Redis.from_url(redis_url)
    await server.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    async with Client.from_url(redis_url, registry="off") as client:
        handles = [await client.enqueue(ADD, AddArgs(a=i, b=1)) for i in range(4)]
        # A worker that read them all and died; then something deleted some of its entries.
        read = await server.xreadgroup(GROUP, "ghost", {STREAM: ">"}, count=4)
        entries = [entry for entry, _ in read[0][1]]
        await server.xdel(STREAM, *(entries[i] for i in deleted))
        with caplog.at_level(logging.WARNING, logger="taskgen.worker"):
            async with running_worker(redis_url, [bind_add()], lease=0.2):
                kept = [i for i in range(4) if i not in deleted]
                assert [await handles[i].result(timeout=15) for i in kept] == [i + 1 for i in kept]

                async def nothing_pending() -> bool:
                    return (await server.xpending(STREAM, GROUP))["pending"] == 0

                await until(nothing_pending)
    lost = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
    assert len(lost) == 1, lost
    for i in deleted:
        assert entries[i].decode() in lost[0]
    assert f"{len(deleted)} task(s) of queue math lost" in lost[0]
    await server.aclose()
