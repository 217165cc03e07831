"""``python bench/registry.py``: what consulting the contract registry costs an enqueue.

One process, one server, two clients, ``registry="off"`` and ``registry="warn"``, taking turns
(so a noisy machine slows both alike), against a queue whose registry shows a live worker of
the task. It prints the median and best wall time and client CPU time of each workload (the
registry adds client work only), and the cost of one look-up.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import msgspec
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import started
from taskgen.runtime import Binding, Call, Client, Context, TaskDef
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.registry import Mode
from taskgen.runtime.registry_publisher import RegistryPublisher

N = 5000
ROUNDS = 15


class NapArgs(msgspec.Struct, frozen=True, kw_only=True):
    seconds: float = 0.0


NAP = TaskDef[NapArgs, None](
    name="bench.nap", queue="bench-registry", fingerprint="nap-v1", args=NapArgs, result=None
)


async def nap(ctx: Context, seconds: float) -> None:
    return None


async def each(client: Client) -> tuple[float, float]:
    """``N`` enqueues one by one, 32 at a time: wall and this process's CPU seconds."""
    started_at, cpu = time.perf_counter(), time.process_time()
    limit = asyncio.Semaphore(32)

    async def one() -> None:
        async with limit:
            await client.enqueue(NAP, NapArgs())

    await asyncio.gather(*(one() for _ in range(N)))
    return time.perf_counter() - started_at, time.process_time() - cpu


async def many(client: Client) -> tuple[float, float]:
    """``4 N`` enqueues in one ``enqueue_many``: wall and this process's CPU seconds."""
    calls = [Call(NAP, NapArgs()) for _ in range(4 * N)]
    started_at, cpu = time.perf_counter(), time.process_time()
    await client.enqueue_many(calls)
    return time.perf_counter() - started_at, time.process_time() - cpu


async def run(url: str) -> None:
    redis = Redis.from_url(url)
    binding = Binding(NAP, nap, lambda ctx, args, extras: nap(ctx, args.seconds))
    worker = RegistryPublisher(
        redis, [QueueKeys(NAP.queue)], {NAP.name: binding}, worker="bench", prefix="taskgen"
    )
    times: dict[tuple[Mode, str], list[tuple[float, float]]] = {}
    async with (
        Client.from_url(url, registry="off") as off,
        Client.from_url(url, registry="warn") as warn,
    ):
        clients: list[tuple[Mode, Client]] = [("off", off), ("warn", warn)]
        for round_ in range(ROUNDS + 1):
            await redis.flushdb()
            await worker.join()  # a live worker, well within its heartbeat's promise
            for mode, client in clients if round_ % 2 else clients[::-1]:
                for name, workload in (("each", each), ("many", many)):
                    elapsed = await workload(client)
                    if round_:  # the first round warms up
                        times.setdefault((mode, name), []).append(elapsed)
        registry = warn._registry
        assert registry is not None
        started_at = time.perf_counter()
        for _ in range(100_000):
            registry.admits(NAP)
        lookup = (time.perf_counter() - started_at) / 100_000
    await redis.aclose()
    for (mode, name), values in sorted(times.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        wall, cpu = [v[0] for v in values], [v[1] for v in values]
        print(
            f"{name:>4} registry={mode:<4}  wall median {statistics.median(wall):.4f} s"
            f" best {min(wall):.4f} s   client CPU median {statistics.median(cpu):.4f} s"
            f" best {min(cpu):.4f} s"
        )
    print(f"one look-up on the enqueue path: {lookup * 1e9:.0f} ns")


if __name__ == "__main__":
    with started() as server:
        asyncio.run(run(server.url))
