"""The command-line protocol every library module speaks; it prints one JSON line.

    python -m bench.peers.<library> enqueue --n N [--seconds S] [--mode many|each]
    python -m bench.peers.<library> roundtrip --n N [--budget S] [--warmup W]

Workers are not started through this protocol but with each library's own command line; the
harness knows each command (bench/libraries.py). The settings every side reads come from the
environment, so the worker modules can read them at import time as the libraries expect.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
#: Seconds a task's result is kept; the memory workload shortens it to watch memory come back.
RESULT_TTL = int(os.environ.get("BENCH_RESULT_TTL", "300"))
#: Tasks enqueued at once by the one-by-one mode, as in the peers' published benchmarks.
ENQUEUE_CONCURRENCY = 32

Enqueue = Callable[[int, float, str], Awaitable[None]]
RoundTrip = Callable[[float], Awaitable[None]]
Session = Callable[[], Any]


async def gather_limited(calls: Any, limit: int = ENQUEUE_CONCURRENCY) -> None:
    """Await every awaitable from the iterable ``calls``, at most ``limit`` at a time."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Awaitable[Any]) -> None:
        async with semaphore:
            await call

    await asyncio.gather(*(one(c) for c in calls))


def each(make: Callable[[], Awaitable[Any]], n: int) -> Any:
    """``n`` awaitables made lazily, so none exists before its turn under the semaphore."""
    return (make() for _ in range(n))


async def time_enqueue(enqueue: Enqueue, n: int, seconds: float, mode: str) -> dict[str, Any]:
    """Enqueue ``n`` tasks and report how long it took."""
    start = time.perf_counter()
    await enqueue(n, seconds, mode)
    return {"seconds": time.perf_counter() - start, "n": n, "mode": mode}


async def time_roundtrips(
    roundtrip: RoundTrip, n: int, budget: float, warmup: int
) -> dict[str, Any]:
    """Run ``warmup`` unmeasured round trips, then up to ``n`` measured ones within ``budget``."""
    for i in range(warmup):
        # The first one also waits for the worker process to come up.
        await roundtrip(120.0 if i == 0 else 30.0)
    latencies = []
    deadline = time.perf_counter() + budget
    while len(latencies) < n and time.perf_counter() < deadline:
        start = time.perf_counter()
        await roundtrip(30.0)
        latencies.append((time.perf_counter() - start) * 1000)
    return {"latencies_ms": latencies, "n": n, "budget": budget}


def main(
    *,
    enqueue: Enqueue,
    roundtrip: RoundTrip,
    session: Session | None = None,
    runner: Callable[[Coroutine[Any, Any, Any]], Any] = asyncio.run,
) -> None:
    """Parse the command line, run the command inside ``session`` (a connection's lifetime)."""
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("enqueue")
    put.add_argument("--n", type=int, required=True)
    put.add_argument("--seconds", type=float, default=0.0, help="how long each task sleeps")
    put.add_argument("--mode", choices=["many", "each"], default="each")
    trip = commands.add_parser("roundtrip")
    trip.add_argument("--n", type=int, required=True)
    trip.add_argument("--budget", type=float, default=60.0, help="stop measuring after this")
    trip.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()

    async def run() -> dict[str, Any]:
        if session is None:
            return await command()
        async with session():
            return await command()

    async def command() -> dict[str, Any]:
        if args.command == "enqueue":
            return await time_enqueue(enqueue, args.n, args.seconds, args.mode)
        return await time_roundtrips(roundtrip, args.n, args.budget, args.warmup)

    print(json.dumps(runner(run())))
