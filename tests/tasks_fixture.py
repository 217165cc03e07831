"""Hand-written task definitions for runtime tests: what codegen would emit, kept small."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from taskgen.runtime import Binding, Context, Retry, TaskDef, Worker


class AddArgs(msgspec.Struct, frozen=True, kw_only=True):
    a: int
    b: int


class AddTextArgs(msgspec.Struct, frozen=True, kw_only=True):
    """A drifted client's view of math.add: b became a string."""

    a: int
    b: str


class SleepArgs(msgspec.Struct, frozen=True, kw_only=True):
    seconds: float
    tag: str = ""


ADD = TaskDef[AddArgs, int](
    name="math.add",
    queue="math",
    fingerprint="add-v1",
    args=AddArgs,
    result=int,
    params=(("a", "positional"), ("b", "positional")),
)
ADD_DRIFTED = TaskDef[AddTextArgs, int](
    name="math.add",
    queue="math",
    fingerprint="add-v2",
    args=AddTextArgs,
    result=int,
    params=(("a", "positional"), ("b", "positional")),
)
UNKNOWN = TaskDef[AddArgs, int](
    name="math.unknown", queue="math", fingerprint="x", args=AddArgs, result=int
)
SLEEP = TaskDef[SleepArgs, str](
    name="math.sleep",
    queue="math",
    fingerprint="sleep-v1",
    args=SleepArgs,
    result=str,
    params=(("seconds", "positional"), ("tag", "positional")),
)
FLAKY = TaskDef[AddArgs, int](
    name="math.flaky",
    queue="math",
    fingerprint="flaky-v1",
    args=AddArgs,
    result=int,
    params=(("a", "positional"), ("b", "positional")),
    retry=Retry(attempts=3, backoff=0.01, jitter=False),
)


async def add(ctx: Context, a: int, b: int) -> int:
    return a + b


def bind_add() -> Binding[AddArgs, int]:
    return Binding(ADD, add, lambda ctx, args, _: add(ctx, args.a, args.b))


@asynccontextmanager
async def running_worker(
    redis_url: str, bindings: Iterable[Binding[Any, Any]], **options: Any
) -> AsyncIterator[Worker]:
    """A worker serving in this event loop; stopped (gracefully) on exit."""
    worker = Worker(bindings, redis_url=redis_url, **options)
    serving = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await serving
