"""``requeue()`` and ``purge()`` of every letter act on the letters there are when they start.

A requeued task that a running worker fails again comes back as a new letter while the pass is
still going; re-reading the stream from its start would requeue it again, and a task that keeps
failing would keep the pass going for ever (found by the server matrix: ``taskgen dead requeue
--all`` under a running worker now and then counted a letter twice)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from taskgen.runtime import Client, Context
from taskgen.runtime import deadletters as deadletters_module
from taskgen.runtime.binding import Binding
from taskgen.runtime.deadletters import DeadLetters
from tests.tasks_fixture import ADD, AddArgs, running_worker


async def broken(ctx: Context, a: int, b: int) -> int:
    raise ValueError("still broken")


async def test_requeue_all_takes_only_the_letters_there_were(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deadletters_module, "PAGE", 1)  # a page per letter: the race at each
    bindings = [Binding(ADD, broken, lambda ctx, a, _: broken(ctx, a.a, a.b))]
    async with Client.from_url(redis_url) as client, running_worker(redis_url, bindings):
        letters = DeadLetters(client.redis, "math")
        for i in range(3):
            await client.enqueue(ADD, AddArgs(a=i, b=i))

        async def count_is(n: int) -> None:
            deadline = time.monotonic() + 15
            while await letters.count() != n:
                assert time.monotonic() < deadline, f"never {n} letters"
                await asyncio.sleep(0.02)

        await count_is(3)
        requeue = letters._scripts.requeue

        async def requeue_then_fail_again(**kwargs: Any) -> Any:
            # The worker fails the requeued task again before the pass reads its next page.
            before = await letters.count()
            done = await requeue(**kwargs)
            await count_is(before)
            return done

        monkeypatch.setattr(letters._scripts, "requeue", requeue_then_fail_again)
        assert await asyncio.wait_for(letters.requeue(), timeout=30) == 3
        assert await letters.count() == 3
        assert await asyncio.wait_for(letters.purge(), timeout=30) == 3
        assert await letters.count() == 0
