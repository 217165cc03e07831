"""`taskgen dead requeue --all` requeues the letters there when it starts, not the ones a
worker writes while it runs (a letter rejected again at once would otherwise loop)."""

from __future__ import annotations

from typing import Any

import redis.asyncio

from taskgen.runtime.deadletters import DeadLetters


async def test_requeue_all_leaves_letters_written_meanwhile(redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url)
    letters = DeadLetters(r, "math")
    for i in range(3):
        await r.xadd(letters.keys.dead, {"id": f"t{i}", "task": "math.add", "envelope": b"?"})
    requeue = letters._scripts.requeue
    written = 0

    async def rejected_again(**call: Any) -> Any:
        """The real requeue, then a worker dead-letters a task again before the next page."""
        nonlocal written
        assert written < 5, "requeue --all keeps requeueing letters written after it began"
        moved = await requeue(**call)
        written += 1
        await r.xadd(letters.keys.dead, {"id": f"again{written}", "task": "math.add"})
        return moved

    letters._scripts.requeue = rejected_again  # type: ignore[method-assign]
    assert await letters.requeue() == 3
    assert [x.task_id for x in await letters.list()] == ["again1"]
    await r.aclose()
