"""Hand-written tasks for the chain, group and chord tests, on two queues (two cluster slots).

Every handler counts its runs per (task id, delivery) in the hash ``flow:runs``, so a test can
tell a redelivery after a crash (delivery 2) from a step enqueued twice (two runs of delivery 1).
"""

from __future__ import annotations

import asyncio
import os

import msgspec
import redis.asyncio

from taskgen.runtime import Binding, Context, Retry, TaskDef

RUNS = "flow:runs"


class IncArgs(msgspec.Struct, frozen=True, kw_only=True):
    n: int
    by: int = 1
    pause: float = 0.0


class DoubleArgs(msgspec.Struct, frozen=True, kw_only=True):
    n: int


class TotalArgs(msgspec.Struct, frozen=True, kw_only=True):
    values: list[int]
    plus: int = 0


class FailArgs(msgspec.Struct, frozen=True, kw_only=True):
    n: int


class MeetArgs(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    size: int
    value: int


class PairArgs(msgspec.Struct, frozen=True, kw_only=True):
    pair: tuple[int, str]


INC = TaskDef[IncArgs, int](
    name="flow.inc",
    queue="flow-a",
    fingerprint="inc-v1",
    args=IncArgs,
    result=int,
    params=(("n", "positional"), ("by", "positional"), ("pause", "keyword_only")),
)
DOUBLE = TaskDef[DoubleArgs, int](
    name="flow.double",
    queue="flow-b",
    fingerprint="double-v1",
    args=DoubleArgs,
    result=int,
    params=(("n", "positional"),),
)
TOTAL = TaskDef[TotalArgs, int](
    name="flow.total",
    queue="flow-b",
    fingerprint="total-v1",
    args=TotalArgs,
    result=int,
    params=(("values", "positional"), ("plus", "keyword_only")),
)
FAIL = TaskDef[FailArgs, int](
    name="flow.fail",
    queue="flow-a",
    fingerprint="fail-v1",
    args=FailArgs,
    result=int,
    params=(("n", "positional"),),
    retry=Retry(attempts=2, backoff=0.01, jitter=False),
)
NAME = TaskDef[DoubleArgs, str](
    name="flow.name",
    queue="flow-b",
    fingerprint="name-v1",
    args=DoubleArgs,
    result=str,
    params=(("n", "positional"),),
)
PAIR = TaskDef[PairArgs, str](
    name="flow.pair",
    queue="flow-a",
    fingerprint="pair-v1",
    args=PairArgs,
    result=str,
    params=(("pair", "positional"),),
)

MEET = TaskDef[MeetArgs, int](
    name="flow.meet",
    queue="flow-a",
    fingerprint="meet-v1",
    args=MeetArgs,
    result=int,
    params=(("key", "positional"), ("size", "positional"), ("value", "positional")),
)


async def _count(ctx: Context) -> None:
    r: redis.asyncio.Redis | None = ctx.state
    if r is not None:  # a worker without the lifespan (tests/runtime/test_acl.py) counts nothing
        await r.hincrby(RUNS, f"{ctx.task_id}:{ctx.delivery}", 1)


async def inc(ctx: Context, n: int, by: int = 1, *, pause: float = 0.0) -> int:
    await _count(ctx)
    if pause:
        await asyncio.sleep(pause)
    return n + by


async def double(ctx: Context, n: int) -> int:
    await _count(ctx)
    return n * 2


async def total(ctx: Context, values: list[int], *, plus: int = 0) -> int:
    await _count(ctx)
    return sum(values) + plus


async def fail(ctx: Context, n: int) -> int:
    await _count(ctx)
    raise ValueError(f"no good: {n}")


async def name(ctx: Context, n: int) -> str:
    await _count(ctx)
    return f"n{n}@{os.getpid()}"


async def pair(ctx: Context, pair: tuple[int, str]) -> str:
    await _count(ctx)
    return f"{pair[0]}-{pair[1]}"


async def meet(ctx: Context, key: str, size: int, value: int) -> int:
    """Wait until ``size`` members of ``key`` have arrived, then all return within a few ms."""
    await _count(ctx)
    r: redis.asyncio.Redis = ctx.state
    await r.incr(f"{key}:arrived")
    async with asyncio.timeout(20):
        while int(await r.get(f"{key}:arrived") or 0) < size:
            await asyncio.sleep(0.002)
    return value


def bindings() -> list[Binding[msgspec.Struct, object]]:
    """A binding for every task above."""
    found: list[Binding[msgspec.Struct, object]] = [
        Binding(INC, inc, lambda ctx, a, _: inc(ctx, a.n, a.by, pause=a.pause)),
        Binding(DOUBLE, double, lambda ctx, a, _: double(ctx, a.n)),
        Binding(TOTAL, total, lambda ctx, a, _: total(ctx, a.values, plus=a.plus)),
        Binding(FAIL, fail, lambda ctx, a, _: fail(ctx, a.n)),
        Binding(NAME, name, lambda ctx, a, _: name(ctx, a.n)),
        Binding(PAIR, pair, lambda ctx, a, _: pair(ctx, a.pair)),
        Binding(MEET, meet, lambda ctx, a, _: meet(ctx, a.key, a.size, a.value)),
    ]
    return found
