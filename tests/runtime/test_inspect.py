"""The read API (taskgen.runtime.inspect) against a real Redis: counts, task lookups, display."""

from __future__ import annotations

import msgspec
import pytest
import redis.asyncio

from taskgen.runtime import Client, EnqueueOptions, Priority
from taskgen.runtime.inspect import (
    UNTYPED_NOTE,
    decode_for_display,
    queue_names,
    queue_stats,
    queues_stats,
    task_info,
    task_types,
)
from tests.tasks_fixture import ADD, SLEEP, AddArgs, SleepArgs


async def test_stats_count_ready_tasks_per_priority_and_delayed_ones(redis_url: str) -> None:
    async with Client.from_url(redis_url, registry="off") as client:
        for i in range(3):
            await client.enqueue(
                ADD, AddArgs(a=i, b=1), options=EnqueueOptions(priority=Priority.HIGH)
            )
        for i in range(5):
            await client.enqueue(ADD, AddArgs(a=i, b=2))
        for i in range(2):
            await client.enqueue(ADD, AddArgs(a=i, b=3), options=EnqueueOptions(delay=300))
    r = redis.asyncio.Redis.from_url(redis_url)
    stats = await queue_stats(r, "math")
    assert stats.ready == {"high": 3, "normal": 5, "low": 0}
    assert (stats.scheduled, stats.retrying, stats.running, stats.dead) == (2, 0, 0, 0)
    assert stats.oldest_wait is not None and 0 <= stats.oldest_wait < 30
    assert (stats.completed, stats.failed, stats.retried) == (0, 0, 0)
    empty = (await queues_stats(r, ["math", "nothing"]))[1]
    assert empty.ready_total == 0 and empty.oldest_wait is None
    assert msgspec.json.decode(msgspec.json.encode(stats))["ready"]["high"] == 3
    assert await queue_names(r, scan=True) == ["math"]


async def test_task_info_of_a_queued_task_holds_its_envelope(redis_url: str) -> None:
    async with Client.from_url(redis_url, registry="off") as client:
        handle = await client.enqueue(SLEEP, SleepArgs(seconds=1.5, tag="x"))
    r = redis.asyncio.Redis.from_url(redis_url)
    info = await task_info(r, handle.id)  # found by scanning: no worker registered the queue
    assert info is not None
    assert (info.queue, info.status, info.task, info.attempts) == (
        "math",
        "queued",
        "math.sleep",
        1,
    )
    assert info.args is not None
    assert decode_for_display(info.args, SLEEP.args) == {"seconds": 1.5, "tag": "x"}
    untyped = decode_for_display(info.args, None)
    assert untyped["note"] == UNTYPED_NOTE
    assert await task_info(r, "no-such-task") is None


def test_task_types_from_a_module_and_from_a_worker_target() -> None:
    found = task_types("tests.tasks_fixture")
    assert found["math.add"] is ADD and found["math.sleep"] is SLEEP
    with pytest.raises(ValueError, match="cannot import"):
        task_types("no.such.module")
